"""The replay engine against a direct run of the analysis over the same frames: a visit open
across an hour's segment boundary, a frame kept twice, specs changing mid-run."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import replay as rig

from storewatch.analysis.decode import decode_gray
from storewatch.analysis.device_analyzer import DeviceAnalyzer, RoiSpec
from storewatch.analysis.thresholds import Thresholds
from storewatch.analysis.transitions import VisitEnded
from storewatch.jobs.live import specs_key
from storewatch.jobs.processor import ANALYSIS_WIDTH
from storewatch.replay import engine, segments
from storewatch.replay.keeper import as_analysed

HOUR = 1_790_002_800.0  # 2026-09-21T15:00:00Z
START = HOUR - 39.0     # the take on the middle shelf (37.5-40 s) is open across 15:00


@pytest.fixture(scope="module")
def decoded() -> list:
    session = rig.render()
    return [(START + t, as_analysed(decode_gray(jpeg, ANALYSIS_WIDTH))) for t, jpeg in zip(session.times, session.jpegs)]


def specs() -> list[RoiSpec]:
    return [RoiSpec(n + 1, polygon) for n, (_, polygon) in enumerate(rig.session_script().rois)]


def live_run(frames: list, tmp: Path, change_at: int | None = None) -> list[tuple]:
    """The worker's way: keep each frame, then feed it; a spec change rebuilds as jobs.live does."""
    current, device = specs(), Thresholds()
    analyzer = DeviceAnalyzer(current, device)
    writer = segments.SegmentWriter(tmp)
    found = []
    for n, (ts, pixels) in enumerate(frames):
        if n == change_at:
            current = [current[0], RoiSpec(2, current[1].polygon, Thresholds(start_threshold=0.04)), current[2]]
            analyzer = DeviceAnalyzer.from_state(analyzer.to_state(), current, device)
        writer.append("cam", n, ts, 100 + n, pixels, specs_key(current, device), analyzer.to_state)
        if n == 40:  # a job run again after a failure keeps its frame a second time
            writer.append("cam", n, ts, 100 + n, pixels, specs_key(current, device), analyzer.to_state)
        found += [_key(t) for t in analyzer.feed(pixels, ts, 100 + n).transitions if isinstance(t, VisitEnded)]
    writer.close()
    return found


def _key(ended: VisitEnded) -> tuple:
    return ended.start_ts, ended.end_ts, tuple((o.roi_id, o.verdict) for o in ended.rois)


def replayed(tmp: Path, since: float, until: float) -> list[tuple]:
    run = engine.run(tmp, "cam", since, until)
    return [(e["start_epoch"], e["end_epoch"], tuple((r["roi_id"], r["verdict"]) for r in
                                                     sorted(e["rois"], key=lambda r: r["roi_id"]))) for e in run.events]


def _sorted(events: list[tuple]) -> list[tuple]:
    return [(a, b, tuple(sorted(rois))) for a, b, rois in events]


def test_a_visit_open_across_the_hours_segment_boundary_replays_as_it_ran(decoded, tmp_path: Path) -> None:
    live = live_run(decoded, tmp_path)
    assert [p.name for p in segments.segment_files(tmp_path, "cam")] == ["20260921T14-0.swr", "20260921T15-78.swr"]
    across = [e for e in live if e[0] < HOUR < e[1]]
    assert across, "the scene should hold a visit open across 15:00"
    assert replayed(tmp_path, START, decoded[-1][0] + 1) == _sorted(live)
    # a span ending inside that visit still gives it: the run goes on until it is over
    assert replayed(tmp_path, across[0][0], HOUR) == _sorted(across)


def test_a_spec_change_mid_run_applies_where_the_worker_met_it(decoded, tmp_path: Path) -> None:
    live = live_run(decoded, tmp_path, change_at=60)
    assert replayed(tmp_path, START, decoded[-1][0] + 1) == _sorted(live)


def test_a_replay_holds_a_frame_at_a_time_not_the_span(decoded, tmp_path: Path) -> None:
    import tracemalloc

    writer = segments.SegmentWriter(tmp_path)
    key = specs_key(specs(), Thresholds())
    analyzer = DeviceAnalyzer(specs())
    loops = 3  # 525 frames: 40 MB as arrays
    for n in range(len(decoded) * loops):
        ts, pixels = decoded[n % len(decoded)]
        writer.append("cam", n, ts + (n // len(decoded)) * 100.0, n, pixels, key, analyzer.to_state)
    writer.close()
    tracemalloc.start()
    try:
        run = engine.run(tmp_path, "cam", START, START + loops * 100.0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert run.frames == len(decoded) * loops
    assert peak < 10 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB while replaying {run.frames} frames"
