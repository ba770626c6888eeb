"""The whole appliance killed with SIGKILL at random moments, again and again.

`storewatch run` (server, analysis worker, retention, all in one process) is killed at
seeded random moments while three devices upload real shelf JPEGs and the worker analyses
them, then restarted, for ROUNDS rounds. The devices keep retrying like cameras do. After
a last clean run has drained everything, the data directory must hold every frame that
got a 2xx exactly once, with its file intact; every job must be done; the database must
pass integrity_check; disk and database must agree after retention; and the events, the
per-ROI scores and the last applied seqs must be exactly those of an uninterrupted run
of the same frames, also for frames sent after the last restart (which continue from the
state the crashes left).

STOREWATCH_CRASH_SEED picks other kill moments (the seed is in every failure message).
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest

from support import shelf_scenes
from support.servers import LiveServer, free_port, prepare_data_dir
from support.reliability import (Frame, FramePoster, disk_and_database_problems, frames_from, open_db,
                                 pending_jobs)
from storewatch.upkeep import disk_audit
from storewatch.appliance import Appliance
from storewatch.upkeep.retention import run_retention
from support.waiting import wait_for

pytestmark = pytest.mark.slow  # kills and restarts a real storewatch run: scripts/test --fast leaves it out

SEED = int(os.environ.get("STOREWATCH_CRASH_SEED", "7"))
ROUNDS = 10
DEVICES = ("cam-1", "cam-2", "cam-3")
ROIS = {"shelf-a": (2,), "shelf-b": (9,), "shelf-c": (4,)}
POST_INTERVAL_S = 0.15  # each device's frame rate while the server is up
KILLED_PART = 81  # frames sent during the kills; the rest after a clean restart


def shelf_frames(start_epoch: float) -> list[Frame]:
    """Four reaches (take, touch, place, take) of the rendered shelf: 108 frames, 0.5 s apart."""
    jpegs: list[bytes] = []
    for item, outcome in ((2, "take"), (9, "touch"), (4, "place"), (9, "take")):
        jpegs += shelf_scenes.reach_sequence(item, outcome, idle=6, after=14).jpegs
    return frames_from(jpegs, (640, 480), start_epoch)


def prepare(data_dir: Path) -> dict[str, str]:
    """Devices with three ROIs each; returns their tokens."""
    prepare_data_dir(data_dir)
    appliance = Appliance(data_dir)
    try:
        # A kill during a job counts as one of its attempts (a frame that crashes the process must
        # end dead, tested elsewhere); on a slow machine one job can be in hand at most kills, so
        # allowing more attempts than kills keeps this test about losing and duplicating nothing.
        appliance.settings.update({"job_max_attempts": ROUNDS + 1})
        tokens = {}
        for device_id in DEVICES:
            tokens[device_id] = appliance.devices.add(f"shelf {device_id}", device_id)[1]
            rois = appliance.rois
            for name, items in ROIS.items():
                rois.add(device_id, name, [list(p) for p in shelf_scenes.roi_around(*items)])
        return tokens
    finally:
        appliance.close()


def start_posters(url: str, tokens: dict[str, str], frames: list[Frame], interval_s: float) -> list[FramePoster]:
    posters = [FramePoster(url, device_id, token, frames, interval_s=interval_s, retry_s=0.1, timeout_s=10)
               for device_id, token in tokens.items()]
    for poster in posters:
        poster.start()
    return posters


def drain(server: LiveServer, posters: list[FramePoster], frames: int, what: str) -> None:
    """Wait for the uploads and the analysis to finish, then stop the server cleanly."""
    for poster in posters:
        poster.join(120)
        assert not poster.is_alive(), f"{what}: {poster.name} did not finish uploading"
    db = open_db(server.data_dir)
    try:
        wait_for(lambda: db.scalar("SELECT COUNT(*) FROM jobs") == frames and pending_jobs(db) == 0,
                   120, f"{what}: every job finished")
    finally:
        db.close()
    assert server.stop(signal.SIGTERM) == 0, server.log()[-3000:]


def outcome(data_dir: Path) -> dict[str, object]:
    """What the analysis left behind, keyed so that two runs can be compared."""
    db = open_db(data_dir)
    try:
        events = sorted(
            (r["device_id"], r["roi_name"], r["type"], r["start_ts"], r["end_ts"], r["decision"],
             r["peak_score"], r["decision_score"], r["box"], r["pictures"]) for r in db.query(
                "SELECT e.*, (SELECT group_concat(kind) FROM (SELECT kind FROM event_images i"
                " WHERE i.event_id = e.id ORDER BY kind)) AS pictures FROM events e"))
        scores = {(r["device_id"], r["seq"], r["roi_id"]): (r["score"], r["lighting"]) for r in db.query(
            "SELECT c.device_id, c.seq, s.roi_id, s.score, s.lighting FROM roi_scores s"
            " JOIN captures c ON c.id = s.capture_id")}
        states = {r["device_id"]: r["last_applied_seq"] for r in
                  db.query("SELECT device_id, last_applied_seq FROM analysis_state")}
        return {"events": events, "scores": scores, "states": states}
    finally:
        db.close()


def kill_rounds(server: LiveServer, rng: random.Random, posters: list[FramePoster]) -> list[str]:
    """SIGKILL at a random moment after each start; returns what each round hit."""
    notes = []
    for round_no in range(ROUNDS):
        time.sleep(rng.uniform(0.0, 2.5))
        uploading = sum(p.is_alive() for p in posters)
        db = open_db(server.data_dir)
        running = db.scalar("SELECT COUNT(*) FROM jobs WHERE state = 'running'")
        db.close()
        server.stop(signal.SIGKILL)
        notes.append(f"round {round_no}: {uploading} devices uploading, {running} jobs running")
        time.sleep(rng.uniform(0.0, 0.5))  # the devices meet a closed port meanwhile
        server.start()
    return notes


@pytest.mark.timeout(280)
def test_sigkill_at_random_moments_loses_and_duplicates_nothing(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(SEED)
    frames = shelf_frames(time.time() - 3600)
    context = f"(seed {SEED}; STOREWATCH_CRASH_SEED={SEED} reproduces the kill moments)"

    # The same frames, uninterrupted: what the analysis must come to.
    reference_dir = tmp_path / "reference"
    reference_dir.mkdir()
    tokens = prepare(reference_dir)
    reference = LiveServer(reference_dir, free_port(), ["--camera", "none"])
    reference.start()
    drain(reference, start_posters(reference.url, tokens, frames, 0.0), len(frames) * len(DEVICES), "reference")
    expected = outcome(reference_dir)
    assert expected["events"], "the reference run found no events; the scene is not exercising the analysis"

    data_dir = tmp_path / "crashed"
    data_dir.mkdir()
    tokens = prepare(data_dir)
    server = LiveServer(data_dir, free_port(), ["--camera", "none"])
    server.start()
    posters = start_posters(server.url, tokens, frames[:KILLED_PART], POST_INTERVAL_S)
    notes = kill_rounds(server, rng, posters)
    drain(server, posters, KILLED_PART * len(DEVICES), f"after the kills {context}")
    print("\n".join(notes))
    # The last frames after a clean restart: they continue from whatever state the
    # crashes left (a checkpoint plus the replay of the frames after it).
    server.start()
    tail = start_posters(server.url, tokens, frames[KILLED_PART:], 0.0)
    drain(server, tail, len(frames) * len(DEVICES), f"after the restart {context}")
    for poster, more in zip(posters, tail):
        poster.log.acked.update(more.log.acked)
        poster.refused += more.refused

    by_seq = {frame.seq: frame for frame in frames}
    db = open_db(data_dir)
    try:
        stored = {(r["device_id"], r["seq"]): r for r in db.query("SELECT * FROM captures")}
        jobs = db.query("SELECT state, attempts, last_error FROM jobs")
    finally:
        db.close()
    duplicates = 0
    for poster in posters:
        assert not poster.refused, f"{poster.device_id} was refused: {poster.refused[:3]} {context}"
        assert set(poster.log.acked) == set(by_seq), f"{poster.device_id} has unacknowledged frames {context}"
        duplicates += sum(1 for status in poster.log.acked.values() if status == 200)
        for seq in poster.log.acked:
            row = stored.get((poster.device_id, seq))
            assert row is not None, f"{poster.device_id} seq {seq} got a 2xx but is not stored {context}"
            assert row["sha256"] == by_seq[seq].sha256, f"{poster.device_id} seq {seq}: other bytes {context}"
    assert len(stored) == len(frames) * len(DEVICES), f"frames stored more than once or unasked {context}"
    assert {j["state"] for j in jobs} == {"done"}, \
        f"jobs not done: {[j for j in jobs if j['state'] != 'done'][:5]} {context}"
    retried = sum(1 for j in jobs if j["attempts"] > 1)
    print(f"{ROUNDS} kills; {duplicates} frames acknowledged as duplicates (the first answer was lost); "
          f"{retried} jobs ran more than once")

    assert outcome(data_dir) == expected, f"the analysis differs from the uninterrupted run {context}"
    recoveries = [line for line in server.log().splitlines() if "recovered after an unclean stop" in line]
    print(f"start-up recoveries: {recoveries}")

    # Retention's reconcile leaves files younger than FRESH_S alone, since ingest may be
    # between file and row; with the appliance stopped nothing is, so look at all of them.
    monkeypatch.setattr(disk_audit, "FRESH_S", 0.0)
    appliance = Appliance(data_dir)
    try:
        print(f"before retention: {disk_and_database_problems(data_dir, appliance.db) or 'disk and database agree'}")
        report = run_retention(appliance, "manual")
        assert not report.refused and report.error is None, report.to_json()
        print(f"retention after the crashes: {report.to_json()['deleted']}")
        assert disk_and_database_problems(data_dir, appliance.db) == [], context
    finally:
        appliance.close()
