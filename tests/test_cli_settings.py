"""`storewatch settings`: every appliance setting shown and changed from the command line
(time_zone and metrics_open had no command: `retention settings` refuses them)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from storewatch.appliance import Appliance
from storewatch.cli import main
from storewatch.settings import APPLIANCE_SETTINGS


def sw(data_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--data-dir", str(data_dir), *args])


def test_settings_shows_every_setting_and_changes_the_time_zone_and_metrics(data_dir: Path) -> None:
    shown = sw(data_dir, "settings")
    assert shown.exit_code == 0, shown.output
    assert [line.split(" = ")[0].strip() for line in shown.output.splitlines()] == list(APPLIANCE_SETTINGS)
    changed = sw(data_dir, "settings", "time_zone=Europe/Berlin", "metrics_open=true")
    assert changed.exit_code == 0, changed.output
    lines = dict(line.split(" = ") for line in changed.output.splitlines())
    assert (lines["time_zone".ljust(26)], lines["metrics_open".ljust(26)]) == ("Europe/Berlin", "true"), lines
    opened = Appliance(data_dir)
    try:
        assert (opened.settings.get("time_zone"), opened.settings.get("metrics_open")) == ("Europe/Berlin", True)
    finally:
        opened.close()
    assert json.loads(sw(data_dir, "settings", "--json").output)["time_zone"] == "Europe/Berlin"


def test_settings_refuses_what_is_not_one_and_changes_nothing(data_dir: Path) -> None:
    for words, says in ((["time_zone=Mars/Olympus"], "time_zone: "), (["nosuch=1"], "unknown setting 'nosuch'"),
                        (["metrics_open=perhaps"], "metrics_open must be true or false"),
                        (["time_zone=UTC", "replay_days=99"], "replay_days must be at most 30")):
        refused = sw(data_dir, "settings", *words)
        assert refused.exit_code == 1 and says in refused.output, (words, refused.output)
    assert json.loads(sw(data_dir, "settings", "--json").output)["time_zone"] != "Mars/Olympus"
    opened = Appliance(data_dir)
    try:
        assert opened.settings.get("replay_days") == APPLIANCE_SETTINGS["replay_days"].default
    finally:
        opened.close()


def test_retention_settings_names_where_the_other_settings_are(data_dir: Path) -> None:
    refused = sw(data_dir, "retention", "settings", "time_zone=Europe/Berlin")
    assert refused.exit_code == 1 and "`storewatch settings time_zone=...`" in refused.output, refused.output
