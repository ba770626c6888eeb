"""The connection guard: uvicorn's HTTP protocols with deadlines and caps per client address.

uvicorn waits forever for a request head, lets one address hold every connection and
answers overload with plain text. Here each connection must send its whole head within
`head_timeout_s`, a head is capped in bytes (431), one address may hold at most
`per_client` connections and the server `max_connections`. When a cap is reached the
oldest idle connection under it (no request in progress) makes room, so idle sockets
cannot lock anyone out; when none is idle the newcomer gets a JSON 503 with Retry-After.
The cap counts the TCP peer, never X-Forwarded-For. IPv6 peers count per /64, the block a
single host gets. A request answered before its body was all sent (a 401, a 413, the
app's body deadline) does not keep the connection: what still comes is read and dropped
for `linger_s` (so the client reads the answer, not a reset), then it is closed.

`protocol_class(limits)` gives the class to pass as `uvicorn.Config(http=...)`: httptools
(C) where it loads, else h11, as uvicorn's own "auto" chooses.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import math
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar

from storewatch.contract import error_body
from storewatch.server.errors import CONNECTION_CODES

log = logging.getLogger("storewatch.server.connections")


@dataclass(frozen=True)
class ConnectionLimits:
    # A real client sends its head in one packet; even an ESP32 on weak Wi-Fi is done in a
    # second or two. 10 s frees what idle or trickling (slowloris) sockets hold, quickly.
    head_timeout_s: float = 10.0
    # Idle time allowed between requests on a kept-alive connection (uvicorn's timeout_keep_alive).
    keep_alive_s: int = 5
    # A Pi's default of 1024 file handles also serves SQLite, Huey and image files.
    max_connections: int = 200
    # A browser opens ~6 connections per site and a camera one or two: 32 leaves room for
    # several tabs, while six busy addresses are needed to fill the server.
    per_client: int = 32
    # Over-cap connections waiting to read their 503; beyond this they are closed unanswered,
    # so refusals cannot use up file handles either.
    max_refused: int = 64
    # nginx's defaults: 8 KiB for the request line or one header, 32 KiB for the head
    # (our largest real head, a signed request with a session cookie, is under 2 KiB).
    max_header_bytes: int = 8 * 1024
    max_head_bytes: int = 32 * 1024
    # After answering before a request was fully sent, keep reading (and dropping) what
    # the client still sends this long, so it reads the answer instead of a reset.
    linger_s: float = 5.0
    # What a refused client is told to wait: busy requests usually finish within seconds.
    retry_after_s: int = 5


class HeadTooLarge(Exception):
    pass


class HeadMeter:
    """Counts a request head's bytes as they arrive and finds where the head ends."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.max_head, self.max_line = limits.max_head_bytes, limits.max_header_bytes
        self.total = 0
        self.done = False
        self._line = 0  # bytes of the current line, without CRs
        self._started = False  # seen a non-empty line (empty lines before a request are allowed)

    def measure(self, data: bytes) -> int:
        """How many leading bytes of `data` belong to the head; raises HeadTooLarge."""
        pos = 0
        while pos < len(data):
            newline = data.find(b"\n", pos)
            end = len(data) if newline < 0 else newline + 1
            self.total += end - pos
            self._line += end - pos - data.count(b"\r", pos, end)
            if self.total > self.max_head:
                raise HeadTooLarge(f"The request headers are over {self.max_head} bytes in all.")
            if self._line > self.max_line + 1:
                raise HeadTooLarge(f"A request header (or the request line) is over {self.max_line} bytes.")
            if newline < 0:
                break
            if self._line == 1 and self._started:  # the blank line that ends the head
                self.done = True
                return end
            self._started = self._started or self._line > 1
            self._line = 0
            pos = end
        return len(data)


def client_key(host: str) -> str:
    """The address a per-client cap counts: the host, or its /64 for IPv6."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return host


class Verdict(Enum):
    ADMITTED = "admitted"
    REFUSED = "refused"  # served a 503 once its head is in
    DROPPED = "dropped"  # closed at once: too many refusals already waiting


class ConnectionRegistry:
    """Every open connection by client address; lives on the server's event loop thread."""

    def __init__(self, limits: ConnectionLimits, exempt: frozenset[str] = frozenset()) -> None:
        self.limits = limits
        self.exempt = exempt  # a trusted proxy carries everyone's connections
        self._by_client: dict[str, set[_Guard]] = {}
        self._admitted = 0
        self._refused = 0
        self._warned: dict[str, float] = {}

    def admit(self, conn: _Guard, now: float) -> Verdict:
        mine = self._by_client.get(conn.client_key, set())
        full = None
        if conn.client_key not in self.exempt and len(mine) >= self.limits.per_client:
            full = ("client", mine)
        elif self._admitted >= self.limits.max_connections:
            full = ("server", {c for group in self._by_client.values() for c in group})
        if full is not None:
            victim = min((c for c in full[1] if c.idle()), key=lambda c: c.waiting_since, default=None)
            if victim is None:
                return self._refuse(conn, full[0], now)
            self.release(victim)
            victim.evict()
        self._by_client.setdefault(conn.client_key, set()).add(conn)
        self._admitted += 1
        conn.verdict = Verdict.ADMITTED
        return conn.verdict

    def _refuse(self, conn: _Guard, which: str, now: float) -> Verdict:
        if now - self._warned.get(which, -math.inf) > 60:  # one line a minute, not one per socket
            self._warned[which] = now
            log.warning("connection cap reached (%s, last from %s): refusing new connections", which,
                        conn.client_key)
        conn.verdict = Verdict.REFUSED if self._refused < self.limits.max_refused else Verdict.DROPPED
        self._refused += conn.verdict is Verdict.REFUSED
        conn.overloaded = which
        return conn.verdict

    def release(self, conn: _Guard) -> None:
        if conn.verdict is Verdict.ADMITTED:
            group = self._by_client[conn.client_key]
            group.discard(conn)
            if not group:
                del self._by_client[conn.client_key]
            self._admitted -= 1
        elif conn.verdict is Verdict.REFUSED:
            self._refused -= 1
        conn.verdict = None


def _raw_response(status: int, code: str, message: str, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    body = json.dumps(error_body(code, message)).encode()
    phrase = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}[status]
    headers = [*default_headers, (b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode()), (b"connection", b"close")]
    lines = [b"HTTP/1.1 %d %s" % (status, phrase), *(name + b": " + value for name, value in headers)]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _overloaded_app(which: str, retry_after: int) -> Any:
    whose = "your address" if which == "client" else "all clients"
    message = f"The appliance has too many open connections from {whose}; retry in {retry_after} s."
    body = json.dumps(error_body(CONNECTION_CODES[503], message)).encode()

    async def app(scope: dict, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 503, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(retry_after).encode()), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    return app


class _Guard:
    """The guard's part of a connection, mixed in before one of uvicorn's HTTP protocols."""

    limits: ClassVar[ConnectionLimits]
    registry: ClassVar[ConnectionRegistry]
    # set by uvicorn's protocol classes
    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    client: tuple[str, int] | None
    cycle: Any
    app: Any
    flow: Any
    server_state: Any

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)  # type: ignore[misc]
        self.client_key = client_key(self.client[0]) if self.client else ""
        self.verdict: Verdict | None = None
        self.overloaded = ""
        self.waiting_since = self.loop.time()
        self._meter = HeadMeter(self.limits)
        self._lingering = False
        self._head_timer: asyncio.TimerHandle | None = None
        self._linger_timer: asyncio.TimerHandle | None = None
        self._arm_head_timer()
        verdict = self.registry.admit(self, self.waiting_since)
        if verdict is Verdict.DROPPED:
            transport.close()
        elif verdict is Verdict.REFUSED:
            self.app = _overloaded_app(self.overloaded, self.limits.retry_after_s)

    def connection_lost(self, exc: Exception | None) -> None:
        self.registry.release(self)
        for timer in (self._head_timer, self._linger_timer):
            if timer is not None:
                timer.cancel()
        super().connection_lost(exc)  # type: ignore[misc]

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # answered and closing: what the client still sends is dropped
        if self._meter.done and self._request_complete():
            self._next_head()
        while data and not self._meter.done:
            try:
                size = self._meter.measure(data)
            except HeadTooLarge as exc:
                self._answer_and_close(431, str(exc))
                return
            part, data = (data, b"") if size == len(data) else (data[:size], data[size:])
            super().data_received(part)  # type: ignore[misc]
            if self._meter.done and self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None
            if self.transport.is_closing() or self.transport.get_protocol() is not self:
                return  # refused by the parser (400), or upgraded to another protocol
        if data:
            super().data_received(data)  # type: ignore[misc]

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        self.waiting_since = self.loop.time()
        if not self.transport.is_closing() and not self._busy() and not self._request_complete():
            self._linger()  # answered before the body was all sent: do not wait on the rest

    def idle(self) -> bool:
        """No request in progress: waiting for (the rest of) a head, or kept alive between requests."""
        return not self._busy() and not self._lingering and (not self._meter.done or self._request_complete())

    def evict(self) -> None:
        self.transport.close()

    def _request_complete(self) -> bool:
        raise NotImplementedError

    def _next_head(self) -> None:
        self._meter = HeadMeter(self.limits)
        self._arm_head_timer()

    def _busy(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.limits.head_timeout_s, self._head_timed_out)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self._busy():  # a pipelined head behind a response still running: judge it after
            self._arm_head_timer()
            return
        if self._meter.total == 0:
            self.transport.close()  # not a byte sent: nothing to answer
        else:
            self._answer_and_close(408, "The request headers did not arrive within "
                                        f"{self.limits.head_timeout_s:g} seconds.")

    def _answer_and_close(self, status: int, message: str) -> None:
        if self._busy():  # a pipelined head while a response is on the wire: no room for ours
            self.transport.close()
            return
        self.transport.write(_raw_response(status, CONNECTION_CODES[status], message,
                                           self.server_state.default_headers))
        self._linger()

    def _linger(self) -> None:
        self._lingering = True
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        if self.transport.can_write_eof():
            self.transport.write_eof()  # the client reads our answer to its end, then closes
        self.flow.resume_reading()
        self._linger_timer = self.loop.call_later(self.limits.linger_s, self.transport.close)


def _guarded_classes() -> list[type[asyncio.Protocol]]:
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class GuardedH11Protocol(_Guard, H11Protocol):
        def _request_complete(self) -> bool:
            return self.conn.their_state in (h11.IDLE, h11.DONE)

    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # uvicorn's "auto" falls back to h11 the same way
        return [GuardedH11Protocol]

    class GuardedHttpToolsProtocol(_Guard, HttpToolsProtocol):
        _message_complete = False

        def _next_head(self) -> None:
            self._message_complete = False
            super()._next_head()

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._message_complete = True

        def _request_complete(self) -> bool:
            return self._message_complete

    return [GuardedHttpToolsProtocol, GuardedH11Protocol]


def protocol_class(limits: ConnectionLimits, exempt: frozenset[str] = frozenset(),
                   parser: str = "auto") -> type[asyncio.Protocol]:
    """A protocol class for `uvicorn.Config(http=...)` with its own registry of connections.

    `exempt` addresses (a trusted proxy) are not held to the per-client cap; `parser` is
    "auto" (httptools where it loads) or "h11".
    """
    classes = _guarded_classes()
    base = classes[-1] if parser == "h11" else classes[0]
    registry = ConnectionRegistry(limits, frozenset(client_key(a) for a in exempt))
    return type(base.__name__, (base,), {"limits": limits, "registry": registry})
