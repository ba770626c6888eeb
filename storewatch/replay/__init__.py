"""What-if replay: the analysis run again over the frames it saw, with other thresholds.

The worker keeps each device's analysis-size frames (`keeper.FrameKeeper`, in the segment
files of `segments`) for `replay_days`; `replay` feeds them through the same analysis code
(`engine`) and sets the would-be events beside the events that were and the owner's review
of them (`report`); `suggest` searches a bounded set of thresholds (`suggest`). Each takes
`progress(done, total)` and `cancelled()` callables and holds one frame at a time.
"""

from __future__ import annotations

from collections.abc import Callable

from storewatch.appliance import Appliance
from storewatch.errors import InvalidInput, NoFramesKept
from storewatch.replay import engine, refill, segments
from storewatch.replay.engine import ReplayCancelled
from storewatch.replay.report import ReplayReport, live_events
from storewatch.store.events import epoch_to_ts
from storewatch.replay.suggest import Suggestion, suggest

__all__ = ["ReplayCancelled", "ReplayReport", "Suggestion", "kept_range", "replay", "suggest"]


def replay(appliance: Appliance, device_id: str, since: float, until: float,
           overrides: dict[str, float] | None = None, roi_id: int | None = None, *,
           progress: Callable[[int, int], None] | None = None,
           cancelled: Callable[[], bool] | None = None, legs: int | None = None) -> ReplayReport:
    """Replay `device_id`'s kept frames captured in [since, until) (unix seconds) with
    `overrides` (threshold name -> value) on every ROI, or only on `roi_id`; compare.
    `legs`: parts run at once (see `parallel`; default one per idle core, at most MAX_LEGS)."""
    overrides = check_request(appliance, device_id, since, until, overrides, roi_id)
    run = engine.run(appliance.data_dir, device_id, since, until, overrides, roi_id, roi_names(appliance, device_id),
                     progress, cancelled, legs, lambda files, skip: refill.lost_frames(appliance, device_id, files, skip))
    if run.frames == 0:
        kept = kept_range(appliance, device_id)
        where = "none are kept yet" if kept is None else f"they run from {epoch_to_ts(kept[0])} to {epoch_to_ts(kept[1])}"
        raise NoFramesKept(f"no frames of {device_id} kept for replay lie in this span; {where}")
    live = live_events(appliance, device_id, since, until, roi_id)
    replayed = [e for e in run.events if roi_id is None or any(r["roi_id"] == roi_id for r in e["rois"])]
    return ReplayReport(device_id, since, until, overrides, run.frames, replayed, live, roi_id, run.scores,
                        run.started_ts, run.fed, run.parts)


def kept_range(appliance: Appliance, device_id: str) -> tuple[float, float] | None:
    """The capture times of the device's first and last kept frame, or None."""
    files = segments.segment_files(appliance.data_dir, device_id)
    first = next((r.ts for path in files for r in segments.scan(path, payloads="") if r.kind == "F"), None)
    if first is None:
        return None
    for path in reversed(files):
        last = None
        for record in segments.scan(path, payloads=""):
            if record.kind == "F":
                last = record.ts
        if last is not None:
            return first, last
    return None


def roi_names(appliance: Appliance, device_id: str) -> dict[int, str]:
    return {row["id"]: row["name"] for row in appliance.rois.list(device_id)}


def check_request(appliance: Appliance, device_id: str, since: float, until: float,
                  overrides: dict[str, float] | None, roi_id: int | None) -> dict[str, float]:
    """The device must exist, the span be ordered, the overrides valid: else a clear error."""
    from storewatch.analysis.thresholds import Thresholds

    appliance.devices.get(device_id)  # DeviceNotFound
    if not (isinstance(since, (int, float)) and isinstance(until, (int, float)) and since < until):
        raise InvalidInput(f"since must be before until (got {since!r} and {until!r})")
    if roi_id is not None and roi_id not in roi_names(appliance, device_id):
        from storewatch.errors import RoiNotFound

        raise RoiNotFound(f"device {device_id} has no ROI {roi_id}")
    try:
        Thresholds.from_overrides(overrides or {}, None)
    except ValueError as exc:
        if "must not exceed" not in str(exc):
            raise InvalidInput(str(exc)) from None
    return dict(overrides or {})
