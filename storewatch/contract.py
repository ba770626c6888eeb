"""The device contract (shared/CONTRACT.md v1) as one set of rules.

Both the server and the camera client import this module, so the two sides can never
disagree about a path, a field, a range or a signature.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

API_PREFIX = "/api/v1"
INGEST_FRAME_PATH = f"{API_PREFIX}/ingest/frame"
HEARTBEAT_PATH = f"{API_PREFIX}/ingest/heartbeat"
DEVICE_CONFIG_PATH = f"{API_PREFIX}/device/config"

# Checked with fullmatch only: re's `$` also matches before a final newline ("nlid\n").
# The ^ and $ stay for the OpenAPI document, whose pattern a JSON Schema validator searches.
DEVICE_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
MODES = ("baseline", "burst")
MAX_SEQ = 2**63
MIN_DIMENSION, MAX_DIMENSION = 16, 8192
MIN_QUALITY, MAX_QUALITY = 1, 100
HMAC_WINDOW_S = 300
NONCE_MIN, NONCE_MAX = 16, 64
# ASCII only: str.isdigit() and int() also take other scripts' digits ("²", "١٧٦٤"), and a
# 400-digit number overflows a float; twelve digits reach the year 33658.
_HMAC_TIMESTAMP = re.compile(r"[0-9]{1,12}")
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_META_BYTES = 16 * 1024

# Statuses a client retries (keeping the frame); every other 4xx drops the frame.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504, 507})

# The times a device may send. Outside them a time cannot be trusted to survive arithmetic
# (year 1 with an offset, or 9999 plus a burst hold, overflows datetime) nor means anything.
EARLIEST_DEVICE_TIME = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST_DEVICE_TIME = datetime(2100, 1, 1, tzinfo=timezone.utc)  # exclusive
# The window a new frame's capture_ts must lie in, against the server's clock (both ends inclusive).
CAPTURE_AHEAD_S = 300
CAPTURE_MAX_AGE = timedelta(days=30)
CAPTURE_WINDOW_TEXT = (f"not more than {CAPTURE_AHEAD_S} s ahead of the appliance's clock, "
                       f"nor older than {CAPTURE_MAX_AGE.days} days")

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)


class ContractError(ValueError):
    """A request or answer breaks the contract: `details` has one entry per bad field."""

    def __init__(self, details: list[dict[str, str]]):
        super().__init__("; ".join(f"{d['field']}: {d['message']}" for d in details))
        self.details = details


def parse_timestamp(value: str) -> datetime:
    """Parse an RFC 3339 timestamp that carries an offset; raise ValueError otherwise."""
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError("must be an RFC 3339 time with an offset, e.g. 2026-11-24T05:47:30.120Z")
    # Python 3.11's fromisoformat takes Z, a space and any number of fraction digits (it keeps
    # 6) but not a lower-case t or z. It also takes forms RFC 3339 does not (no offset, basic
    # 20261124T054730, week dates), so the pattern above stays the gate.
    return datetime.fromisoformat(value.upper())


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds, as the contract's examples show."""
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class FieldRule:
    name: str
    kind: type | tuple[type, ...]
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None  # inclusive
    max_length: int | None = None
    choices: tuple[str, ...] | None = None
    timestamp: bool = False
    note: str | None = None  # a rule checked outside `check` (it needs the server's clock), for the docs

    def check(self, value: Any) -> str | None:
        """The problem with `value`, or None when it is fine."""
        kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
        if isinstance(value, bool) or not isinstance(value, kinds):
            return f"must be {_kind_name(kinds)}"
        if isinstance(value, float) and value != value:
            return "must be a number"
        if self.minimum is not None and value < self.minimum:
            return f"must be at least {_num(self.minimum)}"
        if self.maximum is not None and value > self.maximum:
            return f"must be at most {_num(self.maximum)}"
        if self.max_length is not None and len(value) > self.max_length:
            return f"must be at most {self.max_length} characters"
        if self.choices is not None and value not in self.choices:
            return "must be one of " + ", ".join(self.choices)
        if self.timestamp:
            try:
                moment = parse_timestamp(value)
            except ValueError as exc:
                return str(exc)
            if not EARLIEST_DEVICE_TIME <= moment < LATEST_DEVICE_TIME:
                return "must be a time from 1970 to 2099"
        return None


def _kind_name(kinds: tuple[type, ...]) -> str:
    if kinds == (int,):
        return "an integer"
    if str in kinds:
        return "a string"
    return "a number"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


NUMBER = (int, float)

FRAME_META_RULES = (
    FieldRule("device_id", str, required=True, max_length=64),
    FieldRule("capture_ts", str, required=True, timestamp=True, max_length=40, note=CAPTURE_WINDOW_TEXT),
    FieldRule("seq", int, required=True, minimum=0, maximum=MAX_SEQ - 1),
    FieldRule("width", int, required=True, minimum=MIN_DIMENSION, maximum=MAX_DIMENSION),
    FieldRule("height", int, required=True, minimum=MIN_DIMENSION, maximum=MAX_DIMENSION),
    FieldRule("jpeg_quality", int, required=True, minimum=MIN_QUALITY, maximum=MAX_QUALITY),
    FieldRule("rssi", int, minimum=-127, maximum=0),
    FieldRule("fw_version", str, max_length=64),
    FieldRule("notes", str, max_length=512),
    FieldRule("mode", str, choices=MODES),
)

HEARTBEAT_RULES = (
    FieldRule("device_id", str, required=True, max_length=64),
    FieldRule("ts", str, required=True, timestamp=True, max_length=40),
    FieldRule("uptime_s", NUMBER, minimum=0, maximum=1e12),
    FieldRule("last_seq", int, minimum=0, maximum=MAX_SEQ - 1),
    FieldRule("mode", str, choices=MODES),
    FieldRule("spool_frames", int, minimum=0, maximum=MAX_SEQ - 1),
    FieldRule("spool_bytes", int, minimum=0, maximum=MAX_SEQ - 1),
    FieldRule("dropped_frames", int, minimum=0, maximum=MAX_SEQ - 1),
    FieldRule("cpu_temp_c", NUMBER, minimum=-100, maximum=200),
    FieldRule("disk_free_bytes", NUMBER, minimum=0, maximum=1e18),
    FieldRule("rssi", NUMBER, minimum=-127, maximum=0),
    FieldRule("fw_version", str, max_length=64),
    FieldRule("last_error", str, max_length=512),
)


# --- The device config's capture settings -------------------------------------------------


@dataclass(frozen=True)
class ConfigField:
    """One capture setting of GET /device/config: the one place for its type, default, bounds
    and help. The appliance's per-device settings (settings.DEVICE_SETTINGS), the camera's
    check of a config (camera.modes.clean_config) and the OpenAPI document are built from
    CONFIG_FIELDS; tests/test_contract_config_table.py proves they agree.

    `name` is the setting's name (CLI, admin API); `path` is where the config's JSON carries
    it when that is not a top-level key of the same name.
    """

    name: str
    kind: type  # int, float or bool
    default: Any
    minimum: float | None = None
    maximum: float | None = None  # inclusive
    help: str = ""
    path: tuple[str, ...] = ()

    @property
    def json_path(self) -> tuple[str, ...]:
        return self.path or (self.name,)

    def accepts(self, value: Any) -> bool:
        """Whether a decoded JSON value is of this field's type and inside its bounds."""
        if self.kind is bool:
            return isinstance(value, bool)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            return False
        if self.kind is int and not float(value).is_integer():
            return False  # 70.5 is not a JPEG quality; 800.0 is a width
        return ((self.minimum is None or value >= self.minimum)
                and (self.maximum is None or value <= self.maximum))

    def coerce(self, value: Any) -> Any:
        """An accepted value in this field's own type (800.0 -> 800, 5 -> 5.0)."""
        return self.kind(value)


# The bounds are the appliance's: what an admin can set, so what a config carries. Size and
# quality are the frame meta's own ranges: a frame taken at them must pass ingest.
CONFIG_FIELDS = (
    ConfigField("baseline_interval_s", float, 30.0, 0.1, 86400, "Seconds between frames when nothing happens."),
    ConfigField("burst_interval_s", float, 0.5, 0.05, 60, "Seconds between frames during an interaction."),
    ConfigField("burst_hold_s", float, 20.0, 1, 3600, "Burst continues this long after the last activity."),
    ConfigField("jpeg_quality", int, 85, MIN_QUALITY, MAX_QUALITY, "JPEG quality the device encodes at."),
    ConfigField("width", int, 1640, MIN_DIMENSION, MAX_DIMENSION, "Capture width in pixels."),
    ConfigField("height", int, 1232, MIN_DIMENSION, MAX_DIMENSION, "Capture height in pixels."),
    ConfigField("config_poll_interval_s", float, 10.0, 1, 3600, "How often the device polls its config."),
    ConfigField("heartbeat_interval_s", float, 60.0, 5, 3600, "How often the device sends a heartbeat."),
    ConfigField("motion_trigger_enabled", bool, True, help="Let the device go to burst on its own motion.",
                path=("motion_trigger", "enabled")),
    ConfigField("motion_threshold", float, 0.02, 0.0001, 1, "Fraction of ROI pixels that must change.",
                path=("motion_trigger", "threshold")),
)
CONFIG_FIELD = {f.name: f for f in CONFIG_FIELDS}


def validate(payload: Any, rules: tuple[FieldRule, ...]) -> dict[str, Any]:
    """Check a decoded JSON object against `rules`; unknown fields are dropped.

    Raises ContractError listing every bad field at once.
    """
    if not isinstance(payload, dict):
        raise ContractError([{"field": "", "message": "must be a JSON object"}])
    clean: dict[str, Any] = {}
    problems: list[dict[str, str]] = []
    for rule in rules:
        if rule.name not in payload or payload[rule.name] is None:
            if rule.required:
                problems.append({"field": rule.name, "message": "is required"})
            continue
        problem = rule.check(payload[rule.name])
        if problem:
            problems.append({"field": rule.name, "message": problem})
        else:
            clean[rule.name] = payload[rule.name]
    device_id = clean.get("device_id")
    if device_id is not None and not DEVICE_ID_PATTERN.fullmatch(device_id):
        problems.append({"field": "device_id", "message": "must match [A-Za-z0-9._-]{1,64}"})
    if problems:
        raise ContractError(problems)
    return clean


def validate_frame_meta(payload: Any) -> dict[str, Any]:
    return validate(payload, FRAME_META_RULES)


def capture_window_problem(capture_ts: str, now: datetime) -> str | None:
    """What is wrong with a well-formed capture_ts against the server's clock `now`, or None.

    Kept apart from FieldRule.check: it depends on the clock, and the server applies it to
    new frames only (an exact re-send of a stored frame is answered as a duplicate).
    """
    moment = parse_timestamp(capture_ts)
    if moment > now + timedelta(seconds=CAPTURE_AHEAD_S):
        return (f"is more than {CAPTURE_AHEAD_S} s ahead of the appliance's clock "
                f"({format_timestamp(now)}); set the device's clock")
    if moment < now - CAPTURE_MAX_AGE:
        return f"is older than {CAPTURE_MAX_AGE.days} days (the appliance's clock says {format_timestamp(now)})"
    return None


def check_capture_window(meta: dict[str, Any], now: datetime) -> None:
    """Raise ContractError, with one entry for capture_ts, when a validated meta is outside the window."""
    problem = capture_window_problem(meta["capture_ts"], now)
    if problem:
        raise ContractError([{"field": "capture_ts", "message": problem}])


def validate_heartbeat(payload: Any) -> dict[str, Any]:
    return validate(payload, HEARTBEAT_RULES)


def valid_device_id(value: str) -> bool:
    return isinstance(value, str) and bool(DEVICE_ID_PATTERN.fullmatch(value))


# --- HMAC scheme -------------------------------------------------------------------------


def valid_hmac_timestamp(value: str) -> bool:
    """X-Timestamp as the contract allows it: 1 to 12 ASCII digits, nothing else."""
    return bool(_HMAC_TIMESTAMP.fullmatch(value))


def signing_string(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """What HMAC signs. PATH is the path alone, without the query string (CONTRACT.md does
    not say; GET /device/config?device_id=… signs `/api/v1/device/config`), and a GET's
    body is empty."""
    body_hash = hashlib.sha256(body).hexdigest()
    return f"{method.upper()}\n{path}\n{timestamp}\n{nonce}\n{body_hash}".encode()


def sign(token: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    message = signing_string(method, path, timestamp, nonce, body)
    return hmac.new(token.encode(), message, hashlib.sha256).hexdigest()


def hmac_headers(device_id: str, token: str, method: str, path: str, body: bytes,
                 now: float, nonce: str) -> dict[str, str]:
    """The four headers of the HMAC scheme, signed for this exact request."""
    timestamp = str(int(now))
    return {
        "X-Device-Id": device_id,
        "X-Timestamp": timestamp,
        "X-Nonce": nonce,
        "X-Signature": sign(token, method, path, timestamp, nonce, body),
    }


# --- Bodies ------------------------------------------------------------------------------


@dataclass
class IngestResult:
    capture_id: int
    device_id: str
    seq: int
    duplicate: bool
    mode: str
    config_version: str

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class DeviceConfig:
    device_id: str
    config_version: str
    mode: str
    mode_until: str | None
    baseline_interval_s: float
    burst_interval_s: float
    burst_hold_s: float
    jpeg_quality: int
    width: int
    height: int
    config_poll_interval_s: float
    heartbeat_interval_s: float
    motion_trigger: dict[str, Any] = field(default_factory=dict)
    # Readings, not settings: they change without a new config_version (see device_api).
    server_time: str | None = None  # the appliance's clock, for a device without one
    last_seq: int | None = None  # the highest seq stored for the device; null before its first frame

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> "DeviceConfig":
        names = cls.__dataclass_fields__.keys()
        return cls(**{name: payload.get(name) for name in names})


def error_body(code: str, message: str, details: list[dict[str, str]] | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or []}}


def encode_meta(meta: dict[str, Any]) -> bytes:
    return json.dumps(meta, separators=(",", ":")).encode()
