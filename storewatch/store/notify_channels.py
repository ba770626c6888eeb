"""The notify_channels table: the SQL behind storewatch/notify/channels.py (which checks
every value before it comes here). Functions taking `conn` join the caller's transaction."""

from __future__ import annotations

import json
from typing import Any

from storewatch.store import Database, Row

COLUMNS = ("name", "url", "secret", "verdicts", "devices", "rois", "cooldown_s", "enabled", "schedule", "health",
           "digest_at", "health_anytime")


def _values(values: dict[str, Any]) -> list[Any]:
    out = []
    for column in COLUMNS:
        value = values[column]
        if column in ("verdicts", "devices", "rois"):
            value = None if value is None else json.dumps(value)
        elif column in ("enabled", "health", "health_anytime"):
            value = int(bool(value))
        out.append(value)
    return out


def insert(conn: Any, kind: str, values: dict[str, Any], created_at: str) -> int:
    columns = ", ".join(("kind", *COLUMNS, "created_at"))
    marks = ", ".join("?" * (len(COLUMNS) + 2))
    return conn.execute(f"INSERT INTO notify_channels ({columns}) VALUES ({marks}) RETURNING id",
                        (kind, *_values(values), created_at)).fetchone()["id"]


def update(conn: Any, channel_id: int, values: dict[str, Any]) -> None:
    sets = ", ".join(f"{column} = ?" for column in COLUMNS)
    conn.execute(f"UPDATE notify_channels SET {sets} WHERE id = ?", (*_values(values), channel_id))


def name_taken(conn: Any, name: str) -> bool:
    return conn.execute("SELECT 1 FROM notify_channels WHERE name = ?", (name,)).fetchone() is not None


def known_ids(conn: Any, table: str, wanted: list[Any]) -> set[Any]:
    """Which of `wanted` are ids of `table` (devices or rois)."""
    if table not in ("devices", "rois"):
        raise ValueError(table)
    return {row["id"] for row in conn.execute(
        f"SELECT id FROM {table} WHERE id IN ({','.join('?' * len(wanted))})", wanted)}


def by_id(db: Database, channel_id: int) -> Row | None:
    return db.query_one("SELECT * FROM notify_channels WHERE id = ?", (channel_id,))


def by_name(db: Database, name: str) -> Row | None:
    return db.query_one("SELECT * FROM notify_channels WHERE name = ?", (name,))


def every(db: Database, conn: Any = None) -> list[Row]:
    sql = "SELECT * FROM notify_channels ORDER BY id"
    return conn.execute(sql).fetchall() if conn is not None else db.query(sql)


def delete(conn: Any, channel_id: int) -> None:
    conn.execute("DELETE FROM notify_channels WHERE id = ?", (channel_id,))


def mqtt_inventory(db: Database) -> tuple[list[Row], list[Row], dict[int, str | None]]:
    """For MQTT discovery: devices (id, name), ROIs (id, device_id, name) and each ROI's last verdict."""
    last = {row["roi_id"]: row["verdict"] for row in db.query(
        "SELECT roi_id, verdict, MAX(start_ts) FROM event_rois WHERE roi_id IS NOT NULL GROUP BY roi_id")}
    return (db.query("SELECT id, name FROM devices ORDER BY id"),
            db.query("SELECT id, device_id, name FROM rois ORDER BY id"), last)
