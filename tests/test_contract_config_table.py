"""The device config's one table, contract.CONFIG_FIELDS, and everything built from it agree:
the appliance's settings registry, the camera's check of a config, the camera's defaults,
the OpenAPI document, and shared/CONTRACT.md (when ../shared is beside the repository).

Each side is probed by what it does with values at, inside and just outside the bounds,
not only by comparing attributes, so a side that restates a bound of its own is caught.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import re
import typing
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from storewatch import contract
from storewatch.camera.sources import base
from storewatch.camera.modes import DEFAULT_CONFIG, clean_config
from storewatch.camera.motion import MotionTrigger
from storewatch.cli.camera_check import camera_test
from storewatch.contract import CONFIG_FIELD, CONFIG_FIELDS, ConfigField, DeviceConfig
from storewatch.ops.doctor import capture_one
from storewatch.server.openapi_routes import document
from storewatch.settings import APPLIANCE_SETTINGS, DEVICE_SETTINGS, SettingError

CONTRACT_MD = Path(__file__).resolve().parents[2] / "shared" / "CONTRACT.md"
# What a config carries besides its capture settings: identity, mode and readings.
NOT_SETTINGS = {"device_id", "config_version", "mode", "mode_until", "motion_trigger", "server_time", "last_seq"}
SENTINEL = -123456  # a fallback no field accepts, so "kept the fallback" is unmistakable


def _name(rule: ConfigField) -> str:
    return rule.name


def _probes(rule: ConfigField) -> list[Any]:
    """JSON values around the bounds, of the right type and of wrong ones."""
    if rule.kind is bool:
        return [True, False, 0, 1, None, 0.5]
    low, high = rule.minimum, rule.maximum
    assert low is not None and high is not None, f"{rule.name} has no bounds"
    step = 1 if rule.kind is int else low * 0.5 or 0.5
    values = [low, high, rule.default, low - step, high + 1, high * 10, True, None, float("nan"), float("inf")]
    return values + ([low + 0.5, float(low)] if rule.kind is int else [int(high)])


def _appliance_takes(rule: ConfigField, value: Any) -> bool:
    try:
        DEVICE_SETTINGS[rule.name].parse(value)
    except SettingError:
        return False
    return True


def _camera_takes(rule: ConfigField, value: Any) -> bool:
    """Whether the camera applies `value` when a config carries it."""
    if len(rule.json_path) == 1:
        fallback = dataclasses.replace(DEFAULT_CONFIG, **{rule.name: SENTINEL})
        return getattr(clean_config({rule.name: value}, fallback), rule.name) != SENTINEL
    outer, key = rule.json_path
    cleaned = getattr(clean_config({outer: {key: value}}, DEFAULT_CONFIG), outer)
    return key in cleaned


# --- the table itself ------------------------------------------------------------------------------


def test_the_table_holds_every_capture_setting_of_the_config_with_its_type():
    top = [rule for rule in CONFIG_FIELDS if len(rule.json_path) == 1]
    assert {rule.name for rule in top} == set(DeviceConfig.__dataclass_fields__) - NOT_SETTINGS
    hints = typing.get_type_hints(DeviceConfig)
    assert {rule.name: rule.kind for rule in top} == {rule.name: hints[rule.name] for rule in top}
    assert len({rule.json_path for rule in CONFIG_FIELDS}) == len(CONFIG_FIELDS)


@pytest.mark.parametrize("rule", CONFIG_FIELDS, ids=_name)
def test_each_field_has_help_and_a_default_inside_its_bounds(rule: ConfigField):
    assert rule.help.strip() and rule.help.endswith(".")
    assert rule.accepts(rule.default) and type(rule.default) is rule.kind


# --- the appliance: settings registry, CLI and admin API --------------------------------------------


def test_the_device_settings_registry_is_the_table_in_its_order():
    assert list(DEVICE_SETTINGS) == [rule.name for rule in CONFIG_FIELDS]
    for rule in CONFIG_FIELDS:
        setting = DEVICE_SETTINGS[rule.name]
        assert (setting.kind, setting.default, setting.minimum, setting.maximum, setting.help) == (
            rule.kind, rule.default, rule.minimum, rule.maximum, rule.help), rule.name


# --- the camera -------------------------------------------------------------------------------------


@pytest.mark.parametrize("rule", CONFIG_FIELDS, ids=_name)
def test_the_camera_takes_from_a_config_exactly_what_the_appliance_lets_an_admin_set(rule: ConfigField):
    for value in _probes(rule):
        assert _camera_takes(rule, value) == _appliance_takes(rule, value), (rule.name, value)


@pytest.mark.parametrize("rule", CONFIG_FIELDS, ids=_name)
def test_the_camera_refuses_text_where_the_cli_would_parse_it(rule: ConfigField):
    text = str(rule.default).lower()
    assert _appliance_takes(rule, text)  # `storewatch device set` words are text
    assert not _camera_takes(rule, text)  # a config's JSON must carry the real type


def test_the_motion_trigger_checks_its_threshold_by_the_table():
    rule = CONFIG_FIELD["motion_threshold"]
    assert MotionTrigger().threshold == rule.default
    for value in _probes(rule):
        motion = MotionTrigger()
        motion.threshold = SENTINEL
        motion.configure({"threshold": value})
        assert (motion.threshold != SENTINEL) == _appliance_takes(rule, value), value


def test_the_camera_starts_from_the_tables_defaults():
    for rule in CONFIG_FIELDS:
        if len(rule.json_path) == 1:
            assert getattr(DEFAULT_CONFIG, rule.name) == rule.default, rule.name
    assert DEFAULT_CONFIG.motion_trigger == {}  # no motion bursts before the server's first word
    assert (base.DEFAULT_WIDTH, base.DEFAULT_HEIGHT, base.DEFAULT_QUALITY) == tuple(
        CONFIG_FIELD[name].default for name in ("width", "height", "jpeg_quality"))
    defaults = inspect.signature(capture_one).parameters
    assert [defaults[p].default for p in ("width", "height", "quality")] == [
        CONFIG_FIELD[name].default for name in ("width", "height", "jpeg_quality")]


def test_camera_test_takes_its_defaults_and_ranges_from_the_table():
    options = {param.name: param for param in camera_test.params}
    for name in ("width", "height", "jpeg_quality"):
        rule, option = CONFIG_FIELD[name], options[name]
        assert option.default == rule.default and option.help == rule.help, name
        assert (option.type.min, option.type.max) == (rule.minimum, rule.maximum), name


# --- the OpenAPI document ---------------------------------------------------------------------------


def _config_schema(doc: dict) -> dict:
    answer = doc["paths"][contract.DEVICE_CONFIG_PATH]["get"]["responses"]["200"]
    return answer["content"]["application/json"]["schema"]


def _device_settings_schema(doc: dict) -> dict:
    body = doc["paths"]["/api/v1/admin/devices/{device_id}"]["patch"]["requestBody"]
    return body["content"]["application/json"]["schema"]["properties"]["settings"]


def _at(schema: dict, path: tuple[str, ...]) -> dict:
    for key in path:
        schema = schema["properties"][key]
    return schema


@pytest.mark.parametrize("rule", CONFIG_FIELDS, ids=_name)
def test_the_openapi_document_describes_each_field_as_the_table_does(rule: ConfigField):
    doc = document()
    expected = {"type": {bool: "boolean", int: "integer", float: "number"}[rule.kind],
                "default": rule.default, "description": rule.help}
    expected |= {key: bound for key, bound in (("minimum", rule.minimum), ("maximum", rule.maximum))
                 if bound is not None}
    assert _at(_config_schema(doc), rule.json_path) == expected
    assert _device_settings_schema(doc)["properties"][rule.name] == expected


@pytest.mark.parametrize("rule", CONFIG_FIELDS, ids=_name)
def test_the_openapi_schema_validates_like_the_appliance(rule: ConfigField):
    doc = document()
    in_config = jsonschema_rs.validator_for(_at(_config_schema(doc), rule.json_path))
    in_patch = jsonschema_rs.validator_for(_device_settings_schema(doc))
    for value in _probes(rule):
        if isinstance(value, float) and not math.isfinite(value):
            continue  # not JSON: no document carries NaN or Infinity
        expected = _appliance_takes(rule, value)
        assert in_config.is_valid(value) == expected, (rule.name, value)
        assert in_patch.is_valid({rule.name: value}) == expected, (rule.name, value)


# --- shared/CONTRACT.md -----------------------------------------------------------------------------


def _contract_section(heading: str) -> str:
    if not CONTRACT_MD.exists():
        pytest.skip(f"{CONTRACT_MD} not found: ../shared is not beside the repository, so the "
                    "contract document's side of the agreement is not checked here")
    return CONTRACT_MD.read_text().split(f"## {heading}", 1)[1].split("\n## ", 1)[0]


def test_the_contracts_example_config_has_every_field_and_fits_the_table():
    section = _contract_section("GET /api/v1/device/config")
    example = json.loads(re.search(r"```json\n(.*?)\n```", section, re.DOTALL).group(1))
    assert set(example) == set(DeviceConfig.__dataclass_fields__)
    for rule in CONFIG_FIELDS:
        value = example
        for key in rule.json_path:
            value = value[key]
        assert rule.accepts(value), (rule.name, value)


def test_the_contracts_frame_ranges_are_the_configs_size_and_quality_bounds():
    # CONTRACT.md has no table of the config's bounds; a frame taken at the config's size and
    # quality must pass the meta's ranges, which it does state.
    section = _contract_section("POST /api/v1/ingest/frame")
    rows = {match[0]: (int(match[1]), int(match[2])) for match in
            re.findall(r"^\| (`[^|]+`) \| integer \| required, (-?\d+)\.\.(-?\d+)", section, re.MULTILINE)}
    meta = {rule.name: rule for rule in contract.FRAME_META_RULES}
    for row, names in (("`width`, `height`", ("width", "height")), ("`jpeg_quality`", ("jpeg_quality",))):
        for name in names:
            rule = CONFIG_FIELD[name]
            assert rows[row] == (rule.minimum, rule.maximum) == (meta[name].minimum, meta[name].maximum), name


def test_the_contracts_body_limit_is_the_max_body_default():
    section = _contract_section("POST /api/v1/ingest/frame")
    mib = int(re.search(r"^\| 413 \| body over the limit \(default (\d+) MiB\)", section, re.MULTILINE).group(1))
    assert mib * 1024 * 1024 == contract.DEFAULT_MAX_BODY_BYTES == APPLIANCE_SETTINGS["max_body_bytes"].default
