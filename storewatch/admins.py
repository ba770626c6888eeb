"""Admin credentials: the password, API tokens for scripts, and browser sessions."""

from __future__ import annotations

import hmac
import json
import secrets
import threading
import time
from datetime import timedelta

from storewatch import contract
from storewatch.credentials import hash_secret, token_hash, verify_secret
from storewatch.db import Database

SESSION_LIFETIME = timedelta(days=7)
PASSWORD_KEY = "admin_password_hash"
MIN_PASSWORD_LENGTH = 8
_TOKEN_CACHE_SECONDS = 300


class Admins:
    def __init__(self, db: Database):
        self.db = db
        self._verified_tokens: dict[str, float] = {}  # sha256(token) -> verified until
        self._lock = threading.Lock()

    # --- password -------------------------------------------------------------------------

    def has_password(self) -> bool:
        return self.db.query_one("SELECT 1 FROM settings WHERE key = ?", (PASSWORD_KEY,)) is not None

    def set_password(self, password: str) -> None:
        if len(password) < MIN_PASSWORD_LENGTH:
            raise ValueError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters")
        stored = json.dumps(hash_secret(password))
        with self.db.write() as conn:
            conn.execute("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key)"
                         " DO UPDATE SET value = excluded.value", (PASSWORD_KEY, stored))
            conn.execute("DELETE FROM admin_sessions")  # a new password logs everyone out

    def check_password(self, password: str) -> bool:
        row = self.db.query_one("SELECT value FROM settings WHERE key = ?", (PASSWORD_KEY,))
        return row is not None and verify_secret(password, json.loads(row["value"]))

    # --- API tokens -------------------------------------------------------------------------

    def create_token(self) -> str:
        token_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        with self.db.write() as conn:
            conn.execute("INSERT INTO admin_tokens (id, secret_hash, created_at) VALUES (?, ?, ?)",
                         (token_id, hash_secret(secret), _now()))
        return f"swa_{token_id}_{secret}"

    def check_token(self, token: str) -> bool:
        key = token_hash(token)
        with self._lock:
            if self._verified_tokens.get(key, 0) > time.monotonic():
                return True
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != "swa":
            return False
        row = self.db.query_one("SELECT secret_hash FROM admin_tokens WHERE id = ?", (parts[1],))
        if row is None or not verify_secret(parts[2], row["secret_hash"]):
            return False
        with self._lock:  # scrypt is slow on purpose; remember a good token for a while
            self._verified_tokens[key] = time.monotonic() + _TOKEN_CACHE_SECONDS
        return True

    def revoke_tokens(self) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM admin_tokens")
        with self._lock:
            self._verified_tokens.clear()

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



