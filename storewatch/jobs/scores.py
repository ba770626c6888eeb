"""The per-frame ROI scores kept for the tuning chart (pruned by retention on `ts`)."""

from __future__ import annotations

from typing import Any

from storewatch.store import Database
from storewatch.store.events import INTERACTION, LIGHTING, epoch_to_ts

MAX_POINTS = 20_000


def history(db: Database, device_id: str, since: float, until: float) -> dict[str, Any]:
    """Points, visits (one entry per touched ROI) and lighting changes of a device between two capture epochs."""
    points = db.query(
        "SELECT ts, roi_id, score, lighting FROM roi_scores WHERE device_id = ? AND ts >= ? AND ts <= ?"
        " ORDER BY ts, roi_id LIMIT ?", (device_id, since, until, MAX_POINTS))
    since_text, until_text = epoch_to_ts(since), epoch_to_ts(until)
    # One band per ROI a visit touched, over that ROI's own span within the visit.
    events = db.query(
        "SELECT e.id, r.roi_id, COALESCE(r.start_ts, e.start_ts) AS start_ts,"
        " COALESCE(r.end_ts, e.end_ts) AS end_ts, r.decision, r.verdict"
        " FROM events e JOIN event_rois r ON r.event_id = e.id WHERE e.device_id = ? AND e.type = ?"
        " AND e.start_ts <= ? AND COALESCE(e.end_ts, e.start_ts) >= ? ORDER BY e.start_ts, r.roi_id",
        (device_id, INTERACTION, until_text, since_text))
    lighting = db.query(
        "SELECT start_ts FROM events WHERE device_id = ? AND type = ? AND start_ts >= ? AND start_ts <= ?"
        " ORDER BY start_ts", (device_id, LIGHTING, since_text, until_text))
    return {
        "points": [{"ts": epoch_to_ts(p["ts"]), "roi_id": p["roi_id"], "score": p["score"],
                    "lighting": bool(p["lighting"])} for p in points],
        "truncated": len(points) >= MAX_POINTS,
        "events": events,
        "lighting": [row["start_ts"] for row in lighting],
    }
