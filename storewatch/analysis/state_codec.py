"""Serialize a DeviceAnalyzer's state to compact bytes and back.

The format is an npz archive (no pickle): a JSON header of scalars plus uint8 images
(each distinct frame crop once) and the lighting detector's small float arrays.
A restored analyzer continues exactly like one that was never interrupted. ROIs
whose polygon or thresholds differ from the saved ones start afresh.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict
from typing import Any

import numpy as np

from storewatch.analysis.inventory import InventoryDecision
from storewatch.analysis.tracker import RoiTracker, _Image, _Interaction

VERSION = 1
_IMAGE_SLOTS = ("ref", "prev", "pre")


class StateError(ValueError):
    """The bytes are not a state this version can restore."""


def encode(analyzer: Any) -> bytes:
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
        "rois": [_encode_tracker(analyzer.rois[roi_id], t, arrays) for roi_id, t in analyzer.trackers.items()],
    }
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    out = io.BytesIO()
    np.savez_compressed(out, **arrays)
    return out.getvalue()


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
    for saved in header["rois"]:
        roi = analyzer.rois.get(saved["id"])
        if roi is not None and _same_spec(roi, saved):
            _decode_tracker(analyzer.trackers[roi.id], saved, arrays)
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
    return {
        "id": t.roi_id, "polygon": [list(p) for p in roi.polygon], "thresholds": roi.thresholds.to_dict(),
        "state": t.state, "stable_since": t.stable_since, "refreshed_ts": t.refreshed_ts,
        "settled_frame_id": t.settled_frame_id, "cand_count": t.cand_count, "images": images,
        "cand": _encode_interaction(t.cand), "current": _encode_interaction(t.current),
    }


def _decode_tracker(t: RoiTracker, saved: dict, arrays: dict[str, np.ndarray]) -> None:
    for slot, frame_id in saved["images"].items():
        setattr(t, slot, _Image(arrays[f"roi{t.roi_id}_f{frame_id}"], frame_id))
    t.state = saved["state"]
    t.stable_since = saved["stable_since"]
    t.refreshed_ts = saved["refreshed_ts"]
    t.settled_frame_id = saved["settled_frame_id"]
    t.cand_count = saved["cand_count"]
    t.cand = _decode_interaction(saved["cand"])
    t.current = _decode_interaction(saved["current"])


def _encode_interaction(i: _Interaction | None) -> dict | None:
    if i is None:
        return None
    data = asdict(i)
    data["decision"] = None if i.decision is None else asdict(i.decision)
    return data


def _decode_interaction(data: dict | None) -> _Interaction | None:
    if data is None:
        return None
    data = dict(data)
    if data["decision"] is not None:
        d = data["decision"]
        data["decision"] = InventoryDecision(d["changed"], d["score"], tuple(d["box"]) if d["box"] else None,
                                             d.get("verdict"))  # a state saved before verdicts: from changed
    return _Interaction(**data)


