"""The roi_scores table: per-frame ROI scores kept for the tuning chart (pruned by retention on `ts`)."""

from __future__ import annotations

from typing import Any

import apsw

from storewatch.store import Database
from storewatch.store.events import INTERACTION, LIGHTING, epoch_to_ts

MAX_POINTS = 20_000
PRUNE_BATCH = 5000


class ScoreStore:
    def __init__(self, db: Database):
        self.db = db

    @staticmethod
    def record(conn: apsw.Connection, roi_id: int, capture_id: int, device_id: str, ts: float, score: float,
               lighting: bool) -> None:
        """One ROI's score of one frame, inside the caller's transaction (the job's)."""
        conn.execute("INSERT INTO roi_scores (roi_id, capture_id, device_id, ts, score, lighting)"
                     " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (roi_id, capture_id) DO UPDATE SET"
                     " score = excluded.score, lighting = excluded.lighting",
                     (roi_id, capture_id, device_id, ts, score, int(lighting)))

    def newest_ts(self, device_id: str) -> float | None:
        """The capture epoch of the device's newest score, or None."""
        newest = self.db.scalar("SELECT MAX(ts) FROM roi_scores WHERE device_id = ?", (device_id,))
        return float(newest) if newest is not None else None

    def history(self, device_id: str, since: float, until: float) -> dict[str, Any]:
        """Points, visits (one entry per touched ROI) and lighting changes of a device between two capture epochs."""
        points = self.db.query(
            "SELECT ts, roi_id, score, lighting FROM roi_scores WHERE device_id = ? AND ts >= ? AND ts <= ?"
            " ORDER BY ts, roi_id LIMIT ?", (device_id, since, until, MAX_POINTS))
        since_text, until_text = epoch_to_ts(since), epoch_to_ts(until)
        # One band per ROI a visit touched, over that ROI's own span within the visit.
        events = self.db.query(
            "SELECT e.id, r.roi_id, COALESCE(r.start_ts, e.start_ts) AS start_ts,"
            " COALESCE(r.end_ts, e.end_ts) AS end_ts, r.decision, r.verdict"
            " FROM events e JOIN event_rois r ON r.event_id = e.id WHERE e.device_id = ? AND e.type = ?"
            " AND e.start_ts <= ? AND COALESCE(e.end_ts, e.start_ts) >= ? ORDER BY e.start_ts, r.roi_id",
            (device_id, INTERACTION, until_text, since_text))
        lighting = self.db.query(
            "SELECT start_ts FROM events WHERE device_id = ? AND type = ? AND start_ts >= ? AND start_ts <= ?"
            " ORDER BY start_ts", (device_id, LIGHTING, since_text, until_text))
        return {
            "points": [{"ts": epoch_to_ts(p["ts"]), "roi_id": p["roi_id"], "score": p["score"],
                        "lighting": bool(p["lighting"])} for p in points],
            "truncated": len(points) >= MAX_POINTS,
            "events": events,
            "lighting": [row["start_ts"] for row in lighting],
        }

    def count_older(self, cutoff: float) -> int:
        return int(self.db.scalar("SELECT COUNT(*) FROM roi_scores WHERE ts < ?", (cutoff,)))

    def prune_older(self, cutoff: float) -> int:
        """Delete the scores of frames before `cutoff` (an epoch), PRUNE_BATCH rows a transaction."""
        count = 0
        for _ in range(100_000):  # bounded
            with self.db.write() as conn:
                conn.execute(
                    "DELETE FROM roi_scores WHERE (roi_id, capture_id) IN (SELECT roi_id, capture_id"
                    " FROM roi_scores WHERE ts < ? LIMIT ?)", (cutoff, PRUNE_BATCH))
                changed = conn.changes()
            count += changed
            if changed < PRUNE_BATCH:
                break
        return count
