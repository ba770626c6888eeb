"""Picture links in notifications that work without logging in, but cannot be guessed,
changed or used forever.

A link names one picture of one event and when it expires, and carries an HMAC-SHA256 of
exactly those with a key derived from the appliance key (storewatch/credentials.py), so
only this appliance can make one: `/api/v1/notify/images/<event>/<kind>?expires=<unix
s>&sig=<hex>`. The expiry is rounded up to the hour (a link stays the same for an hour,
which lets a phone cache the picture). Links expire after LINK_TTL_S (7 days; tests and
`$STOREWATCH_NOTIFY_LINK_TTL_S` shorten it); a changed appliance key voids them all.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import time

ROUTE = "/api/v1/notify/images/{event_id:int}/{kind}"
PREFIX = "/api/v1/notify/images"
LINK_TTL_S = 7 * 86400.0
TTL_ENV = "STOREWATCH_NOTIFY_LINK_TTL_S"
SIG_HEX = 32  # 128 bits of the HMAC: past guessing
ROUND_S = 3600


class LinkRefused(Exception):
    """The link was not made by this appliance for this picture (`expired` False), or has expired."""

    def __init__(self, message: str, expired: bool):
        super().__init__(message)
        self.expired = expired


def ttl_s() -> float:
    try:
        value = float(os.environ.get(TTL_ENV, LINK_TTL_S))
    except ValueError:
        value = LINK_TTL_S
    return min(30 * 86400.0, max(1.0, value))


class ImageLinks:
    def __init__(self, appliance_key: bytes):
        self._key = hmac.new(appliance_key, b"storewatch notify image links v1", hashlib.sha256).digest()

    def _sig(self, event_id: int, kind: str, expires: int) -> str:
        return hmac.new(self._key, f"{event_id}\n{kind}\n{expires}".encode(), hashlib.sha256).hexdigest()[:SIG_HEX]

    def url(self, base_url: str, event_id: int, kind: str, now: float | None = None,
            ttl: float | None = None) -> str:
        now = time.time() if now is None else now
        ttl = ttl_s() if ttl is None else ttl
        expires = int(math.ceil((now + ttl) / ROUND_S) * ROUND_S) if ttl >= ROUND_S else int(math.ceil(now + ttl))
        return (f"{base_url.rstrip('/')}{PREFIX}/{event_id}/{kind}"
                f"?expires={expires}&sig={self._sig(event_id, kind, expires)}")

    def verify(self, event_id: int, kind: str, expires: str | None, sig: str | None,
               now: float | None = None) -> int:
        """The link's expiry if it is this appliance's, for this picture, and not expired; else LinkRefused."""
        if not expires or not sig or not expires.isascii() or not expires.isdigit() or len(expires) > 12 \
                or not hmac.compare_digest(self._sig(event_id, kind, int(expires)).encode(),
                                           sig.encode(errors="surrogatepass")):  # bytes: any text is a mismatch, not a TypeError
            raise LinkRefused("This picture link is not valid: it was changed, or not made by this appliance.",
                              expired=False)
        if int(expires) <= (time.time() if now is None else now):
            raise LinkRefused("This picture link has expired; the event is in the admin panel.", expired=True)
        return int(expires)
