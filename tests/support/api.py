"""The API's one error shape (storewatch/server/errors.py, contract.error_body)."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

CODE = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")


def assert_error(answer: Any, status: int | Collection[int], code: str | None = None) -> dict:
    """Assert that `answer` (an httpx or requests response) is an API error and return its
    "error" object: status `status` (or one of them), JSON `{"error": {"code", "message",
    "details"}}` with a snake_case code (`code` when given), a message that says something and
    details that each name a field and say what is wrong with it."""
    statuses = (status,) if isinstance(status, int) else tuple(status)
    assert answer.status_code in statuses, (answer.status_code, statuses, answer.text[:500])
    content_type = answer.headers.get("content-type", "")
    if isinstance(content_type, list):  # schemathesis' responses give every header as a list of values
        content_type = content_type[0] if content_type else ""
    assert content_type.startswith("application/json"), dict(answer.headers)
    body = answer.json()
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert isinstance(error["code"], str) and CODE.fullmatch(error["code"]), error
    assert isinstance(error["message"], str) and error["message"].strip(), error
    assert isinstance(error["details"], list), error
    assert all(isinstance(item, dict) and {"field", "message"} <= set(item) for item in error["details"]), error
    if code is not None:
        assert error["code"] == code, error
    return error
