"""scripts/bench-latency keeps working: a tiny run reports every figure it promises.

One device at 5 frames/s against a real `storewatch run`, 320x240 frames, a compressed
baseline (2 s, burst held 3 s), two visits (a take, then the item put back): each visit is
seen from a baseline frame with a hand in it, gets its event, and has a latency, a burst
request and a visit-end moment consistent with its event's end_ts; the floor figures are
there. No speed is asserted: speed targets live in the benchmark's output, not in tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from types import ModuleType

import pytest

from support import REPO
from support.scripts import load_script

pytestmark = pytest.mark.slow  # runs a benchmark script end to end: scripts/test --fast leaves it out

SCRIPT = REPO / "scripts" / "bench-latency"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_script("bench-latency")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The script itself, as a user runs it, with its JSON written out."""
    out = tmp_path_factory.mktemp("latency") / "result.json"
    # A 3 s hold: the server asks for burst only while the hand frame's capture time + hold is ahead.
    args = ["--visits", "2", "--rates", "5", "--size", "320x240", "--baseline", "2", "--hold", "3", "--poll", "1",
            "--floor-frames", "4", "--label", "tiny", "--json", str(out)]
    done = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=150, cwd=REPO)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "visit end -> event row appears" in done.stdout
    return json.loads(out.read_text())


@pytest.mark.timeout(180)
def test_every_visit_is_found_with_its_latency_and_burst(tiny_run: dict) -> None:
    assert tiny_run["label"] == "tiny"
    (rate,) = tiny_run["rates"]
    assert rate["fps"] == 5.0 and len(rate["visits"]) == 2
    for visit, kind in zip(rate["visits"], ("take", "place")):
        assert visit["kind"] == kind
        # The camera was at its baseline rate when the visit came, and its first frame shows the hand.
        assert visit["first_frame_mode"] == "baseline" and visit["first_frame_hand"], visit
        assert visit["events"] >= 1 and visit["latency_s"] is not None, visit
        assert visit["burst_request_s"] is not None and visit["burst_request_s"] >= 0, visit
        assert visit["camera_burst_s"] is not None and visit["camera_burst_s"] > 0, visit
        # The visit-end moment is a frame the camera sent, quiet_seconds or a little more after end_ts.
        assert rate["quiet_s"] <= visit["visit_end"] - visit["end_ts"] + 0.001 < rate["quiet_s"] + 1.0, visit
        assert visit["hand_frame_epoch"] < visit["end_ts"], visit
    assert tiny_run["all"]["with_event"] == 2
    for figure in ("latency_s", "created_latency_s", "burst_request_s", "camera_burst_s"):
        summary = tiny_run["all"][figure]
        assert summary["n"] == 2 and summary["p50"] <= summary["p90"] <= summary["max"], (figure, summary)


@pytest.mark.timeout(180)
def test_the_floor_is_measured_in_the_same_run(tiny_run: dict) -> None:
    floor = tiny_run["floor"]
    assert floor["ingest_round_trip_s"]["n"] > 0 and floor["decode_analysis_s"]["n"] > 0
    assert 0 < floor["decode_s"]["p50"] <= floor["decode_analysis_s"]["p50"]
    assert floor["per_frame_s"] == pytest.approx(floor["ingest_round_trip_s"]["p50"]
                                                 + floor["decode_analysis_s"]["p50"], abs=0.002)
    assert tiny_run["rates"][0]["analysed_after_capture_s"]["n"] >= tiny_run["rates"][0]["frames"] - 1


def test_the_table_has_a_column_per_rate_and_one_for_all(bench: ModuleType, tiny_run: dict) -> None:
    lines = bench.table(tiny_run)
    assert lines[0] == "| | 5 fps | all |"
    rows = [line for line in lines if line.startswith("| ")]
    assert all(line.count("|") == lines[0].count("|") for line in rows)
    assert any("Floor, same run" in line for line in lines)


def test_a_visit_takes_then_puts_back_and_its_frames_know_the_hand(bench: ModuleType) -> None:
    first, segments = bench.build_segments(2, 2.0, (160, 120), 5.0)
    assert [s.kind for s in segments] == ["take", "place"] and segments[0].slot == segments[1].slot
    assert len(segments[0].jpegs) == 10 and any(segments[0].hands)
    # The frame the camera is given first (HAND_AFTER_S into the reach) shows the hand.
    assert segments[0].hands[int(bench.HAND_AFTER_S * 2.0)]
    assert len(first) == bench.QUIET_VARIANTS and segments[1].after != segments[0].after


def test_scripts_bench_carries_the_hand_written_section_over() -> None:
    report = load_script("bench")
    kept = report.kept_sections(REPO / "docs" / "PERFORMANCE.md", report.KEPT_SECTIONS)
    assert "## Visit latency: `scripts/bench-latency`" in kept.splitlines()
