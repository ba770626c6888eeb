"""The worker's side of replay: keep each analysed frame as the analysis saw it.

`keep` is called once per frame, after the decode and before the analyzer is fed; it never
fails the job: a write error is logged (once a minute at most) and the frame goes unkept.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from storewatch.analysis.device_analyzer import DeviceAnalyzer
from storewatch.appliance import Appliance
from storewatch.replay.segments import SegmentWriter
from storewatch.store import Row

log = logging.getLogger("storewatch.replay")

LOG_EVERY_S = 60.0


def as_analysed(gray: np.ndarray) -> np.ndarray:
    """The uint8 frame DeviceAnalyzer.feed works on (decode_gray's float32 holds whole numbers)."""
    if gray.dtype == np.uint8:
        return gray
    return np.clip(np.rint(gray), 0, 255).astype(np.uint8)


class FrameKeeper:
    def __init__(self, appliance: Appliance):
        self.settings = appliance.settings
        self.writer = SegmentWriter(appliance.data_dir)
        self._logged = float("-inf")

    def keep(self, device_id: str, seq: int, capture: Row, gray: np.ndarray, analyzer: DeviceAnalyzer,
             specs_key: str) -> None:
        try:
            if not self.settings.get("replay_days"):
                self.writer.close(device_id)
                return
            self.writer.append(device_id, seq, capture["capture_epoch"], capture["id"], as_analysed(gray),
                               specs_key, analyzer.to_state)
        except OSError as exc:
            self.writer.close(device_id)
            if time.monotonic() - self._logged >= LOG_EVERY_S:
                self._logged = time.monotonic()
                log.warning("a frame of %s was not kept for replay: %s", device_id, exc)

    def close(self) -> None:
        self.writer.close()
