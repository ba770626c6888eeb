"""Serialize a DeviceAnalyzer's state to compact bytes and back.

The format is an npz archive (no pickle): a JSON header of scalars plus uint8 images
(each distinct frame crop once) and the lighting detector's small float arrays.
A restored analyzer continues exactly like one that was never interrupted. ROIs
whose polygon or thresholds differ from the saved ones start afresh. A state saved
before visits existed has no visit: its engaged ROIs open one on the next frame.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict, fields
from typing import Any

import numpy as np

from storewatch.analysis.scoring import CELL
from storewatch.analysis.tracker import RESTLESS, WARMING, RoiTracker, _Image, _Interaction
from storewatch.analysis.visit import Visit

VERSION = 1
_IMAGE_SLOTS = ("ref", "prev", "pre")
# The same frames with their margin band (see RoiGrid.wide_crop); a state saved before
# they existed has none, and its tracker settles without the arm test until its next reference.
_WIDE_SLOTS = {"ref": "ref_wide", "pre": "pre_wide"}


# The tracker states that read stable_since; every way into them sets it first (the warm-up
# starts with no previous frame, turning restless sets it), so in the others it is a
# leftover that two runs which otherwise agree need not share.
_TIMED_STILLNESS = (WARMING, RESTLESS)


class StateError(ValueError):
    """The bytes are not a state this version can restore."""


def encode(analyzer: Any) -> bytes:
    header, arrays = _contents(analyzer)
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    out = io.BytesIO()
    np.savez_compressed(out, **arrays)
    return out.getvalue()


def digest(analyzer: Any) -> bytes:
    """A hash of what `encode` saves, without its compression: two analyzers with the same
    digest continue alike (a parallel replay checks with it where its parts meet)."""
    header, arrays = _contents(analyzer)
    for roi in header["rois"]:
        if roi["state"] not in _TIMED_STILLNESS:
            roi["stable_since"] = None  # not read again before it is set anew (see _TIMED_STILLNESS)
    h = hashlib.blake2b(json.dumps(header, sort_keys=True).encode(), digest_size=20)
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        h.update(f"{name}:{array.dtype.str}:{array.shape}".encode())
        h.update(array.data)
    return h.digest()


def _contents(analyzer: Any) -> tuple[dict, dict[str, np.ndarray]]:
    arrays: dict[str, np.ndarray] = {}
    light = analyzer.lighting
    if light.snapshot is not None:
        arrays["light_snapshot"] = light.snapshot
    if light.prev_mean is not None:
        arrays["light_prev_mean"] = light.prev_mean
    header = {
        "version": VERSION,
        "shape": list(analyzer.shape) if analyzer.shape else None,
        "unstable_since": light.unstable_since,
        "light_frame_ids": [light.last_frame_id, light.before_frame_id],
        "visit": None if analyzer.visits.current is None else asdict(analyzer.visits.current),
        "rois": [_encode_tracker(analyzer.rois[roi_id], t, arrays) for roi_id, t in analyzer.trackers.items()],
    }
    return header, arrays


def decode(data: bytes, analyzer: Any) -> Any:
    """Load `data` into a freshly built `analyzer` (its ROIs are the current ones)."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        header = json.loads(arrays.pop("header").tobytes())
    except (OSError, ValueError, KeyError) as exc:
        raise StateError(f"unreadable analysis state: {exc}") from None
    if header.get("version") != VERSION:
        raise StateError(f"analysis state version {header.get('version')} is not {VERSION}")
    if header["shape"] is None:
        return analyzer
    analyzer._restart(tuple(header["shape"]))
    light = analyzer.lighting
    light.snapshot = arrays.get("light_snapshot")
    light.prev_mean = arrays.get("light_prev_mean")
    light.unstable_since = header["unstable_since"]
    light.last_frame_id, light.before_frame_id = header.get("light_frame_ids", (None, None))
    for saved in header["rois"]:
        roi = analyzer.rois.get(saved["id"])
        if roi is not None and _same_spec(roi, saved):
            _decode_tracker(analyzer.trackers[roi.id], saved, arrays)
    visit = header.get("visit")
    analyzer.visits.current = None if visit is None else Visit(**visit)
    return analyzer


def _same_spec(roi: Any, saved: dict) -> bool:
    polygon = tuple(tuple(p) for p in saved["polygon"])
    return polygon == roi.polygon and saved["thresholds"] == roi.thresholds.to_dict()


def _encode_tracker(roi: Any, t: RoiTracker, arrays: dict[str, np.ndarray]) -> dict:
    images = {}
    for slot in _IMAGE_SLOTS:
        img = getattr(t, slot)
        if img is not None:
            images[slot] = img.frame_id
            arrays.setdefault(f"roi{t.roi_id}_f{img.frame_id}", img.pixels)
    wide = {}
    for slot, attr in _WIDE_SLOTS.items():
        img, pixels = getattr(t, slot), getattr(t, attr)
        if img is not None and pixels is not None:
            wide[slot] = img.frame_id
            arrays.setdefault(f"roi{t.roi_id}_w{img.frame_id}", _band_only(t.grid, pixels))
    return {
        "id": t.roi_id, "polygon": [list(p) for p in roi.polygon], "thresholds": roi.thresholds.to_dict(),
        "state": t.state, "stable_since": t.stable_since, "refreshed_ts": t.refreshed_ts,
        "settled_frame_id": t.settled_frame_id, "cand_count": t.cand_count, "images": images, "wide": wide,
        "cand": _encode_interaction(t.cand), "current": _encode_interaction(t.current),
    }


def _decode_tracker(t: RoiTracker, saved: dict, arrays: dict[str, np.ndarray]) -> None:
    for slot, frame_id in saved["images"].items():
        setattr(t, slot, _Image(arrays[f"roi{t.roi_id}_f{frame_id}"], frame_id))
    for slot, frame_id in saved.get("wide", {}).items():
        setattr(t, _WIDE_SLOTS[slot], _with_crop(t.grid, arrays[f"roi{t.roi_id}_w{frame_id}"], getattr(t, slot)))
    t.state = saved["state"]
    t.stable_since = saved["stable_since"]
    t.refreshed_ts = saved["refreshed_ts"]
    t.settled_frame_id = saved["settled_frame_id"]
    t.cand_count = saved["cand_count"]
    t.cand = _decode_interaction(saved["cand"])
    t.current = _decode_interaction(saved["current"])


def _inner(grid: Any) -> tuple[slice, slice]:
    """Where the ROI's own crop lies in its wide crop (pixels)."""
    w0, wc0, _, _ = grid.wide_cells()
    r0, c0, r1, c1 = grid.cells
    return slice((r0 - w0) * CELL, (r1 - w0) * CELL), slice((c0 - wc0) * CELL, (c1 - wc0) * CELL)


def _band_only(grid: Any, wide: np.ndarray) -> np.ndarray:
    """A wide crop with the ROI's crop zeroed: those pixels are saved already (its frame's crop)."""
    band = wide.copy()
    band[_inner(grid)] = 0
    return band


def _with_crop(grid: Any, band: np.ndarray, img: _Image) -> np.ndarray:
    wide = band.copy()
    wide[_inner(grid)] = img.pixels
    return wide


def _encode_interaction(i: _Interaction | None) -> dict | None:
    if i is None:
        return None
    return asdict(i)


_INTERACTION_FIELDS = frozenset(f.name for f in fields(_Interaction))


def _decode_interaction(data: dict | None) -> _Interaction | None:
    if data is None:
        return None
    # A state saved before visits carries a decision made on settling; the visit decides now.
    return _Interaction(**{k: v for k, v in data.items() if k in _INTERACTION_FIELDS})


