"""Every tunable with its type, default and bounds, in one place.

Two registries: appliance-wide settings (stored in the database's `settings` table) and
per-device capture settings (the `device_settings` table, sent to the device in its
config; built from the contract's table, `contract.CONFIG_FIELDS`). Both are validated
the same way, so the CLI, the admin API and the start-up checks give the same messages.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storewatch.contract import CONFIG_FIELDS, DEFAULT_MAX_BODY_BYTES
from storewatch.errors import InvalidInput
from storewatch.timezone import check_zone, system_zone_name


class SettingError(InvalidInput):
    """A setting's name or value is not acceptable; the message says what is."""


@dataclass(frozen=True)
class Setting:
    name: str
    kind: type
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    help: str = ""
    check: Callable[[Any], Any] | None = None  # more than bounds (a time zone name); ValueError with a message

    def parse(self, raw: Any) -> Any:
        """Turn `raw` (a JSON value or a command-line string) into a checked value."""
        try:
            value = _coerce(self.kind, raw)
        except (TypeError, ValueError):
            raise SettingError(f"{self.name} must be {_kind_word(self.kind)}, not {raw!r}") from None
        if self.minimum is not None and value < self.minimum:
            raise SettingError(f"{self.name} must be at least {self.minimum}, not {value}")
        if self.maximum is not None and value > self.maximum:
            raise SettingError(f"{self.name} must be at most {self.maximum}, not {value}")
        if self.check is not None:
            try:
                value = self.check(value)
            except ValueError as exc:
                raise SettingError(f"{self.name}: {exc}") from None
        return value


def _coerce(kind: type, raw: Any) -> Any:
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in ("true", "1", "yes", "on", "false", "0", "no", "off"):
            return raw.lower() in ("true", "1", "yes", "on")
        raise ValueError
    if isinstance(raw, bool):
        raise TypeError
    if kind is int:
        if isinstance(raw, float) and not raw.is_integer():
            raise ValueError
        return int(raw)
    if kind is float:
        value = float(raw)
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError
        return value
    return kind(raw)


def _kind_word(kind: type) -> str:
    return {bool: "true or false", int: "a whole number", float: "a number"}.get(kind, "text")


GiB = 1024**3

APPLIANCE_SETTINGS = {s.name: s for s in (
    Setting("disk_reserve_bytes", int, GiB, 0, 2**50,
            "Ingest answers 507 when free space falls below the larger of this and disk_reserve_percent."),
    Setting("disk_reserve_percent", float, 5.0, 0, 90, "Percent of the data disk kept free."),
    Setting("max_body_bytes", int, DEFAULT_MAX_BODY_BYTES, 64 * 1024, 64 * 1024 * 1024,
            "Largest ingest request body accepted."),
    Setting("staging_retention_hours", float, 24.0, 0.1, 24 * 365,
            "Staging frames not used by an event are deleted after this many hours."),
    Setting("staging_max_bytes", int, 4 * GiB, 16 * 1024 * 1024, 2**50,
            "Staging is trimmed, oldest first, above this size."),
    Setting("event_image_retention_days", float, 7.0, 0.01, 3650,
            "Event images are deleted after this many days; the events stay."),
    Setting("score_history_days", float, 2.0, 0.01, 365, "Per-ROI score history kept for the tuning chart."),
    Setting("replay_days", float, 2.0, 0, 30,
            "Days of analysis-size frames kept for what-if replay (storewatch replay); 0 keeps none."),
    Setting("job_max_attempts", int, 5, 1, 100, "Analysis attempts before a job is dead."),
    Setting("metrics_open", bool, False, help="Serve /metrics on the LAN without an admin token."),
    Setting("time_zone", str, system_zone_name(), check=check_zone,
            help="The shop's time zone (an IANA name such as Europe/Berlin): how times are shown and"
                 " schedules read. The API answers in UTC."),
)}

# The capture settings a device's config carries: built from the contract's one table.
DEVICE_SETTINGS = {f.name: Setting(f.name, f.kind, f.default, f.minimum, f.maximum, f.help)
                   for f in CONFIG_FIELDS}


def parse_assignments(pairs: list[str], registry: dict[str, Setting]) -> dict[str, Any]:
    """Parse `key=value` words (the CLI's form) against a registry."""
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep:
            raise SettingError(f"{pair!r} is not key=value")
        values[name.strip()] = raw.strip()
    return validate_values(values, registry)


def validate_values(values: dict[str, Any], registry: dict[str, Setting]) -> dict[str, Any]:
    clean = {}
    for name, raw in values.items():
        if name not in registry:
            known = ", ".join(sorted(registry))
            raise SettingError(f"unknown setting {name!r}; known settings: {known}")
        clean[name] = registry[name].parse(raw)
    return clean


def default_data_dir() -> Path:
    """STOREWATCH_DATA_DIR (the systemd units set /var/lib/storewatch), else XDG data home."""
    env = os.environ.get("STOREWATCH_DATA_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(xdg) / "storewatch"
