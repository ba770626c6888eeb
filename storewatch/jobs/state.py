"""Each device's analysis state: the last applied seq and the serialized DeviceAnalyzer.

The row is written in the same transaction as the job's done-mark and its events, and
that transaction first checks that the row is still the one the job started from, so a
frame takes effect exactly once even with two workers (or two processes) racing.
"""

from __future__ import annotations

from dataclasses import dataclass

from storewatch import contract
from storewatch.db import Database


class StateConflict(Exception):
    """Another worker applied a frame of this device meanwhile; the job is re-read."""


@dataclass(frozen=True)
class SavedState:
    last_applied_seq: int | None
    state: bytes | None
    last_ts: float | None = None


class AnalysisStates:
    def __init__(self, db: Database):
        self.db = db

    def load(self, device_id: str) -> SavedState:
        row = self.db.query_one("SELECT last_applied_seq, state, last_ts FROM analysis_state WHERE device_id = ?",
                                (device_id,))
        if row is None:
            return SavedState(None, None)
        return SavedState(row["last_applied_seq"], row["state"], row["last_ts"])

    def save(self, device_id: str, expected: SavedState, seq: int, capture_id: int, last_ts: float,
             state: bytes) -> None:
        """Store the state after `seq`; raises StateConflict unless the row is still `expected`."""
        with self.db.write() as conn:
            current = self.db.scalar("SELECT last_applied_seq FROM analysis_state WHERE device_id = ?",
                                     (device_id,))
            if current != expected.last_applied_seq:
                raise StateConflict(f"{device_id} moved from seq {expected.last_applied_seq} to {current}")
            conn.execute(
                "INSERT INTO analysis_state (device_id, last_applied_seq, last_capture_id, last_ts, state, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET"
                " last_applied_seq = excluded.last_applied_seq, last_capture_id = excluded.last_capture_id,"
                " last_ts = excluded.last_ts, state = excluded.state, updated_at = excluded.updated_at",
                (device_id, seq, capture_id, last_ts, state, contract.format_timestamp(contract.utc_now())))

    def reset(self, device_id: str) -> None:
        """Forget the device's analysis (the next frame starts a fresh warm-up)."""
        with self.db.write() as conn:
            conn.execute("UPDATE analysis_state SET state = NULL WHERE device_id = ?", (device_id,))
