"""The settings table: appliance-wide values by key, each stored as JSON text.

The appliance settings (`ApplianceSettings` in appliance.py), the admin password's hash
(store/admins.py) and the global threshold defaults (store/rois.py) share it; this
module holds its SQL, so the upsert is written once.
"""

from __future__ import annotations

import json
from typing import Any

import apsw

from storewatch.store import Database


def read_all(db: Database) -> dict[str, str]:
    """Every stored value by key, as the JSON text it is stored as."""
    return {row["key"]: row["value"] for row in db.query("SELECT key, value FROM settings")}


def read(db: Database, key: str) -> str | None:
    """One stored value's JSON text, or None when the key is not stored."""
    row = db.query_one("SELECT value FROM settings WHERE key = ?", (key,))
    return row["value"] if row else None


def has(db: Database, key: str) -> bool:
    return db.query_one("SELECT 1 FROM settings WHERE key = ?", (key,)) is not None


def put(conn: apsw.Connection, key: str, value: Any) -> None:
    """Store `value` (as JSON) under `key`, inside the caller's write transaction."""
    conn.execute("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key)"
                 " DO UPDATE SET value = excluded.value", (key, json.dumps(value)))
