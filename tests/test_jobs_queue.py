"""The jobs table's lifecycle, and the queue's admin API and CLI."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from click.testing import CliRunner

from support.frames import make_jpeg
from support.servers import LiveServer
from storewatch import contract
from storewatch.appliance import Appliance
from storewatch.cli import main
from storewatch.jobs.queue import JobQueue, RetryPolicy, parse_age
from support.waiting import wait_for

POLICY = RetryPolicy(base_s=2.0, cap_s=10.0)


def store(appliance: Appliance, device_id: str, seq: int) -> int:
    meta = {"device_id": device_id, "seq": seq, "capture_ts": contract.format_timestamp(contract.utc_now()),
            "width": 64, "height": 48, "jpeg_quality": 85}
    return appliance.captures.store(meta, make_jpeg(seed=seq)).job_id


@pytest.fixture
def queue(appliance: Appliance) -> JobQueue:
    appliance.devices.add("cam", "cam")
    return appliance.jobs


def test_queued_running_done(appliance: Appliance, queue: JobQueue) -> None:
    job_id = store(appliance, "cam", 1)
    job = queue.get(job_id)
    assert (job["state"], job["attempts"], job["enqueued_at"]) == ("queued", 0, None)
    now = contract.utc_now()
    assert queue.claim(queue.head("cam"), "me", 30, now)
    running = queue.get(job_id)
    assert (running["state"], running["attempts"], running["lease_owner"]) == ("running", 1, "me")
    assert contract.parse_timestamp(running["lease_until"]) == pytest.approx(now + timedelta(seconds=30),
                                                                             abs=timedelta(milliseconds=2))
    assert not queue.claim(job, "someone else", 30, now)  # compare-and-set on what was read
    queue.finish(job_id, now, 12.5)
    done = queue.get(job_id)
    assert (done["state"], done["lease_until"], done["duration_ms"], done["late"]) == ("done", None, 12.5, 0)
    assert queue.head("cam") is None


def test_failures_back_off_exponentially_up_to_the_cap_then_die(appliance: Appliance, queue: JobQueue) -> None:
    appliance.settings.update({"job_max_attempts": 5})
    job_id = store(appliance, "cam", 1)
    now = contract.utc_now()
    delays = []
    for attempt in range(1, 6):
        assert queue.claim(queue.get(job_id), "me", 30, now)
        state, retry_at = queue.fail(job_id, f"boom {attempt}", now, POLICY)
        if attempt < 5:
            assert state == "failed"
            delays.append((retry_at - now).total_seconds())
            assert queue.get(job_id)["next_attempt_at"] == contract.format_timestamp(retry_at)
        else:
            assert (state, retry_at) == ("dead", None)
    assert delays == [2.0, 4.0, 8.0, 10.0]
    dead = queue.get(job_id)
    assert (dead["state"], dead["attempts"], dead["last_error"]) == ("dead", 5, "boom 5")


def test_a_permanent_failure_dies_at_once(appliance: Appliance, queue: JobQueue) -> None:
    job_id = store(appliance, "cam", 1)
    queue.claim(queue.get(job_id), "me", 30, contract.utc_now())
    assert queue.fail(job_id, "gone", contract.utc_now(), POLICY, permanent=True) == ("dead", None)


def test_expired_leases_count_as_attempts(appliance: Appliance, queue: JobQueue) -> None:
    appliance.settings.update({"job_max_attempts": 2})
    job_id = store(appliance, "cam", 1)
    now = contract.utc_now()
    queue.claim(queue.get(job_id), "me", 30, now)
    assert queue.expire(job_id, now, "lapsed") == "failed"
    assert queue.get(job_id)["next_attempt_at"] == contract.format_timestamp(now)
    queue.claim(queue.get(job_id), "me", 30, now)
    assert queue.expire(job_id, now, "lapsed") == "dead"


def test_waiting_for_task_finds_unenqueued_and_stale_jobs(appliance: Appliance, queue: JobQueue) -> None:
    first, second = store(appliance, "cam", 1), store(appliance, "cam", 2)
    now = contract.utc_now()
    assert queue.waiting_for_task(now, grace_s=5, stale_s=60) == {}  # too fresh: ingest may still enqueue
    later = now + timedelta(seconds=10)
    assert queue.waiting_for_task(later, grace_s=5, stale_s=60) == {"cam": [first, second]}
    queue.mark_enqueued([first, second], later)
    assert queue.waiting_for_task(later + timedelta(seconds=30), grace_s=5, stale_s=60) == {}
    assert queue.waiting_for_task(later + timedelta(seconds=61), grace_s=5, stale_s=60) == {"cam": [first, second]}


def test_retry_and_purge(appliance: Appliance, queue: JobQueue) -> None:
    ids = [store(appliance, "cam", seq) for seq in range(3)]
    now = contract.utc_now()
    for job_id in ids[:2]:
        queue.claim(queue.get(job_id), "me", 30, now)
        queue.fail(job_id, "bad", now, POLICY, permanent=True)
    with pytest.raises(ValueError, match="queued"):
        queue.retry([ids[2]])
    with pytest.raises(LookupError):
        queue.retry([999])
    assert [j["id"] for j in queue.retry([ids[0]])] == [ids[0]]
    assert (queue.get(ids[0])["state"], queue.get(ids[0])["attempts"]) == ("queued", 0)
    assert [j["id"] for j in queue.retry(all_dead=True)] == [ids[1]]
    assert queue.counts() == {"queued": 3, "running": 0, "done": 0, "failed": 0, "dead": 0}
    queue.claim(queue.get(ids[2]), "me", 30, now)
    queue.finish(ids[2], now, 1.0)
    assert queue.purge("done", timedelta(days=7)) == 0
    assert queue.purge("done", timedelta(0), now + timedelta(seconds=1)) == 1
    with pytest.raises(ValueError):
        queue.purge("queued", timedelta(0))


def test_parse_age() -> None:
    assert parse_age("7d") == timedelta(days=7) and parse_age("90m") == timedelta(minutes=90)
    assert parse_age("45") == timedelta(seconds=45)
    for bad in ("", "soon", "-1h", "3w"):
        with pytest.raises(ValueError):
            parse_age(bad)


# --- API and CLI against a real server -------------------------------------------------------


def post_frame(server: LiveServer, device_id: str, token: str, seq: int, jpeg: bytes) -> httpx.Response:
    meta = {"device_id": device_id, "seq": seq, "width": 64, "height": 48, "jpeg_quality": 85,
            "capture_ts": contract.format_timestamp(contract.utc_now())}
    return server.post(contract.INGEST_FRAME_PATH, headers={"Authorization": f"Bearer {token}"},
                       files={"meta": (None, json.dumps(meta), "application/json"),
                             "image": ("f.jpg", jpeg, "image/jpeg")}, timeout=10)


def test_queue_api_and_cli_show_and_retry_dead_jobs(server: LiveServer) -> None:
    runner = CliRunner()
    cli = lambda *args: runner.invoke(main, ["--data-dir", str(server.data_dir), *args])  # noqa: E731
    with server.admin_client() as admin:
        body = admin.post("/api/v1/admin/devices", json={"name": "cam"}).json()
        device_id, token = body["device_id"], body["token"]
        for seq in range(3):
            assert post_frame(server, device_id, token, seq, make_jpeg(seed=seq)).status_code == 201
        wait_for(lambda: admin.get("/api/v1/admin/queue").json()["counts"]["done"] == 3, timeout=20)
        status = admin.get("/api/v1/admin/queue").json()
        assert status["counts"] == {"queued": 0, "running": 0, "done": 3, "failed": 0, "dead": 0}
        assert status["oldest_queued_age_s"] is None and status["dead"] == []

        # A frame whose file vanished before analysis dies at once (retrying cannot bring it back).
        appliance = Appliance(server.data_dir)
        try:
            assert not appliance.enqueue.connected  # stored here, not handed to Huey: the frame is gone first
            job_id = store(appliance, device_id, 10)
            path = appliance.db.scalar("SELECT c.path FROM captures c JOIN jobs j ON j.capture_id = c.id"
                                       " WHERE j.id = ?", (job_id,))
            saved = appliance.images.read(path)
            appliance.images.delete(path)
            assert cli("queue", "retry", "--all-dead").output.strip() == "0 job(s) queued again."
            answer = admin.post("/api/v1/admin/queue/retry", json={"job_ids": [job_id]})
            assert answer.status_code == 409 and answer.json()["error"]["code"] == "job_not_retryable"
            with appliance.db.write() as conn:  # as if it had been tried and lost
                conn.execute("UPDATE jobs SET state = 'dead', attempts = 5, last_error = 'gone' WHERE id = ?",
                             (job_id,))
            status = admin.get("/api/v1/admin/queue").json()
            assert status["counts"]["dead"] == 1
            [dead] = status["dead"]
            assert set(dead) == {"id", "capture_id", "device_id", "seq", "attempts", "last_error", "updated_at"}
            assert (dead["id"], dead["seq"], dead["attempts"]) == (job_id, 10, 5)
            listed = json.loads(cli("queue", "list", "--state", "dead", "--json").output)
            assert [j["id"] for j in listed] == [job_id]
            assert json.loads(cli("queue", "status", "--json").output)["counts"]["dead"] == 1

            appliance.images.write(path, saved)  # the file is back: retrying now succeeds
            answer = admin.post("/api/v1/admin/queue/retry", json={"all_dead": True})
            assert answer.status_code == 200 and answer.json()["retried"] == 1
            wait_for(lambda: admin.get("/api/v1/admin/queue").json()["counts"]["done"] == 4, timeout=20)
            assert "done" in cli("queue", "status").output
            purged = cli("queue", "purge", "--state", "done", "--older-than", "0s")
            assert purged.exit_code == 0 and "Purged 4 done" in purged.output
        finally:
            appliance.close()
        for bad in ({}, {"job_ids": []}, {"job_ids": ["1"]}, {"all_dead": "yes"}, {"job_ids": [1], "all_dead": True}):
            answer = admin.post("/api/v1/admin/queue/retry", json=bad)
            assert answer.status_code == 422 and answer.json()["error"]["code"] == "validation_failed"
        answer = admin.post("/api/v1/admin/queue/retry", json={"job_ids": [999999]})
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "job_not_found"
    assert cli("queue", "retry").exit_code != 0
    assert cli("queue", "purge", "--state", "done", "--older-than", "soon").exit_code != 0
    assert "No dead jobs." in cli("queue", "list").output
