"""The analysis_state table (each device's last applied seq and analysis checkpoint), and the
captured frames the analysis reads: one by id, the first at a capture time, and those applied
after a checkpoint.

The compare-and-set rule (a frame's effects commit only while the row still holds the seq the
job started from) is storewatch/jobs/state.py's; this module only reads and writes rows.
"""

from __future__ import annotations

from datetime import datetime

from storewatch import contract
from storewatch.store import Database, Row
from storewatch.store.jobs import DONE


class AnalysisStateStore:
    def __init__(self, db: Database):
        self.db = db

    def row(self, device_id: str) -> Row | None:
        return self.db.query_one("SELECT last_applied_seq, state, state_seq, rois_key FROM analysis_state"
                                 " WHERE device_id = ?", (device_id,))

    def last_applied_seq(self, device_id: str) -> int | None:
        return self.db.scalar("SELECT last_applied_seq FROM analysis_state WHERE device_id = ?", (device_id,))

    def set_applied(self, device_id: str, seq: int, capture_id: int, last_ts: float, now: datetime) -> None:
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO analysis_state (device_id, last_applied_seq, last_capture_id, last_ts, updated_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET"
                " last_applied_seq = excluded.last_applied_seq, last_capture_id = excluded.last_capture_id,"
                " last_ts = excluded.last_ts, updated_at = excluded.updated_at",
                (device_id, seq, capture_id, last_ts, contract.format_timestamp(now)))

    def set_checkpoint(self, device_id: str, seq: int, state: bytes, rois_key: str) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE analysis_state SET state = ?, state_seq = ?, rois_key = ? WHERE device_id = ?",
                         (state, seq, rois_key, device_id))

    # --- the frames the analysis reads ------------------------------------------------------

    def frame(self, capture_id: int) -> Row | None:
        return self.db.query_one("SELECT * FROM captures WHERE id = ?", (capture_id,))

    def frame_path(self, capture_id: int) -> str | None:
        row = self.db.query_one("SELECT path FROM captures WHERE id = ?", (capture_id,))
        return row["path"] if row else None

    def first_frame_at(self, device_id: str, capture_epoch: float) -> int | None:
        """The id of the device's lowest-seq frame captured at that epoch."""
        return self.db.scalar(
            "SELECT id FROM captures WHERE device_id = ? AND capture_epoch = ? ORDER BY seq LIMIT 1",
            (device_id, capture_epoch))

    def applied_frames(self, device_id: str, after_seq: int, upto_seq: int) -> list[Row]:
        """The captures applied after a checkpoint, in seq order (late and dead ones were not)."""
        return self.db.query(
            "SELECT c.* FROM jobs j JOIN captures c ON c.id = j.capture_id WHERE j.device_id = ?"
            f" AND j.state = '{DONE}' AND j.late = 0 AND j.seq > ? AND j.seq <= ? ORDER BY j.seq",
            (device_id, after_seq, upto_seq))
