"""What one attempt to send a notification came to."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SendResult:
    ok: bool
    detail: str  # for people; never holds a channel's URL or secret
