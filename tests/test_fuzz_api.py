"""Schemathesis against a real `storewatch run`: every documented operation, bounded.

For each operation of the served OpenAPI document, valid and invalid requests drawn from
it are sent with no, wrong or right credentials. Whatever is sent: no 5xx; every error in
the one error shape; answers true to the document (status, media type, schema); no
capture row, job row or staging file left behind by a rejected request; nothing under
/api/v1/admin/ (nor /metrics) answers 2xx without credentials.

Bounded: FUZZ_EXAMPLES requests per operation and a FUZZ_SECONDS budget for the whole
module (the rest of the operations then run at a minimum), all to 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_schema_conformance, status_code_conformance,
)

from storewatch import contract
from storewatch.appliance import Appliance
from storewatch.server.openapi import ADMIN_AUTH, DEVICE_AUTH, METRICS_AUTH, openapi_path
from storewatch.server.openapi_routes import OPENAPI_PATH, OPERATIONS
from storewatch.settings import APPLIANCE_SETTINGS
from support.frames import make_jpeg
from support.servers import LiveServer, prepare_data_dir, start_live_server
from support.raw_http import RawAnswer, raw_request
from support.reliability import traces
from support.api import assert_error

pytestmark = pytest.mark.slow  # schemathesis over every operation of a real storewatch run: scripts/test --fast leaves it out

FUZZ_EXAMPLES = int(os.environ.get("STOREWATCH_FUZZ_EXAMPLES", "30"))
FUZZ_SECONDS = float(os.environ.get("STOREWATCH_FUZZ_SECONDS", "60"))
MIN_EXAMPLES = 5
SETTINGS_PATH = "/api/v1/admin/settings"
SESSION_PATH = "/api/v1/admin/session"  # answers "not logged in" (200) without credentials: the SPA's first probe
JPEG = make_jpeg(64, 48)
CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]
# Device operations go first: the admin ones may change settings the ingest depends on.
# Adding a notification channel (an MQTT one connects at once) or sending a test would let a
# generated URL take the test's traffic off 127.0.0.1; those are tested with local receivers.
OUTBOUND = {"POST /api/v1/admin/notify/channels", "POST /api/v1/admin/notify/channels/{channel_id}/test"}
LABELS = [label for label in (f"{op.method.upper()} {openapi_path(op.path)}"
                              for op in sorted(OPERATIONS, key=lambda op: op.caller != DEVICE_AUTH))
          if label not in OUTBOUND]
CALLER = {f"{op.method.upper()} {openapi_path(op.path)}": op.caller for op in OPERATIONS}


@dataclass
class Target:
    server: LiveServer
    schema: schemathesis.BaseSchema
    device_id: str
    device_token: str
    admin_token: str
    started: float
    hmac_id: str = ""
    hmac_token: str = ""


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    data_dir = tmp_path_factory.mktemp("fuzz") / "data"
    data_dir.mkdir()
    prepare_data_dir(data_dir)
    opened = Appliance(data_dir)
    try:
        device_id, device_token = opened.devices.add("fuzz cam", "fuzz-cam")
        hmac_id, hmac_token = opened.devices.add("fuzz signing cam", "fuzz-hmac", "hmac")
        admin_token = opened.admins.create_token()
    finally:
        opened.close()
    server = start_live_server(data_dir)
    try:
        schema = schemathesis.openapi.from_url(server.url + OPENAPI_PATH)
        yield Target(server, schema, device_id, device_token, admin_token, time.monotonic(), hmac_id, hmac_token)
    finally:
        server.stop()


def _claim_device(case: schemathesis.Case, device_id: str) -> None:
    """Point a generated request at the fuzzing device, so it gets past the 403 into validation;
    a frame also gets a real JPEG of the size its meta claims, so some are stored."""
    for name in [h for h in (case.headers or {}) if h.lower().startswith("x-")]:
        del case.headers[name]  # generated HMAC headers would take precedence over the bearer token
    if isinstance(case.body, dict):
        meta = case.body.get("meta")
        if isinstance(meta, dict):
            meta |= {"device_id": device_id, "width": 64, "height": 48}
            case.body["image"] = JPEG
        elif "device_id" in case.body or "ts" in case.body:
            case.body["device_id"] = device_id
    if case.query and "device_id" in case.query:
        case.query["device_id"] = device_id
    if case.path_parameters and "device_id" in case.path_parameters:
        case.path_parameters["device_id"] = device_id


def _credentials(caller: str, target: Target, who: str) -> dict[str, str]:
    if who == "none":
        return {}
    if caller == DEVICE_AUTH:
        token = target.device_token if who == "right" else "x" * 43
    elif caller in (ADMIN_AUTH, METRICS_AUTH):
        token = target.admin_token if who == "right" else "swa_000000000000_wrong"
    else:
        return {}
    return {"Authorization": f"Bearer {token}"}


def _restore_settings(target: Target) -> None:
    """Undo a fuzzed settings change (metrics_open, the disk reserve...) before the next case."""
    defaults = {name: setting.default for name, setting in APPLIANCE_SETTINGS.items()}
    answer = httpx.patch(target.server.url + SETTINGS_PATH, json=defaults, timeout=10,
                         headers={"Authorization": f"Bearer {target.admin_token}"})
    assert answer.status_code == 200, answer.text


def _examples(target: Target, caller: str) -> int:
    if time.monotonic() - target.started > FUZZ_SECONDS:
        return MIN_EXAMPLES
    return FUZZ_EXAMPLES * (3 if caller == DEVICE_AUTH else 1)  # the contract gets the most


@pytest.mark.parametrize("label", LABELS)
def test_fuzz_operation(target: Target, label: str) -> None:
    method, path = label.split(" ", 1)
    operation = target.schema[path][method]
    caller = CALLER[label]
    strategy = st.one_of(operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
                         operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
    data_dir = target.server.data_dir

    @settings(max_examples=_examples(target, caller), deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=strategy, who=st.sampled_from(["right", "right", "none", "wrong"]), claim=st.sampled_from([True, True, False]))
    def fuzz(case: schemathesis.Case, who: str, claim: bool) -> None:
        if claim and who == "right":  # half of the credentialed requests
            _claim_device(case, target.device_id)
        headers = _credentials(caller, target, who)
        before = traces(data_dir)
        response = case.call(base_url=target.server.url, headers=headers, timeout=30)
        after = traces(data_dir)
        context = f"{label} [{who}] -> {response.status_code} {response.content[:300]!r}"
        assert response.status_code < 500, context
        if response.status_code >= 400:
            assert_error(response, response.status_code)
        if not 200 <= response.status_code < 300:
            assert after[:2] == before[:2] and after[2] <= before[2], f"a rejected request left traces: {context}"
        authorization = next((str(value) for name, value in {**(case.headers or {}), **headers}.items()
                              if name.lower() == "authorization"), "")
        if label == f"GET {SESSION_PATH}" and not authorization.strip():  # the login page's probe, as documented
            assert response.status_code == 200, context
            assert response.json() == {"authenticated": False, "csrf_token": None}, context
        elif caller in (ADMIN_AUTH, METRICS_AUTH) and who != "right":
            assert response.status_code == 401, context
        if label == f"PATCH {SETTINGS_PATH}" and who == "right":
            _restore_settings(target)
        case.validate_response(response, checks=CHECKS, headers=headers)

    fuzz()


# --- hostile headers ------------------------------------------------------------------------------
# Every header the appliance reads, given values a hostile LAN would send, on every kind of
# route, with otherwise right (bearer or signed) or no credentials. Sent as raw bytes, so
# non-ASCII and malformed values reach the server as they are. Never a 5xx; errors the app
# answers are in the one shape; a refused request leaves nothing behind.

HEADER_EXAMPLES = int(os.environ.get("STOREWATCH_FUZZ_HEADER_EXAMPLES", "60"))
NOW = str(int(time.time()))
_TEXT = st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",))
_JUNK = st.one_of(
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80),  # printable ASCII
    st.text(_TEXT, min_size=1, max_size=40),  # anything but a line break, UTF-8 on the wire
    st.text(st.characters(categories=("Nd",)), min_size=1, max_size=20),  # digits of every script
    st.integers(13, 400).map(lambda n: "9" * n),
    st.integers(1, 9000).map(lambda n: "a" * n),
    st.just(""),
)
SPECIAL_VALUES: dict[str, list[str]] = {
    "Authorization": ["Bearer", "Bearer ", "Basic Zm9vOmJhcg==", "Bearer \u00e9\u00e9", "Bearer a b c",
                      "BEARER {token}", "Bearer  {token}", "Bearer {token}x", "Bearer {token} ", "swd_{token}",
                      "Bearer " + "a" * 9000, "Digest username=\"x\""],
    "X-Device-Id": ["{hmac_id}", "{hmac_id}\t", "../../storewatch.db", "\u00e9", "a" * 65, "fuzz-cam", "", " "],
    "X-Timestamp": ["9" * 400, "\u0661\u0667\u0666\u0664", "\u00b2", "\uff11\uff17\uff16\uff14", "-1", "1e10",
                    f" {NOW}", f"{NOW} ", f"+{NOW}", "1_764_000_000", "inf", "nan", "0", f"{NOW}.5", "", NOW],
    "X-Nonce": ["a", "n" * 15, "n" * 65, "n" * 9000, "\u00e9" * 16, "\u0661" * 16, "", "n" * 16],
    "X-Signature": ["", "zz", "0" * 63, "0" * 64, "0" * 65, "F" * 64, "\uff10" * 64, "g" * 64],
    "Content-Type": ["multipart/form-data", "multipart/form-data; boundary=", "multipart/form-data; boundary=\"",
                     "multipart/form-data; boundary=" + "b" * 71, "application/json; charset=utf-77",
                     "application/json; charset=\u00e9", "text/plain", "multipart/form-data; boundary=x; boundary=y",
                     "application/x-www-form-urlencoded", "*/*", ";;;", ""],
    "Content-Length": ["-1", "99999999999999999999", "1e3", "\u0661\u0662", " 10", "10, 10", "0x10", "", "+5", "0",
                       "9" * 400],
    "If-None-Match": ["*", "\"c1\"", "W/\"x\"", "," * 2000, "\"\"\"", "\u00e9", "\"" + "a" * 9000 + "\"",
                      "\"c1\", *, W/\"\""],
}
HEADER_NAMES = list(SPECIAL_VALUES)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    body: str  # "none", "json" (a heartbeat) or "frame" (a multipart upload)
    caller: str  # "device", "admin" or "nobody"


ROUTES = [
    Route("GET", "/api/v1/device/config?device_id={device_id}", "none", "device"),
    Route("POST", "/api/v1/ingest/heartbeat", "json", "device"),
    Route("POST", "/api/v1/ingest/frame", "frame", "device"),
    Route("GET", "/api/v1/admin/devices", "none", "admin"),
    Route("PATCH", "/api/v1/admin/settings", "json", "admin"),
    Route("GET", "/metrics", "none", "admin"),
    Route("GET", "/", "none", "nobody"),
    Route("GET", "/static/app.js", "none", "nobody"),
]
BOUNDARY = "fuzzBOUNDARYfuzz"


def _frame_body(device_id: str, seq: int) -> bytes:
    meta = {"device_id": device_id, "capture_ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "seq": seq,
            "width": 64, "height": 48, "jpeg_quality": 85}
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"meta\"\r\nContent-Type: application/json"
            f"\r\n\r\n{json.dumps(meta)}\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"image\";"
            f" filename=\"f.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").encode() + JPEG + (
        f"\r\n--{BOUNDARY}--\r\n".encode())


def _request(target: Target, route: Route, auth: str, seq: int) -> tuple[list[tuple[str, str]], bytes, str]:
    """The route's request with right credentials of the chosen kind: (headers, body, target path)."""
    device_id, token = (target.hmac_id, target.hmac_token) if auth == "hmac" else (target.device_id,
                                                                                   target.device_token)
    path = route.path.format(device_id=device_id)
    headers: list[tuple[str, str]] = []
    if route.body == "json" and route.caller == "device":
        body = json.dumps({"device_id": device_id, "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}).encode()
        headers.append(("Content-Type", "application/json"))
    elif route.body == "json":
        body = b"{}"
        headers.append(("Content-Type", "application/json"))
    elif route.body == "frame":
        body = _frame_body(device_id, seq)
        headers.append(("Content-Type", f"multipart/form-data; boundary={BOUNDARY}"))
    else:
        body = b""
    if route.caller == "device" and auth == "hmac":
        signed = contract.hmac_headers(device_id, token, route.method, path.split("?")[0], body, time.time(),
                                       secrets.token_hex(16))
        headers += list(signed.items())
    elif route.caller == "device" and auth == "bearer":
        headers.append(("Authorization", f"Bearer {token}"))
    elif route.caller == "admin" and auth != "none":
        headers.append(("Authorization", f"Bearer {target.admin_token}"))
    headers.append(("Content-Length", str(len(body))))
    return headers, body, path


def _send(target: Target, method: str, path: str, headers: list[tuple[str, str]], body: bytes,
          half_close: bool) -> RawAnswer | None:
    """One raw request; None when the server closed without an answer (refused at the door).
    A half close tells a server still waiting for a longer body (a hostile Content-Length) that
    nothing more comes."""
    head = [f"{method} {path} HTTP/1.1".encode(), b"Host: 127.0.0.1", b"Connection: close"]
    head += [name.encode() + b": " + value.encode("utf-8", "surrogatepass") for name, value in headers]
    try:
        return raw_request(target.server, b"\r\n".join(head) + b"\r\n\r\n" + body, timeout=20,
                           half_close=half_close)
    except (ConnectionError, socket.timeout) as exc:
        assert not isinstance(exc, socket.timeout), f"no answer within 20 s: {method} {path} {headers!r:.300}"
        return None


_SEQ = iter(range(10_000, 10**9))


@pytest.mark.parametrize("name", HEADER_NAMES)
def test_hostile_header_values_never_get_a_5xx(target: Target, name: str) -> None:
    specials = [v.format(token=target.device_token, hmac_id=target.hmac_id) for v in SPECIAL_VALUES[name]]
    data_dir = target.server.data_dir

    @settings(max_examples=HEADER_EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(value=st.one_of(st.sampled_from(specials), _JUNK), route=st.sampled_from(ROUTES),
           auth=st.sampled_from(["bearer", "hmac", "none"]), twice=st.booleans())
    def fuzz(value: str, route: Route, auth: str, twice: bool) -> None:
        headers, body, path = _request(target, route, auth, next(_SEQ))
        kept = [(n, v) for n, v in headers if n.lower() != name.lower()]
        hostile = kept + [(name, value)] + ([(name, value[::-1])] if twice else [])
        if name == "Content-Length":  # the framing itself: no other length beside it
            hostile = [(n, v) for n, v in hostile if n != "Content-Length" or v in (value, value[::-1])]
        before = traces(data_dir)
        answer = _send(target, route.method, path, hostile, body, half_close=name == "Content-Length")
        after = traces(data_dir)
        context = f"{route.method} {path} [{auth}] {name}={value[:80]!r} -> {answer and answer.status}"
        if answer is not None:
            assert answer.status < 500, f"{context} {answer.body[:300]!r}"
            if answer.status >= 400 and answer.headers.get("content-type", "").startswith("application/json"):
                answer.error()
        if answer is None or not 200 <= answer.status < 300:
            assert after[:2] == before[:2] and after[2] <= before[2], f"a refused request left traces: {context}"
        if route.path == SETTINGS_PATH and answer is not None and answer.status == 200:
            _restore_settings(target)

    fuzz()
    answer = httpx.get(target.server.url + OPENAPI_PATH, timeout=10)
    assert answer.status_code == 200  # and the server still serves
