"""Secrets: device tokens, admin passwords and API tokens, and how they are stored.

Device tokens are 256-bit random strings, so a plain SHA-256 is all a lookup hash needs
(slow hashing protects low-entropy passwords, not random keys). The HMAC scheme needs
the server to know the token itself; rather than store it, the appliance derives it
from its key file and a per-device salt, so the database alone never reveals a token.
Admin API tokens are random too and are stored as SHA-256 (older ones as scrypt, upgraded
on their first use). Admin passwords use salted scrypt, which costs 16 MiB and tens of
milliseconds per check: `SLOW_HASHES` bounds how many run at once in the process.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from storewatch.durable import atomic_write, make_private

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SCRYPT_BYTES = 128 * SCRYPT_N * SCRYPT_R  # memory one hash takes: 16 MiB
SLOW_HASH_SLOTS = 2  # 32 MiB at most; on a Pi 4 one check takes ~0.1 s, so logins never queue long
SHA256_PREFIX = "sha256$"


class HashBusy(RuntimeError):
    """Every slow-hash slot is taken: the caller answers "try again in a moment"."""


class HashGate:
    """At most `slots` scrypt runs at once; a caller that finds none free is told so at once
    (never queued), so a flood of guesses cannot pile up memory or threads."""

    def __init__(self, slots: int = SLOW_HASH_SLOTS):
        self.slots = slots
        self._running = 0
        self._lock = threading.Lock()

    @property
    def running(self) -> int:
        return self._running

    def try_acquire(self) -> bool:
        with self._lock:
            if self._running >= self.slots:
                return False
            self._running += 1
            return True

    def release(self) -> None:
        with self._lock:
            if self._running <= 0:
                raise RuntimeError("HashGate released more often than acquired")
            self._running -= 1

    @contextmanager
    def slot(self) -> Iterator[None]:
        if not self.try_acquire():
            raise HashBusy("the appliance is busy checking other passwords")
        try:
            yield
        finally:
            self.release()


SLOW_HASHES = HashGate()  # one per process: scrypt's memory is the process's


def load_or_create_key(path: Path) -> bytes:
    """The appliance key: 32 random bytes kept in a 0600 file beside the database."""
    if path.exists():
        key = path.read_bytes()
        if len(key) != 32:
            raise RuntimeError(f"{path} is damaged (expected 32 bytes); restore it from a backup")
        make_private(path, side_files=())  # a copy or an older version may have left it readable
        return key
    key = secrets.token_bytes(32)
    atomic_write(path, key)  # written as a 0600 temp file and renamed: never readable by others
    return key


def new_salt() -> str:
    return secrets.token_hex(16)


def derive_device_token(key: bytes, device_id: str, salt: str) -> str:
    digest = hmac.new(key, f"device-token\n{device_id}\n{salt}".encode(), hashlib.sha256).digest()
    return "swd_" + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_random_secret(secret: str) -> str:
    """A random (>= 128-bit) secret's stored form: `sha256$hex`, cheap to check on every request."""
    return SHA256_PREFIX + hashlib.sha256(secret.encode()).hexdigest()


def verify_random_secret(secret: str, stored: str) -> bool:
    return stored.startswith(SHA256_PREFIX) and hmac.compare_digest(hash_random_secret(secret), stored)


def hash_secret(secret: str) -> str:
    """Salted scrypt, stored as `scrypt$n$r$p$salt$hash`."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return "$".join(["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), salt.hex(), digest.hex()])


def verify_secret(secret: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        candidate = hashlib.scrypt(secret.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r),
                                   p=int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(candidate.hex(), digest)


def generate_password() -> str:
    return secrets.token_urlsafe(12)
