"""The device contract module: timestamps, meta validation rules and the HMAC scheme."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta, timezone

import pytest

from storewatch import contract
from storewatch.contract import (
    ContractError,
    format_timestamp,
    parse_timestamp,
    validate_frame_meta,
    validate_heartbeat,
)

# --- timestamps --------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("2026-11-24T05:47:30.120Z", datetime(2026, 11, 24, 5, 47, 30, 120000, timezone.utc)),
    ("2026-11-24T05:47:30Z", datetime(2026, 11, 24, 5, 47, 30, tzinfo=timezone.utc)),
    ("2026-11-24t05:47:30z", datetime(2026, 11, 24, 5, 47, 30, tzinfo=timezone.utc)),
    ("2026-11-24 05:47:30Z", datetime(2026, 11, 24, 5, 47, 30, tzinfo=timezone.utc)),
    ("2026-11-24T07:47:30+02:00", datetime(2026, 11, 24, 5, 47, 30, tzinfo=timezone.utc)),
    ("2026-11-24T00:17:30-05:30", datetime(2026, 11, 24, 5, 47, 30, tzinfo=timezone.utc)),
    ("2026-11-24T05:47:30.5+00:00", datetime(2026, 11, 24, 5, 47, 30, 500000, timezone.utc)),
    # More than 6 fraction digits: truncated to microseconds, not refused.
    ("2026-11-24T05:47:30.1234567Z", datetime(2026, 11, 24, 5, 47, 30, 123456, timezone.utc)),
    ("2026-11-24T05:47:30.123456789+01:00",
     datetime(2026, 11, 24, 4, 47, 30, 123456, timezone.utc)),
])
def test_parse_timestamp_accepts_rfc3339_with_offset(text: str, expected: datetime) -> None:
    parsed = parse_timestamp(text)
    assert parsed == expected
    assert parsed.utcoffset() is not None


def test_parse_timestamp_keeps_the_given_offset() -> None:
    parsed = parse_timestamp("2026-11-24T07:47:30+02:00")
    assert parsed.utcoffset() == timedelta(hours=2)


@pytest.mark.parametrize("text", [
    "2026-11-24T05:47:30",            # no offset
    "2026-11-24",                     # no time
    "05:47:30Z",                      # no date
    "2026-11-24T05:47Z",              # no seconds
    "2026-11-24T05:47:30+0200",       # offset without colon
    "2026-11-24T05:47:30.Z",          # empty fraction
    "2026-11-24T05:47:30.1234567891Z",  # 10 fraction digits
    "2026-11-24T05:47:30Z\n",         # trailing newline
    " 2026-11-24T05:47:30Z",          # leading space
    "2026-13-01T00:00:00Z",           # month 13
    "2026-02-30T00:00:00Z",           # no such day
    "2026-11-24T24:00:00Z",           # hour 24
    "2026-11-24T05:47:30+24:00",      # offset out of range
    "２０２６-11-24T05:47:30Z",        # non-ASCII digits
    "1764000000",                     # unix seconds
    "",
    # ISO 8601 forms that Python 3.11's datetime.fromisoformat takes but RFC 3339 does not:
    "20261124T054730Z",               # basic format
    "2026-11-24T054730Z",             # basic time
    "2026-W48-2T05:47:30Z",           # week date
    "2026-11-24T05:47:30+02",         # offset without minutes
    "2026-11-24T05:47:30,5Z",         # comma before the fraction
])
def test_parse_timestamp_refuses_malformed_text(text: str) -> None:
    with pytest.raises(ValueError):
        parse_timestamp(text)


@pytest.mark.parametrize("value", [None, 1764000000, 1.5, b"2026-11-24T05:47:30Z", ["x"]])
def test_parse_timestamp_refuses_non_strings_with_value_error(value: object) -> None:
    with pytest.raises(ValueError):
        parse_timestamp(value)  # type: ignore[arg-type]


def test_format_timestamp_is_utc_with_milliseconds() -> None:
    moment = datetime(2026, 11, 24, 7, 47, 30, 120999, timezone(timedelta(hours=2)))
    assert format_timestamp(moment) == "2026-11-24T05:47:30.120Z"


def test_format_then_parse_round_trips_to_the_millisecond() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, 678000, timezone.utc)
    assert parse_timestamp(format_timestamp(moment)) == moment


# --- frame meta ----------------------------------------------------------------------------


def good_meta(**changes: object) -> dict:
    meta = {"device_id": "pi-cam-1", "capture_ts": "2026-11-24T05:47:30.120Z", "seq": 7,
            "width": 1640, "height": 1232, "jpeg_quality": 85}
    meta.update(changes)
    return {k: v for k, v in meta.items() if v is not _DROP}


_DROP = object()


def problems(payload: object) -> dict[str, str]:
    with pytest.raises(ContractError) as caught:
        validate_frame_meta(payload)
    details = caught.value.details
    fields = [d["field"] for d in details]
    assert len(fields) == len(set(fields)), f"more than one detail for a field: {details}"
    return {d["field"]: d["message"] for d in details}


def test_valid_meta_passes_and_keeps_its_values() -> None:
    meta = good_meta(rssi=-60, fw_version="1.2.3", notes="hello", mode="burst")
    assert validate_frame_meta(meta) == meta


def test_unknown_meta_fields_are_ignored_and_dropped() -> None:
    clean = validate_frame_meta(good_meta(future_field={"a": 1}, exposure_us=1000))
    assert "future_field" not in clean and "exposure_us" not in clean
    assert clean == good_meta()


@pytest.mark.parametrize("name", ["device_id", "capture_ts", "seq", "width", "height", "jpeg_quality"])
def test_each_required_field_missing_is_named(name: str) -> None:
    assert problems(good_meta(**{name: _DROP})) == {name: "is required"}


@pytest.mark.parametrize("name", ["device_id", "seq", "width"])
def test_null_counts_as_missing(name: str) -> None:
    assert problems(good_meta(**{name: None})) == {name: "is required"}


def test_optional_fields_may_be_absent_or_null() -> None:
    clean = validate_frame_meta(good_meta(rssi=None, notes=None))
    assert "rssi" not in clean and "notes" not in clean


@pytest.mark.parametrize("name", ["seq", "width", "height", "jpeg_quality", "rssi"])
@pytest.mark.parametrize("value", [True, False])
def test_a_bool_is_not_an_integer(name: str, value: bool) -> None:
    assert problems(good_meta(**{name: value})) == {name: "must be an integer"}


@pytest.mark.parametrize("name", ["seq", "width", "height", "jpeg_quality"])
@pytest.mark.parametrize("value", [85.0, 85.5, "85", [85], {"v": 85}])
def test_integer_fields_refuse_other_types(name: str, value: object) -> None:
    assert problems(good_meta(**{name: value})) == {name: "must be an integer"}


@pytest.mark.parametrize("name", ["device_id", "capture_ts", "fw_version", "notes", "mode"])
@pytest.mark.parametrize("value", [1, 1.5, True, ["x"], {"x": 1}])
def test_string_fields_refuse_other_types(name: str, value: object) -> None:
    assert problems(good_meta(**{name: value})) == {name: "must be a string"}


@pytest.mark.parametrize("name, bad, message", [
    ("seq", -1, "must be at least 0"),
    ("seq", 2**63, f"must be at most {2**63 - 1}"),
    ("width", 15, "must be at least 16"),
    ("width", 8193, "must be at most 8192"),
    ("height", 15, "must be at least 16"),
    ("height", 8193, "must be at most 8192"),
    ("jpeg_quality", 0, "must be at least 1"),
    ("jpeg_quality", 101, "must be at most 100"),
    ("rssi", -128, "must be at least -127"),
    ("rssi", 1, "must be at most 0"),
    ("fw_version", "v" * 65, "must be at most 64 characters"),
    ("notes", "n" * 513, "must be at most 512 characters"),
    ("mode", "turbo", "must be one of baseline, burst"),
    ("device_id", "d" * 65, "must be at most 64 characters"),
    ("device_id", "bad id!", "must match [A-Za-z0-9._-]{1,64}"),
    ("device_id", "", "must match [A-Za-z0-9._-]{1,64}"),
])
def test_out_of_range_values_are_refused_with_a_message(name: str, bad: object, message: str) -> None:
    assert problems(good_meta(**{name: bad})) == {name: message}


@pytest.mark.parametrize("name, edge", [
    ("seq", 0), ("seq", 2**63 - 1), ("width", 16), ("width", 8192), ("height", 16),
    ("height", 8192), ("jpeg_quality", 1), ("jpeg_quality", 100), ("rssi", -127), ("rssi", 0),
    ("fw_version", "v" * 64), ("notes", "n" * 512), ("mode", "baseline"), ("device_id", "a" * 64),
])
def test_range_edges_are_inclusive(name: str, edge: object) -> None:
    assert validate_frame_meta(good_meta(**{name: edge}))[name] == edge


def test_bad_capture_ts_names_the_field() -> None:
    found = problems(good_meta(capture_ts="yesterday"))
    assert list(found) == ["capture_ts"]
    assert "RFC 3339" in found["capture_ts"]


def test_every_bad_field_is_reported_at_once_one_detail_each() -> None:
    found = problems({"device_id": 5, "seq": -3, "width": True, "height": 1e9, "rssi": "x",
                      "mode": "", "jpeg_quality": None})
    assert set(found) == {"device_id", "capture_ts", "seq", "width", "height", "jpeg_quality",
                          "rssi", "mode"}


@pytest.mark.parametrize("payload", [None, [], "meta", 5, [good_meta()]])
def test_meta_that_is_not_an_object_is_one_problem(payload: object) -> None:
    assert problems(payload) == {"": "must be a JSON object"}


def test_contract_error_message_lists_every_field() -> None:
    with pytest.raises(ContractError) as caught:
        validate_frame_meta(good_meta(seq=-1, width=1))
    assert "seq:" in str(caught.value) and "width:" in str(caught.value)


# --- heartbeat ---------------------------------------------------------------------------------


def test_heartbeat_numbers_accept_int_and_float_but_not_bool_or_nan() -> None:
    beat = {"device_id": "pi", "ts": "2026-11-24T05:47:30Z", "uptime_s": 12.5, "cpu_temp_c": 50}
    assert validate_heartbeat(beat) == beat
    with pytest.raises(ContractError) as caught:
        validate_heartbeat({**beat, "uptime_s": True, "cpu_temp_c": float("nan"),
                            "disk_free_bytes": float("inf")})
    found = {d["field"]: d["message"] for d in caught.value.details}
    assert found == {"uptime_s": "must be a number", "cpu_temp_c": "must be a number",
                     "disk_free_bytes": "must be at most 1000000000000000000"}


# --- HMAC ----------------------------------------------------------------------------------------

TOKEN = "swd_test-token"
NONCE = "0123456789abcdef"
# Computed once by hand from the contract's formula; pins the scheme so client and server agree.
VECTOR = "c4f7da368b72c4b6a1872cd545f3929a3433d185562ffee773f240ee9423925b"


def test_sign_matches_the_fixed_vector() -> None:
    assert contract.sign(TOKEN, "POST", contract.INGEST_FRAME_PATH, "1764000000", NONCE, b"hello") == VECTOR


def test_sign_follows_the_contract_formula() -> None:
    body = b"\x00\xff" * 100
    message = "\n".join(["GET", "/api/v1/device/config", "1764000123", NONCE,
                         hashlib.sha256(body).hexdigest()]).encode()
    expected = hmac.new(TOKEN.encode(), message, hashlib.sha256).hexdigest()
    assert contract.sign(TOKEN, "get", "/api/v1/device/config", "1764000123", NONCE, body) == expected


def test_empty_body_is_signed_with_the_empty_sha256() -> None:
    assert contract.signing_string("GET", "/p", "1", NONCE, b"").endswith(
        b"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")


@pytest.mark.parametrize("change", [
    {"token": "swd_other"}, {"method": "PUT"}, {"path": "/api/v1/ingest/heartbeat"},
    {"timestamp": "1764000001"}, {"nonce": "fedcba9876543210"}, {"body": b"hellp"},
])
def test_any_signed_part_changes_the_signature(change: dict) -> None:
    args = {"token": TOKEN, "method": "POST", "path": contract.INGEST_FRAME_PATH,
            "timestamp": "1764000000", "nonce": NONCE, "body": b"hello"}
    args.update(change)
    assert contract.sign(**args) != VECTOR


def test_hmac_headers_sign_the_whole_second() -> None:
    headers = contract.hmac_headers("pi-cam-1", TOKEN, "POST", contract.INGEST_FRAME_PATH, b"hello",
                                    now=1764000000.9, nonce=NONCE)
    assert headers == {"X-Device-Id": "pi-cam-1", "X-Timestamp": "1764000000", "X-Nonce": NONCE,
                       "X-Signature": VECTOR}


# --- bodies ----------------------------------------------------------------------------------------


def test_error_body_has_the_one_shape() -> None:
    assert contract.error_body("x_y", "Msg.") == {"error": {"code": "x_y", "message": "Msg.", "details": []}}


def test_device_config_round_trips_through_json() -> None:
    config = contract.DeviceConfig("pi", "c3", "burst", "2026-11-24T05:48:10Z", 30, 0.5, 20, 85, 1640,
                                   1232, 10, 60, {"enabled": True, "threshold": 0.02, "rois": []})
    assert contract.DeviceConfig.from_json(config.to_json()) == config


def test_encode_meta_is_compact_json() -> None:
    assert contract.encode_meta({"a": 1, "b": "x"}) == b'{"a":1,"b":"x"}'


# --- times a device may send (issue 12 B8) -----------------------------------------------------


@pytest.mark.parametrize("text", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00",
                                  "9999-12-31T23:59:59-23:59", "1969-12-31T23:59:59Z", "2100-01-01T00:00:00Z"])
def test_device_times_outside_1970_to_2099_are_refused_by_field(text: str) -> None:
    assert problems(good_meta(capture_ts=text)) == {"capture_ts": "must be a time from 1970 to 2099"}
    with pytest.raises(ContractError) as caught:
        validate_heartbeat({"device_id": "pi", "ts": text})
    assert {d["field"]: d["message"] for d in caught.value.details} == {"ts": "must be a time from 1970 to 2099"}


@pytest.mark.parametrize("text", ["1970-01-01T00:00:00Z", "2099-12-31T23:59:59.999Z"])
def test_device_times_at_the_edges_of_the_range_pass(text: str) -> None:
    assert validate_frame_meta(good_meta(capture_ts=text))["capture_ts"] == text
    assert validate_heartbeat({"device_id": "pi", "ts": text})["ts"] == text


@pytest.mark.parametrize("value, ok", [
    ("1764000000", True), ("0", True), ("9" * 12, True), ("9" * 13, False), ("1" * 400, False),
    ("", False), ("١٧٦٤٠٠٠٠٠٠", False), ("²", False), ("-1764000000", False), ("1764000000\n", False),
    (" 1764000000", False), ("1764000000.5", False),
])
def test_an_hmac_timestamp_is_one_to_twelve_ascii_digits(value: str, ok: bool) -> None:
    assert contract.valid_hmac_timestamp(value) is ok


# --- the capture_ts window against the server's clock ----------------------------------------

WINDOW_NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=timezone.utc)  # an injected server clock


@pytest.mark.parametrize("offset, ok", [
    (timedelta(seconds=300), True), (timedelta(seconds=300, milliseconds=1), False),
    (timedelta(seconds=-30 * 86400), True), (timedelta(seconds=-30 * 86400, milliseconds=-1), False),
    (timedelta(0), True), (timedelta(days=-29), True), (timedelta(days=-31), False), (timedelta(hours=2), False),
])
def test_capture_ts_window_is_300_s_ahead_to_30_days_old_both_ends_inclusive(offset: timedelta, ok: bool) -> None:
    meta = validate_frame_meta(good_meta(capture_ts=contract.format_timestamp(WINDOW_NOW + offset)))
    if ok:
        assert contract.capture_window_problem(meta["capture_ts"], WINDOW_NOW) is None
        contract.check_capture_window(meta, WINDOW_NOW)
        return
    with pytest.raises(ContractError) as caught:
        contract.check_capture_window(meta, WINDOW_NOW)
    assert [d["field"] for d in caught.value.details] == ["capture_ts"]


def test_capture_ts_window_compares_instants_not_texts() -> None:
    # 13:04:59+01:00 is 12:04:59Z, 299 s ahead of the clock: fine; 14:05:01+02:00 is 301 s ahead.
    assert contract.capture_window_problem("2026-12-01T13:04:59+01:00", WINDOW_NOW) is None
    assert "ahead" in contract.capture_window_problem("2026-12-01T14:05:01+02:00", WINDOW_NOW)
    assert "30 days" in contract.capture_window_problem("2026-10-31T11:59:00Z", WINDOW_NOW)
