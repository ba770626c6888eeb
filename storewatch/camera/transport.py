"""The device's side of the HTTP contract: auth, the three calls, and what answers mean.

One keep-alive httpx client per thread that talks. Requests are built first and signed
last, so an HMAC signature always covers the exact body bytes and is fresh on every
retry (new timestamp, new nonce).
"""

from __future__ import annotations

import email.utils
import json
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx

from storewatch import contract
from storewatch.camera.spool import PendingFrame

log = logging.getLogger("storewatch.camera")

AUTH_SCHEMES = ("bearer", "hmac")
USER_AGENT = "storewatch-camera/1"


@dataclass(frozen=True)
class Answer:
    """What an ingest, config or heartbeat call came to."""

    status: int | None  # None: no HTTP answer (network error or timeout)
    body: dict[str, Any] | None = None
    error: str = ""
    retry_after_s: float | None = None
    etag: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        """Keep the frame and try again later (network, timeout, 5xx, 429, 507)."""
        return self.status is None or self.status in contract.RETRYABLE_STATUSES or self.status >= 500


class DeviceHttp:
    def __init__(self, server_url: str, device_id: str, token: str, auth: str = "bearer",
                 timeout_s: float = 15.0, transport: httpx.BaseTransport | None = None) -> None:
        if auth not in AUTH_SCHEMES:
            raise ValueError(f"auth must be one of {', '.join(AUTH_SCHEMES)}, not {auth!r}")
        if not contract.valid_device_id(device_id):
            raise ValueError(f"device id {device_id!r} must match [A-Za-z0-9._-]{{1,64}}")
        self.device_id, self.token, self.auth = device_id, token, auth
        self._client = httpx.Client(base_url=server_url.rstrip("/"), timeout=timeout_s,
                                    headers={"User-Agent": USER_AGENT}, transport=transport)

    def post_frame(self, frame: PendingFrame) -> Answer:
        files = {"meta": (None, contract.encode_meta(frame.meta), "application/json"),
                 "image": (f"frame-{frame.seq}.jpg", frame.jpeg, "image/jpeg")}
        return self._send(self._client.build_request("POST", contract.INGEST_FRAME_PATH, files=files))

    def post_heartbeat(self, payload: dict[str, Any]) -> Answer:
        body = json.dumps(payload, separators=(",", ":")).encode()
        request = self._client.build_request("POST", contract.HEARTBEAT_PATH, content=body,
                                             headers={"Content-Type": "application/json"})
        return self._send(request)

    def get_config(self, etag: str | None = None) -> Answer:
        headers = {"If-None-Match": etag} if etag else {}
        request = self._client.build_request("GET", contract.DEVICE_CONFIG_PATH,
                                             params={"device_id": self.device_id}, headers=headers)
        return self._send(request)

    def _send(self, request: httpx.Request) -> Answer:
        request.headers.update(self._auth_headers(request.method, request.url.path, request.read()))
        try:
            response = self._client.send(request)
        except httpx.HTTPError as exc:
            return Answer(None, error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        return _answer(response)

    def _auth_headers(self, method: str, path: str, body: bytes) -> dict[str, str]:
        if self.auth == "bearer":
            return {"Authorization": f"Bearer {self.token}"}
        return contract.hmac_headers(self.device_id, self.token, method, path, body,
                                     time.time(), secrets.token_hex(16))

    def close(self) -> None:
        self._client.close()


def _answer(response: httpx.Response) -> Answer:
    try:
        body = response.json() if response.content else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = None
    error = ""
    if response.status_code >= 400:
        detail = (body or {}).get("error") if body else None
        message = detail.get("message") if isinstance(detail, dict) else response.text[:200]
        error = f"HTTP {response.status_code}: {message}"
    return Answer(response.status_code, body, error, retry_after(response.headers.get("Retry-After")),
                  response.headers.get("ETag"))


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())
