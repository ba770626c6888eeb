"""Kept frames that went missing (a segment deleted, a damaged record), made again from staging.

The worker fed each frame as `decode_gray` of its staged JPEG at the analysis width; while
that full-size JPEG is still in staging, the same decode gives the very same pixels, so a
replay over the lost stretch stays exact. Which frames the worker fed is in its jobs (those
applied, `AnalysisStateStore.applied_frames`); which it kept, in the segments' frame records.
Looked for from the run's start state up to the last frame kept in the segments it reads (a
lost tail after that is not known of); specs changed in a lost stretch are not known either.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from storewatch.analysis.decode import ImageDecodeError, decode_gray
from storewatch.appliance import Appliance
from storewatch.replay import segments
from storewatch.replay.keeper import as_analysed
from storewatch.store.analysis_state import AnalysisStateStore


@dataclass(frozen=True)
class Lost:
    """A frame the worker fed that no segment holds, with its staged JPEG."""

    seq: int
    ts: float
    capture_id: int
    path: str  # absolute

    def pixels(self) -> np.ndarray | None:
        """The frame as the analysis was fed it; None if staging no longer has it."""
        from storewatch.jobs.processor import ANALYSIS_WIDTH  # the worker imports the keeper, and so this

        try:
            return as_analysed(decode_gray(Path(self.path).read_bytes(), ANALYSIS_WIDTH))
        except (OSError, ImageDecodeError):
            return None


def lost_frames(appliance: Appliance, device_id: str, files: list[Path], skip: int) -> list[Lost]:
    """The frames applied after the state record `skip` of files[0] that the segments lack."""
    kept: set[int] = set()
    first: int | None = None
    for n, path in enumerate(files):  # frame payloads read: their CRC says which records can be read
        for index, record in enumerate(segments.scan(path, payloads="F", skip=skip if n == 0 else 0)):
            if n == 0 and index < skip:
                continue
            first = record.seq if first is None else first
            if record.kind == "F":
                kept.add(record.seq)
    if first is None or not kept:
        return []
    applied = AnalysisStateStore(appliance.db).applied_frames(device_id, first - 1, max(kept))
    return [Lost(row["seq"], row["capture_epoch"], row["id"], str(appliance.images.absolute(row["path"])))
            for row in applied if row["seq"] not in kept and appliance.images.absolute(row["path"]).exists()]
