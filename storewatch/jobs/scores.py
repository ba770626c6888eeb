"""The per-frame ROI scores kept for the tuning chart: their table is storewatch/store/scores.py.

`history` is kept for callers that hold only a Database; everything else reads
`appliance.scores.history(...)`.
"""

from __future__ import annotations

from typing import Any

from storewatch.store import Database
from storewatch.store.scores import MAX_POINTS, ScoreStore

__all__ = ["MAX_POINTS", "history"]


def history(db: Database, device_id: str, since: float, until: float) -> dict[str, Any]:
    """Points, visits (one entry per touched ROI) and lighting changes of a device between two capture epochs."""
    return ScoreStore(db).history(device_id, since, until)
