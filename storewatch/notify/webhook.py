"""Webhook channel: POST the event as JSON, signed with the channel's secret.

`X-Storewatch-Signature: sha256=<hex>` is HMAC-SHA256 of the exact body bytes with the
channel's secret; `X-Storewatch-Delivery` is the outbox row's id, the same on every retry,
so a receiver can drop a re-send it has already seen.
"""

from __future__ import annotations

import hashlib
import hmac
import json

import httpx

from storewatch.notify.channels import Channel
from storewatch.notify.message import Message
from storewatch.notify.result import SendResult

TIMEOUT = httpx.Timeout(10.0, connect=5.0)  # a hanging receiver holds up only its own channel's sends
SIGNATURE_HEADER = "X-Storewatch-Signature"
DELIVERY_HEADER = "X-Storewatch-Delivery"


def signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send(channel: Channel, message: Message, timeout: httpx.Timeout = TIMEOUT) -> SendResult:
    body = json.dumps(message.payload, separators=(",", ":"), sort_keys=True).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "storewatch",
               SIGNATURE_HEADER: signature(body, channel.secret or ""), DELIVERY_HEADER: message.delivery_id}
    try:
        answer = httpx.post(channel.url, content=body, headers=headers, timeout=timeout)
    except httpx.TimeoutException:
        return SendResult(False, "the receiver did not answer in time")
    except httpx.TransportError as exc:  # its text names no URL: the URL may carry a token
        return SendResult(False, f"could not reach the receiver ({type(exc).__name__}: {_reason(exc)})")
    if 200 <= answer.status_code < 300:
        return SendResult(True, f"the receiver answered HTTP {answer.status_code}")
    return SendResult(False, f"the receiver answered HTTP {answer.status_code}")


def _reason(exc: Exception) -> str:
    text = str(exc.__cause__ or exc) or "no reason given"
    return text.split("\n")[0][:120]
