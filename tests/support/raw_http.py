"""Exact bytes to a real server and one answer back: no client-side normalizing of the
request line, the headers or the framing (httpx refuses to send most of what these
tests send)."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from typing import Protocol


class HasPort(Protocol):
    port: int


@dataclass
class RawAnswer:
    status: int
    headers: dict[str, str]
    body: bytes

    def error(self) -> dict:
        parsed = json.loads(self.body)
        assert set(parsed) == {"error"}, parsed
        assert {"code", "message", "details"} <= set(parsed["error"])
        return parsed["error"]


def raw_request(server: HasPort, data: bytes, timeout: float = 10.0, half_close: bool = False) -> RawAnswer:
    """Send exact bytes (no client-side path or header normalizing) and read one answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        return read_answer(sock)


def read_answer(sock: socket.socket) -> RawAnswer:
    """One answer, and not a byte more: a second answer on the same connection (pipelining,
    smuggling tests) stays in the socket for the next call."""
    head = _read_head(sock)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    body = b""
    while len(body) < length:
        chunk = sock.recv(length - len(body))
        if not chunk:
            break
        body += chunk
    return RawAnswer(status, headers, body)


def _read_head(sock: socket.socket) -> bytes:
    """Up to the blank line after the headers: peek, then take only what belongs to the head."""
    received = b""
    while True:
        peeked = sock.recv(65536, socket.MSG_PEEK)
        if not peeked:
            raise ConnectionError(f"closed before an answer: {received!r}")
        end = (received + peeked).find(b"\r\n\r\n")
        if end >= 0:
            wanted = end + 4 - len(received)
            while wanted:
                chunk = sock.recv(wanted)
                if not chunk:
                    raise ConnectionError(f"closed inside an answer's head: {received!r}")
                received, wanted = received + chunk, wanted - len(chunk)
            return received[:-4]
        received += sock.recv(len(peeked))
