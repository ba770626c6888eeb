"""The installable package carries every module and every static file of the source tree.

`scripts/install-pi` does a normal (not editable) install, so a folder without
`__init__.py`, or a static file left out of package_data, would only fail on the Pi.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile

from conftest import REPO


def test_the_wheel_holds_every_module_and_static_file(tmp_path):
    tree = tmp_path / "tree"  # a clean copy: a stale build/ folder must not fill the gaps
    shutil.copytree(REPO / "storewatch", tree / "storewatch", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(REPO / name, tree / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(tmp_path),
                    str(tree)], check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("storewatch-*.whl")
    packaged = set(zipfile.ZipFile(wheel).namelist())
    source = {str(p.relative_to(REPO)) for p in (REPO / "storewatch").rglob("*")
              if p.is_file() and "__pycache__" not in p.parts}
    assert source - packaged == set()
