"""The connection guard against a real uvicorn on 127.0.0.1, built by runner.server_config.

Each test runs an attack from the LAN (idle sockets, a slowloris head, one address holding
every slot, oversized headers, a body that trickles after the answer) and shows that
everyone else is still served. 127.0.0.2 stands in for a second client address. Limits are
shrunk through ConnectionLimits so the deadlines pass in a second or two.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
import uvicorn

from storewatch import contract
from storewatch.appliance import Appliance
from storewatch.ops.serving import server_config
from storewatch.server.app import create_app
from storewatch.server.connections import ConnectionLimits, HeadMeter, HeadTooLarge, client_key
from support.servers import free_port

OTHER = "127.0.0.2"  # a second client address on the loopback
FAST = ConnectionLimits(head_timeout_s=1.5, keep_alive_s=1, linger_s=1.0)
PARSERS = ["auto", "h11"]  # httptools, and the pure-Python fallback


# --- a real server in a thread, and raw clients ----------------------------------------------


@pytest.fixture
def start(appliance: Appliance) -> Iterator[Callable[..., int]]:
    """start(limits, parser, trusted_proxy) runs the appliance's app on uvicorn in a thread; gives its port."""
    running: list[tuple[uvicorn.Server, threading.Thread]] = []
    app = create_app(appliance)

    def _start(limits: ConnectionLimits = FAST, parser: str = "auto", trusted_proxy: str | None = None) -> int:
        port = free_port()
        server = uvicorn.Server(server_config(app, "127.0.0.1", port, 1.0, limits=limits, parser=parser,
                                              trusted_proxy=trusted_proxy))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started
        running.append((server, thread))
        return port

    yield _start
    for server, thread in running:
        server.should_exit = True
        thread.join(10)


def connect(port: int, source: str = "127.0.0.1", timeout: float = 5.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))


def get(port: int, source: str = "127.0.0.1", headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=5.0) as client:
        return client.get(f"http://127.0.0.1:{port}/", headers=headers)


def read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of an answer the server ends by closing."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


def error_code(body: bytes) -> str:
    error = json.loads(body)["error"]
    assert set(error) == {"code", "message", "details"} and error["message"]
    return error["code"]


def readable(sock: socket.socket) -> bool:
    return bool(select.select([sock], [], [], 0)[0])


def closed_by_server(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        while sock.recv(65536):
            pass
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def hold_busy(port: int, token: str, source: str) -> socket.socket:
    """A heartbeat whose body never comes: the app waits on it, so the connection is busy."""
    sock = connect(port, source)
    sock.sendall((f"POST {contract.HEARTBEAT_PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                  "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n").encode())
    return sock


@contextlib.contextmanager
def sockets() -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    try:
        yield opened
    finally:
        for sock in opened:
            sock.close()


# --- idle sockets and slow heads -------------------------------------------------------------


def test_200_idle_connections_neither_lock_others_out_nor_stay_open(start) -> None:
    port = start(ConnectionLimits(head_timeout_s=2.0))
    with sockets() as idle:
        idle.extend(connect(port) for _ in range(200))
        time.sleep(0.3)
        for source in (OTHER, "127.0.0.1"):  # another address, and the idle sockets' own
            began = time.monotonic()
            assert get(port, source).status_code == 200
            assert time.monotonic() - began < 1.0
        time.sleep(2.0)
        still_open = [sock for sock in idle if not closed_by_server(sock, 0.01)]
        assert not still_open, f"{len(still_open)} idle sockets outlived the head timeout"


@pytest.mark.parametrize("parser", PARSERS)
def test_a_slowloris_head_gets_408_at_the_head_timeout(start, parser: str) -> None:
    port = start(parser=parser)
    with sockets() as opened:
        sock = connect(port)
        opened.append(sock)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        began = time.monotonic()
        for n in range(30):  # a header line every 0.2 s: never idle, never done
            if readable(sock):
                break
            sock.sendall(f"X-Slow-{n}: a\r\n".encode())
            time.sleep(0.2)
            assert get(port, OTHER).status_code == 200 if n % 5 == 0 else True
        status, headers, body = read_answer(sock)
        assert time.monotonic() - began < FAST.head_timeout_s + 1.5
        assert status == 408 and headers["content-type"] == "application/json"
        assert error_code(body) == "request_timeout"


@pytest.mark.parametrize("parser", PARSERS)
def test_a_kept_alive_connection_gets_the_same_head_deadline_and_idles_out(start, parser: str) -> None:
    port = start(parser=parser)
    with sockets() as opened:
        trickler, idler = connect(port), connect(port)
        opened += [trickler, idler]
        for sock in (trickler, idler):
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200")
            length = int(answer.split(b"content-length: ")[1].split(b"\r\n")[0])
            while len(answer.partition(b"\r\n\r\n")[2]) < length:
                answer += sock.recv(65536)
        began = time.monotonic()
        trickler.sendall(b"GET / HTTP/1.1\r\n")
        for n in range(15):
            if readable(trickler):
                break
            trickler.sendall(f"X-Slow-{n}: a\r\n".encode())
            time.sleep(0.2)
        assert closed_by_server(idler, 0.1), "the idle kept-alive connection was not closed"
        status, _, body = read_answer(trickler)
        assert status == 408 and error_code(body) == "request_timeout"
        assert time.monotonic() - began < FAST.head_timeout_s + 1.5


# --- caps per address and for the server -------------------------------------------------------


def test_one_address_over_its_cap_gets_a_json_503_while_another_is_served(start, appliance) -> None:
    _, token = appliance.devices.add("cap cam", "cap-cam")
    port = start(ConnectionLimits(head_timeout_s=5.0, per_client=4))
    with sockets() as busy:
        busy.extend(hold_busy(port, token, "127.0.0.1") for _ in range(4))
        time.sleep(0.3)
        refused = get(port)
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "5"
        assert refused.headers["content-type"] == "application/json"
        assert error_code(refused.content) == "too_many_connections"
        assert get(port, OTHER).status_code == 200
    deadline = time.monotonic() + 3  # the busy ones gone, the address is served again
    while get(port).status_code != 200:
        assert time.monotonic() < deadline


def test_a_full_server_makes_room_by_closing_the_oldest_idle_connection(start, appliance) -> None:
    _, token = appliance.devices.add("full cam", "full-cam")
    port = start(ConnectionLimits(head_timeout_s=5.0, max_connections=8, per_client=4))
    with sockets() as held:
        held.extend(hold_busy(port, token, "127.0.0.1") for _ in range(4))  # busy: never evicted
        time.sleep(0.2)
        idle = [connect(port, OTHER) for _ in range(4)]
        held.extend(idle)
        time.sleep(0.2)
        assert get(port, "127.0.0.3").status_code == 200
        assert closed_by_server(idle[0], 1.0), "the oldest idle connection was not the one closed"
        assert not any(closed_by_server(sock, 0.05) for sock in held[:4])
        # all eight slots busy: a newcomer is refused, in the error shape
        held.extend(hold_busy(port, token, OTHER) for _ in range(4))
        time.sleep(0.3)
        refused = get(port, "127.0.0.3")
        assert refused.status_code == 503 and error_code(refused.content) == "too_many_connections"
        assert "all clients" in refused.json()["error"]["message"]


def test_refusals_waiting_for_their_head_are_bounded(start, appliance) -> None:
    _, token = appliance.devices.add("bound cam", "bound-cam")
    port = start(ConnectionLimits(head_timeout_s=5.0, per_client=1, max_refused=1))
    with sockets() as held:
        held.append(hold_busy(port, token, "127.0.0.1"))
        time.sleep(0.2)
        held.append(connect(port))  # refused: it waits to be told so
        time.sleep(0.2)
        dropped = connect(port)  # no refusal slot left: closed unanswered
        held.append(dropped)
        assert closed_by_server(dropped, 1.0)
        assert not closed_by_server(held[1], 0.1)


def test_a_trusted_proxy_is_not_held_to_the_per_address_cap(start, appliance) -> None:
    _, token = appliance.devices.add("proxy cam", "proxy-cam")
    port = start(ConnectionLimits(head_timeout_s=5.0, per_client=2), trusted_proxy=OTHER)
    with sockets() as busy:
        busy.extend(hold_busy(port, token, source) for source in (OTHER, OTHER, "127.0.0.1", "127.0.0.1"))
        time.sleep(0.3)
        assert get(port, OTHER).status_code == 200  # the proxy carries many clients' connections
        assert get(port).status_code == 503


def test_ipv6_clients_are_counted_per_64() -> None:
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert client_key("::ffff:192.168.1.7") == "192.168.1.7" == client_key("192.168.1.7")


# --- oversized heads ---------------------------------------------------------------------------


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("headers", [
    {"X-Big": "a" * 9_000},  # one header over 8 KiB
    {f"X-Many-{n}": "a" * 1000 for n in range(40)},  # 40 KiB in all
    {"X-Huge": "a" * 1_000_000},
], ids=["one-9k", "forty-1k", "one-1m"])
def test_oversized_request_headers_get_431(start, parser: str, headers: dict[str, str]) -> None:
    port = start(parser=parser)
    with sockets() as opened:
        sock = connect(port)
        opened.append(sock)
        head = "GET / HTTP/1.1\r\nHost: x\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        sock.sendall(head.encode() + b"\r\n")
        status, answered, body = read_answer(sock)
    assert status == 431 and answered["connection"] == "close"
    assert error_code(body) == "headers_too_large"
    assert get(port).status_code == 200


def test_headers_under_the_limits_are_served(start) -> None:
    port = start()
    assert get(port, headers={"X-Large": "a" * 8_000}).status_code == 200
    assert get(port, headers={f"X-Many-{n}": "a" * 1000 for n in range(25)}).status_code == 200


# --- bodies ------------------------------------------------------------------------------------


def test_a_body_trickling_after_an_early_answer_is_not_waited_on(start) -> None:
    port = start()
    with sockets() as opened:
        sock = connect(port)
        opened.append(sock)
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc")  # GET-only route
        sock.settimeout(5)
        assert sock.recv(65536).startswith(b"HTTP/1.1 405")
        began, closed = time.monotonic(), False
        for _ in range(40):  # a byte every 0.1 s would hold uvicorn's connection for ever
            try:
                sock.sendall(b"x")
            except OSError:
                closed = True
                break
            if closed_by_server(sock, 0.1):
                closed = True
                break
        assert closed and time.monotonic() - began < FAST.linger_s + 1.5


# --- the head meter ----------------------------------------------------------------------------


def test_the_head_meter_finds_the_end_of_the_head_across_chunks() -> None:
    meter = HeadMeter(ConnectionLimits())
    head = b"\r\nGET / HTTP/1.1\r\nHost: x\r\n\r"
    assert meter.measure(head) == len(head) and not meter.done  # a leading blank line is allowed
    assert meter.measure(b"\nbody") == 1 and meter.done
    lf_only = HeadMeter(ConnectionLimits())
    head = b"GET / HTTP/1.1\na: b\n\n"  # bare LFs, as lenient parsers take them
    assert lf_only.measure(head + b"rest") == len(head) and lf_only.done


def test_the_head_meter_counts_lines_and_the_whole_head() -> None:
    limits = ConnectionLimits(max_header_bytes=100, max_head_bytes=300)
    line = HeadMeter(limits)
    line.measure(b"GET / HTTP/1.1\r\nX: " + b"a" * 60)
    with pytest.raises(HeadTooLarge):
        line.measure(b"a" * 60)  # the same line, over two chunks
    head = HeadMeter(limits)
    with pytest.raises(HeadTooLarge):
        head.measure(b"GET / HTTP/1.1\r\n" + b"X: aaaaaaaa\r\n" * 30)
