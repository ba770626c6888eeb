"""Who is calling: the contract's two device auth schemes, Bearer and HMAC.

The signature is checked before the nonce is remembered, so unsigned requests cannot
fill the replay cache; the cache forgets nonces once they fall out of the time window.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections import OrderedDict

from starlette.datastructures import Headers

from storewatch import contract
from storewatch.credentials import token_hash
from storewatch.db import Row
from storewatch.devices import DeviceNotFound, DeviceRegistry
from storewatch.server.errors import ApiError

MAX_NONCES = 200_000


class NonceCache:
    def __init__(self, window_s: float = contract.HMAC_WINDOW_S, capacity: int = MAX_NONCES):
        self.window_s = window_s
        self.capacity = capacity
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, device_id: str, nonce: str, now: float) -> bool:
        """True if the nonce is new (and is now remembered), False for a replay."""
        with self._lock:
            while self._seen and next(iter(self._seen.values())) < now:
                self._seen.popitem(last=False)
            key = (device_id, nonce)
            if key in self._seen:
                return False
            if len(self._seen) >= self.capacity:
                # Full of live nonces: refuse rather than forget one that could be replayed.
                raise ApiError(503, "busy", "Too many signed requests at once; retry shortly.",
                               headers={"Retry-After": "5"})
            # Both sides of the window: a timestamp up to window_s ahead stays valid that long.
            self._seen[key] = now + 2 * self.window_s
            return True


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message)


class DeviceAuthenticator:
    def __init__(self, devices: DeviceRegistry, nonces: NonceCache | None = None):
        self.devices = devices
        self.nonces = nonces or NonceCache()

    @staticmethod
    def signs_body(headers: Headers) -> bool:
        """True for the HMAC scheme, whose check needs the whole body."""
        return "x-signature" in headers or "x-device-id" in headers

    def authenticate(self, headers: Headers, method: str, path: str, body: bytes,
                     now: float | None = None) -> Row:
        now = time.time() if now is None else now
        if self.signs_body(headers):
            device = self._hmac(headers, method, path, body, now)
        else:
            device = self._bearer(headers)
        if not device["enabled"]:
            raise ApiError(403, "device_disabled",
                           f"Device {device['id']} is disabled; enable it with `storewatch device enable`.")
        return device

    def _bearer(self, headers: Headers) -> Row:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("Send `Authorization: Bearer <token>` or the HMAC headers.")
        token = token.strip()
        device = self.devices.by_token(token)
        if device is None or not hmac.compare_digest(device["token_hash"], token_hash(token)):
            raise _unauthorized("The token is not known; check it, or issue a new one with "
                                "`storewatch device rotate-token`.")
        if device["auth_scheme"] == "hmac":
            raise _unauthorized(f"Device {device['id']} must sign its requests (auth: hmac).")
        return device

    def _hmac(self, headers: Headers, method: str, path: str, body: bytes, now: float) -> Row:
        device_id = headers.get("x-device-id", "")
        timestamp = headers.get("x-timestamp", "")
        nonce = headers.get("x-nonce", "")
        signature = headers.get("x-signature", "")
        if not (device_id and timestamp and nonce and signature):
            raise _unauthorized("HMAC needs X-Device-Id, X-Timestamp, X-Nonce and X-Signature.")
        if not timestamp.isdigit() or abs(now - int(timestamp)) > contract.HMAC_WINDOW_S:
            raise _unauthorized("X-Timestamp is more than 300 s away from the appliance's clock; "
                                "check the device's time sync.")
        if not contract.NONCE_MIN <= len(nonce) <= contract.NONCE_MAX:
            raise _unauthorized("X-Nonce must be 16 to 64 characters.")
        try:
            device = self.devices.get(device_id)
        except DeviceNotFound:
            raise _unauthorized("The signature does not verify.") from None
        expected = contract.sign(self.devices.token_of(device), method, path, timestamp, nonce, body)
        if not hmac.compare_digest(expected, signature.lower()):
            raise _unauthorized("The signature does not verify.")
        if not self.nonces.remember(device_id, nonce, now):
            raise _unauthorized("This request was already received (replayed nonce).")
        return device


def require_same_device(device: Row, claimed: str | None, where: str) -> None:
    if claimed is not None and claimed != device["id"]:
        raise ApiError(403, "wrong_device",
                       f"The credentials are for device {device['id']}, not for the {where}'s device_id.")
