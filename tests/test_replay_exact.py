"""A replay with the thresholds in force at the time gives exactly the live events: over a
session of the simulated shelf recorded by a real `storewatch worker` (its Huey consumer)
that is SIGKILLed mid-session and restarted, with an ROI's thresholds changed on the way."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import replay as rig

from storewatch.appliance import Appliance
from storewatch.replay import engine, kept_range, replay, segments

pytestmark = pytest.mark.slow  # kills and restarts a real storewatch worker: scripts/test --fast leaves it out

CHANGE_AT, KILL_AT = 60, 78  # the second visit is over; the third (a take, 37-40 s) is under way


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("replay-session")
    session = rig.render()
    appliance = Appliance(folder / "data")
    device_id = appliance.devices.add("cam", "cam")[0]
    rig.add_rois(appliance, device_id)
    outcome = rig.record_session(appliance, device_id, session, folder / "worker.log", CHANGE_AT, KILL_AT,
                                 {"start_threshold": 0.05, "quiet_seconds": 1.5})
    yield appliance, device_id, session, outcome
    appliance.close()


def test_the_session_was_recorded_across_a_kill_a_restart_and_a_threshold_change(recorded) -> None:
    appliance, device_id, session, outcome = recorded
    assert "rebuilt the analysis of cam from its checkpoint" in outcome["log"]  # the restart's catch-up ran
    assert appliance.db.scalar("SELECT COUNT(*) FROM jobs WHERE state != 'done' OR late = 1") == 0
    files = segments.segment_files(appliance.data_dir, device_id)
    assert len(files) == 2  # the restarted worker started a segment of its own
    assert kept_range(appliance, device_id) == (rig.START, session.end)


def test_a_replay_with_the_thresholds_of_the_time_reproduces_every_live_event_exactly(recorded) -> None:
    appliance, device_id, session, _ = recorded
    report = replay(appliance, device_id, rig.START, session.end + 1)
    kinds = [entry["kind"] for entry in report.comparison]
    assert len(report.live) >= 4 and kinds == ["same"] * len(report.live), report.summary
    assert report.exact  # times to the ms, ROIs, verdicts, decisions, boxes, scores
    verdicts = {roi["verdict"] for event in report.live for roi in event["rois"]}
    assert {"taken", "placed"} <= verdicts
    assert report.frames == len(session.jpegs)
    assert report.to_json()["summary"].startswith(f"with these settings: {len(report.live)} events instead of"
                                                  f" {len(report.live)}")


def test_live_scores_are_the_replayed_scores(recorded) -> None:
    appliance, device_id, session, _ = recorded
    report = replay(appliance, device_id, rig.START, session.end + 1)
    live = {(row["roi_id"], row["ts"]): row["score"] for row in
            appliance.db.query("SELECT roi_id, ts, score FROM roi_scores WHERE device_id = ?", (device_id,))}
    replayed = {(p["roi_id"], p["ts"]): p["score"] for p in report.scores}
    assert replayed == live


def test_a_replay_of_a_window_inside_the_session_starts_from_the_kept_state_and_is_exact(recorded) -> None:
    appliance, device_id, session, _ = recorded
    since = rig.START + session.times[KILL_AT - 20]
    report = replay(appliance, device_id, since, session.end + 1)
    assert report.live and report.exact
    assert report.started_ts is not None and report.started_ts <= since


def test_a_replay_from_the_state_the_restarted_worker_kept_is_exact(recorded, monkeypatch) -> None:
    appliance, device_id, session, outcome = recorded
    monkeypatch.setattr(engine, "WARMUP_S", 0.0)  # start at the latest state before since: the restart's
    since = rig.START + session.times[KILL_AT + 6]
    report = replay(appliance, device_id, since, session.end + 1)
    second = segments.segment_files(appliance.data_dir, device_id)[1]
    assert report.started_ts == next(r.ts for r in segments.scan(second, payloads="") if r.kind == "A")
    assert report.frames < len(session.jpegs) - KILL_AT + 2
    assert len(report.live) >= 2 and report.exact


def test_other_thresholds_give_other_events_beside_the_same_live_ones(recorded) -> None:
    appliance, device_id, session, _ = recorded
    silent = {"start_threshold": 1.0, "min_active_frames": 20}  # 10 s of a whole ROI changing: no reach is that
    report = replay(appliance, device_id, rig.START, session.end + 1, silent)
    assert not report.exact and {e["kind"] for e in report.comparison} - {"same"}
    assert report.summary.startswith(f"with these settings: {len(report.replayed)} event")
    assert f" instead of {len(report.live)};" in report.summary


def test_kept_frames_lost_to_a_damaged_record_are_made_again_from_staging_and_the_replay_stays_exact(
        recorded) -> None:
    appliance, device_id, session, _ = recorded
    first = segments.segment_files(appliance.data_dir, device_id)[0]
    original = first.read_bytes()
    frames = [r for r in segments.scan(first, payloads="") if r.kind == "F"]
    damaged = _payload_offset(first, frames[30].seq)
    try:
        first.write_bytes(original[:damaged] + bytes([original[damaged] ^ 0xFF]) + original[damaged + 1:])
        unrefilled = engine.run(appliance.data_dir, device_id, rig.START, session.end + 1)
        assert unrefilled.frames < len(session.jpegs)  # the rest of that segment is unreadable
        report = replay(appliance, device_id, rig.START, session.end + 1)
        assert report.frames == len(session.jpegs)
        assert report.live and report.exact, report.summary
    finally:
        first.write_bytes(original)


def _payload_offset(path: Path, seq: int) -> int:
    """Where the payload of the frame record of `seq` starts in a segment file."""
    data, offset = path.read_bytes(), len(segments.MAGIC)
    while True:
        kind, length, _, record_seq, _ = segments._HEAD.unpack_from(data, offset)
        if kind == b"F" and record_seq == seq:
            return offset + segments._HEAD.size + segments._FRAME.size
        offset += segments._HEAD.size + length
