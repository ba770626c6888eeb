"""Every tunable of the analysis, with its default and allowed range.

The app stores per-ROI overrides as JSON and global defaults in settings, so the
field names here are API names: snake_case, stable, documented in `HELP`.
Scores are fractions of the ROI's area (0..1) whose cells changed; times are
seconds of capture time.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Mapping


@dataclass(frozen=True)
class Thresholds:
    start_threshold: float = 0.06
    end_threshold: float = 0.03
    min_active_frames: int = 2
    quiet_seconds: float = 2.0
    max_duration_seconds: float = 300.0
    # Unused since visits (analysis/visit.py) end on the frame the view is quiet again; kept so
    # saved settings and ROI overrides that name it stay valid.
    merge_gap_seconds: float = 2.0
    reference_refresh_seconds: float = 10.0
    cell_change: float = 0.5
    change_threshold: float = 0.5
    min_changed_area: float = 0.01
    flat_contrast: float = 4.0
    dark_level: float = 12.0
    brightness_change: float = 0.7
    lighting_delta: float = 0.15
    lighting_area: float = 0.5
    lighting_structure_max: float = 0.3
    lighting_consistency: float = 0.65
    lighting_max_seconds: float = 10.0

    @classmethod
    def from_overrides(cls, overrides: Mapping[str, Any] | None, base: "Thresholds | None" = None) -> "Thresholds":
        """`base` (default: the defaults) with `overrides` applied, validated.

        Raises ValueError naming the field and its allowed range.
        """
        base = base if base is not None else cls()
        known = {f.name: f.type for f in fields(cls)}
        changes: dict[str, Any] = {}
        for name, raw in (overrides or {}).items():
            if name not in known:
                raise ValueError(f"unknown threshold {name!r}; known: {', '.join(sorted(known))}")
            changes[name] = _check(name, raw)
        result = replace(base, **changes)
        if result.end_threshold > result.start_threshold:
            raise ValueError(
                f"end_threshold ({result.end_threshold}) must not exceed start_threshold ({result.start_threshold})")
        return result

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


BOUNDS: dict[str, tuple[float, float]] = {
    "start_threshold": (0.001, 1.0),
    "end_threshold": (0.0, 1.0),
    "min_active_frames": (1, 20),
    "quiet_seconds": (0.0, 600.0),
    "max_duration_seconds": (1.0, 86400.0),
    "merge_gap_seconds": (0.0, 600.0),
    "reference_refresh_seconds": (0.0, 86400.0),
    "cell_change": (0.05, 1.0),
    "change_threshold": (0.05, 1.0),
    "min_changed_area": (0.0, 1.0),
    "flat_contrast": (0.5, 50.0),
    "dark_level": (0.0, 128.0),
    "brightness_change": (0.1, 5.0),
    "lighting_delta": (0.02, 2.0),
    "lighting_area": (0.05, 1.0),
    "lighting_structure_max": (0.0, 1.0),
    "lighting_consistency": (0.0, 1.0),
    "lighting_max_seconds": (0.0, 3600.0),
}

HELP: dict[str, str] = {
    "start_threshold": "ROI area fraction that must differ from the settled reference to start an interaction.",
    "end_threshold": "Frame-to-frame ROI area fraction below which the ROI counts as quiet.",
    "min_active_frames": "Consecutive frames needed to start an interaction: the first above start_threshold, the rest above half of it.",
    "quiet_seconds": "Quiet time before an interaction (or the warm-up reference) counts as settled.",
    "max_duration_seconds": "An interaction still active after this long is closed and the reference re-based.",
    "merge_gap_seconds": "Not used any more: a visit ends as soon as every touched ROI has settled with nobody in view.",
    "reference_refresh_seconds": "While idle and quiet, the reference is refreshed from the frame at most this often.",
    "cell_change": "Per-cell dissimilarity (0..1) above which a cell counts as changed when scoring activity.",
    "change_threshold": "Per-cell dissimilarity (0..1) above which a cell counts as changed in the inventory decision.",
    "min_changed_area": "ROI area fraction of changed cells needed to report an inventory change.",
    "flat_contrast": "Cell standard deviation (grey levels) treated as noise: flatter cells have no structure to compare.",
    "dark_level": "Cell mean (grey levels) below which a cell is too dark to judge.",
    "brightness_change": "Log brightness ratio, beyond the ROI's common lighting change, that marks a cell as changed.",
    "lighting_delta": "Log brightness ratio at which a cell counts as re-lit for lighting detection.",
    "lighting_area": "Fraction of the frame that must be re-lit together to report a lighting change.",
    "lighting_structure_max": "Largest fraction of the frame whose structure may change in a lighting change.",
    "lighting_consistency": "Share of re-lit cells whose brightness must change by about the same ratio.",
    "lighting_max_seconds": "A lighting change that has not settled after this long is re-based anyway.",
}

_INTEGER_FIELDS = {"min_active_frames"}


def _check(name: str, raw: Any) -> float | int:
    low, high = BOUNDS[name]
    kind = "a whole number" if name in _INTEGER_FIELDS else "a number"
    message = f"{name} must be {kind} between {low:g} and {high:g}, not {raw!r}"
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise ValueError(message)
    if not math.isfinite(raw) or not low <= raw <= high:
        raise ValueError(message)
    if name in _INTEGER_FIELDS:
        if isinstance(raw, float) and not raw.is_integer():
            raise ValueError(message)
        return int(raw)
    return float(raw)
