"""`storewatch events list` and `events export`: the time options, as an owner types them."""

from __future__ import annotations

import json
import time
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from storewatch.appliance import Appliance
from storewatch.cli import main
from support.notify import shelf, write_visit  # noqa: F401 (shelf: a fixture)


def invoke(data_dir: Path, *args: str):
    return CliRunner().invoke(main, ["--data-dir", str(data_dir), *args])


@pytest.mark.parametrize("command", [("events", "list"), ("events", "export", "--out", "/dev/null"),
                                     ("replay", "--device", "cam")])
@pytest.mark.parametrize("option", ["--since", "--until"])
def test_a_time_that_is_not_one_names_its_option_and_the_forms(data_dir: Path, command, option) -> None:
    args = [*command, option, "yesterday"] if option == "--since" else [*command, "--since", "1d", option, "1x"]
    done = invoke(data_dir, *args)
    assert done.exit_code == 2, done.output
    # Was "Error: Invalid value: 'yesterday' is not a time ..." (which option?), and export took RFC 3339 only.
    assert f"Invalid value for '{option}'" in done.output, done.output
    assert "30m, 1h, 2d, 1w" in done.output, done.output


def test_export_takes_a_time_ago_like_events_list(appliance: Appliance, shelf, data_dir: Path, tmp_path: Path) -> None:
    now = time.time()
    recent = write_visit(appliance, "cam", [(shelf[0], "taken")], start=now - 1800, capture_id=1)
    write_visit(appliance, "cam", [(shelf[1], "placed")], start=now - 7200, capture_id=2)
    listed = invoke(data_dir, "events", "list", "--since", "1h", "--json")
    assert listed.exit_code == 0, listed.output
    assert [event["id"] for event in json.loads(listed.output)] == [recent]
    out = tmp_path / "last-hour.zip"
    done = invoke(data_dir, "events", "export", "--since", "1h", "--out", str(out))
    assert done.exit_code == 0, done.output
    with zipfile.ZipFile(out) as archive:
        assert [event["id"] for event in json.loads(archive.read("events.json"))] == [recent]
