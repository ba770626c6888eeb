"""Admin credentials: the password, API tokens for scripts, and browser sessions."""

from __future__ import annotations

import enum
import hmac
import json
import logging
import secrets
from datetime import datetime, timedelta

from storewatch import contract
from storewatch.credentials import (SHA256_PREFIX, SLOW_HASHES, HashBusy, hash_random_secret, hash_secret,
                                    token_hash, verify_random_secret, verify_secret)
from storewatch.store import Database, settings
from storewatch.errors import PasswordTooWeak
from storewatch.durable import StorageUnavailable

log = logging.getLogger("storewatch.store.admins")

SESSION_LIFETIME = timedelta(days=7)
PASSWORD_KEY = "admin_password_hash"
MIN_PASSWORD_LENGTH = 8
TOKEN_PREFIX = "swa"
LAST_USED_RESOLUTION = timedelta(minutes=1)  # a busy script writes its token's row once a minute, not per call


class TokenState(enum.Enum):
    VALID = "valid"
    INVALID = "invalid"
    EXPIRED = "expired"
    BUSY = "busy"  # an old scrypt-stored token, and no slow-hash slot free just now


class Admins:
    def __init__(self, db: Database):
        self.db = db

    # --- password -------------------------------------------------------------------------

    def has_password(self) -> bool:
        return settings.has(self.db, PASSWORD_KEY)

    @staticmethod
    def validate_password(password: str) -> None:
        """Raise PasswordTooWeak for a password too weak to set (before spending a hash on it)."""
        if len(password) < MIN_PASSWORD_LENGTH:
            raise PasswordTooWeak(f"the password must be at least {MIN_PASSWORD_LENGTH} characters")

    def set_password(self, password: str) -> None:
        self.validate_password(password)
        stored = hash_secret(password)
        with self.db.write() as conn:
            settings.put(conn, PASSWORD_KEY, stored)
            conn.execute("DELETE FROM admin_sessions")  # a new password logs everyone out

    def check_password(self, password: str) -> bool:
        """Slow on purpose (scrypt): the server calls it only under its login limiter."""
        stored = settings.read(self.db, PASSWORD_KEY)
        return stored is not None and verify_secret(password, json.loads(stored))

    def change_password(self, current: str, new: str) -> bool:
        """Set `new` if `current` is the password (False if not); PasswordTooWeak for a weak `new`."""
        self.validate_password(new)
        if not self.check_password(current):
            return False
        self.set_password(new)
        return True

    # --- API tokens -------------------------------------------------------------------------
    # Checked against the database on every request (one primary-key lookup and a SHA-256),
    # so a revoked or expired token stops working at once in every process: no cache.

    def create_token(self, name: str = "", expires_in: timedelta | None = None) -> str:
        token_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        now = contract.utc_now()
        expires = contract.format_timestamp(now + expires_in) if expires_in is not None else None
        with self.db.write() as conn:
            conn.execute("INSERT INTO admin_tokens (id, name, secret_hash, created_at, expires_at)"
                         " VALUES (?, ?, ?, ?, ?)",
                         (token_id, name, hash_random_secret(secret), contract.format_timestamp(now), expires))
        return f"{TOKEN_PREFIX}_{token_id}_{secret}"

    def list_tokens(self) -> list[dict[str, str | None]]:
        """Every token's id, name, created_at, expires_at and last_used; never its secret."""
        rows = self.db.query("SELECT id, name, created_at, expires_at, last_used FROM admin_tokens"
                             " ORDER BY created_at, id")
        return [{key: row[key] for key in ("id", "name", "created_at", "expires_at", "last_used")}
                for row in rows]

    def revoke_token(self, token_id: str) -> bool:
        """Delete one token; False when there is none with that id."""
        with self.db.write() as conn:
            conn.execute("DELETE FROM admin_tokens WHERE id = ?", (token_id,))
            return conn.changes() > 0

    def revoke_tokens(self) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM admin_tokens")

    def token_state(self, token: str) -> TokenState:
        """VALID (and the use recorded), INVALID, EXPIRED (told only to a holder of the right
        secret), or BUSY."""
        prefix, _, rest = token.partition("_")
        token_id, _, secret = rest.partition("_")
        if prefix != TOKEN_PREFIX or not token_id or not secret:
            return TokenState.INVALID
        row = self.db.query_one("SELECT secret_hash, expires_at, last_used FROM admin_tokens WHERE id = ?",
                                (token_id,))
        if row is None:
            return TokenState.INVALID
        try:
            if not self._secret_matches(token_id, secret, row["secret_hash"]):
                return TokenState.INVALID
        except HashBusy:
            return TokenState.BUSY
        now = contract.utc_now()
        if row["expires_at"] is not None and contract.parse_timestamp(row["expires_at"]) <= now:
            return TokenState.EXPIRED
        last = row["last_used"]
        if last is None or now - contract.parse_timestamp(last) >= LAST_USED_RESOLUTION:
            self._record_use(token_id, now)
        return TokenState.VALID

    def _record_use(self, token_id: str, now: datetime) -> None:
        try:
            with self.db.write() as conn:
                conn.execute("UPDATE admin_tokens SET last_used = ? WHERE id = ?",
                             (contract.format_timestamp(now), token_id))
        except StorageUnavailable as exc:  # a read-only card: the token still lets the owner look
            log.warning("could not record the use of admin API token %s: %s", token_id, exc)

    def check_token(self, token: str) -> bool:
        return self.token_state(token) is TokenState.VALID

    def _secret_matches(self, token_id: str, secret: str, stored: str) -> bool:
        if stored.startswith(SHA256_PREFIX):
            return verify_random_secret(secret, stored)
        # Made before tokens were stored as SHA-256: one scrypt check (bounded with every
        # other slow hash; reaching it takes the token's id, half of the token), then the
        # row is rewritten so that the next check is cheap.
        with SLOW_HASHES.slot():
            if not verify_secret(secret, stored):
                return False
        with self.db.write() as conn:
            conn.execute("UPDATE admin_tokens SET secret_hash = ? WHERE id = ? AND secret_hash = ?",
                         (hash_random_secret(secret), token_id, stored))
        return True

    # --- sessions ----------------------------------------------------------------------------

    def open_session(self) -> tuple[str, str]:
        """A new session: (cookie value, CSRF token)."""
        cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        now = contract.utc_now()
        with self.db.write() as conn:
            conn.execute("DELETE FROM admin_sessions WHERE expires_at < ?", (_now(),))
            conn.execute(
                "INSERT INTO admin_sessions (token_hash, csrf_token, created_at, expires_at)"
                " VALUES (?, ?, ?, ?)",
                (token_hash(cookie), csrf, _now(), contract.format_timestamp(now + SESSION_LIFETIME)))
        return cookie, csrf

    def session_csrf(self, cookie: str) -> str | None:
        """The CSRF token of a live session, or None."""
        row = self.db.query_one(
            "SELECT csrf_token FROM admin_sessions WHERE token_hash = ? AND expires_at > ?",
            (token_hash(cookie), _now()))
        return row["csrf_token"] if row else None

    def close_session(self, cookie: str) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM admin_sessions WHERE token_hash = ?", (token_hash(cookie),))


def csrf_matches(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


def _now() -> str:
    return contract.format_timestamp(contract.utc_now())



