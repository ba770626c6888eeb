"""Leases and isolation under slow or hostile frames (issue 12, B2): a job whose lease is
live never runs a second time, a decode bomb in staging is dead at once, and one
device's stuck frame does not hold up another device. Real Huey consumer threads on a
real huey.db, real SQLite, real JPEGs."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from support import jpeg_bombs
from storewatch import contract
from storewatch.appliance import Appliance
from storewatch.jobs.processor import WorkerOptions
from storewatch.jobs.reconciler import Reconciler
from storewatch.jobs.service import job_queue
from support.worker import FAST, add_device, add_roi, meta, running_worker, scene, store_frames
from support.waiting import wait_for

SHORT_LEASE = WorkerOptions(lease_s=0.6, reorder_wait_s=0.3, retry=FAST.retry)
# A drain's budget: a few frames' work even on a quick machine (a frame takes 5-50 ms), so a
# backlog of ~20 frames always needs several turns, however fast the frames run.
BUDGET_S = 0.015
EAGER = {"reconcile_every_s": 0.1, "stale_s": 0.2, "grace_s": 0.1}  # the reconciler looks all the time


def jobs_of(appliance: Appliance, device_id: str) -> list[dict]:
    return appliance.db.query("SELECT seq, state, attempts, last_error FROM jobs WHERE device_id = ? ORDER BY seq",
                              (device_id,))


def all_done(appliance: Appliance, device_id: str, count: int) -> bool:
    return appliance.db.scalar("SELECT COUNT(*) FROM jobs WHERE device_id = ? AND state IN ('done', 'dead')",
                               (device_id,)) >= count


class Stall:
    """A fault hook holding one device's first decode until released (or `hold_s` passes)."""

    def __init__(self, device_id: str, hold_s: float):
        self.device_id, self.hold_s = device_id, hold_s
        self.release = threading.Event()
        self.entered = threading.Event()
        self.entered_at = 0.0
        self.runs: list[int] = []  # attempts before each claim of the stalled job

    def __call__(self, point: str, job: dict) -> None:
        if point == "before_decode" and job["device_id"] == self.device_id and job["seq"] == 0:
            self.runs.append(job["attempts"])
            if len(self.runs) == 1:
                self.entered_at = time.monotonic()
                self.entered.set()
                self.release.wait(self.hold_s)


@pytest.mark.slow  # waits out four leases
def test_a_job_slower_than_four_leases_runs_once_and_is_never_taken_back(appliance: Appliance) -> None:
    device_id = add_device(appliance)
    add_roi(appliance, device_id, "top shelf", 2)
    stall = Stall(device_id, hold_s=2.4)
    with running_worker(appliance, options=SHORT_LEASE, **EAGER) as service:
        service.processor.fault_hook = stall
        store_frames(appliance, device_id, scene(), [0, 1, 2])
        wait_for(lambda: all_done(appliance, device_id, 3), timeout=20, what="the three frames")
    assert stall.runs == [0]  # claimed once: no second run beside the slow first
    assert [(j["state"], j["attempts"], j["last_error"]) for j in jobs_of(appliance, device_id)] == \
        [("done", 1, None)] * 3


def test_a_decode_bomb_in_staging_is_dead_at_once_and_its_device_moves_on(appliance: Appliance) -> None:
    device_id = add_device(appliance)
    bomb_meta = {**meta(device_id, 0, time.time() - 5), "width": 8192, "height": 8192}
    appliance.captures.store(bomb_meta, jpeg_bombs.issue12_bomb())  # not through ingest: no check on the way
    normal = scene().jpegs[0]
    appliance.captures.store(meta(device_id, 1, time.time() - 4), normal)
    started = time.monotonic()
    with running_worker(appliance):
        wait_for(lambda: all_done(appliance, device_id, 2), timeout=30, what="the bomb and the next frame")
    elapsed = time.monotonic() - started
    bomb, after = jobs_of(appliance, device_id)
    assert (bomb["state"], bomb["attempts"]) == ("dead", 1)
    assert "11000 scans, over the limit of 100" in bomb["last_error"]
    assert (after["state"], after["attempts"]) == ("done", 1)
    assert elapsed < 5, elapsed  # a decode would have taken ~110 s


def test_another_devices_frames_are_analysed_while_one_device_is_stuck(appliance: Appliance) -> None:
    stuck, other = add_device(appliance, "stuck"), add_device(appliance, "other")
    stall = Stall(stuck, hold_s=15.0)
    sequence = scene()
    with running_worker(appliance, options=SHORT_LEASE, **EAGER) as service:
        service.processor.fault_hook = stall
        store_frames(appliance, stuck, sequence, [0, 1, 2])
        assert stall.entered.wait(10)
        store_frames(appliance, other, sequence, list(range(8)))
        wait_for(lambda: all_done(appliance, other, 8), timeout=10, what="the other device's frames")
        time.sleep(max(0.0, stall.entered_at + 3 * SHORT_LEASE.lease_s - time.monotonic()))  # 3 leases stuck
        assert [j["state"] for j in jobs_of(appliance, stuck)] == ["running", "queued", "queued"]
        stall.release.set()
        wait_for(lambda: all_done(appliance, stuck, 3), timeout=10, what="the stuck device's frames")
    assert stall.runs == [0]
    assert {(j["state"], j["attempts"]) for j in jobs_of(appliance, stuck) + jobs_of(appliance, other)} == \
        {("done", 1)}


def test_the_reconciler_never_expires_a_job_this_process_has_in_hand(appliance: Appliance) -> None:
    device_id = add_device(appliance)
    first, second = store_frames(appliance, device_id, scene(), [0, 1])
    queue = job_queue(appliance)
    now = contract.utc_now()
    with appliance.db.write() as conn:  # both leases lapsed a minute ago, both held by this process
        conn.execute("UPDATE jobs SET state = 'running', attempts = 1, lease_owner = 'me', lease_until = ?",
                     (contract.format_timestamp(now - timedelta(minutes=1)),))
    reconciler = Reconciler(queue, lambda ids: None, "me", in_hand=lambda: {first})
    assert reconciler.run().expired == 1
    assert [(j["state"], j["attempts"]) for j in jobs_of(appliance, device_id)] == [("running", 1), ("failed", 1)]
    assert queue.renew([first, second], "me", now + timedelta(seconds=60)) == 1  # only a lease still held
    assert queue.renew([first], "someone else", now + timedelta(seconds=60)) == 0


def test_one_devices_backlog_gives_way_to_another_device_on_a_single_thread(appliance: Appliance) -> None:
    backlog, other = add_device(appliance, "a-backlog"), add_device(appliance, "z-other")  # backlog sorts first
    sequence = scene()
    store_frames(appliance, backlog, sequence)  # the whole scene waiting, as after an outage
    total = len(sequence.jpegs)
    store_frames(appliance, other, sequence, [0, 1])
    options = WorkerOptions(reorder_wait_s=0.3, retry=FAST.retry, drain_budget_s=BUDGET_S)
    with running_worker(appliance, workers=1, options=options):
        wait_for(lambda: all_done(appliance, other, 2), timeout=30, what="the other device's two frames")
        wait_for(lambda: all_done(appliance, backlog, total), timeout=30, what="the backlog")
    # Read from the finish times, not by polling while it runs: a turn of the backlog is over in
    # 0.1 s, quicker than a poll could count what was left when the other device finished.
    other_done = appliance.db.scalar("SELECT MAX(finished_at) FROM jobs WHERE device_id = ?", (other,))
    behind = appliance.db.scalar("SELECT COUNT(*) FROM jobs WHERE device_id = ? AND finished_at > ?",
                                 (backlog, other_done))
    assert behind >= total // 2, (behind, total)  # the other device did not wait for the whole backlog
