"""Hand-written hostile requests against a real `storewatch run` on 127.0.0.1.

Path traversal, broken framing, bombs, deep JSON, slow uploads, replays, huge headers and
odd methods: each is refused with the right status and (where the app answers) the one
error shape, stores nothing, and leaves the server serving everyone else.

The server runs with STOREWATCH_BODY_DEADLINE_S=3 (storewatch/server/multipart.py) so the
body deadline can be proven in seconds rather than the default minute.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from storewatch import contract
from storewatch.appliance import Appliance
from storewatch.server.admin_auth import OPEN_ADMIN_PATHS
from storewatch.server.openapi_routes import OPERATIONS
from support.frames import capture_ts, make_jpeg
from support.servers import LiveServer, prepare_data_dir, start_live_server
from support.raw_http import RawAnswer, raw_request, read_answer
from support.reliability import traces
from support.api import assert_error

DEADLINE_S = 3
FRAME = contract.INGEST_FRAME_PATH
SQLITE_MAGIC = b"SQLite format 3"


@dataclass
class Hostile:
    server: LiveServer
    device_id: str
    token: str
    hmac_id: str
    hmac_token: str
    admin: dict[str, str]

    @property
    def device(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    data_dir = tmp_path_factory.mktemp("hostile") / "data"
    data_dir.mkdir()
    prepare_data_dir(data_dir)
    opened = Appliance(data_dir)
    try:
        device_id, token = opened.devices.add("hostile cam", "cam-1")
        hmac_id, hmac_token = opened.devices.add("signing cam", "cam-hmac", "hmac")
        admin_token = opened.admins.create_token()
    finally:
        opened.close()
    previous = os.environ.get("STOREWATCH_BODY_DEADLINE_S")
    os.environ["STOREWATCH_BODY_DEADLINE_S"] = str(DEADLINE_S)
    try:
        server = start_live_server(data_dir)
    finally:
        if previous is None:
            del os.environ["STOREWATCH_BODY_DEADLINE_S"]
        else:
            os.environ["STOREWATCH_BODY_DEADLINE_S"] = previous
    try:
        yield Hostile(server, device_id, token, hmac_id, hmac_token, {"Authorization": f"Bearer {admin_token}"})
    finally:
        server.stop()


@pytest.fixture
def unchanged(hostile: Hostile) -> Iterator[None]:
    """The test's requests leave no capture row, job row or staging file."""
    before = traces(hostile.server.data_dir)
    yield
    after = traces(hostile.server.data_dir)
    assert after[:2] == before[:2] and after[2] <= before[2], "a refused request left traces"


# --- helpers ------------------------------------------------------------------------------


def get(server: LiveServer, target: str, headers: dict[str, str] | None = None, method: str = "GET") -> RawAnswer:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return raw_request(server, ("\r\n".join(lines) + "\r\n\r\n").encode())


def multipart(meta: dict | bytes, image: bytes, boundary: str = "hostileBOUNDARY") -> tuple[bytes, str]:
    raw = meta if isinstance(meta, bytes) else json.dumps(meta).encode()
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"meta\"\r\n"
            f"Content-Type: application/json\r\n\r\n").encode() + raw + (
        f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"f.jpg\"\r\n"
        f"Content-Type: image/jpeg\r\n\r\n").encode() + image + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def meta_for(device_id: str, seq: int, width: int = 64, height: int = 48) -> dict:
    return {"device_id": device_id, "capture_ts": capture_ts(), "seq": seq,
            "width": width, "height": height, "jpeg_quality": 85}


def assert_serving(server: LiveServer) -> None:
    answer = server.get("/api/v1/openapi.json", timeout=5)
    assert answer.status_code == 200


# --- path traversal -------------------------------------------------------------------------

TRAVERSALS = [
    "/api/v1/admin/events/1/images/../../storewatch.db",
    "/api/v1/admin/events/1/images/..%2f..%2f..%2fstorewatch.db",
    "/api/v1/admin/events/1/images/%2e%2e%2f%2e%2e%2f%2e%2e%2fstorewatch.db",
    "/api/v1/admin/events/1/images/%2e%2e",
    "/api/v1/admin/events/1/images/%2Fetc%2Fpasswd",
    "/api/v1/admin/events/1/images/..%5c..%5cstorewatch.db",
    "/api/v1/admin/events/1/images/pre%00.db",
    "/api/v1/admin/events/1/images/passwd",
    "/api/v1/admin/events/1/images/PRE",
    "/api/v1/admin/events/..%2f..%2fstorewatch.db/images/pre",
    "/api/v1/admin/devices/..%2f..%2fstorewatch.db/latest-frame",
    "/api/v1/admin/devices/%2e%2e/latest-frame",
    "/static/../storewatch.db",
    "/static/%2e%2e/storewatch.db",
    "/static/%2e%2e%2fstorewatch.db",
    "/static/..%2f..%2f..%2fstorewatch.db",
    "/static/....//storewatch.db",
    "/static/%2e%2e%2f%2e%2e%2fserver%2fapp.py",
    "/static//etc/passwd",
    "/static/..%5cstorewatch.db",
    "/../storewatch.db",
    "/%2e%2e/storewatch.db",
]


@pytest.mark.parametrize("target", TRAVERSALS)
def test_path_traversal_never_reaches_a_file_outside(hostile: Hostile, target: str) -> None:
    for headers in ({}, hostile.admin):
        answer = get(hostile.server, target, headers)
        assert answer.status < 500, (target, answer.status)
        assert SQLITE_MAGIC not in answer.body and b"root:" not in answer.body
        assert b"create_app" not in answer.body
        if target.startswith("/api/"):
            assert answer.status in (401, 404) and (answer.status == 401) == (not headers), target
            answer.error()
        elif answer.status != 200:  # the SPA's deep-link fallback may answer index.html
            assert answer.status in (400, 404)
        else:
            assert answer.headers["content-type"].startswith("text/html")


# --- framing: multipart, Content-Length -----------------------------------------------------


def test_a_truncated_upload_whose_client_goes_away_stores_nothing(hostile: Hostile, unchanged: None) -> None:
    body, content_type = multipart(meta_for(hostile.device_id, 1), make_jpeg())
    head = (f"POST {FRAME} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {hostile.token}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", hostile.server.port), timeout=10) as sock:
        sock.sendall(head + body[: len(body) // 2])
        sock.shutdown(socket.SHUT_WR)
        try:
            answer = read_answer(sock)
            assert answer.status == 400
            answer.error()
        except ConnectionError:
            pass  # the server may just drop a client that went away
    assert_serving(hostile.server)


@pytest.mark.parametrize("length", ["abc", "-1", "1e3", "99999999999999999999999", "12, 13", " "])
def test_an_invalid_content_length_is_refused_at_the_door(hostile: Hostile, unchanged: None, length: str) -> None:
    body, content_type = multipart(meta_for(hostile.device_id, 2), make_jpeg())
    head = (f"POST {FRAME} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {hostile.token}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n").encode()
    try:
        answer = raw_request(hostile.server, head + body)
        assert 400 <= answer.status < 500 and answer.status != 408, answer
    except ConnectionError:
        pass  # refusing the connection outright is fine too
    assert_serving(hostile.server)


def test_two_conflicting_content_lengths_are_refused(hostile: Hostile, unchanged: None) -> None:
    body, content_type = multipart(meta_for(hostile.device_id, 3), make_jpeg())
    head = (f"POST {FRAME} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {hostile.token}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\nContent-Length: 5\r\n"
            "Connection: close\r\n\r\n").encode()
    try:
        assert 400 <= raw_request(hostile.server, head + body).status < 500
    except ConnectionError:
        pass
    assert_serving(hostile.server)


@pytest.mark.parametrize("read_after_s", [0, 0.5], ids=["reading-at-once", "reading-late-as-under-load"])
def test_a_content_length_shorter_than_the_body_cannot_smuggle_a_request(hostile: Hostile, unchanged: None,
                                                                         read_after_s: float) -> None:
    """Reading late (a loaded machine) finds both answers in the socket at once: each read
    must take one answer only."""
    smuggled = f"POST {FRAME} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {hostile.token}\r\n\r\n"
    body = b"{}" + smuggled.encode()
    head = (f"POST {contract.HEARTBEAT_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
            f"{hostile.token}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", hostile.server.port), timeout=10) as sock:
        sock.sendall(head + body)
        time.sleep(read_after_s)
        first = read_answer(sock)
        assert first.status == 422  # {} lacks device_id and ts
        first.error()
        second = read_answer(sock)  # the "smuggled" request is just another request, refused
        assert second.status == 400
        second.error()


def test_chunked_uploads_over_the_limit_are_413(hostile: Hostile, unchanged: None) -> None:
    body, content_type = multipart(meta_for(hostile.device_id, 4), make_jpeg())
    head = (f"POST {FRAME} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {hostile.token}\r\n"
            f"Content-Type: {content_type}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n").encode()
    chunk = b"\0" * (1024 * 1024)
    with socket.create_connection(("127.0.0.1", hostile.server.port), timeout=20) as sock:
        sock.sendall(head + b"%x\r\n" % len(body[:300]) + body[:300] + b"\r\n")
        try:
            for _ in range(12):
                sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before the end
        answer = read_answer(sock)
    assert answer.status == 413
    answer.error()


# --- the image and the meta -------------------------------------------------------------------


def _sof_with(jpeg: bytes, width: int, height: int) -> bytes:
    data = bytearray(jpeg)
    sof = data.find(b"\xff\xc0")
    data[sof + 5:sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


@pytest.mark.parametrize("width,height", [(65535, 65535), (8193, 16), (16, 60000), (0, 0)])
def test_a_jpeg_bomb_is_refused_before_decoding(hostile: Hostile, unchanged: None, width: int, height: int) -> None:
    bomb = _sof_with(make_jpeg(64, 48), width, height)  # a tiny file declaring huge (or no) dimensions
    meta = meta_for(hostile.device_id, 10, max(16, min(width, 8192)), max(16, min(height, 8192)))
    body, content_type = multipart(meta, bomb)
    started = time.monotonic()
    answer = hostile.server.post(FRAME, content=body, timeout=30,
                                 headers={**hostile.device, "Content-Type": content_type})
    assert_error(answer, 415)
    assert time.monotonic() - started < 5


def test_a_tiny_file_declaring_the_largest_frame_costs_little(hostile: Hostile) -> None:
    """8192x8192 is in the contract, and libjpeg fills a short scan with gray instead of failing,
    so this 1.5 KB file is a valid frame; what must hold is that checking it stays cheap (the
    ingest decodes at 1/8 scale) and the server answers promptly."""
    bomb = _sof_with(make_jpeg(64, 48), 8192, 8192)
    body, content_type = multipart(meta_for(hostile.device_id, 11, 8192, 8192), bomb)
    started = time.monotonic()
    answer = hostile.server.post(FRAME, content=body, timeout=30,
                                 headers={**hostile.device, "Content-Type": content_type})
    assert answer.status_code in (201, 415), answer.text
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("raw", [
    b"\xff\xfe{\x00\"\x00}\x00",  # UTF-16 with a BOM
    b'{"device_id": "cam-1", "notes": "\xc3\x28"}',  # invalid UTF-8 sequence
    b'{"device_id": "\xed\xa0\x80"}',  # an encoded surrogate
    b"\x80\x81\x82",
    b'{"device_id": "cam-1"}\x00\x00',
])
def test_meta_that_is_not_utf8_json_is_400(hostile: Hostile, unchanged: None, raw: bytes) -> None:
    body, content_type = multipart(raw, make_jpeg())
    answer = hostile.server.post(FRAME, content=body, timeout=30,
                                 headers={**hostile.device, "Content-Type": content_type})
    assert_error(answer, 400)


def _deep(depth: int, opener: str = "[", closer: str = "]") -> str:
    return opener * depth + closer * depth


def test_deeply_nested_meta_is_refused(hostile: Hostile, unchanged: None) -> None:
    for nested in (_deep(100_000), _deep(7_000), '{"device_id": "cam-1", "notes": ' + _deep(7_000) + "}",
                   _deep(5_000, '{"a":', "}").replace('{"a":}', '{"a":1}')):
        body, content_type = multipart(nested.encode(), make_jpeg())
        answer = hostile.server.post(FRAME, content=body, timeout=30,
                                     headers={**hostile.device, "Content-Type": content_type})
        assert_error(answer, (400, 413, 422))  # 413: over the meta part's 16 KiB cap


def _json_operations() -> list[tuple[str, str]]:
    """Every documented operation with a JSON body, its path filled in."""
    found = []
    for op in OPERATIONS:
        if op.body is not None and "content" not in op.body:
            path = re.sub(r"{\w+}", "1", re.sub(r"{device_id}", "cam-1", re.sub(r"{\w+:int}", "1", op.path)))
            found.append((op.method, path))
    return found


@pytest.mark.parametrize("method,path", _json_operations())
def test_deep_json_bodies_are_400_or_422_never_500(hostile: Hostile, unchanged: None, method: str, path: str) -> None:
    headers = {**(hostile.device if "/admin/" not in path else hostile.admin), "Content-Type": "application/json"}
    bodies = [_deep(100_000), _deep(100_000, '{"a":', "}"),  # then 900 levels: parsed, and then?
              '{"x": ' + _deep(900) + "}",
              '{"name": ' + _deep(900) + ', "settings": ' + _deep(900) + ', "polygon": ' + _deep(900)
              + ', "thresholds": ' + _deep(900) + ', "defaults": ' + _deep(900) + ', "job_ids": '
              + _deep(900) + ', "device_id": ' + _deep(900) + "}"]
    for index, body in enumerate(bodies):
        answer = hostile.server.request(method, path, content=body.encode(), headers=headers, timeout=30)
        assert answer.status_code < 500, (method, path, answer.status_code, answer.text[:200])
        if answer.status_code >= 400:
            assert_error(answer, answer.status_code)
        if index < 2:  # 100k levels: past any parser's depth, refused as malformed (or as too big)
            assert answer.status_code in (400, 413) or path.endswith("/login") and answer.status_code == 429


# --- slow uploads ------------------------------------------------------------------------------


def _slow_upload(server: LiveServer, token: str, seconds: float, answers: list, started: threading.Event) -> None:
    body, content_type = multipart(meta_for("cam-1", 20), make_jpeg())
    head = (f"POST {FRAME} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=seconds + 10) as sock:
        sock.sendall(head)
        started.set()
        deadline = time.monotonic() + seconds
        sent = 0
        sock.setblocking(False)
        try:
            while time.monotonic() < deadline and sent < len(body) - 1:
                try:
                    answers.append(_read_answer_now(sock))
                    return
                except BlockingIOError:
                    pass
                sock.send(body[sent:sent + 2])  # a few bytes a second
                sent += 2
                time.sleep(0.5)
        except (BrokenPipeError, ConnectionResetError):
            pass
        sock.setblocking(True)
        answers.append(read_answer(sock))


def _read_answer_now(sock: socket.socket) -> RawAnswer:
    peeked = sock.recv(1, socket.MSG_PEEK)
    if not peeked:
        raise ConnectionError("closed")
    sock.setblocking(True)
    return read_answer(sock)


def test_slow_loris_uploads_hit_the_body_deadline_while_others_are_served(hostile: Hostile, unchanged: None) -> None:
    answers: list[RawAnswer] = []
    threads = []
    for _ in range(8):
        started = threading.Event()
        thread = threading.Thread(target=_slow_upload, args=(hostile.server, hostile.token, DEADLINE_S + 6,
                                                             answers, started), daemon=True)
        thread.start()
        started.wait(5)
        threads.append(thread)
    began = time.monotonic()
    served = 0
    while time.monotonic() - began < DEADLINE_S - 0.5:  # meanwhile, everyone else is served at once
        started = time.monotonic()
        assert_serving(hostile.server)
        assert time.monotonic() - started < 1.0
        served += 1
        time.sleep(0.1)
    for thread in threads:
        thread.join(DEADLINE_S + 15)
    elapsed = time.monotonic() - began
    assert served >= 5
    assert len(answers) == 8 and all(answer.status == 408 for answer in answers), answers
    assert answers[0].error()["code"] == "request_timeout"
    assert elapsed < DEADLINE_S + 6, "the deadline did not cut the trickling uploads short"


def test_half_sent_headers_do_not_block_other_clients(hostile: Hostile) -> None:
    socks = []
    try:
        for _ in range(50):
            sock = socket.create_connection(("127.0.0.1", hostile.server.port), timeout=5)
            sock.sendall(f"POST {FRAME} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ".encode())
            socks.append(sock)
        for _ in range(5):
            started = time.monotonic()
            assert_serving(hostile.server)
            assert time.monotonic() - started < 1.0
    finally:
        for sock in socks:
            sock.close()


# --- replays and headers ----------------------------------------------------------------------


def _signed(hostile: Hostile, method: str, path: str, body: bytes) -> dict[str, str]:
    return contract.hmac_headers(hostile.hmac_id, hostile.hmac_token, method, path, body, time.time(),
                                 secrets.token_hex(16))


def test_a_replayed_signed_heartbeat_or_config_fetch_is_401(hostile: Hostile, unchanged: None) -> None:
    beat = json.dumps({"device_id": hostile.hmac_id, "ts": "2026-11-24T05:47:30Z"}).encode()
    headers = {**_signed(hostile, "POST", contract.HEARTBEAT_PATH, beat), "Content-Type": "application/json"}
    server = hostile.server
    assert server.post(contract.HEARTBEAT_PATH, content=beat, headers=headers).status_code == 200
    assert_error(server.post(contract.HEARTBEAT_PATH, content=beat, headers=headers), 401)
    # the same signature on another path, method or body does not verify either
    assert_error(server.post(FRAME, content=beat, headers=headers), 401)
    fresh = {**_signed(hostile, "POST", contract.HEARTBEAT_PATH, beat), "Content-Type": "application/json"}
    assert_error(server.post(contract.HEARTBEAT_PATH, content=beat + b" ", headers=fresh), 401)
    params = {"device_id": hostile.hmac_id}
    signed = _signed(hostile, "GET", contract.DEVICE_CONFIG_PATH, b"")
    assert server.get(contract.DEVICE_CONFIG_PATH, params=params, headers=signed).status_code == 200
    assert_error(server.get(contract.DEVICE_CONFIG_PATH, params=params, headers=signed), 401)


@pytest.mark.parametrize("name,size", [
    ("Authorization", 8_000), ("X-Nonce", 8_000), ("X-Signature", 8_000), ("Cookie", 8_000),
    ("If-None-Match", 8_000), ("Content-Type", 8_000), ("X-Anything", 200_000), ("Authorization", 200_000),
])
def test_huge_header_values_are_refused_without_a_5xx(hostile: Hostile, unchanged: None, name: str, size: int) -> None:
    value = "a" * size
    if name == "Authorization":
        value = "Bearer " + value
    elif name == "Cookie":
        value = "storewatch_session=" + value
    elif name == "Content-Type":
        value = "multipart/form-data; boundary=" + value
    targets = [f"{contract.DEVICE_CONFIG_PATH}?device_id=cam-1", "/api/v1/admin/devices"]
    for target in targets:
        try:
            answer = get(hostile.server, target, {name: value})
        except ConnectionError:
            continue  # over the server's header limit: dropped at the door
        assert 400 <= answer.status < 500 and answer.status != 408, (name, size, target, answer.status)
        if answer.headers.get("content-type", "").startswith("application/json"):
            answer.error()
    body, _ = multipart(meta_for(hostile.device_id, 30), make_jpeg())
    headers = {**hostile.device, "Content-Type": "multipart/form-data; boundary=" + "a" * 8000}
    assert_error(hostile.server.post(FRAME, content=body, headers=headers, timeout=30), 400)
    assert_serving(hostile.server)


# --- HEAD and OPTIONS on every route ------------------------------------------------------------


def _concrete(path: str) -> str:
    path = re.sub(r"{\w+:int}", "1", path)
    return path.replace("{device_id}", "cam-1").replace("{kind}", "pre")


@pytest.mark.parametrize("path", sorted({_concrete(op.path) for op in OPERATIONS}))
def test_head_and_options_on_every_route(hostile: Hostile, unchanged: None, path: str) -> None:
    methods = {op.method.upper() for op in OPERATIONS if _concrete(op.path) == path}
    guarded = path.startswith("/api/v1/admin/") and path not in OPEN_ADMIN_PATHS
    for headers in ({}, hostile.admin):
        for method in ("HEAD", "OPTIONS"):
            answer = hostile.server.request(method, path, headers=headers, timeout=10)
            assert answer.status_code < 500, (method, path, answer.status_code)
            if guarded and not headers:
                assert answer.status_code == 401, (method, path)
            elif method == "HEAD" and "GET" in methods:
                assert answer.content == b""
                assert answer.status_code == hostile.server.get(path, headers=headers).status_code
            elif path != "/metrics" or headers:
                assert answer.status_code == 405, (method, path, answer.status_code)
                # Starlette's Allow names the methods of the first route of the path only
                allowed = set(answer.headers["allow"].replace(" ", "").split(","))
                assert allowed and allowed <= methods | {"HEAD"}, (allowed, methods)
                if method == "OPTIONS":
                    assert_error(answer, 405)


# --- numbers and times in admin query strings --------------------------------------------------

HOSTILE_NUMBERS = ["inf", "-inf", "Infinity", "nan", "NaN", "1e300", "-1e300", "1e20", "-1", "-99999999999999",
                   "9" * 400, "١٢٣", "0x10", "1_000", " 5", "5.5", "1e", "", "\u0000"]
HOSTILE_TIMES = HOSTILE_NUMBERS + ["253402300800", "-62135596801", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
                                   "10000-01-01T00:00:00Z", "2026-13-01T00:00:00Z", "2026-11-24T05:47:30.120+99:99"]
# (path, query parameter, kind) for every admin operation that reads a number or a time from its query
ADMIN_QUERY_PARAMS = [
    ("/api/v1/admin/events", "since", "time"), ("/api/v1/admin/events", "until", "time"),
    ("/api/v1/admin/events", "roi", "number"), ("/api/v1/admin/events", "limit", "number"),
    ("/api/v1/admin/events", "before_id", "number"),
    ("/api/v1/admin/metrics/history", "since", "time"),
    ("/api/v1/admin/devices/cam-1/scores", "since", "time"), ("/api/v1/admin/devices/cam-1/scores", "until", "time"),
]


@pytest.mark.parametrize("path,name,kind", ADMIN_QUERY_PARAMS)
def test_hostile_numbers_and_times_in_admin_queries_are_4xx_never_500(
        hostile: Hostile, unchanged: None, path: str, name: str, kind: str) -> None:
    for value in HOSTILE_TIMES if kind == "time" else HOSTILE_NUMBERS:
        answer = hostile.server.get(path, params={name: value}, headers=hostile.admin, timeout=10)
        assert answer.status_code < 500, (path, name, value, answer.status_code, answer.text[:200])
        if answer.status_code >= 400:
            assert_error(answer, (400, 422))
    assert_serving(hostile.server)


@pytest.mark.parametrize("path,name", [(p, n) for p, n, kind in ADMIN_QUERY_PARAMS if kind == "time"])
@pytest.mark.parametrize("value", ["inf", "nan", "1e300", "-1e300", "253402300800", "9" * 400, "١٢٣"])
def test_a_time_beyond_any_calendar_is_422_naming_the_parameter(hostile: Hostile, path: str, name: str,
                                                                 value: str) -> None:
    answer = hostile.server.get(path, params={name: value}, headers=hostile.admin, timeout=10)
    error = assert_error(answer, 422)
    assert error["code"] == "validation_failed"
    assert [d["field"] for d in error["details"]] == [name], error


@pytest.mark.parametrize("path,name", [(p, n) for p, n, kind in ADMIN_QUERY_PARAMS if kind == "number"])
@pytest.mark.parametrize("value", ["inf", "nan", "1e300", "-1", "9" * 400, "١٢٣"])
def test_a_number_out_of_range_is_422_naming_the_parameter(hostile: Hostile, path: str, name: str, value: str) -> None:
    answer = hostile.server.get(path, params={name: value}, headers=hostile.admin, timeout=10)
    error = assert_error(answer, 422)
    assert [d["field"] for d in error["details"]] == [name], error


@pytest.mark.parametrize("path", ["/api/v1/admin/events", "/api/v1/admin/devices/cam-1/scores",
                                  "/api/v1/admin/metrics/history"])
def test_ordinary_times_in_admin_queries_still_work(hostile: Hostile, path: str) -> None:
    for params in ({"since": "2026-11-24T05:00:00Z"}, {"since": "1764000000"}, {"since": "1764000000.5"}):
        answer = hostile.server.get(path, params=params, headers=hostile.admin, timeout=10)
        assert answer.status_code == 200, (path, params, answer.text[:200])


# --- device ids match the whole pattern ----------------------------------------------------------

NEWLINE_IDS = ["cam-1\n", "nlid\n", "cam-1\r\n", "\ncam-1"]


@pytest.mark.parametrize("device_id", NEWLINE_IDS)
def test_a_device_id_with_a_newline_cannot_be_registered(appliance: Appliance, device_id: str) -> None:
    with pytest.raises(ValueError, match="device id"):
        appliance.devices.add("newline cam", device_id)
    assert appliance.db.scalar("SELECT COUNT(*) FROM devices") == 0
    assert not contract.valid_device_id(device_id)


def test_ingest_refuses_a_newline_id_even_for_a_device_row_that_has_one(
        live_server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """A row left by an older version (registered while `$` let "nlid\\n" through) cannot
    make a folder named with a newline: the meta's device_id is checked on its own."""
    monkeypatch.setattr(contract, "valid_device_id", lambda value: True)  # this process only, not the server
    opened = Appliance(live_server.data_dir)
    try:
        device_id, token = opened.devices.add("legacy cam", "nlid\n")
    finally:
        opened.close()
    before = traces(live_server.data_dir)
    auth = {"Authorization": f"Bearer {token}"}
    body, content_type = multipart(meta_for(device_id, 1), make_jpeg())
    answer = live_server.post(FRAME, content=body, headers={**auth, "Content-Type": content_type})
    error = assert_error(answer, 422)
    assert [d["field"] for d in error["details"]] == ["device_id"], error
    beat = {"device_id": device_id, "ts": contract.format_timestamp(contract.utc_now())}
    error = assert_error(live_server.post(contract.HEARTBEAT_PATH, json=beat, headers=auth), 422)
    assert [d["field"] for d in error["details"]] == ["device_id"], error
    assert traces(live_server.data_dir) == before
    assert not [p for p in live_server.data_dir.rglob("*") if "\n" in p.name]


def test_the_admin_api_finds_no_device_behind_a_newline(hostile: Hostile) -> None:
    for path in ("/api/v1/admin/devices/cam-1%0A", "/api/v1/admin/devices/cam-1%0A/rois",
                 "/api/v1/admin/devices/cam-1%0A/scores"):
        error = assert_error(hostile.server.get(path, headers=hostile.admin), 404)
        assert error["code"] == "device_not_found", (path, error)


@pytest.mark.parametrize("job_ids", [[2**63], [10**30], [-(2**63) - 1], [1, 2**64]])
def test_job_ids_beyond_sqlite_integers_are_422_never_500(hostile: Hostile, unchanged: None, job_ids: list) -> None:
    answer = hostile.server.post("/api/v1/admin/queue/retry", json={"job_ids": job_ids},
                                 headers=hostile.admin, timeout=10)
    error = assert_error(answer, 422)
    assert error["code"] == "validation_failed"
