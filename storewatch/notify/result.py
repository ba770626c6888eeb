"""What one attempt to send a notification came to, and keeping channel secrets out of its words."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True)
class SendResult:
    ok: bool
    detail: str  # for people; never holds a channel's URL or secret


def redact(text: str, url: str, secret: str | None = None) -> str:
    """`text` with the URL, each of its parts (user, password, host, path pieces, query values)
    and the secret masked."""
    parts = urlsplit(url)
    pieces = {url, parts.netloc, parts.hostname or "", parts.username or "", parts.password or "", secret or ""}
    pieces |= {unquote(p) for p in re.split(r"[/?&=:@,]", f"{parts.path}?{parts.query}") if len(p) >= 4}
    for piece in sorted((p for p in pieces if len(p) >= 3), key=len, reverse=True):
        text = text.replace(piece, "…")
    return text
