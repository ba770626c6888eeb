"""Each device's analysis state: the last applied seq and a checkpoint of the DeviceAnalyzer.

`last_applied_seq` moves in the same transaction as each job's done-mark and its events,
and that transaction first checks the row is still the one the job started from, so a
frame takes effect exactly once even with two workers (or two processes) racing.

Serializing the analyzer costs more than analysing a frame, so the state is a checkpoint
(`state`, taken after `state_seq`, with the ROI specs it was built with in `rois_key`):
written every few frames, at ROI changes, when a device goes idle and at a clean stop.
A worker without the analyzer in memory restores the checkpoint and replays the applied
frames after it (the analysis is deterministic), which gives exactly the state an
uninterrupted worker has.
"""

from __future__ import annotations

from dataclasses import dataclass

from storewatch import contract
from storewatch.store import Database, Row
from storewatch.store.analysis_state import AnalysisStateStore


class StateConflict(Exception):
    """Another worker applied a frame of this device meanwhile; the job is re-read."""


@dataclass(frozen=True)
class SavedState:
    last_applied_seq: int | None
    state: bytes | None = None
    state_seq: int | None = None
    rois_key: str = ""


class AnalysisStates:
    def __init__(self, db: Database):
        self.db = db
        self.store = AnalysisStateStore(db)

    def load(self, device_id: str) -> SavedState:
        row = self.store.row(device_id)
        if row is None:
            return SavedState(None)
        return SavedState(row["last_applied_seq"], row["state"], row["state_seq"], row["rois_key"] or "")

    def save(self, device_id: str, expected: int | None, seq: int, capture_id: int, last_ts: float,
             checkpoint: tuple[bytes, str] | None) -> None:
        """Record `seq` as applied (and a checkpoint taken after it, if given).

        Raises StateConflict unless the row's last applied seq is still `expected`."""
        with self.db.write():
            current = self.store.last_applied_seq(device_id)
            if current != expected:
                raise StateConflict(f"{device_id} moved from seq {expected} to {current}")
            self.store.set_applied(device_id, seq, capture_id, last_ts, contract.utc_now())
            if checkpoint is not None:
                self.store.set_checkpoint(device_id, seq, *checkpoint)

    def checkpoint(self, device_id: str, seq: int, checkpoint: tuple[bytes, str]) -> bool:
        """Store a checkpoint taken after `seq`, if that is still the last applied seq."""
        with self.db.write():
            if self.store.last_applied_seq(device_id) != seq:
                return False
            self.store.set_checkpoint(device_id, seq, *checkpoint)
            return True

    def applied_frames(self, device_id: str, after_seq: int, upto_seq: int) -> list[Row]:
        """The captures applied after a checkpoint, in seq order (late and dead ones were not)."""
        return self.store.applied_frames(device_id, after_seq, upto_seq)
