"""The CLI's answer to damaged stored data: a message saying what to do, never a traceback."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from storewatch.appliance import Appliance
from storewatch.cli import main


def damage_device_health(data_dir: Path) -> str:
    appliance = Appliance(data_dir)
    try:
        device_id, _ = appliance.devices.add("cam")
        with appliance.db.write() as conn:
            conn.execute("UPDATE devices SET health = '{not json' WHERE id = ?", (device_id,))
    finally:
        appliance.close()
    return device_id


def test_device_list_with_a_damaged_column_says_what_is_damaged_and_what_to_do(tmp_path: Path) -> None:
    device_id = damage_device_health(tmp_path)
    for args in (["device", "list"], ["device", "list", "--json"]):
        result = CliRunner().invoke(main, ["--data-dir", str(tmp_path), *args])
        assert result.exit_code == 1, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert f"the stored devices.health of {device_id} is damaged" in result.output
        assert "storewatch db check" in result.output
        assert "Traceback" not in result.output


def test_on_an_installed_appliance_a_cli_run_as_oneself_points_to_its_data(tmp_path: Path, monkeypatch) -> None:
    # `storewatch status` as the Pi's own user (not the runbook's alias) made an empty appliance in
    # ~/.local/share/storewatch and said "Devices (0): none yet", beside the real one.
    import storewatch.cli

    installed = tmp_path / "var-lib-storewatch"
    Appliance(installed).close()
    monkeypatch.setattr(storewatch.cli, "INSTALLED_DATA_DIR", installed)
    monkeypatch.delenv("STOREWATCH_DATA_DIR", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    own = tmp_path / "home" / ".local" / "share" / "storewatch"
    result = CliRunner().invoke(main, ["status"])
    assert result.exit_code == 1, result.output
    assert f"keeps its data in {installed}" in result.output, result.output
    assert f"sudo -u storewatch STOREWATCH_DATA_DIR={installed}" in result.output, result.output
    assert not own.exists()
    assert CliRunner().invoke(main, ["--data-dir", str(own), "status"]).exit_code == 0  # chosen: fine
    assert CliRunner().invoke(main, ["status"]).exit_code == 0  # one's own, once it exists: fine
    assert CliRunner().invoke(main, ["status"], env={"STOREWATCH_DATA_DIR": str(installed)}).exit_code == 0


def test_a_data_directory_that_cannot_be_made_is_said_not_a_traceback(tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    for data_dir in (a_file / "data", a_file / "deeper" / "data"):
        result = CliRunner().invoke(main, ["--data-dir", str(data_dir), "status"])
        assert result.exit_code == 1, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        assert f"cannot use the data directory {data_dir}" in result.output, result.output
        assert "Not a directory" in result.output and "--data-dir" in result.output, result.output
