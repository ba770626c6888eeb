"""`storewatch roi list`: what the owner reads of each shelf area, restless ones included."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from click.testing import CliRunner

from storewatch.analysis.tracker import RESTLESS_CALM_SECONDS
from storewatch.appliance import Appliance
from storewatch.cli import main
from storewatch.store import rois

SQUARE = [[0.1, 0.1], [0.4, 0.1], [0.4, 0.4], [0.1, 0.4]]


def invoke(data_dir: Path, *args: str):
    return CliRunner().invoke(main, ["--data-dir", str(data_dir), *args])


def test_a_restless_area_says_so_on_the_shops_clock_and_a_calm_one_does_not(appliance: Appliance,
                                                                            data_dir: Path) -> None:
    appliance.devices.add("Aisle camera", "cam")
    busy = appliance.rois.add("cam", "By the screen", SQUARE)["id"]
    appliance.rois.add("cam", "Top shelf", [[0.5, 0.5], [0.9, 0.5], [0.9, 0.9], [0.5, 0.9]])
    appliance.settings.update({"time_zone": "Europe/Berlin"})
    since = datetime(2026, 12, 2, 13, 2, 0, tzinfo=timezone.utc)
    with appliance.db.write() as conn:
        rois.set_restless(conn, busy, since.timestamp())
    done = invoke(data_dir, "roi", "list", "cam")
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert len(lines) == 3, lines
    assert "By the screen" in lines[0] and "Top shelf" in lines[2]
    assert lines[1].strip() == (f"restless since 2026-12-02 14:02:00 CET: busy without a break, it starts no events "
                                f"until calm for {RESTLESS_CALM_SECONDS:g} s")
    listed = json.loads(invoke(data_dir, "roi", "list", "cam", "--json").output)
    assert [item["restless_since"] is not None for item in listed] == [True, False]
