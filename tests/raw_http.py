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
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before an answer: {received!r}")
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return RawAnswer(status, headers, body)
