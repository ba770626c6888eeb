"""scripts/_venv.sh: `ensure_venv` installs only when no install it can use is newer than setup.cfg.

It runs in a scratch checkout whose .venv/bin/python is a stand-in that writes down what it is
asked (a real install needs the network); the stamps and setup.cfg are real files with real times.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from support import REPO

STAND_IN = '#!/bin/sh\necho "$@" >> "$(dirname "$0")/../asked"\n'


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    (tmp_path / "setup.cfg").write_text("[metadata]\nname = storewatch\n")
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(STAND_IN)
    python.chmod(0o755)
    return tmp_path


def _stamp(checkout: Path, name: str, seconds_after_setup_cfg: float) -> None:
    stamp = checkout / ".venv" / name
    stamp.touch()
    when = (checkout / "setup.cfg").stat().st_mtime + seconds_after_setup_cfg
    os.utime(stamp, (when, when))


def _ensure_venv(checkout: Path, extras: str = "") -> list[str]:
    """What pip was asked to install ([] when nothing was installed)."""
    done = subprocess.run(["bash", "-c", f"set -euo pipefail; source {REPO / 'scripts' / '_venv.sh'}; "
                                         f"ensure_venv {extras}"],
                          cwd=checkout, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    asked = checkout / ".venv" / "asked"
    return [line for line in asked.read_text().splitlines() if "-e" in line.split()] if asked.exists() else []


def test_scripts_run_after_scripts_test_installs_nothing(checkout: Path) -> None:
    # scripts/test stamps .installed-test; scripts/run (no extras) looked for .installed only
    # and installed again, which needs the network, though [test] holds everything it needs.
    _stamp(checkout, ".installed-test", 10)
    assert _ensure_venv(checkout) == []
    assert not (checkout / ".venv" / ".installed").exists()


def test_an_install_older_than_setup_cfg_is_done_again(checkout: Path) -> None:
    _stamp(checkout, ".installed-test", -10)
    assert _ensure_venv(checkout) == ["-m pip install --quiet -e ."]
    assert (checkout / ".venv" / ".installed").exists()
    assert _ensure_venv(checkout) == ["-m pip install --quiet -e ."]  # once: its own stamp does now


def test_the_base_install_does_not_stand_for_an_extra(checkout: Path) -> None:
    _stamp(checkout, ".installed", 10)
    assert _ensure_venv(checkout, "test") == ["-m pip install --quiet -e .[test]"]
    assert _ensure_venv(checkout, "test") == ["-m pip install --quiet -e .[test]"]  # once: its stamp does now
