"""`storewatch retention history` as a person reads it (the runs themselves: tests/test_retention_cli.py)."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from storewatch.cli import main


def test_history_shows_when_each_run_started_on_the_shops_clock(data_dir: Path) -> None:
    def sw(*args: str) -> str:
        done = CliRunner().invoke(main, ["--data-dir", str(data_dir), *args])
        assert done.exit_code == 0, done.output
        return done.output

    sw("settings", "time_zone=America/New_York")
    sw("retention", "run", "--dry-run")
    header, row = sw("retention", "history").splitlines()
    # It showed the stored UTC text ("2026-12-02T14:30:37.578Z") where events list shows the shop's.
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d E[SD]T +manual +yes ", row), row
    assert header.startswith("STARTED ")
