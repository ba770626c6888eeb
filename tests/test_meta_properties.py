"""Property: whatever `meta` a device sends, the ingest never answers 5xx, always uses the
error shape, and a refused frame leaves no capture row, no job and no file behind."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator
from pathlib import Path

import apsw
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storewatch import contract
from support.frames import capture_ts, make_jpeg
from support.servers import AppClient

JPEG = make_jpeg(64, 48, seed=5)
OTHER_JPEG = make_jpeg(64, 48, seed=6)
FIELDS = ("device_id", "capture_ts", "seq", "width", "height", "jpeg_quality", "rssi",
          "fw_version", "notes", "mode")
_fresh_seq = itertools.count(10)


class Target:
    def __init__(self, server: AppClient, device_id: str, token: str, other_id: str):
        self.server, self.device_id, self.token, self.other_id = server, device_id, token, other_id
        self.client = server.client(timeout=30, headers={"Authorization": f"Bearer {token}"})
        self.db = apsw.Connection(str(server.data_dir / "storewatch.db"),
                                  flags=apsw.SQLITE_OPEN_READONLY)

    def rows(self) -> tuple[int, int]:
        captures = self.db.execute("SELECT count(*) FROM captures").fetchone()[0]
        jobs = self.db.execute("SELECT count(*) FROM jobs").fetchone()[0]
        return captures, jobs

    def files(self) -> set[str]:
        staging = self.server.data_dir / "staging"
        if not staging.exists():
            return set()
        return {str(p.relative_to(staging)) for p in staging.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def target(module_app: AppClient) -> Iterator[Target]:
    """The whole app in this process on a real database: the property is about what ingest
    answers and stores, not about sockets (tests/test_hostile_requests.py has those)."""
    with module_app.admin_client() as admin:
        mine = admin.post("/api/v1/admin/devices", json={"name": "prop cam"}).json()
        other = admin.post("/api/v1/admin/devices", json={"name": "other cam"}).json()
    found = Target(module_app, mine["device_id"], mine["token"], other["device_id"])
    yield found
    found.client.close()
    found.db.close()


# --- strategies ------------------------------------------------------------------------------------

lone_surrogates = st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3)
short_text = st.one_of(
    st.text(max_size=20),
    st.builds(lambda a, s, b: a + s + b, st.text(max_size=5), lone_surrogates, st.text(max_size=5)),
)
any_text = st.one_of(
    short_text,
    st.text(min_size=500, max_size=700),
    st.builds(lambda n, c: c * n, st.integers(60, 20_000), st.sampled_from(["a", "é", "\u0000", "🙂"])),
)
scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(), st.integers(-(2**70), 2**70),
    st.sampled_from([0, -1, 2**63 - 1, 2**63, 15, 16, 8192, 8193, 101, -127, -128, 1e300, -0.0]),
    st.floats(allow_nan=True, allow_infinity=True),
    short_text,
)
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=12)
timestamps = st.one_of(
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.datetimes(timezones=st.just(contract.timezone.utc)).map(contract.format_timestamp),
    st.from_regex(contract._RFC3339, fullmatch=True),
    any_text,
)


def valid_value(name: str, target: Target) -> st.SearchStrategy:
    return {
        "device_id": st.just(target.device_id),
        "capture_ts": st.builds(capture_ts),
        "seq": st.builds(lambda: next(_fresh_seq)),
        "width": st.just(64), "height": st.just(48),
        "jpeg_quality": st.integers(1, 100),
        "rssi": st.integers(-127, 0), "fw_version": st.text(max_size=64),
        "notes": st.text(max_size=512), "mode": st.sampled_from(contract.MODES),
    }[name]


def bad_value(name: str, target: Target) -> st.SearchStrategy:
    special = {"capture_ts": timestamps, "device_id": st.one_of(
        st.just(target.other_id), st.just(target.device_id + "x"), json_values)}
    return st.one_of(special.get(name, json_values), json_values, any_text, short_text)


@st.composite
def metas(draw: st.DrawFn, target: Target) -> object:
    if draw(st.integers(0, 19)) == 0:  # now and then not an object at all
        return draw(json_values)
    # Mostly a valid meta with one or two bad fields, so the later checks are reached too;
    # sometimes many bad or missing fields at once.
    changed = draw(st.one_of(st.sets(st.sampled_from(FIELDS), max_size=2),
                             st.sets(st.sampled_from(FIELDS))))
    meta: dict[str, object] = {}
    for name in FIELDS:
        if name not in changed:
            if name in ("device_id", "capture_ts", "seq", "width", "height", "jpeg_quality") or draw(st.booleans()):
                meta[name] = draw(valid_value(name, target))
        elif draw(st.integers(0, 4)) > 0:  # else: missing
            meta[name] = draw(bad_value(name, target))
    meta.update(draw(st.dictionaries(st.text(max_size=10).filter(lambda k: k not in FIELDS),
                                     json_values, max_size=3)))
    return meta


raw_meta_bytes = st.one_of(
    st.binary(max_size=200),
    st.sampled_from([b"", b"{", b"null", b"[]", b'"x"', b"\xff\xfe{}", b'{"seq": 1,}', b"NaN",
                     b"[" * 100_000 + b"]" * 100_000, b"{\"a\":" * 5000 + b"1" + b"}" * 5000,
                     b'{"device_id": "\xc3\x28"}', b'{"notes": "' + b"x" * 17_000 + b'"}']),
    st.text().map(lambda t: t.encode("utf-8", "surrogatepass")),
)


# --- the property ----------------------------------------------------------------------------------


def post(target: Target, meta_bytes: bytes, image: bytes = JPEG) -> httpx.Response:
    return target.client.post(contract.INGEST_FRAME_PATH, files={
        "meta": (None, meta_bytes, "application/json"), "image": ("f.jpg", image, "image/jpeg")})


def check(target: Target, meta_bytes: bytes, image: bytes = JPEG) -> None:
    rows_before, files_before = target.rows(), target.files()
    answer = post(target, meta_bytes, image)
    assert answer.status_code < 500, answer.text
    if answer.status_code in (200, 201):
        body = answer.json()
        assert body["device_id"] == target.device_id
        expected_new = 0 if body["duplicate"] else 1
        captures, jobs = target.rows()
        assert (captures, jobs) == (rows_before[0] + expected_new, rows_before[1] + expected_new)
        assert len(target.files() - files_before) == expected_new
        return
    assert answer.status_code in (400, 403, 409, 413, 415, 422), answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert isinstance(body["error"]["code"], str) and body["error"]["message"]
    for detail in body["error"]["details"]:
        assert set(detail) == {"field", "message"}
    if answer.status_code == 422:
        fields = [d["field"] for d in body["error"]["details"]]
        assert fields and len(fields) == len(set(fields)), body
    assert target.rows() == rows_before, "a refused frame left a row behind"
    assert target.files() == files_before, "a refused frame left a file behind"


def encode(meta: object) -> bytes:
    return json.dumps(meta).encode("utf-8", "surrogatepass")


@settings(max_examples=350, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.data_too_large])
@pytest.mark.slow  # a fuzz: 350 generated metas through the whole ingest
@given(data=st.data())
def test_any_meta_value_is_answered_without_5xx_and_refusals_leave_nothing(
        target: Target, data: st.DataObject) -> None:
    meta = data.draw(metas(target))
    check(target, encode(meta))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.data_too_large])
@given(raw=raw_meta_bytes)
def test_any_meta_bytes_are_answered_without_5xx_and_leave_nothing(target: Target, raw: bytes) -> None:
    check(target, raw)


def test_a_conflicting_resend_leaves_nothing(target: Target) -> None:
    meta = {"device_id": target.device_id, "capture_ts": capture_ts(), "seq": 5,
            "width": 64, "height": 48, "jpeg_quality": 85}
    check(target, encode(meta))
    check(target, encode(meta))  # duplicate: 200, nothing new
    answer = post(target, encode(meta), OTHER_JPEG)
    assert answer.status_code == 409
    check(target, encode(meta), OTHER_JPEG)


def test_non_finite_numbers_in_meta_are_refused(target: Target) -> None:
    for value in (math.nan, math.inf, -math.inf):
        meta = {"device_id": target.device_id, "capture_ts": capture_ts(), "seq": 6,
                "width": value, "height": 48, "jpeg_quality": 85}
        answer = post(target, json.dumps(meta).encode())
        assert answer.status_code == 422
        check(target, json.dumps(meta).encode())


@pytest.mark.parametrize("field", ["fw_version", "notes", "future_field"])
def test_a_lone_surrogate_in_a_string_is_refused_not_a_500(target: Target, field: str) -> None:
    # Found by the property above: "\ud800" is valid JSON syntax but not text; SQLite
    # cannot store it, so it used to fail inside the insert with a 500.
    meta = {"device_id": target.device_id, "capture_ts": capture_ts(), "seq": next(_fresh_seq),
            "width": 64, "height": 48, "jpeg_quality": 85, field: "a\ud800b"}
    assert post(target, encode(meta)).status_code == 400
    check(target, encode(meta))
    meta[field] = "a\ud83d\ude00b"  # a proper surrogate pair is an emoji, and fine
    assert post(target, encode(meta)).status_code == 201
