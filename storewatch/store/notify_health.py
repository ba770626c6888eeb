"""The health_conditions and health_alerts tables: the SQL behind storewatch/notify/health.py.
Functions taking `conn` join the caller's transaction."""

from __future__ import annotations

from typing import Any

from storewatch.store import Database, Row


def active(db: Database) -> dict[str, Row]:
    """What is wrong now, by key: since when, the alert that raised it (its id, title, body)."""
    return {row["key"]: row for row in db.query(
        "SELECT c.key, c.since, c.alert_id, a.title, a.body FROM health_conditions c"
        " JOIN health_alerts a ON a.id = c.alert_id")}


def add_alert(conn: Any, key: str, state: str, title: str, body: str, now: float) -> int:
    return conn.execute("INSERT INTO health_alerts (key, state, title, body, created_at) VALUES (?, ?, ?, ?, ?)"
                        " RETURNING id", (key, state, title, body, now)).fetchone()["id"]


def raise_condition(conn: Any, key: str, since: float, alert_id: int) -> None:
    conn.execute("INSERT INTO health_conditions (key, since, alert_id) VALUES (?, ?, ?)"
                 " ON CONFLICT (key) DO NOTHING", (key, since, alert_id))


def resolve_condition(conn: Any, key: str) -> None:
    conn.execute("DELETE FROM health_conditions WHERE key = ?", (key,))


def drop_unsent(conn: Any, channel_id: int, alert_id: int, now: float) -> bool:
    """Forget this channel's delivery of the alert if it still waits, never tried, for a later
    time (the channel's schedule); True if there was one."""
    conn.execute("DELETE FROM notify_outbox WHERE channel_id = ? AND alert_id = ? AND state = 'queued'"
                 " AND attempts = 0 AND next_attempt_at > ?", (channel_id, alert_id, now))
    return conn.changes() > 0


def alert(db: Database, alert_id: int) -> Row | None:
    return db.query_one("SELECT * FROM health_alerts WHERE id = ?", (alert_id,))


def prune(db: Database, cutoff: float) -> int:
    with db.write(flush=False) as conn:
        conn.execute("DELETE FROM health_alerts WHERE created_at < ?"
                     " AND id NOT IN (SELECT alert_id FROM health_conditions)", (cutoff,))
        return conn.changes()


def last_frames(db: Database) -> dict[str, str]:
    """Each device's newest capture's received_at."""
    return {row["device_id"]: row["last"] for row in db.query(
        "SELECT device_id, MAX(received_at) AS last FROM captures GROUP BY device_id")}
