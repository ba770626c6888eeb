"""scripts/install-pi and its shared parts (scripts/_pi_install.sh, scripts/_system_constraints.py).

What can be checked without systemd or a Pi: the pins are the system python's own versions,
a copy inside the venv is found, the first admin password is set once, the start wait does
not mistake the old process for the new one, and every script parses. The whole install
into a Debian venv is exercised by scripts/test-bookworm.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from support import REPO
from storewatch.appliance import Appliance

SCRIPTS = REPO / "scripts"
HELPER = SCRIPTS / "_system_constraints.py"
SYSTEM_PYTHON = Path("/usr/bin/python3")


def _run(*args: str | Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=60, **kwargs)


def _bash(script: str, **kwargs) -> subprocess.CompletedProcess:
    return _run("bash", "-c", f"set -euo pipefail; source {SCRIPTS / '_pi_install.sh'}; {script}", **kwargs)


@pytest.mark.parametrize("name", ["install-pi", "test-bookworm", "test", "_pi_install.sh", "_venv.sh"])
def test_the_install_and_test_scripts_parse(name):
    done = _run("bash", "-n", SCRIPTS / name)
    assert done.returncode == 0, done.stderr


def test_the_pins_are_this_pythons_numpy_pillow_and_simplejpeg():
    expected = []
    for name in ("numpy", "Pillow", "simplejpeg"):
        try:
            expected.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    assert expected[:2] == [f"numpy=={metadata.version('numpy')}", f"Pillow=={metadata.version('Pillow')}"]
    assert _run(sys.executable, "-I", HELPER).stdout.splitlines() == expected


def test_the_pins_from_debians_python_are_the_versions_it_imports():
    if not SYSTEM_PYTHON.exists() or _run(SYSTEM_PYTHON, "-I", "-c", "import numpy, PIL").returncode != 0:
        pytest.skip("no /usr/bin/python3 with numpy and Pillow (apt's python3-numpy, python3-pil) here")
    imported = _run(SYSTEM_PYTHON, "-I", "-c", "import numpy, PIL; print(numpy.__version__, PIL.__version__)")
    numpy_version, pillow_version = imported.stdout.split()
    pins = _run(SYSTEM_PYTHON, "-I", HELPER).stdout.splitlines()
    assert pins[:2] == [f"numpy=={numpy_version}", f"Pillow=={pillow_version}"]


def _venv_over_system(path: Path) -> Path:
    if not SYSTEM_PYTHON.exists() or _run(SYSTEM_PYTHON, "-I", "-c", "import numpy").returncode != 0:
        pytest.skip("no /usr/bin/python3 with numpy here")
    done = _run(SYSTEM_PYTHON, "-m", "venv", "--system-site-packages", "--without-pip", path)
    assert done.returncode == 0, done.stderr
    return path / "bin" / "python"


def test_a_venv_over_the_system_shadows_nothing_until_it_holds_its_own_copy(tmp_path):
    python = _venv_over_system(tmp_path / "venv")
    assert _run(python, "-I", HELPER, "--shadowed", "numpy", "Pillow").stdout == ""
    # What pip leaves when it installs a numpy into the venv itself (an older install-pi did).
    (site,) = (tmp_path / "venv" / "lib").glob("python3*/site-packages")
    record = site / "numpy-9.9.9.dist-info"
    record.mkdir()
    (record / "METADATA").write_text("Metadata-Version: 2.1\nName: numpy\nVersion: 9.9.9\n")
    assert _run(python, "-I", HELPER, "--shadowed", "numpy", "Pillow").stdout.splitlines() == ["numpy"]


def test_outside_a_venv_nothing_is_shadowed():
    if not SYSTEM_PYTHON.exists():
        pytest.skip("no /usr/bin/python3 here")
    assert _run(SYSTEM_PYTHON, "-I", HELPER, "--shadowed", "numpy", "Pillow").stdout == ""


def test_a_module_hidden_by_a_broken_copy_in_the_venv_says_remove_the_venv(tmp_path):
    python = _venv_over_system(tmp_path / "venv")
    (site,) = (tmp_path / "venv" / "lib").glob("python3*/site-packages")
    # A numpy in the venv that cannot load, as a numpy 2 in front of apt's simplejpeg does on a Pi.
    (site / "numpy").mkdir()
    (site / "numpy" / "__init__.py").write_text(
        "raise ValueError('numpy.dtype size changed, may indicate binary incompatibility')\n")
    done = _bash(f'pi_check_import {SYSTEM_PYTHON} "{python.parent.parent}" numpy')
    assert done.returncode == 1
    assert "numpy does not load" in done.stderr and "numpy.dtype size changed" in done.stderr
    assert "hides the system's" in done.stderr and f"sudo rm -r {python.parent.parent}" in done.stderr


def test_a_module_missing_everywhere_says_repair_the_system_packages(tmp_path):
    python = _venv_over_system(tmp_path / "venv")
    done = _bash(f'pi_check_import {SYSTEM_PYTHON} "{python.parent.parent}" storewatch_no_such_module')
    assert done.returncode == 1
    assert "either" in done.stderr and "apt install --reinstall python3-storewatch_no_such_module" in done.stderr
    assert _bash(f'pi_check_import {SYSTEM_PYTHON} "{python.parent.parent}" numpy').returncode == 0


def test_the_first_admin_password_is_set_once_and_printed_once(tmp_path):
    data_dir = tmp_path / "data"
    venv = Path(sys.prefix)
    first = _bash(f'pi_first_admin_password "{venv}" "{data_dir}"')
    assert first.returncode == 0, first.stderr
    (password,) = first.stdout.splitlines()
    again = _bash(f'pi_first_admin_password "{venv}" "{data_dir}"')
    assert (again.returncode, again.stdout) == (0, "")
    appliance = Appliance(data_dir)
    try:
        assert appliance.admins.check_password(password)
    finally:
        appliance.close()


def _fake_systemctl(folder: Path, states: list[tuple[str, str]]) -> dict[str, str]:
    """A systemctl that answers is-active / show InvocationID from a script of states.

    There is no systemd here; this stands in for it so that the wait's logic is tested.
    Each `is-active` call moves to the next (state, invocation) pair; the last one stays.
    """
    (folder / "states").write_text("".join(f"{s} {i}\n" for s, i in states))
    (folder / "turn").write_text("1")
    tool = folder / "systemctl"
    tool.write_text(f"""#!/usr/bin/env bash
turn=$(cat {folder}/turn); line=$(sed -n "${{turn}}p" {folder}/states)
[ -n "$line" ] || line=$(tail -n 1 {folder}/states)
case "$1" in
  is-active) echo "${{line% *}}"; echo $((turn + 1)) >{folder}/turn; [ "${{line% *}}" = active ] ;;
  show) echo "${{line#* }}" ;;
esac
""")
    tool.chmod(0o755)
    return {**os.environ, "PATH": f"{folder}:{os.environ['PATH']}"}


def test_the_start_wait_takes_only_the_new_process_being_active(tmp_path):
    env = _fake_systemctl(tmp_path, [("active", "old"), ("deactivating", "old"), ("activating", "new"),
                                     ("active", "new")])
    done = _bash("sleep() { :; }; pi_wait_active storewatch.service 10 old", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "turn").read_text().strip() == "5"  # it asked until the new one was active


def test_the_start_wait_gives_up_and_says_the_last_state(tmp_path):
    env = _fake_systemctl(tmp_path, [("activating", "new"), ("failed", "new")])
    done = _bash("sleep() { :; }; pi_wait_active storewatch.service 5 old", env=env)
    assert (done.returncode, done.stdout.strip()) == (1, "failed")
