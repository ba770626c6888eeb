"""`storewatch run` as a process: systemd notify, the built-in camera, a clean stop."""

from __future__ import annotations

import signal
import socket
import time

import apsw
import httpx
import pytest
from click.testing import CliRunner

from storewatch.cli import main
from support.servers import LiveServer, free_port, prepare_data_dir, start_live_server

pytestmark = pytest.mark.slow  # starts, signals and restarts storewatch run many times (one test waits for a visit's event): scripts/test --fast leaves it out


@pytest.fixture
def notify_socket(tmp_path):
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(0.5)
    yield path, sock
    sock.close()


def _messages(sock: socket.socket, until: float, wanted: set[str]) -> set[str]:
    seen: set[str] = set()
    while time.monotonic() < until and not wanted <= seen:
        try:
            seen.update(sock.recv(4096).decode().splitlines())
        except TimeoutError:
            continue
    return seen


def test_run_tells_systemd_it_is_ready_and_feeds_the_watchdog(data_dir, notify_socket, monkeypatch):
    path, sock = notify_socket
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")
    prepare_data_dir(data_dir)
    server = LiveServer(data_dir=data_dir, port=free_port(), extra_args=["--camera", "none"])
    server.start()
    try:
        seen = _messages(sock, time.monotonic() + 15, {"READY=1", "WATCHDOG=1"})
        assert {"READY=1", "WATCHDOG=1"} <= seen, seen
    finally:
        assert server.stop(signal.SIGTERM) == 0
    assert "storewatch stopped." in server.log()


def test_the_built_in_camera_posts_frames_through_the_contract(data_dir):
    prepare_data_dir(data_dir)
    server = LiveServer(data_dir=data_dir, port=free_port(), extra_args=["--camera", "simulated"])
    server.start()
    try:
        deadline = time.monotonic() + 20
        count = 0
        while time.monotonic() < deadline and count < 1:
            time.sleep(0.5)
            conn = apsw.Connection(str(data_dir / "storewatch.db"), flags=apsw.SQLITE_OPEN_READONLY)
            count = conn.execute("SELECT COUNT(*) FROM captures WHERE device_id = 'local-camera'").fetchone()[0]
            conn.close()
        assert count >= 1, server.log()
    finally:
        assert server.stop(signal.SIGINT) == 0


def test_a_port_already_in_use_stops_with_an_error(data_dir):
    prepare_data_dir(data_dir)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = LiveServer(data_dir=data_dir, port=port, extra_args=["--camera", "none"])
        with pytest.raises(RuntimeError):
            server.start(timeout=10)
        assert server.process.wait(10) != 0


def test_a_newcomer_on_the_simulated_shelf_sees_an_event_within_minutes(data_dir):
    """scripts/run's promise: no Pi camera, nothing drawn, and yet real events appear."""
    prepare_data_dir(data_dir)
    server = LiveServer(data_dir=data_dir, port=free_port(), extra_args=["--camera", "simulated"])
    server.start()
    try:
        with server.admin_client() as admin:
            deadline, rois = time.monotonic() + 20, []
            while time.monotonic() < deadline and not rois:  # the camera registers once the server listens
                time.sleep(0.2)
                rois = admin.get("/api/v1/admin/devices/local-camera/rois").json().get("rois", [])
            assert [r["name"] for r in rois] == ["shelf 1", "shelf 2", "shelf 3"]
            deadline, events = time.monotonic() + 150, []
            while time.monotonic() < deadline and not events:
                time.sleep(2)
                events = admin.get("/api/v1/admin/events",
                                   params={"device": "local-camera"}).json()["events"]
                events = [e for e in events if e["type"] == "interaction_detected"]
        assert events, server.log()[-3000:]
        assert events[0]["decision"] in ("changed", "unchanged") and events[0]["roi_name"].startswith("shelf")
    finally:
        assert server.stop() == 0


def test_the_server_parses_http_with_httptools():
    # The C parser is a dependency for its CPU per request on a Pi; a silent fall-back to
    # pure-Python h11 (httptools missing from an install) would show here first.
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from storewatch.ops.serving import server_config

    config = server_config(lambda scope, receive, send: None, "127.0.0.1", 0, stop_timeout=1.0)
    config.load()
    assert issubclass(config.http_protocol_class, HttpToolsProtocol)  # with the connection guard


def _wrong_logins(server: LiveServer, source: str, forwarded_for: list[str]) -> list[int]:
    """One wrong login per X-Forwarded-For value, sent from `source`: the statuses."""
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(base_url=server.url, transport=transport, timeout=10) as client:
        return [client.post("/api/v1/admin/login", json={"password": "wrong"},
                            headers={"X-Forwarded-For": address}).status_code
                for address in forwarded_for]


ROTATING = [f"10.0.0.{n}" for n in range(1, 9)]  # a new made-up client for every guess


def test_x_forwarded_for_is_ignored_without_a_trusted_proxy(data_dir):
    # uvicorn's default believed the header from loopback: rotating it dodged the login limiter
    server = start_live_server(data_dir)
    try:
        statuses = _wrong_logins(server, "127.0.0.1", ROTATING)
    finally:
        server.stop()
    assert statuses[:5] == [401] * 5 and 429 in statuses[5:], statuses


def test_a_trusted_proxy_is_believed_for_its_address_only(data_dir):
    server = start_live_server(data_dir, ["--camera", "none", "--trusted-proxy", "127.0.0.2"])
    try:
        through_proxy = _wrong_logins(server, "127.0.0.2", ROTATING)  # eight clients, one guess each
        one_behind_proxy = _wrong_logins(server, "127.0.0.2", ["10.0.1.1"] * 6)
        not_the_proxy = _wrong_logins(server, "127.0.0.1", [f"10.0.2.{n}" for n in range(1, 9)])
    finally:
        server.stop()
    assert through_proxy == [401] * 8
    assert one_behind_proxy == [401] * 5 + [429]
    assert not_the_proxy[:5] == [401] * 5 and 429 in not_the_proxy[5:], not_the_proxy


def test_run_refuses_a_trusted_proxy_that_is_not_an_address(data_dir):
    result = CliRunner().invoke(main, ["--data-dir", str(data_dir), "run", "--trusted-proxy", "proxy.lan"])
    assert result.exit_code == 2 and "is not an IP address" in result.output
