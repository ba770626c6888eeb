"""The metrics_samples table (a point a minute for the admin charts) and the one figure of
the jobs table that only metrics read: the durations of recently finished jobs."""

from __future__ import annotations

import json
from typing import Any

from storewatch.store import Database
from storewatch.store.jobs import DONE


def recent_durations_ms(db: Database, finished_since: str) -> list[float]:
    """Durations of the jobs done since then, shortest first."""
    return sorted(r["duration_ms"] for r in db.query(
        f"SELECT duration_ms FROM jobs WHERE state = '{DONE}' AND duration_ms IS NOT NULL AND finished_at >= ?",
        (finished_since,)))


def record_sample(db: Database, point: dict[str, Any], keep_since: str) -> None:
    """Store one point under its "ts" and drop the points older than `keep_since`."""
    with db.write() as conn:
        conn.execute("INSERT OR REPLACE INTO metrics_samples (ts, values_json) VALUES (?, ?)",
                     (point["ts"], json.dumps(point)))
        conn.execute("DELETE FROM metrics_samples WHERE ts < ?", (keep_since,))


def samples(db: Database, since: str, limit: int) -> list[dict[str, Any]]:
    rows = db.query("SELECT values_json FROM metrics_samples WHERE ts >= ? ORDER BY ts LIMIT ?", (since, limit))
    return [json.loads(row["values_json"]) for row in rows]
