"""A replay in parts at once (replay/parallel.py) is the serial replay, to the last field: with
the thresholds of the time (the parts meet at once), with an override the parts meet later on,
with one whose parts never meet (the run goes on serially), in three parts, with a part whose
process fails; and it can be cancelled, leaving no process behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import replay as rig

from storewatch.analysis.decode import decode_gray
from storewatch.analysis.device_analyzer import DeviceAnalyzer, RoiSpec
from storewatch.analysis.thresholds import Thresholds
from storewatch.jobs.live import specs_key
from storewatch.jobs.processor import ANALYSIS_WIDTH
from storewatch.replay import ReplayCancelled, engine, parallel, segments
from storewatch.replay.keeper import as_analysed

START = rig.START
LOOPS = 4  # the session four times over, each a minute and a half later: about 680 frames
STATE_EVERY = 60


@pytest.fixture(scope="module")
def kept(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session kept as the worker keeps it (a state every STATE_EVERY frames), looped."""
    folder = tmp_path_factory.mktemp("parallel")
    session = rig.render()
    frames = [as_analysed(decode_gray(jpeg, ANALYSIS_WIDTH)) for jpeg in session.jpegs]
    specs = [RoiSpec(n + 1, polygon) for n, (_, polygon) in enumerate(rig.session_script().rois)]
    analyzer, key = DeviceAnalyzer(specs), specs_key(specs, Thresholds())
    writer = segments.SegmentWriter(folder)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(segments, "STATE_EVERY", STATE_EVERY)
        for loop in range(LOOPS):
            for n, (t, pixels) in enumerate(zip(session.times, frames)):
                seq = loop * len(frames) + n
                ts = START + loop * (session.times[-1] + 30.0) + t
                writer.append("cam", seq, ts, 1000 + seq, pixels, key, analyzer.to_state)
                analyzer.feed(pixels, ts, 1000 + seq)
    writer.close()
    return folder


@pytest.fixture(autouse=True)
def short_legs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "MIN_LEG", 2 * STATE_EVERY)
    monkeypatch.setattr(parallel, "OVERLAP", STATE_EVERY)
    monkeypatch.setattr(parallel, "MAX_LEGS", 3)


def _both(folder: Path, overrides: dict | None, legs: int) -> tuple[engine.Run, engine.Run]:
    since, until = START + 20.0, START + 10_000.0
    return (engine.run(folder, "cam", since, until, overrides, legs=1),
            engine.run(folder, "cam", since, until, overrides, legs=legs))


def _fields(run: engine.Run) -> tuple:
    return run.events, run.scores, run.frames, run.fed, run.started_ts


@pytest.mark.parametrize("legs", [2, 3])
def test_with_the_thresholds_of_the_time_the_parts_meet_at_their_states_and_the_run_is_the_serial_one(
        kept: Path, legs: int) -> None:
    serial, parts = _both(kept, None, legs)
    assert len(serial.events) >= 4 * LOOPS and serial.fed > 600
    assert _fields(parts) == _fields(serial)
    assert (serial.parts, parts.parts) == (1, legs)


def test_with_an_override_the_parts_meet_later_on_and_the_run_is_the_serial_one(kept: Path) -> None:
    serial, parts = _both(kept, {"start_threshold": 0.1, "quiet_seconds": 1.5}, 3)
    assert _fields(parts) == _fields(serial)
    assert parts.parts > 1  # the parts started clean at their states met the run after a visit


def test_parts_that_never_meet_leave_the_serial_run(kept: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "CHECKPOINT", 10**9)  # no digests taken here: nothing to meet at
    serial, parts = _both(kept, {"end_threshold": 0.02}, 3)
    assert _fields(parts) == _fields(serial) and parts.parts == 1


def test_a_part_whose_process_fails_is_run_here(kept: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "LEG_MODULE", "storewatch.replay.no_such_module")
    serial, parts = _both(kept, None, 2)
    assert _fields(parts) == _fields(serial) and parts.parts == 1


def test_a_parallel_replay_is_cancelled_with_its_processes(kept: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[parallel._Child] = []
    real = parallel._Child.__init__

    def spy(self: parallel._Child, request: dict) -> None:
        real(self, request)
        started.append(self)

    monkeypatch.setattr(parallel._Child, "__init__", spy)
    seen: list[int] = []
    with pytest.raises(ReplayCancelled):
        engine.run(kept, "cam", START, START + 10_000.0, legs=3, progress=lambda done, total: seen.append(done),
                   cancelled=lambda: len(seen) >= 3)
    assert len(started) == 2 and all(child.proc.poll() is not None for child in started)


def test_a_trackers_stable_since_outside_the_warm_up_and_restlessness_changes_nothing(kept: Path) -> None:
    """What the parts' meeting relies on (state_codec.digest leaves it out in those states)."""
    records = list(engine.positioned(segments.segment_files(kept, "cam"), 0, 0))
    runs = []
    for shift in (0.0, 12345.0):
        feeder = engine.Feeder(START, START + 10_000.0, None, None, None)
        steps = []
        for pos, record, frame in records:
            for step in feeder.take(pos, record, frame):
                steps.append(step)
                if len(steps) % 7:
                    continue
                for tracker in feeder.analyzer.trackers.values():
                    if tracker.state not in ("warming", "restless") and tracker.stable_since is not None:
                        tracker.stable_since += shift
        runs.append([(s.scores, s.events, s.wants_burst) for s in steps])
    assert runs[0] == runs[1]


@pytest.mark.parametrize(("cores", "load", "legs"), [(2, 0.2, 2), (2, 1.2, 1), (2, 6.0, 1), (4, 0.5, 3), (1, 0.0, 1)])
def test_a_replay_runs_one_leg_per_idle_core(monkeypatch: pytest.MonkeyPatch, cores: int, load: float,
                                            legs: int) -> None:
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: cores)
    monkeypatch.setattr(parallel.os, "getloadavg", lambda: (load, load, load))
    assert parallel.default_legs() == legs


def test_the_legs_run_at_the_replays_lower_priority(kept: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import threading

    from storewatch.replay.priority import REPLAY_NICE, lower_priority

    nices: list[int] = []
    real = parallel._Child.__init__

    def spy(self: parallel._Child, request: dict) -> None:
        real(self, request)
        nices.append(os.getpriority(os.PRIO_PROCESS, self.proc.pid))

    monkeypatch.setattr(parallel._Child, "__init__", spy)
    done: list[engine.Run] = []

    def replay_below() -> None:  # as `storewatch replay` and the panel's replay process run it
        lower_priority()
        done.append(engine.run(kept, "cam", START, START + 10_000.0, legs=2))

    thread = threading.Thread(target=replay_below)
    thread.start()
    thread.join(120)
    assert done and done[0].parts == 2
    assert nices and all(nice >= REPLAY_NICE for nice in nices)
