"""`storewatch device …` through click's CliRunner, and once through a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from storewatch.appliance import Appliance
from storewatch.cli import main
from storewatch.settings import DEVICE_SETTINGS
from support import REPO


def sw(data_dir: Path, *args: str, env: dict | None = None) -> Result:
    return CliRunner().invoke(main, ["--data-dir", str(data_dir), *args], env=env)


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def add_json(data_dir: Path, name: str = "Shelf cam", *extra: str) -> dict:
    return json.loads(ok(sw(data_dir, "device", "add", name, "--json", *extra)).stdout)


def listed(data_dir: Path) -> dict[str, dict]:
    return {d["id"]: d for d in json.loads(ok(sw(data_dir, "device", "list", "--json")).stdout)}


def opened(data_dir: Path):  # noqa: ANN201
    return Appliance(data_dir)


# --- data directory ------------------------------------------------------------------------------


def test_data_dir_option_chooses_where_the_database_lives(tmp_path: Path) -> None:
    ok(sw(tmp_path / "here", "device", "add", "cam"))
    assert (tmp_path / "here" / "storewatch.db").exists()


def test_data_dir_comes_from_the_environment(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"STOREWATCH_DATA_DIR": str(tmp_path / "from-env")}
    ok(runner.invoke(main, ["device", "add", "cam"], env=env))
    assert (tmp_path / "from-env" / "storewatch.db").exists()
    assert "cam" in ok(runner.invoke(main, ["device", "list"], env=env)).stdout
    # --data-dir wins over the environment
    ok(runner.invoke(main, ["--data-dir", str(tmp_path / "opt"), "device", "list"], env=env))
    assert (tmp_path / "opt" / "storewatch.db").exists()


def test_help_touches_no_disk(tmp_path: Path) -> None:
    assert "add" in ok(sw(tmp_path / "nothing", "device", "--help")).stdout
    assert "Settings:" in ok(sw(tmp_path / "nothing", "device", "set", "--help")).stdout
    assert not (tmp_path / "nothing").exists()


# --- add and list ---------------------------------------------------------------------------------


def test_add_prints_the_token_once(data_dir: Path) -> None:
    out = ok(sw(data_dir, "device", "add", "Front Shelf")).stdout
    lines = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    assert lines["device_id"] == "front-shelf" and lines["token"].startswith("swd_")
    assert "shown only now" in out
    app = opened(data_dir)
    try:
        assert app.devices.by_token(lines["token"])["id"] == "front-shelf"
    finally:
        app.close()
    for args in (["device", "list"], ["device", "list", "--json"]):
        assert lines["token"] not in ok(sw(data_dir, *args)).stdout


def test_add_json_prints_id_and_token(data_dir: Path) -> None:
    body = add_json(data_dir, "cam", "--id", "cam-7", "--auth", "hmac")
    assert set(body) == {"device_id", "token"} and body["device_id"] == "cam-7"
    assert listed(data_dir)["cam-7"]["auth_scheme"] == "hmac"


@pytest.mark.parametrize("args, message", [
    (["--id", "bad id"], "must match"),
    (["--id", "x" * 65], "must match"),
    (["--id", ".."], "cannot be . or .."),
    (["--id", "."], "cannot be . or .."),
])
def test_add_refuses_bad_ids_with_a_message(data_dir: Path, args: list[str], message: str) -> None:
    result = sw(data_dir, "device", "add", "cam", *args)
    assert result.exit_code == 1 and message in result.stderr
    assert "Traceback" not in result.output


def test_add_refuses_a_taken_id_and_an_empty_name(data_dir: Path) -> None:
    add_json(data_dir, "cam", "--id", "cam")
    result = sw(data_dir, "device", "add", "other", "--id", "cam")
    assert result.exit_code == 1 and "already exists" in result.stderr
    result = sw(data_dir, "device", "add", "  ")
    assert result.exit_code == 1 and "1 to 200 characters" in result.stderr


def test_add_refuses_an_unknown_auth_scheme(data_dir: Path) -> None:
    result = sw(data_dir, "device", "add", "cam", "--auth", "basic")
    assert result.exit_code == 2 and "basic" in result.stderr


def test_list_empty_then_a_table_then_json(data_dir: Path) -> None:
    assert "No devices yet" in ok(sw(data_dir, "device", "list")).stdout
    add_json(data_dir, "b cam")
    add_json(data_dir, "a cam")
    table = ok(sw(data_dir, "device", "list")).stdout.splitlines()
    assert table[0].split()[:4] == ["ID", "ENABLED", "AUTH", "MODE"]
    assert [row.split()[0] for row in table[1:]] == ["a-cam", "b-cam"]
    assert table[1].split()[1:5] == ["yes", "bearer", "baseline", "never"]
    rows = json.loads(ok(sw(data_dir, "device", "list", "--json")).stdout)
    assert [r["id"] for r in rows] == ["a-cam", "b-cam"]
    assert rows[0]["config_version"] == "c1" and rows[0]["enabled"] is True
    assert rows[0]["settings"] == {name: s.default for name, s in DEVICE_SETTINGS.items()}


# --- tokens, enable, auth ------------------------------------------------------------------------


def test_rotate_token_prints_a_new_token_and_retires_the_old(data_dir: Path) -> None:
    body = add_json(data_dir)
    out = ok(sw(data_dir, "device", "rotate-token", body["device_id"])).stdout
    new = out.strip().splitlines()[-1].removeprefix("token: ")
    assert new.startswith("swd_") and new != body["token"]
    app = opened(data_dir)
    try:
        assert app.devices.by_token(body["token"]) is None
        assert app.devices.by_token(new)["id"] == body["device_id"]
    finally:
        app.close()


@pytest.mark.parametrize("args", [["rotate-token", "nope"], ["disable", "nope"], ["enable", "nope"],
                                  ["auth", "nope", "hmac"], ["set", "nope", "jpeg_quality=80"]])
def test_an_unknown_device_is_a_clear_error(data_dir: Path, args: list[str]) -> None:
    result = sw(data_dir, "device", *args)
    assert result.exit_code == 1
    assert "no device 'nope'" in result.stderr and "storewatch device list" in result.stderr


def test_disable_and_enable_bump_the_config_version(data_dir: Path) -> None:
    device_id = add_json(data_dir)["device_id"]
    assert "disabled" in ok(sw(data_dir, "device", "disable", device_id)).stdout
    shown = listed(data_dir)[device_id]
    assert shown["enabled"] is False and shown["config_version"] == "c2"
    assert "enabled" in ok(sw(data_dir, "device", "enable", device_id)).stdout
    shown = listed(data_dir)[device_id]
    assert shown["enabled"] is True and shown["config_version"] == "c3"


def test_auth_switches_the_scheme(data_dir: Path) -> None:
    device_id = add_json(data_dir)["device_id"]
    ok(sw(data_dir, "device", "auth", device_id, "hmac"))
    assert listed(data_dir)[device_id]["auth_scheme"] == "hmac"
    ok(sw(data_dir, "device", "auth", device_id, "bearer"))
    assert listed(data_dir)[device_id]["auth_scheme"] == "bearer"
    result = sw(data_dir, "device", "auth", device_id, "basic")
    assert result.exit_code == 2


# --- settings -------------------------------------------------------------------------------------


def test_set_validates_stores_and_bumps_the_config_version_once(data_dir: Path) -> None:
    device_id = add_json(data_dir)["device_id"]
    out = ok(sw(data_dir, "device", "set", device_id, "jpeg_quality=80", "baseline_interval_s=5",
                "motion_trigger_enabled=off")).stdout
    assert "jpeg_quality = 80" in out and "baseline_interval_s = 5.0" in out
    assert "config c2" in out
    shown = listed(data_dir)[device_id]
    assert shown["config_version"] == "c2"
    assert shown["settings"]["jpeg_quality"] == 80
    assert shown["settings"]["baseline_interval_s"] == 5.0
    assert shown["settings"]["motion_trigger_enabled"] is False


@pytest.mark.parametrize("word, message", [
    ("fps=3", "unknown setting 'fps'; known settings: baseline_interval_s"),
    ("jpeg_quality=101", "jpeg_quality must be at most 100, not 101"),
    ("jpeg_quality=0", "jpeg_quality must be at least 1, not 0"),
    ("jpeg_quality=high", "jpeg_quality must be a whole number, not 'high'"),
    ("burst_interval_s=nan", "burst_interval_s must be a number"),
    ("motion_trigger_enabled=maybe", "must be true or false"),
    ("jpeg_quality", "'jpeg_quality' is not key=value"),
])
def test_set_refuses_bad_settings_with_a_clear_message_and_changes_nothing(
        data_dir: Path, word: str, message: str) -> None:
    device_id = add_json(data_dir)["device_id"]
    result = sw(data_dir, "device", "set", device_id, "baseline_interval_s=7", word)
    assert result.exit_code == 1, result.output
    assert message in result.stderr and "Traceback" not in result.output
    shown = listed(data_dir)[device_id]
    assert shown["config_version"] == "c1"
    assert shown["settings"]["baseline_interval_s"] == DEVICE_SETTINGS["baseline_interval_s"].default


def test_set_needs_at_least_one_assignment(data_dir: Path) -> None:
    device_id = add_json(data_dir)["device_id"]
    assert sw(data_dir, "device", "set", device_id).exit_code == 2


# --- a real process ----------------------------------------------------------------------------------


def test_the_real_command_adds_lists_and_sets(tmp_path: Path) -> None:
    env = {**os.environ, "STOREWATCH_DATA_DIR": str(tmp_path / "env-data")}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "storewatch", *args], capture_output=True,
                              text=True, env=env, cwd=REPO, timeout=60)

    added = run("device", "add", "Real cam", "--json")
    assert added.returncode == 0, added.stderr
    body = json.loads(added.stdout)
    assert body["device_id"] == "real-cam"
    done = run("device", "set", "real-cam", "jpeg_quality=101")
    assert done.returncode == 1 and "jpeg_quality must be at most 100" in done.stderr
    assert "Traceback" not in done.stderr
    assert run("device", "set", "real-cam", "jpeg_quality=60").returncode == 0
    rows = json.loads(run("device", "list", "--json").stdout)
    assert rows[0]["settings"]["jpeg_quality"] == 60 and rows[0]["config_version"] == "c2"
    assert (tmp_path / "env-data" / "storewatch.db").exists()


def test_device_list_shows_times_on_the_shops_clock(data_dir: Path) -> None:
    # It showed the stored UTC text ("2026-12-02T14:30:55.947Z") where events list shows the
    # shop's time zone ("2026-12-02 15:30:55 CET").
    from datetime import datetime, timedelta

    add_json(data_dir, "Shelf cam", "--id", "cam-1")
    ok(sw(data_dir, "settings", "time_zone=Europe/Berlin"))
    opened = Appliance(data_dir)
    try:
        opened.devices.record_heartbeat("cam-1", {"ts": "2026-01-01T00:00:00Z", "spool_frames": 0,
                                                  "dropped_frames": 0, "mode": "baseline"})
        stored = opened.devices.public(opened.devices.get("cam-1"))["last_seen"]
    finally:
        opened.close()
    utc = datetime.strptime(stored[:19], "%Y-%m-%dT%H:%M:%S")
    offset = 2 if 3 < utc.month < 11 else 1  # CEST or CET, near enough away from the switch days
    berlin = (utc + timedelta(hours=offset)).strftime("%Y-%m-%d %H:%M:%S")
    line = next(line for line in ok(sw(data_dir, "device", "list")).output.splitlines() if line.startswith("cam-1"))
    assert f"{berlin} CE" in line and stored not in line, line
    assert line.rstrip().endswith("never"), line  # no config fetch yet
