"""The domain's error classes: stored JSON that does not read back, and the builtin bases kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from storewatch import errors
from storewatch.appliance import Appliance
from storewatch.cli import main


def test_stored_json_reads_back_or_names_what_is_damaged() -> None:
    assert errors.load_stored_json('{"a": [1, 2]}', "devices.health", "cam") == {"a": [1, 2]}
    for damaged in ('{"cut off', "", None, b"\xff"):
        with pytest.raises(errors.CorruptStoredValue) as caught:
            errors.load_stored_json(damaged, "devices.health", "cam")
        assert str(caught.value) == "the stored devices.health of cam is damaged and cannot be read"
        assert (caught.value.where, caught.value.owner) == ("devices.health", "cam")


@pytest.mark.parametrize("kind, base", [(errors.DeviceNotFound, LookupError), (errors.JobNotFound, LookupError),
                                        (errors.RoiInvalid, ValueError), (errors.JobNotRetryable, ValueError),
                                        (errors.RoiNameTaken, ValueError), (errors.CorruptStoredValue, ValueError)])
def test_each_class_keeps_the_builtin_base_callers_already_catch(kind: type, base: type) -> None:
    assert issubclass(kind, errors.DomainError) and issubclass(kind, base)


def test_the_cli_says_a_damaged_column_in_plain_words(data_dir: Path) -> None:
    appliance = Appliance(data_dir)
    try:
        appliance.devices.add("Shelf cam", "cam")
        with appliance.db.write() as conn:
            conn.execute("UPDATE device_settings SET values_json = 'not json' WHERE device_id = 'cam'")
    finally:
        appliance.close()
    result = CliRunner().invoke(main, ["--data-dir", str(data_dir), "device", "set", "cam", "jpeg_quality=80"])
    assert result.exit_code == 1, result.output
    assert "the stored device_settings.values_json of cam is damaged" in result.output
    assert "Traceback" not in result.output
