"""Bounded reading of request bodies and of the ingest's small multipart form.

The body is read with its size checked on every chunk (and against Content-Length before
the first), under a deadline, so neither a huge nor a trickling upload can tie up memory
or a worker. The multipart form is parsed by python-multipart's streaming parser with a
cap on the number of parts and on each part's size.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import anyio
from python_multipart.exceptions import FormParserError, MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from storewatch.server.errors import ApiError

MAX_PARTS = 8
MAX_PART_HEADERS = 8
# How long a request body may take to arrive. STOREWATCH_BODY_DEADLINE_S (1..600) overrides
# it, so the slow-upload tests can prove the deadline in seconds instead of a minute.
BODY_DEADLINE_S = min(600.0, max(1.0, float(os.environ.get("STOREWATCH_BODY_DEADLINE_S", "60"))))


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "payload_too_large", f"The request body is over the limit of {limit} bytes.")


async def read_body(request: Request, limit: int, deadline_s: float = BODY_DEADLINE_S) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, "bad_request", "The Content-Length header is not a number.")
        if int(declared) > limit:
            raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    try:
        with anyio.fail_after(deadline_s):
            async for chunk in request.stream():
                chunks.append(chunk)
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
    except TimeoutError:
        raise ApiError(408, "request_timeout",
                       f"The request body did not arrive within {deadline_s:.0f} seconds.") from None
    except ClientDisconnect:
        raise ApiError(400, "bad_request", "The client went away before the body arrived.") from None
    return b"".join(chunks)  # the one copy of the body


@dataclass
class Part:
    name: str = ""
    content_type: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    pieces: list[memoryview] = field(default_factory=list)  # views into the body: no copies
    size: int = 0

    @property
    def data(self) -> bytes:
        return bytes(self.pieces[0]) if len(self.pieces) == 1 else b"".join(self.pieces)


def parse_multipart(content_type: str | None, body: bytes, part_limits: dict[str, int]) -> dict[str, Part]:
    """Parse a multipart/form-data body into its named parts (first of each name wins).

    `part_limits` caps the size of each named part; a part over its cap is a 413.
    """
    media, options = parse_options_header(content_type or "")
    boundary = options.get(b"boundary")
    if media != b"multipart/form-data" or not boundary:
        raise ApiError(400, "not_multipart", "The body must be multipart/form-data with a boundary.")
    parts: list[Part] = []
    header: dict[str, bytearray] = {"field": bytearray(), "value": bytearray()}
    finished: list[bool] = []

    def part_begin() -> None:
        if len(parts) >= MAX_PARTS:
            raise ApiError(400, "too_many_parts", f"The form has more than {MAX_PARTS} parts.")
        parts.append(Part())

    def part_data(data: bytes, start: int, end: int) -> None:
        part = parts[-1]
        # The parser gets the whole body at once, so `data` is the body (or, near a
        # boundary-like run, a small buffer of the parser's own, copied here).
        part.pieces.append(memoryview(data)[start:end] if data is body else memoryview(bytes(data[start:end])))
        part.size += end - start
        limit = part_limits.get(part.name)
        if limit is not None and part.size > limit:
            raise ApiError(413, "part_too_large", f"The {part.name!r} part is over {limit} bytes.")

    def header_field(data: bytes, start: int, end: int) -> None:
        header["field"] += data[start:end]

    def header_value(data: bytes, start: int, end: int) -> None:
        header["value"] += data[start:end]

    def header_end() -> None:
        part = parts[-1]
        name = header["field"].decode("latin-1").lower()
        part.headers[name] = header["value"].decode("latin-1")
        header["field"], header["value"] = bytearray(), bytearray()
        if len(part.headers) > MAX_PART_HEADERS:
            raise ApiError(400, "bad_multipart", "A form part has too many headers.")

    def headers_finished() -> None:
        part = parts[-1]
        _, disposition = parse_options_header(part.headers.get("content-disposition", ""))
        part.name = disposition.get(b"name", b"").decode("latin-1")
        part.content_type = part.headers.get("content-type", "")

    try:
        parser = MultipartParser(boundary, callbacks={  # type: ignore[arg-type]
            "on_part_begin": part_begin, "on_part_data": part_data, "on_header_field": header_field,
            "on_header_value": header_value, "on_header_end": header_end,
            "on_headers_finished": headers_finished, "on_end": lambda: finished.append(True),
        })
    except FormParserError:  # e.g. a boundary over the parser's 256 bytes (RFC 2046 allows 70)
        raise ApiError(400, "not_multipart", "The multipart boundary is not acceptable.") from None
    try:
        parser.write(body)
        parser.finalize()
    except MultipartParseError:
        raise ApiError(400, "bad_multipart", "The multipart body is malformed.") from None
    if not finished:
        raise ApiError(400, "bad_multipart", "The multipart body is truncated (no closing boundary).")
    named: dict[str, Part] = {}
    for part in parts:
        named.setdefault(part.name, part)
    return named
