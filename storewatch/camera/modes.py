"""What the device should be doing now: the server's config, its mode, and local bursts.

The server's word arrives three ways: the config (polled), and `mode` plus
`config_version` in every ingest and heartbeat answer. A burst the server asked for is
held `burst_hold_s` past its last confirmation (so an offline device in burst does not
fill its spool forever); motion seen by the device starts a local burst of the same
length. Monotonic time throughout: the device's wall clock may be wrong.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from typing import Any, Callable

from storewatch.contract import CONFIG_FIELDS, MODES, DeviceConfig, parse_timestamp, utc_now

# Until the server's first answer: the contract table's defaults, and no motion trigger
# (without ROIs it would watch the whole frame).
DEFAULT_CONFIG = DeviceConfig(
    device_id="", config_version="", mode="baseline", mode_until=None, motion_trigger={},
    **{f.name: f.default for f in CONFIG_FIELDS if len(f.json_path) == 1})

_MOTION_FIELDS = {f.json_path[1]: f for f in CONFIG_FIELDS if f.json_path[0] == "motion_trigger"}


def clean_config(payload: dict[str, Any], fallback: DeviceConfig) -> DeviceConfig:
    """A config from the server, with each missing or bad field kept at `fallback`.

    Bad means of the wrong type or outside the contract table's bounds (CONFIG_FIELDS),
    the same rules the appliance applies when the setting is made.
    """
    merged = fallback.to_json()
    for rule in CONFIG_FIELDS:
        if len(rule.json_path) == 1 and rule.accepts(payload.get(rule.name)):
            merged[rule.name] = rule.coerce(payload[rule.name])
    for name in ("device_id", "config_version", "mode_until"):
        if isinstance(payload.get(name), str):
            merged[name] = payload[name]
    if payload.get("mode") in MODES:
        merged["mode"] = payload["mode"]
    merged["motion_trigger"] = _clean_motion_trigger(payload.get("motion_trigger"))
    return DeviceConfig(**merged)


def _clean_motion_trigger(value: Any) -> dict[str, Any]:
    """The config's motion_trigger without its bad settings (MotionTrigger keeps its own then)."""
    if not isinstance(value, dict):
        return {}
    return {key: item for key, item in value.items()
            if key not in _MOTION_FIELDS or _MOTION_FIELDS[key].accepts(item)}


@dataclass(frozen=True)
class CaptureParams:
    width: int
    height: int
    jpeg_quality: int


class ModeState:
    def __init__(self, config: DeviceConfig = DEFAULT_CONFIG,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._monotonic = monotonic
        self.config = config
        self._server_burst_until = float("-inf")
        self._motion_burst_until = float("-inf")
        self.changed = threading.Event()  # wakes the capture loop: interval or mode moved
        self.refetch = threading.Event()  # wakes the config poller: our config is stale

    def apply_config(self, config: DeviceConfig) -> None:
        with self._lock:
            before = self._snapshot()
            self.config = config
            self._server_mode(config.mode, _seconds_until(config.mode_until))
            after = self._snapshot()
        if after != before:
            self.changed.set()

    def server_says(self, mode: Any, config_version: Any) -> None:
        """An ingest or heartbeat answer: follow its mode now, refetch a newer config."""
        with self._lock:
            before = self._snapshot()
            if mode in ("baseline", "burst"):
                self._server_mode(mode, None)
            stale = isinstance(config_version, str) and config_version != self.config.config_version
            after = self._snapshot()
        if stale:
            self.refetch.set()
        if after != before:
            self.changed.set()

    def _server_mode(self, mode: str, until_s: float | None) -> None:
        now = self._monotonic()
        if mode == "burst":
            hold = self.config.burst_hold_s if until_s is None else max(until_s, 0.0)
            self._server_burst_until = now + max(hold, self.config.burst_interval_s * 2)
        else:
            self._server_burst_until = float("-inf")

    def motion_seen(self) -> None:
        with self._lock:
            was = self._mode()
            self._motion_burst_until = self._monotonic() + self.config.burst_hold_s
            started = was != "burst"
        if started:
            self.changed.set()

    def _mode(self) -> str:
        now = self._monotonic()
        return "burst" if now < max(self._server_burst_until, self._motion_burst_until) else "baseline"

    def _snapshot(self) -> tuple:
        c = self.config
        return (self._mode(), c.baseline_interval_s, c.burst_interval_s, c.width, c.height, c.jpeg_quality)

    @property
    def mode(self) -> str:
        with self._lock:
            return self._mode()

    def interval_s(self) -> float:
        with self._lock:
            c = self.config
            return c.burst_interval_s if self._mode() == "burst" else c.baseline_interval_s

    def capture_params(self) -> CaptureParams:
        with self._lock:
            return CaptureParams(self.config.width, self.config.height, self.config.jpeg_quality)

    def with_device(self, device_id: str) -> None:
        with self._lock:
            self.config = replace(self.config, device_id=device_id)


def _seconds_until(moment: str | None) -> float | None:
    if not moment:
        return None
    try:
        return (parse_timestamp(moment) - utc_now()).total_seconds()
    except ValueError:
        return None
