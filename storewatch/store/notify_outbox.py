"""The notify_outbox and notify_cooldowns tables: the SQL behind storewatch/notify/outbox.py.

A row is about exactly one thing (the table's CHECK): an event (`event_id`), a health alert
(`alert_id`), a daily digest (`digest_id`) or a visit's start or end for MQTT's "touched"
state (`visit`, JSON). Which rows to make is decided in storewatch/notify/; this module only
reads and writes them. Functions taking `conn` join the caller's transaction.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection
from typing import Any

from storewatch.store import Database, Row

STATES = ("queued", "sending", "delivered", "dead")
MAX_ERROR = 300  # characters of last_error kept
SUBJECTS = ("event_id", "alert_id", "digest_id", "visit")


def insert(conn: Any, channel_id: int, now: float, *, next_attempt_at: float | None = None, **subject: Any) -> str:
    """One queued row about one subject (event_id=, alert_id=, digest_id= or visit=); its delivery id."""
    (column, value), = subject.items()
    if column not in SUBJECTS:
        raise ValueError(f"an outbox row is about one of {', '.join(SUBJECTS)}")
    if column == "visit":
        value = json.dumps(value, sort_keys=True)
    delivery_id = uuid.uuid4().hex
    conn.execute(f"INSERT INTO notify_outbox (delivery_id, channel_id, {column}, state, created_at, next_attempt_at)"
                 " VALUES (?, ?, ?, 'queued', ?, ?)",
                 (delivery_id, channel_id, value, now, now if next_attempt_at is None else next_attempt_at))
    return delivery_id


def has_event(conn: Any, channel_id: int, event_id: int) -> bool:
    return conn.execute("SELECT 1 FROM notify_outbox WHERE channel_id = ? AND event_id = ?",
                        (channel_id, event_id)).fetchone() is not None


def event_for_outbox(conn: Any, event_id: int) -> Row | None:
    return conn.execute("SELECT id, device_id, type, roi_id, verdict, start_ts FROM events WHERE id = ?",
                        (event_id,)).fetchone()


def event_touches(conn: Any, event: Row) -> list[tuple[int | None, str | None]]:
    """(roi_id, verdict) of each ROI the event touched; an event written without ROI rows is its one ROI."""
    rows = conn.execute("SELECT roi_id, verdict FROM event_rois WHERE event_id = ?", (event["id"],)).fetchall()
    return [(row["roi_id"], row["verdict"]) for row in (rows or [event])]


def cooldowns(conn: Any, channel_id: int) -> dict[int, float]:
    return {row["roi_id"]: row["last_epoch"] for row in conn.execute(
        "SELECT roi_id, last_epoch FROM notify_cooldowns WHERE channel_id = ?", (channel_id,))}


def set_cooldown(conn: Any, channel_id: int, roi_id: int, epoch: float) -> None:
    conn.execute("INSERT INTO notify_cooldowns (channel_id, roi_id, last_epoch) VALUES (?, ?, ?)"
                 " ON CONFLICT (channel_id, roi_id) DO UPDATE SET last_epoch = excluded.last_epoch",
                 (channel_id, roi_id, epoch))


def visit_starts(conn: Any, device_id: str, start_epoch: float, tolerance_s: float = 0.002) -> list[Row]:
    """The 'started' visit rows made for this device's visit (any channel), oldest first."""
    return [row for row in conn.execute(
        "SELECT id, channel_id, visit FROM notify_outbox WHERE visit IS NOT NULL"
        " AND json_extract(visit, '$.state') = 'started' AND json_extract(visit, '$.device_id') = ?"
        " AND abs(json_extract(visit, '$.start_epoch') - ?) <= ? ORDER BY id",
        (device_id, start_epoch, tolerance_s)).fetchall()]


def event_started_at(db: Database, device_id: str, start_ts_low: str, start_ts_high: str) -> bool:
    """Whether an event of this device began in [low, high] (stored text times): its visit has ended."""
    return db.query_one("SELECT 1 FROM events WHERE device_id = ? AND start_ts BETWEEN ? AND ? LIMIT 1",
                        (device_id, start_ts_low, start_ts_high)) is not None


# --- the sender's side ----------------------------------------------------------------------------


def requeue_interrupted(db: Database) -> int:
    with db.write() as conn:
        conn.execute("UPDATE notify_outbox SET state = 'queued' WHERE state = 'sending'")
        return conn.changes()


def requeue(db: Database, row_ids: list[int]) -> None:
    with db.write(flush=False) as conn:
        conn.execute(f"UPDATE notify_outbox SET state = 'queued', attempts = MAX(0, attempts - 1)"
                     f" WHERE state = 'sending' AND id IN ({','.join('?' * len(row_ids))})", row_ids)


def claim(db: Database, limit: int, now: float, exclude: Collection[int] = ()) -> list[Row]:
    skip = f" AND channel_id NOT IN ({','.join('?' * len(exclude))})" if exclude else ""
    due = f"state = 'queued' AND next_attempt_at <= ?{skip}"
    if db.query_one(f"SELECT 1 FROM notify_outbox WHERE {due} LIMIT 1",
                    (now, *exclude)) is None:  # idle: a read, so the poll never takes the write lock
        return []
    with db.write(flush=False) as conn:  # a claim lost to a power cut only means a re-send
        return conn.execute(
            "UPDATE notify_outbox SET state = 'sending', attempts = attempts + 1, last_attempt_at = ?"
            f" WHERE id IN (SELECT id FROM notify_outbox WHERE {due} ORDER BY next_attempt_at, id LIMIT ?)"
            " RETURNING *", (now, now, *exclude, limit)).fetchall()


def mark_delivered(db: Database, row_id: int, now: float) -> None:
    with db.write(flush=False) as conn:  # lost to a power cut: sent again, which at-least-once allows
        conn.execute("UPDATE notify_outbox SET state = 'delivered', delivered_at = ?, last_error = NULL"
                     " WHERE id = ?", (now, row_id))


def mark_failed(db: Database, row_id: int, state: str, next_at: float, error: str, *, one_attempt_back: bool = False) \
        -> None:
    back = ", attempts = attempts - 1" if one_attempt_back else ""
    with db.write(flush=False) as conn:
        conn.execute(f"UPDATE notify_outbox SET state = ?, next_attempt_at = ?, last_error = ?{back} WHERE id = ?",
                     (state, next_at, error[:MAX_ERROR], row_id))


def mark_dead(db: Database, row_id: int, error: str) -> None:
    with db.write(flush=False) as conn:
        conn.execute("UPDATE notify_outbox SET state = 'dead', last_error = ? WHERE id = ?",
                     (error[:MAX_ERROR], row_id))


def prune(db: Database, cutoff: float) -> int:
    with db.write(flush=False) as conn:
        conn.execute("DELETE FROM notify_outbox WHERE (state = 'delivered' AND delivered_at < ?)"
                     " OR (state = 'dead' AND created_at < ?)", (cutoff, cutoff))
        return conn.changes()


# --- reading --------------------------------------------------------------------------------------


def listing(db: Database, state: str | None, limit: int) -> list[Row]:
    where, params = ("WHERE o.state = ?", [state]) if state else ("", [])
    return db.query(
        "SELECT o.*, c.name AS channel FROM notify_outbox o JOIN notify_channels c ON c.id = o.channel_id"
        f" {where} ORDER BY o.id DESC LIMIT ?", (*params, max(1, min(int(limit), 1000))))


def counts_by_channel(db: Database) -> list[Row]:
    return db.query("SELECT channel_id, state, COUNT(*) AS n FROM notify_outbox GROUP BY channel_id, state")


def last_attempts(db: Database) -> list[Row]:
    """Per channel, its row attempted last."""
    return db.query("SELECT * FROM notify_outbox o WHERE id = (SELECT id FROM notify_outbox i"
                    " WHERE i.channel_id = o.channel_id AND i.last_attempt_at IS NOT NULL"
                    " ORDER BY i.last_attempt_at DESC, i.id DESC LIMIT 1)")
