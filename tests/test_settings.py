"""Settings registries: parsing, bounds and the messages a person sees."""

from __future__ import annotations

from pathlib import Path

import pytest

from storewatch import contract
from storewatch.settings import (
    APPLIANCE_SETTINGS,
    DEVICE_SETTINGS,
    Setting,
    SettingError,
    default_data_dir,
    parse_assignments,
    validate_values,
)

ALL = [*APPLIANCE_SETTINGS.values(), *DEVICE_SETTINGS.values()]


@pytest.mark.parametrize("setting", ALL, ids=lambda s: s.name)
def test_every_setting_is_documented_and_its_default_is_valid(setting: Setting) -> None:
    assert setting.help.strip(), f"{setting.name} has no help text"
    assert setting.parse(setting.default) == setting.default


@pytest.mark.parametrize("setting", [s for s in ALL if s.minimum is not None], ids=lambda s: s.name)
def test_bounds_are_inclusive_and_enforced(setting: Setting) -> None:
    assert setting.parse(setting.minimum) == setting.minimum
    assert setting.parse(setting.maximum) == setting.maximum
    below = setting.minimum - (1 if setting.kind is int else setting.minimum * 0.5 or 0.5)
    with pytest.raises(SettingError, match=f"{setting.name} must be at least"):
        setting.parse(below)
    with pytest.raises(SettingError, match=f"{setting.name} must be at most"):
        setting.parse(setting.maximum + 1)


@pytest.mark.parametrize("raw, expected", [
    ("true", True), ("YES", True), ("1", True), ("on", True), (True, True),
    ("false", False), ("No", False), ("0", False), ("off", False), (False, False),
])
def test_bool_settings_accept_words(raw: object, expected: bool) -> None:
    assert DEVICE_SETTINGS["motion_trigger_enabled"].parse(raw) is expected


@pytest.mark.parametrize("raw", ["maybe", "", 1, 0, None, 1.0])
def test_bool_settings_refuse_anything_else(raw: object) -> None:
    with pytest.raises(SettingError, match="must be true or false"):
        DEVICE_SETTINGS["motion_trigger_enabled"].parse(raw)


@pytest.mark.parametrize("raw, expected", [("80", 80), (80, 80), (80.0, 80), (" 80 ", 80)])
def test_int_settings_accept_whole_numbers(raw: object, expected: int) -> None:
    assert DEVICE_SETTINGS["jpeg_quality"].parse(raw) == expected


@pytest.mark.parametrize("raw", ["80.5", 80.5, "eighty", True, None, [80]])
def test_int_settings_refuse_fractions_bools_and_text(raw: object) -> None:
    with pytest.raises(SettingError, match="jpeg_quality must be a whole number"):
        DEVICE_SETTINGS["jpeg_quality"].parse(raw)


@pytest.mark.parametrize("raw", ["nan", "inf", "-inf", float("nan"), float("inf"), "1e", False])
def test_float_settings_refuse_non_finite_and_junk(raw: object) -> None:
    with pytest.raises(SettingError, match="baseline_interval_s must be a number"):
        DEVICE_SETTINGS["baseline_interval_s"].parse(raw)


def test_float_settings_accept_ints_and_text() -> None:
    assert DEVICE_SETTINGS["baseline_interval_s"].parse("2.5") == 2.5
    assert DEVICE_SETTINGS["baseline_interval_s"].parse(5) == 5.0


def test_parse_assignments_reads_key_value_words() -> None:
    assert parse_assignments(["baseline_interval_s=5", " jpeg_quality = 80 "], DEVICE_SETTINGS) == {
        "baseline_interval_s": 5.0, "jpeg_quality": 80}


def test_parse_assignments_refuses_a_word_without_equals() -> None:
    with pytest.raises(SettingError, match="'jpeg_quality' is not key=value"):
        parse_assignments(["jpeg_quality"], DEVICE_SETTINGS)


def test_unknown_setting_lists_the_known_ones() -> None:
    with pytest.raises(SettingError) as caught:
        validate_values({"fps": 3}, DEVICE_SETTINGS)
    assert "unknown setting 'fps'" in str(caught.value)
    for name in DEVICE_SETTINGS:
        assert name in str(caught.value)


def test_a_device_setting_is_not_an_appliance_setting() -> None:
    with pytest.raises(SettingError, match="unknown setting 'jpeg_quality'"):
        validate_values({"jpeg_quality": 80}, APPLIANCE_SETTINGS)


def test_default_data_dir_prefers_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STOREWATCH_DATA_DIR", str(tmp_path / "sw"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_data_dir() == tmp_path / "sw"


def test_default_data_dir_falls_back_to_xdg_then_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("STOREWATCH_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_data_dir() == tmp_path / "xdg" / "storewatch"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_data_dir() == tmp_path / "home" / ".local" / "share" / "storewatch"


def test_the_body_limit_default_is_the_contracts():
    assert APPLIANCE_SETTINGS["max_body_bytes"].default == contract.DEFAULT_MAX_BODY_BYTES == 10 * 1024 * 1024
