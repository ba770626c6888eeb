"""Numbers and times read from an admin request's query string, checked in one place.

Every admin route that takes `since`, `until`, an id or a limit from its query uses these,
so `inf`, `1e300`, `nan`, a negative number or 400 digits is a 422 naming the parameter,
never a 500 from deeper down.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime

from storewatch.store.events import parse_moment
from storewatch.server.errors import ApiError

_WHOLE_NUMBER = re.compile(r"[0-9]{1,19}")  # ASCII only: int() would also take "١٢٣" or "1_0"


def _invalid(name: str, message: str) -> ApiError:
    return ApiError(422, "validation_failed", f"{name} {message}.", [{"field": name, "message": message}])


def int_param(query: Mapping[str, str], name: str, low: int, high: int) -> int | None:
    """The whole number `name` in low..high, or None when it is absent or empty."""
    raw = query.get(name)
    if raw in (None, ""):
        return None
    value = int(raw) if _WHOLE_NUMBER.fullmatch(raw) else None
    if value is None or not low <= value <= high:
        raise _invalid(name, f"must be a whole number from {low} to {high}")
    return value


def time_param(query: Mapping[str, str], name: str) -> datetime | None:
    """The time `name` (RFC 3339 or epoch seconds, 1970 to 9999), or None when absent or empty."""
    raw = query.get(name)
    if raw in (None, ""):
        return None
    try:
        return parse_moment(raw)
    except ValueError:
        raise _invalid(name, "must be an RFC 3339 time (2026-01-31T08:00:00Z) or epoch seconds,"
                             " between 1970 and the year 9999") from None
