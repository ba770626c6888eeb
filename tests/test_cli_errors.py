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
