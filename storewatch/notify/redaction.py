"""Keeping channel secrets out of words and logs.

A channel's URL may carry tokens anywhere (an ntfy topic in the host, a Discord token in the
path, a key in the query), and the HTTP libraries under the senders (httpx, urllib3 under
Apprise's requests) log request URLs at INFO or DEBUG. So besides masking what we say
ourselves, a filter on the root logger's handlers masks every piece of a known channel URL
and secret in any record, from any library, before it is written.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

MASK = "…"
MIN_PIECE = 4  # shorter pieces ("http", "a") are too common to be secrets, and masking them garbles text


def secret_pieces(url: str, secret: str | None = None) -> set[str]:
    """The URL, its user, password, host, path pieces and query values, and the secret."""
    parts = urlsplit(url)
    pieces = {url, parts.netloc, parts.hostname or "", parts.username or "", parts.password or "", secret or ""}
    pieces |= set(re.split(r"[/?&=:@,]", f"{parts.path}?{parts.query}"))
    pieces |= {unquote(p) for p in pieces}
    return {p for p in pieces if len(p) >= MIN_PIECE and p not in _HARMLESS}


_HARMLESS = frozenset({"http", "https", "json", "POST", "method", "overflow", "upstream", "retry", "wait",
                       "optional", "hook", "127.0.0.1", "localhost"})


def redact(text: str, url: str, secret: str | None = None) -> str:
    return _mask(text, secret_pieces(url, secret))


def _mask(text: str, pieces: Iterable[str]) -> str:
    for piece in sorted(pieces, key=len, reverse=True):
        text = text.replace(piece, MASK)
    return text


class Redactor(logging.Filter):
    """Masks remembered secret pieces in every record that passes the handlers it is on."""

    def __init__(self) -> None:
        super().__init__()
        self._pieces: frozenset[str] = frozenset()
        self._lock = threading.Lock()

    def remember(self, url: str, secret: str | None = None) -> None:
        with self._lock:
            self._pieces = self._pieces | secret_pieces(url, secret)

    def filter(self, record: logging.LogRecord) -> bool:
        pieces = self._pieces
        if not pieces:
            return True
        message = record.getMessage()
        masked = _mask(message, pieces)
        if masked != message:
            record.msg, record.args = masked, ()
        if record.exc_info and not record.exc_text:  # a traceback may quote the URL too
            record.exc_text = _mask(logging.Formatter().formatException(record.exc_info), pieces)
        elif record.exc_text:
            record.exc_text = _mask(record.exc_text, pieces)
        return True


REDACTOR = Redactor()


def guard_logs() -> None:
    """Put the redactor on every handler of the root logger (once each)."""
    for handler in logging.getLogger().handlers:
        if REDACTOR not in handler.filters:
            handler.addFilter(REDACTOR)
