"""The notify_digests table and the day's visits a digest counts: the SQL behind
storewatch/notify/digest.py. Functions taking `conn` join the caller's transaction."""

from __future__ import annotations

import json
from typing import Any

from storewatch.store import Database, Row
from storewatch.store.events import INTERACTION, epoch_to_ts


def made(db: Database, channel_id: int, day: str) -> bool:
    return db.query_one("SELECT 1 FROM notify_digests WHERE channel_id = ? AND day = ?",
                        (channel_id, day)) is not None


def insert(conn: Any, channel_id: int, day: str, period_start: float, period_end: float, payload: dict[str, Any],
           now: float) -> int | None:
    """The digest's id, or None when this channel's digest of `day` exists already."""
    row = conn.execute("INSERT INTO notify_digests (channel_id, day, period_start, period_end, payload, created_at)"
                       " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (channel_id, day) DO NOTHING RETURNING id",
                       (channel_id, day, period_start, period_end, json.dumps(payload, sort_keys=True),
                        now)).fetchone()
    return None if row is None else row["id"]


def get(db: Database, digest_id: int) -> Row | None:
    return db.query_one("SELECT * FROM notify_digests WHERE id = ?", (digest_id,))


def touches_between(db: Database, start_epoch: float, end_epoch: float) -> list[Row]:
    """Every touched ROI of the visits that began in [start, end): the event's id, device (id and
    name), false-alarm mark, ROI (id and name, the current name if it still exists) and verdict.
    An event written without ROI rows is its one ROI."""
    return db.query(
        "SELECT e.id AS event_id, e.device_id, d.name AS device_name, e.false_alarm,"
        " CASE WHEN r.id IS NULL THEN e.roi_id ELSE r.roi_id END AS roi_id,"
        " COALESCE(ro.name, CASE WHEN r.id IS NULL THEN e.roi_name ELSE r.roi_name END) AS roi_name,"
        " CASE WHEN r.id IS NULL THEN e.verdict ELSE r.verdict END AS verdict"
        " FROM events e LEFT JOIN event_rois r ON r.event_id = e.id"
        " LEFT JOIN devices d ON d.id = e.device_id"
        " LEFT JOIN rois ro ON ro.id = (CASE WHEN r.id IS NULL THEN e.roi_id ELSE r.roi_id END)"
        " WHERE e.type = ? AND e.start_ts >= ? AND e.start_ts < ? ORDER BY e.device_id, e.id",
        (INTERACTION, epoch_to_ts(start_epoch), epoch_to_ts(end_epoch)))


def prune(db: Database, cutoff: float) -> int:
    """Forget digests made before `cutoff` that no outbox row still needs."""
    with db.write(flush=False) as conn:
        conn.execute("DELETE FROM notify_digests WHERE created_at < ? AND id NOT IN"
                     " (SELECT digest_id FROM notify_outbox WHERE digest_id IS NOT NULL)", (cutoff,))
        return conn.changes()
