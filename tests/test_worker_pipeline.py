"""The analysis worker end to end in one process: real SQLite files, a real Huey consumer
(threads) on a real huey.db, real JPEGs of rendered shelf scenes."""

from __future__ import annotations

import json
import random
import time
from dataclasses import replace
from pathlib import Path

import pytest

from support import restless, shelf_scenes
from storewatch import contract
from storewatch.appliance import Appliance
from storewatch.store.captures import SeqTooOld
from storewatch.jobs.queue import RetryPolicy
from storewatch.jobs.service import connect_ingest
from support.frames import make_jpeg
from support.worker import (FAST, SCENE_START, add_device, add_roi, comparable, event_rows, meta, picture_files,
                            running_worker, scene, state_header, store_frames, wait_finished)
from support.waiting import wait_for

# --- the scene ---------------------------------------------------------------------------


def test_an_arm_taking_an_item_gives_one_changed_event_with_its_pictures_and_thumbnails(appliance: Appliance) -> None:
    device_id = add_device(appliance)
    roi_id = add_roi(appliance, device_id, "top shelf", 2)
    sequence = scene()
    with running_worker(appliance):
        store_frames(appliance, device_id, sequence)
        wait_finished(appliance, len(sequence.jpegs))
    events = event_rows(appliance)
    assert len(events) == 1
    event = events[0]
    assert (event["roi_id"], event["roi_name"], event["type"], event["decision"]) == \
        (roi_id, "top shelf", "interaction_detected", "changed")
    assert event["decision_score"] > 0 and event["peak_score"] > 0 and event["duration_s"] > 0
    x0, y0, x1, y1 = json.loads(event["box"])
    ix0, iy0, ix1, iy1 = shelf_scenes.ITEMS[2].box
    assert x0 <= ix1 and ix0 <= x1 and y0 <= iy1 and iy0 <= y1  # the box is on the taken item
    pictures = {row["kind"]: row for row in
                appliance.db.query("SELECT * FROM event_images WHERE event_id = ?", (event["id"],))}
    assert set(pictures) == {"pre", "peak", "post", "diff", "thumb_pre", "thumb_post", "thumb_diff"}
    for kind in ("pre", "peak", "post"):  # copies of the original frames, outside staging
        original = appliance.db.query_one("SELECT path FROM captures WHERE id = ?", (pictures[kind]["capture_id"],))
        assert pictures[kind]["path"].startswith(f"events/{device_id}/{event['id']}/")
        assert appliance.images.read(pictures[kind]["path"]) == appliance.images.read(original["path"])
    assert appliance.images.read(pictures["diff"]["path"])[:2] == b"\xff\xd8"
    jobs = appliance.db.query("SELECT state, attempts, late FROM jobs")
    assert {(j["state"], j["attempts"], j["late"]) for j in jobs} == {("done", 1, 0)}
    assert appliance.db.scalar("SELECT COUNT(*) FROM roi_scores") == len(sequence.jpegs)
    counters = appliance.counters.snapshot()
    assert counters["events"] == {"changed": 1}
    assert counters["jobs"]["done"] == len(sequence.jpegs)
    assert counters["job_duration_ms"]["count"] == len(sequence.jpegs)


def test_an_roi_becoming_active_asks_the_device_for_burst(appliance: Appliance) -> None:
    device_id = add_device(appliance)
    add_roi(appliance, device_id, "top shelf", 2)
    sequence = scene()
    before = appliance.devices.get(device_id)["config_version"]
    start = time.time() - 5  # recent frames, so the burst deadline lies ahead
    with running_worker(appliance):
        store_frames(appliance, device_id, sequence, list(range(12)), start)  # up to the arm's first frames
        wait_finished(appliance, 12)
    device = appliance.devices.get(device_id)
    assert device["desired_mode"] == "burst"
    assert device["config_version"] == before + 1  # the switch bumps it once
    last_activity = contract.parse_timestamp(device["mode_until"]).timestamp() - 20.0  # burst_hold_s
    assert start + sequence.times[8] - sequence.times[0] - 0.01 <= last_activity
    assert last_activity <= start + sequence.times[11] - sequence.times[0] + 0.01


def test_raising_a_threshold_suppresses_the_event_the_default_produced(appliance: Appliance) -> None:
    sequence = scene()
    quiet = add_device(appliance, "strict cam")
    add_roi(appliance, quiet, "top shelf", 2, start_threshold=0.95)
    normal = add_device(appliance, "default cam")
    add_roi(appliance, normal, "top shelf", 2)
    with running_worker(appliance):
        store_frames(appliance, quiet, sequence)
        store_frames(appliance, normal, sequence)
        wait_finished(appliance, 2 * len(sequence.jpegs))
    assert [e["decision"] for e in event_rows(appliance, normal)] == ["changed"]
    assert event_rows(appliance, quiet) == []


def test_an_roi_change_applies_from_the_next_frame_and_resets_only_that_roi(appliance: Appliance) -> None:
    sequence = scene(idle=14)
    device_id = add_device(appliance)
    moved = add_roi(appliance, device_id, "moved", 8)      # first on an item nobody touches
    steady = add_roi(appliance, device_id, "steady", 9)
    rois = appliance.rois
    with running_worker(appliance) as service:
        store_frames(appliance, device_id, sequence, list(range(6)))
        wait_finished(appliance, 6)
        assert {r["id"]: r["state"] for r in state_header(appliance, device_id, service)["rois"]} == \
            {moved: "idle", steady: "idle"}
        version = appliance.devices.get(device_id)["config_version"]
        rois.update(device_id, moved, polygon=[list(p) for p in shelf_scenes.roi_around(2)])
        assert appliance.devices.get(device_id)["config_version"] == version + 1
        store_frames(appliance, device_id, sequence, [6])
        wait_finished(appliance, 7)
        assert {r["id"]: r["state"] for r in state_header(appliance, device_id, service)["rois"]} == \
            {moved: "warming", steady: "idle"}
        store_frames(appliance, device_id, sequence, list(range(7, len(sequence.jpegs))))
        wait_finished(appliance, len(sequence.jpegs))
    assert [(e["roi_id"], e["decision"]) for e in event_rows(appliance)] == [(moved, "changed")]


# --- order, lateness, exactly once ---------------------------------------------------


def test_frames_apply_in_seq_order_across_threads_and_devices_even_when_ingested_out_of_order(
        appliance: Appliance) -> None:
    sequence = scene()
    devices = [add_device(appliance, f"cam {n}") for n in range(3)]
    for device_id in devices:
        add_roi(appliance, device_id, "top shelf", 2)
    rng = random.Random(7)
    orders = {}
    for device_id in devices:  # seq 0 first, then small local shuffles, as retries and spools cause
        rest = list(range(1, len(sequence.jpegs)))
        for i in range(0, len(rest) - 1, 2):
            if rng.random() < 0.5:
                rest[i], rest[i + 1] = rest[i + 1], rest[i]
        orders[device_id] = [0, *rest]
    applied: dict[str, list[int]] = {d: [] for d in devices}
    # A long reorder wait: a gap is filled by the very next store, but on a loaded machine that
    # can take longer than FAST's 0.3 s, and then the swapped frame would (rightly) be late.
    with running_worker(appliance, workers=4, options=replace(FAST, reorder_wait_s=10.0)) as service:
        service.processor.fault_hook = lambda point, job: (
            applied[job["device_id"]].append(job["seq"]) if point == "before_state" else None)
        for position in range(len(sequence.jpegs)):
            for device_id in devices:
                store_frames(appliance, device_id, sequence, [orders[device_id][position]])
        wait_finished(appliance, 3 * len(sequence.jpegs))
    for device_id in devices:
        assert applied[device_id] == sorted(applied[device_id])
        assert applied[device_id] == list(range(len(sequence.jpegs)))  # none late: the reorder wait covered it
        assert [e["decision"] for e in event_rows(appliance, device_id)] == ["changed"]
    assert appliance.db.scalar("SELECT COUNT(*) FROM jobs WHERE state != 'done' OR attempts != 1") == 0


def test_a_frame_older_than_what_its_device_passed_is_done_as_late(appliance: Appliance, monkeypatch) -> None:
    sequence = scene()
    device_id = add_device(appliance)
    add_roi(appliance, device_id, "top shelf", 2)
    with running_worker(appliance):
        store_frames(appliance, device_id, sequence, [0, 1, 2, 4, 5, 6])
        wait_finished(appliance, 6)
        state_before = appliance.db.query_one("SELECT * FROM analysis_state WHERE device_id = ?", (device_id,))
        with pytest.raises(SeqTooOld):  # ingest refuses it (409 seq_too_old): it could never be analysed
            store_frames(appliance, device_id, sequence, [3])
        # Still late: a frame whose ingest read the analysed mark just before the worker passed it.
        monkeypatch.setattr(appliance.captures, "_analysed_marks", lambda device_ids: {})
        [late_job] = store_frames(appliance, device_id, sequence, [3])
        wait_finished(appliance, 7)
        assert appliance.db.query_one("SELECT * FROM analysis_state WHERE device_id = ?", (device_id,)) == \
            state_before
    job = appliance.db.query_one("SELECT * FROM jobs WHERE id = ?", (late_job,))
    assert (job["state"], job["late"]) == ("done", 1)
    assert "late" in job["last_error"]
    assert appliance.db.scalar("SELECT COUNT(*) FROM roi_scores WHERE capture_id = ?", (job["capture_id"],)) == 0
    assert appliance.counters.snapshot()["jobs"]["late"] == 1


def test_running_a_job_again_changes_nothing(appliance: Appliance) -> None:
    sequence = scene()
    device_id = add_device(appliance)
    add_roi(appliance, device_id, "top shelf", 2)
    with running_worker(appliance) as service:
        jobs = store_frames(appliance, device_id, sequence)
        wait_finished(appliance, len(jobs))
        tables = ("events", "event_images", "analysis_state", "roi_scores", "jobs")
        before = {t: appliance.db.query(f"SELECT * FROM {t}") for t in tables}
        files = picture_files(appliance)
        for job_id in jobs:  # Huey delivering every task a second time
            service.broker.enqueue(job_id)
        for job_id in jobs[::7]:
            service.processor.handle(job_id)
        wait_for(lambda: service.broker.pending() == 0, what="the repeated tasks")
        time.sleep(0.3)
        assert {t: appliance.db.query(f"SELECT * FROM {t}") for t in tables} == before
        assert picture_files(appliance) == files


@pytest.mark.slow  # crashes a worker before its commit and reruns
def test_a_crash_before_commit_reruns_to_the_same_rows_and_files(tmp_path: Path) -> None:
    sequence = scene()

    def run(folder: str, crash_at: set[str]) -> tuple[list, dict, bytes, list]:
        appliance = Appliance(tmp_path / folder)
        try:
            device_id = appliance.devices.add("cam", "cam")[0]
            add_roi(appliance, device_id, "top shelf", 2)
            with running_worker(appliance) as service:
                crashed = set()

                def crash(point: str, job: dict) -> None:
                    # Crash once in every job that writes an event, after its files are written.
                    if point in crash_at and job["id"] not in crashed and appliance.db.query_one(
                            "SELECT 1 FROM events WHERE device_id = ?", (device_id,)) is not None:
                        crashed.add(job["id"])
                        raise OSError("simulated crash before commit")

                service.processor.fault_hook = crash
                store_frames(appliance, device_id, sequence)
                wait_finished(appliance, len(sequence.jpegs))
            state = appliance.db.scalar("SELECT state FROM analysis_state")
            attempts = [j["attempts"] for j in appliance.db.query("SELECT attempts FROM jobs ORDER BY seq")]
            return comparable(event_rows(appliance)), picture_files(appliance), state, attempts
        finally:
            appliance.close()

    clean = run("clean", set())
    crashed = run("crashed", {"before_commit"})
    assert crashed[0] == clean[0] and len(clean[0]) == 1
    assert crashed[1] == clean[1]
    assert crashed[2] == clean[2]
    assert max(crashed[3]) == 2 and max(clean[3]) == 1  # the crashed job really ran twice


# --- failures, retries, recovery ----------------------------------------------------


def test_a_failing_job_is_retried_with_backoff_then_dead_and_its_device_moves_on(appliance: Appliance) -> None:
    appliance.settings.update({"job_max_attempts": 3})
    sequence = scene()
    device_id = add_device(appliance)
    add_roi(appliance, device_id, "top shelf", 2)
    seen: list[tuple[int, float]] = []
    with running_worker(appliance) as service:
        def fail_seq_2(point: str, job: dict) -> None:
            if point == "before_state" and job["seq"] == 2:
                seen.append((job["attempts"] + 1, time.monotonic()))  # the row as read before the claim
                raise RuntimeError("disk hiccup")

        service.processor.fault_hook = fail_seq_2
        store_frames(appliance, device_id, sequence, [0, 1, 2])
        wait_for(lambda: appliance.db.scalar("SELECT state FROM jobs WHERE seq = 2") == "failed",
                   what="the first failure")
        failed = appliance.db.query_one("SELECT * FROM jobs WHERE seq = 2")
        assert failed["attempts"] == 1 and failed["last_error"] == "RuntimeError: disk hiccup"
        delay = (contract.parse_timestamp(failed["next_attempt_at"])
                 - contract.parse_timestamp(failed["updated_at"])).total_seconds()
        assert delay == pytest.approx(FAST.retry.delay(1), abs=0.01)
        store_frames(appliance, device_id, sequence, [3, 4])
        wait_finished(appliance, 5)
    dead = appliance.db.query_one("SELECT * FROM jobs WHERE seq = 2")
    assert (dead["state"], dead["attempts"]) == ("dead", 3)
    assert [attempt for attempt, _ in seen] == [1, 2, 3]
    later = appliance.db.query("SELECT state, finished_at FROM jobs WHERE seq > 2")
    assert all(j["state"] == "done" and j["finished_at"] >= dead["finished_at"] for j in later)  # waited in order
    assert RetryPolicy(2.0, 300.0).delay(1) == 2.0 and RetryPolicy(2.0, 300.0).delay(4) == 16.0
    assert RetryPolicy(2.0, 300.0).delay(20) == 300.0


def test_the_reconciler_enqueues_jobs_huey_never_carried(appliance: Appliance) -> None:
    sequence = scene()
    device_id = add_device(appliance)
    add_roi(appliance, device_id, "top shelf", 2)
    store_frames(appliance, device_id, sequence, list(range(5)))  # no worker, no hook: Huey knows nothing
    assert appliance.db.scalar("SELECT COUNT(*) FROM jobs WHERE enqueued_at IS NULL") == 5
    with running_worker(appliance, reconcile_every_s=0.2, stale_s=0.5, grace_s=0.2) as service:
        wait_finished(appliance, 5)  # found at start
        appliance.enqueue.disconnect(service.broker.enqueue_many)  # ingest loses the hand-over from now on
        store_frames(appliance, device_id, sequence, list(range(5, 10)))
        wait_finished(appliance, 10, timeout=10)  # found by a periodic round
        assert service.queue.counts()["done"] == 10


def test_a_job_left_running_by_a_dead_worker_is_taken_over(appliance: Appliance) -> None:
    sequence = scene()
    device_id = add_device(appliance)
    add_roi(appliance, device_id, "top shelf", 2)
    jobs = store_frames(appliance, device_id, sequence, [0, 1, 2])
    future = contract.format_timestamp(contract.utc_now().replace(year=contract.utc_now().year + 1))
    past = "2020-01-01T00:00:00.000Z"
    with appliance.db.write() as conn:  # seq 0: another host's lapsed lease; seq 1: a dead local process
        conn.execute("UPDATE jobs SET state = 'running', attempts = 1, lease_until = ?, lease_owner = ?"
                     " WHERE id = ?", (past, "elsewhere:123:abc", jobs[0]))
        conn.execute("UPDATE jobs SET state = 'running', attempts = 1, lease_until = ?, lease_owner = ?"
                     " WHERE id = ?", (future, f"{__import__('socket').gethostname()}:999999999:abc", jobs[1]))
    with running_worker(appliance):
        wait_finished(appliance, 3)
    rows = appliance.db.query("SELECT seq, state, attempts FROM jobs ORDER BY seq")
    assert [(r["seq"], r["state"], r["attempts"]) for r in rows] == [(0, "done", 2), (1, "done", 2), (2, "done", 1)]


def test_connect_ingest_hands_jobs_to_huey_without_a_worker(appliance: Appliance) -> None:
    broker = connect_ingest(appliance)
    device_id = add_device(appliance)
    store_frames(appliance, device_id, scene(), [0, 1])
    assert broker.huey.pending_count() == 2
    assert appliance.db.scalar("SELECT COUNT(*) FROM jobs WHERE enqueued_at IS NOT NULL") == 2
    broker.close()


def test_a_lighting_change_is_recorded_and_is_no_interaction(appliance: Appliance) -> None:
    frames = [shelf_scenes.Frame()] * 10 + [shelf_scenes.Frame(gain=0.55, cast=(1.0, 0.9, 0.8))] * 14
    sequence = shelf_scenes.Sequence(frames, shelf_scenes.uniform_times(len(frames))).render()
    device_id = add_device(appliance)
    add_roi(appliance, device_id, "top shelf", 2)
    with running_worker(appliance):
        store_frames(appliance, device_id, sequence)
        wait_finished(appliance, len(frames))
    changes = appliance.db.query("SELECT * FROM events WHERE type = 'lighting_change'")
    assert len(changes) == 1 and changes[0]["roi_id"] is None
    switched = appliance.db.scalar("SELECT capture_epoch FROM captures WHERE seq = 10")
    assert contract.parse_timestamp(changes[0]["start_ts"]).timestamp() >= switched - 0.001
    assert appliance.counters.snapshot()["lighting_changes"] == {device_id: 1}
    assert appliance.db.scalar("SELECT COUNT(*) FROM events WHERE type = 'interaction_detected'") == 0
    assert appliance.db.scalar("SELECT COUNT(*) FROM roi_scores WHERE lighting = 1") > 0
    chart = appliance.scores.history(device_id, SCENE_START - 1, SCENE_START + 60)
    assert chart["lighting"] == [changes[0]["start_ts"]] and chart["events"] == []
    assert any(p["lighting"] for p in chart["points"])


def test_a_restless_roi_is_marked_for_the_panel_while_restless_and_cleared_once_calm(appliance: Appliance) -> None:
    # A screen over part of the shelf changes every frame from 5 s to 45 s: its ROI turns restless
    # 30 s in and calms 30 s after it went dark; the shelf's ROI beside it is never marked.
    sequence = restless.screen_scene(on=5.0, off=45.0, duration=90.0)
    device_id = add_device(appliance)
    shelf = appliance.rois.add(device_id, "top shelf", restless.SHELF_ROI)["id"]
    screen = appliance.rois.add(device_id, "by the till", restless.SCREEN_ROI)["id"]
    frames = len(sequence.jpegs)
    with running_worker(appliance):
        store_frames(appliance, device_id, sequence, list(range(60)))
        wait_finished(appliance, 60)
        (marked,) = appliance.rois.restless(device_id)
        assert (marked["roi_id"], marked["name"]) == (screen, "by the till")
        since = contract.parse_timestamp(marked["since"]).timestamp()
        assert SCENE_START + 5.0 <= since <= SCENE_START + 7.0  # busy from the screen's first frames
        assert appliance.rois.get(device_id, shelf)["restless_since"] is None
        store_frames(appliance, device_id, sequence, list(range(60, frames)))
        wait_finished(appliance, frames)
    assert appliance.rois.restless(device_id) == []
    assert appliance.rois.get(device_id, screen)["restless_since"] is None


def test_a_restless_mark_goes_when_the_analysis_restarts_without_a_calm(appliance: Appliance) -> None:
    # A frame of another shape (16:9, analysed at 320x180) restarts the device's analysis: the
    # screen's ROI watches afresh, and no RoiCalm will come to clear its mark.
    sequence = restless.screen_scene(on=5.0, off=45.0, duration=59.0)
    device_id = add_device(appliance)
    appliance.rois.add(device_id, "by the till", restless.SCREEN_ROI)
    with running_worker(appliance):
        store_frames(appliance, device_id, sequence)
        wait_finished(appliance, len(sequence.jpegs))
        assert len(appliance.rois.restless(device_id)) == 1
        appliance.captures.store(meta(device_id, len(sequence.jpegs), SCENE_START + 60.0, (640, 360)),
                                 make_jpeg(640, 360, seed=7))
        wait_finished(appliance, len(sequence.jpegs) + 1)
    assert appliance.rois.restless(device_id) == []
