"""Each device's DeviceAnalyzer kept in memory between its frames, and rebuilt when needed.

A cached analyzer is used only while it is exactly at the device's last applied seq; it
is taken out while a frame is fed and put back only after that frame committed, so a
failed frame can never leave a half-fed analyzer behind. Otherwise the analyzer is
rebuilt from the checkpoint plus a replay of the frames applied after it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from storewatch.analysis.decode import ImageDecodeError, decode_gray
from storewatch.analysis.device_analyzer import DeviceAnalyzer, RoiSpec
from storewatch.analysis.state_codec import StateError
from storewatch.analysis.thresholds import Thresholds
from storewatch.store import Row
from storewatch.jobs.state import AnalysisStates, SavedState

log = logging.getLogger("storewatch.jobs")

CHECKPOINT_EVERY = 25  # frames; a restart replays at most this many


def specs_key(specs: list[RoiSpec], thresholds: Thresholds) -> str:
    """The ROI specs and device thresholds as canonical JSON (stored with each checkpoint)."""
    return json.dumps({"rois": [[s.id, [list(p) for p in s.polygon], s.thresholds.to_dict()] for s in specs],
                       "device": thresholds.to_dict()}, sort_keys=True, separators=(",", ":"))


def specs_from_key(key: str) -> tuple[list[RoiSpec], Thresholds]:
    data = json.loads(key)
    specs = [RoiSpec(roi_id, tuple(tuple(p) for p in polygon), Thresholds(**thr))
             for roi_id, polygon, thr in data["rois"]]
    return specs, Thresholds(**data["device"])


@dataclass
class _Entry:
    analyzer: DeviceAnalyzer
    seq: int
    key: str
    state_seq: int | None
    used: float


class LiveAnalyzers:
    def __init__(self, states: AnalysisStates, read_frame: Callable[[Row], bytes], analysis_width: int):
        self.states = states
        self.read_frame = read_frame
        self.analysis_width = analysis_width
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def take(self, device_id: str, saved: SavedState, specs: list[RoiSpec], thresholds: Thresholds) -> DeviceAnalyzer:
        """The analyzer at `saved.last_applied_seq` with the current ROIs (the caller owns it now)."""
        key = specs_key(specs, thresholds)
        with self._lock:
            entry = self._entries.pop(device_id, None)
        if entry is not None and entry.seq == saved.last_applied_seq:
            analyzer, built_key = entry.analyzer, entry.key
        else:
            analyzer, built_key = self._rebuild(device_id, saved, key)
        if built_key != key:  # ROIs or thresholds changed: changed ROIs restart, the others go on
            analyzer = DeviceAnalyzer.from_state(analyzer.to_state(), specs, thresholds)
        return analyzer

    def put(self, device_id: str, analyzer: DeviceAnalyzer, seq: int, key: str, state_seq: int | None) -> None:
        with self._lock:
            self._entries[device_id] = _Entry(analyzer, seq, key, state_seq, time.monotonic())

    def checkpoint_due(self, saved: SavedState, seq: int, key: str) -> bool:
        return (saved.state is None or saved.state_seq is None or saved.rois_key != key
                or seq - saved.state_seq >= CHECKPOINT_EVERY)

    def unsaved(self, idle_s: float) -> list[str]:
        """Devices whose in-memory analyzer is ahead of its checkpoint and idle for idle_s."""
        now = time.monotonic()
        with self._lock:
            return [device_id for device_id, e in self._entries.items()
                    if e.seq != e.state_seq and now - e.used >= idle_s]

    def save_checkpoint(self, device_id: str) -> None:
        """Write the in-memory analyzer as the checkpoint (call holding the device's gate)."""
        with self._lock:
            entry = self._entries.get(device_id)
        if entry is None or entry.seq == entry.state_seq:
            return
        if self.states.checkpoint(device_id, entry.seq, (entry.analyzer.to_state(), entry.key)):
            entry.state_seq = entry.seq
        else:  # another process moved the device on; our copy is stale
            with self._lock:
                self._entries.pop(device_id, None)

    def forget(self, device_id: str) -> None:
        with self._lock:
            self._entries.pop(device_id, None)

    def _rebuild(self, device_id: str, saved: SavedState, current_key: str) -> tuple[DeviceAnalyzer, str]:
        key = saved.rois_key or current_key
        specs, thresholds = specs_from_key(key)
        analyzer = DeviceAnalyzer(specs, thresholds)
        if saved.state:
            try:
                analyzer = DeviceAnalyzer.from_state(saved.state, specs, thresholds)
            except StateError:
                log.exception("the analysis checkpoint of %s is unreadable; it warms up again", device_id)
                return DeviceAnalyzer(specs, thresholds), key
        if saved.state_seq is not None and saved.last_applied_seq is not None:
            self._replay(device_id, analyzer, saved.state_seq, saved.last_applied_seq)
        return analyzer, key

    def _replay(self, device_id: str, analyzer: DeviceAnalyzer, after_seq: int, upto_seq: int) -> None:
        frames = self.states.applied_frames(device_id, after_seq, upto_seq)
        for capture in frames:
            try:
                gray = decode_gray(self.read_frame(capture), self.analysis_width)
            except (FileNotFoundError, ImageDecodeError):
                log.warning("replaying %s: frame seq %s is gone; its analysis skips it", device_id, capture["seq"])
                continue
            analyzer.feed(gray, capture["capture_epoch"], capture["id"])
        if frames:
            log.info("rebuilt the analysis of %s from its checkpoint and %d frame(s)", device_id, len(frames))
