"""Secrets: device tokens, admin passwords and API tokens, and how they are stored.

Device tokens are 256-bit random strings, so a plain SHA-256 is all a lookup hash needs
(slow hashing protects low-entropy passwords, not random keys). The HMAC scheme needs
the server to know the token itself; rather than store it, the appliance derives it
from its key file and a per-device salt, so the database alone never reveals a token.
Admin passwords and API tokens use salted scrypt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from pathlib import Path

from storewatch.storage import atomic_write, make_private

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


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
