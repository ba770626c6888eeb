"""The installable package carries every module and every static file of the source tree.

`scripts/install-pi` does a normal (not editable) install, so a folder without
`__init__.py`, or a static file left out of package_data, would only fail on the Pi.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile

import pytest

from support import REPO

pytestmark = pytest.mark.slow  # builds a wheel and an editable install in a new venv: scripts/test --fast leaves it out


def clean_copy(tmp_path):
    """The project's package and packaging files alone: a stale build/ folder must not fill gaps."""
    tree = tmp_path / "tree"
    shutil.copytree(REPO / "storewatch", tree / "storewatch", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(REPO / name, tree / name)
    return tree


def test_the_wheel_holds_every_module_and_static_file(tmp_path):
    tree = clean_copy(tmp_path)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(tmp_path),
                            str(tree)], check=True, capture_output=True, text=True, timeout=300)
    assert not SETUPTOOLS_WARNINGS.search(built.stdout + built.stderr), built.stdout + built.stderr
    (wheel,) = tmp_path.glob("storewatch-*.whl")
    packaged = set(zipfile.ZipFile(wheel).namelist())
    source = {str(p.relative_to(REPO)) for p in (REPO / "storewatch").rglob("*")
              if p.is_file() and "__pycache__" not in p.parts}
    assert source - packaged == set()


# What setuptools prints when the packaging leaves something to guess: a folder it would
# ignore, a deprecated layout, or its "Editable installation" notice (a "!!" banner).
SETUPTOOLS_WARNINGS = re.compile(r"Package would be ignored|SetuptoolsDeprecationWarning|BuildBackendWarning|^\s*!!\s*$",
                                 re.M)


def test_an_editable_install_as_scripts_run_does_prints_no_setuptools_warning(tmp_path):
    tree = clean_copy(tmp_path)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    python = venv / "bin" / "python"
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                           "-e", str(tree)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not SETUPTOOLS_WARNINGS.search(done.stdout + done.stderr), done.stdout + done.stderr
    found = subprocess.run([str(python), "-c", "import storewatch.static, storewatch; print(storewatch.__file__)"],
                           capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert found.stdout.strip() == str(tree / "storewatch" / "__init__.py"), found.stderr
