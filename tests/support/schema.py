"""Database files as an older storewatch left them, for the migration tests."""

from __future__ import annotations

from pathlib import Path

import apsw

from storewatch.store.migrations import MIGRATIONS


def database_at(path: Path, version: int) -> apsw.Connection:
    """An open connection to a new file at schema `version`, built with only the migrations
    that version knew (as it ran them: each in its own transaction, user_version after it)."""
    conn = apsw.Connection(str(path))
    for number, sql in enumerate(MIGRATIONS[:version], start=1):
        with conn:
            conn.execute(sql)
            conn.execute(f"PRAGMA user_version = {number}")
    return conn
