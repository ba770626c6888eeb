"""Who is calling: the contract's two device auth schemes, Bearer and HMAC.

Everything that needs no body is checked before the body is read: all of Bearer, and
HMAC's headers, timestamp window, nonce and signature format, device and replay. Only
then may a caller make the appliance hold up to max_body_bytes of its upload in memory.
Headers that pass but carry a forged signature (a known device id, a fresh timestamp, a
random nonce and signature) can only be found out with the body, so each device may have
at most MAX_UNVERIFIED_BODIES signed bodies on their way in at once; memory held for
forgeries is bounded by the number of devices, not by the attacker's connections.
The signature is checked before the nonce is remembered, so unsigned requests cannot fill
the replay memory (storewatch/store/nonces.py), which forgets nonces once they leave the window.
"""

from __future__ import annotations

import hmac
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from starlette.datastructures import Headers

from storewatch import contract
from storewatch.credentials import token_hash
from storewatch.store import Row
from storewatch.store.devices import DeviceNotFound, DeviceRegistry
from storewatch.store.nonces import SeenNonces, TooManyNonces
from storewatch.server.errors import ApiError

_SIGNATURE = re.compile(r"[0-9a-fA-F]{64}")  # hex of a SHA-256 HMAC
# A camera sends one upload at a time, and maybe a heartbeat beside it.
MAX_UNVERIFIED_BODIES = 2


@dataclass(frozen=True)
class PendingSignature:
    """An HMAC request whose headers passed; its signature awaits the body it covers."""

    device: Row
    timestamp: str
    nonce: str
    signature: str
    now: float


Caller = Row | PendingSignature


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message)


class DeviceAuthenticator:
    def __init__(self, devices: DeviceRegistry, nonces: SeenNonces | None = None):
        self.devices = devices
        self.nonces = nonces or devices.nonces
        self._reading: Counter[str] = Counter()  # signed bodies being received, per device
        self._reading_lock = threading.Lock()

    @staticmethod
    def signs_body(headers: Headers) -> bool:
        """True for the HMAC scheme, whose check needs the whole body."""
        return "x-signature" in headers or "x-device-id" in headers

    def authenticate(self, headers: Headers, method: str, path: str, body: bytes,
                     now: float | None = None) -> Row:
        return self.finish(self.begin(headers, now), method, path, body)

    def begin(self, headers: Headers, now: float | None = None) -> Caller:
        """All the checks that need no body: the device for Bearer, a PendingSignature for HMAC."""
        now = time.time() if now is None else now
        if self.signs_body(headers):
            pending = self._hmac_headers(headers, now)
            _refuse_disabled(pending.device)
            return pending
        device = self._bearer(headers)
        _refuse_disabled(device)
        return device

    @contextmanager
    def receiving_body(self, caller: Caller) -> Iterator[None]:
        """Hold one of the device's slots while a body whose signature is not checked yet arrives."""
        if not isinstance(caller, PendingSignature):
            yield
            return
        device_id = caller.device["id"]
        with self._reading_lock:
            if self._reading[device_id] >= MAX_UNVERIFIED_BODIES:
                raise ApiError(503, "busy", f"Device {device_id} is already sending {MAX_UNVERIFIED_BODIES} "
                               "signed requests; retry shortly.", headers={"Retry-After": "5"})
            self._reading[device_id] += 1
        try:
            yield
        finally:
            with self._reading_lock:
                self._reading[device_id] -= 1
                if not self._reading[device_id]:
                    del self._reading[device_id]

    def finish(self, caller: Caller, method: str, path: str, body: bytes) -> Row:
        """The device, once an HMAC signature verified over `body` (a Bearer caller already is)."""
        if not isinstance(caller, PendingSignature):
            return caller
        device = caller.device
        expected = contract.sign(self.devices.token_of(device), method, path, caller.timestamp,
                                 caller.nonce, body)
        if not hmac.compare_digest(expected, caller.signature.lower()):
            raise _unauthorized("The signature does not verify.")
        try:
            fresh = self.nonces.remember(device["id"], caller.nonce, caller.now)
        except TooManyNonces:
            raise ApiError(503, "busy", "Too many signed requests at once; retry shortly.",
                           headers={"Retry-After": "5"}) from None
        if not fresh:
            raise _replayed()
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

    def _hmac_headers(self, headers: Headers, now: float) -> PendingSignature:
        device_id = headers.get("x-device-id", "")
        timestamp = headers.get("x-timestamp", "")
        nonce = headers.get("x-nonce", "")
        signature = headers.get("x-signature", "")
        if not (device_id and timestamp and nonce and signature):
            raise _unauthorized("HMAC needs X-Device-Id, X-Timestamp, X-Nonce and X-Signature.")
        if not contract.valid_hmac_timestamp(timestamp):
            raise _unauthorized("X-Timestamp must be unix seconds in ASCII digits (at most 12).")
        if abs(now - int(timestamp)) > contract.HMAC_WINDOW_S:
            raise _unauthorized("X-Timestamp is more than 300 s away from the appliance's clock; "
                                "check the device's time sync.")
        if not contract.NONCE_MIN <= len(nonce) <= contract.NONCE_MAX:
            raise _unauthorized("X-Nonce must be 16 to 64 characters.")
        if not _SIGNATURE.fullmatch(signature):
            raise _unauthorized("X-Signature must be 64 hex digits (HMAC-SHA256).")
        try:
            device = self.devices.get(device_id)
        except DeviceNotFound:
            raise _unauthorized("The signature does not verify.") from None
        if self.nonces.seen(device["id"], nonce, now):
            raise _replayed()
        return PendingSignature(device, timestamp, nonce, signature, now)


def _replayed() -> ApiError:
    return _unauthorized("This request was already received (replayed nonce).")


def _refuse_disabled(device: Row) -> None:
    if not device["enabled"]:
        raise ApiError(403, "device_disabled",
                       f"Device {device['id']} is disabled; enable it with `storewatch device enable`.")


def require_same_device(device: Row, claimed: str | None, where: str) -> None:
    if claimed is not None and claimed != device["id"]:
        raise ApiError(403, "wrong_device",
                       f"The credentials are for device {device['id']}, not for the {where}'s device_id.")
