"""Reading a small JSON object body, with the API's error shape."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from storewatch.server.errors import ApiError
from storewatch.server.multipart import read_body

MAX_ADMIN_JSON = 256 * 1024


def parse_json_object(data: bytes, what: str = "body") -> dict[str, Any]:
    try:
        text = data.decode("utf-8")
        value = json.loads(text)
        if "\\u" in text:  # an escaped lone surrogate ("\ud800") decodes to a str that is not text
            json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (UnicodeError, ValueError, RecursionError):
        raise ApiError(400, "bad_json", f"`{what}` is not valid UTF-8 JSON.") from None
    if not isinstance(value, dict):
        raise ApiError(400, "bad_json", f"`{what}` must be a JSON object.")
    return value


async def read_json_object(request: Request, limit: int = MAX_ADMIN_JSON) -> dict[str, Any]:
    body = await read_body(request, limit)
    return parse_json_object(body) if body else {}
