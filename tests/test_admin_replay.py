"""The what-if replay API (server/admin_replay.py, server/replay_runner.py) on a real
appliance: a real SQLite file, frames analysed by a real worker (Huey threads) that kept them
for replay, and the app in this process. A replay answers 202, shows its progress, ends with
the report; DELETE cancels it; a second one while one runs is a 409; a bad request is a 422
(or 404) in the API's one error shape and starts nothing; the replay runs in a process of its
own at a lower OS priority than the live analysis."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from storewatch.appliance import Appliance
from storewatch.replay.priority import REPLAY_NICE
from storewatch.store.events import parse_moment
from support import shelf_scenes
from support.api import assert_error
from support.servers import AppClient, app_client
from support.waiting import wait_for
from support.worker import add_device, add_roi, meta, running_worker, wait_finished

REPEATS = 6  # take, put back, take, ...: ~210 frames, 105 s of capture time
OUTCOMES = ("take", "place")


@dataclass
class Shop:
    app: AppClient
    admin: httpx.Client
    device_id: str
    roi_id: int
    since: float
    until: float


def _session(appliance: Appliance, device_id: str, start: float) -> float:
    """A real short session through the worker: an arm takes item 2, puts it back, takes it...
    Returns the capture time of the last frame."""
    seq, at = 0, start
    with running_worker(appliance):
        for k in range(REPEATS):
            sequence = shelf_scenes.reach_sequence(2, OUTCOMES[k % 2])
            times = [t - sequence.times[0] for t in sequence.times]
            for i in range(len(sequence.jpegs)):
                appliance.captures.store(meta(device_id, seq, at + times[i]), sequence.jpegs[i])
                seq += 1
            at += times[-1] + 0.5
        wait_finished(appliance, seq, timeout=120.0)
    return at - 0.5


# each test runs replay processes on a session a real worker process recorded (its setup alone ~10 s)
pytestmark = pytest.mark.slow  # scripts/test --fast leaves it out; scripts/test runs it

@pytest.fixture(autouse=True)
def _no_replay_left_running(shop: "Shop") -> Iterator[None]:
    """A test that fails half-way must not leave its replay running into the next test's 409."""
    yield
    last = shop.admin.get("/api/v1/admin/replays").json()["replay"]
    if last and last["state"] == "running":
        shop.admin.delete(f"/api/v1/admin/replays/{last['id']}")
        _wait_ended(shop.admin, last["id"])


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    appliance = Appliance(tmp_path_factory.mktemp("replay") / "data")
    try:
        device_id = add_device(appliance, "Aisle 3")
        roi_id = add_roi(appliance, device_id, "Cereal", 2)
        start = time.time() - 3600
        until = _session(appliance, device_id, start)
        with app_client(appliance) as app, app.admin_client() as admin:
            yield Shop(app, admin, device_id, roi_id, start, until + 1)
    finally:
        appliance.close()


def _wait_ended(admin: httpx.Client, replay_id: str, timeout: float = 60.0) -> dict:
    def ended() -> dict | None:
        body = admin.get(f"/api/v1/admin/replays/{replay_id}").json()
        return body if body["state"] != "running" else None

    return wait_for(ended, timeout, f"replay {replay_id} to end", step=0.05)


def _body(shop: Shop, **changes: object) -> dict:
    return {"device_id": shop.device_id, "since": shop.since, "until": shop.until, **changes}


def _start(shop: Shop, **changes: object) -> dict:
    answer = shop.admin.post("/api/v1/admin/replays", json=_body(shop, **changes))
    assert answer.status_code == 202, answer.text
    assert answer.headers["location"] == f"/api/v1/admin/replays/{answer.json()['id']}"
    return answer.json()


def _live_events(appliance: Appliance, device_id: str) -> int:
    return appliance.db.scalar("SELECT COUNT(*) FROM events WHERE device_id = ? AND type = 'interaction_detected'",
                               (device_id,))


def _rows(appliance: Appliance) -> tuple:
    """What a replay must never change: the ROIs, the thresholds, the events, the jobs."""
    db = appliance.db
    return (db.query("SELECT id, thresholds, updated_at FROM rois ORDER BY id"),
            db.query("SELECT key, value FROM settings ORDER BY key"),
            db.query("SELECT id, verdict, reviewed_at FROM events ORDER BY id"),
            db.scalar("SELECT COUNT(*) FROM jobs"), db.scalar("SELECT COUNT(*) FROM roi_scores"))


# --- kept frames and a whole replay ---------------------------------------------------------


def test_the_kept_range_spans_the_session_the_worker_analysed(shop: Shop) -> None:
    body = shop.admin.get(f"/api/v1/admin/devices/{shop.device_id}/replay-range").json()
    since, until = (parse_moment(body[k]).timestamp() for k in ("since", "until"))
    assert abs(since - shop.since) < 2 and abs(until - (shop.until - 1)) < 2, body
    assert_error(shop.admin.get("/api/v1/admin/devices/nope/replay-range"), 404, "device_not_found")


def test_a_replay_with_the_thresholds_in_force_reproduces_the_live_events(shop: Shop) -> None:
    started = _start(shop)
    assert started["state"] == "running" and started["kind"] == "replay" and started["device_id"] == shop.device_id
    ended = _wait_ended(shop.admin, started["id"])
    assert ended["state"] == "done", ended
    report = ended["report"]
    assert ended["frames_done"] == ended["frames_total"] > 0
    assert report["frames"] > 0 and report["device_id"] == shop.device_id
    live = _live_events(shop.app.appliance, shop.device_id)
    assert live >= REPEATS - 1  # the session's visits were events
    assert len(report["replayed"]) == len(report["live"]) == live, report["comparison"]
    assert {c["kind"] for c in report["comparison"]} == {"same"}
    assert report["summary"].startswith("with these settings:")
    assert any(p["roi_id"] == shop.roi_id for p in report["scores"])
    # the last one stays readable (and is what GET /replays answers), nothing else is kept
    assert shop.admin.get("/api/v1/admin/replays").json()["replay"]["id"] == started["id"]


SILENT = {"start_threshold": 1.0, "min_active_frames": 20}  # 10 s of a whole ROI changing: no reach is that


def test_the_strictest_start_loses_the_visits_and_says_so(shop: Shop) -> None:
    before = _rows(shop.app.appliance)
    ended = _wait_ended(shop.admin, _start(shop, overrides=SILENT)["id"])
    assert ended["state"] == "done", ended
    report = ended["report"]
    assert ended["overrides"] == SILENT
    assert len(report["replayed"]) < len(report["live"])
    assert {c["kind"] for c in report["comparison"]} >= {"gone"}
    assert f"instead of {len(report['live'])}" in report["summary"]
    assert _rows(shop.app.appliance) == before  # a replay changes nothing stored


# --- one at a time, cancel, priority ----------------------------------------------------------


def _in_an_autogroup() -> bool:
    """Whether the kernel groups this process by session: /proc/self/autogroup reads empty where
    a cgroup (a container's CPU controller) groups it instead, and is missing without autogroups."""
    own = Path("/proc/self/autogroup")
    return own.exists() and bool(own.read_text().strip())


def _nice_of(stat: Path) -> int:
    """The scheduling nice of a task (/proc/<pid>/stat or /proc/self/task/<tid>/stat), as the kernel has it."""
    return int(stat.read_text().rsplit(")", 1)[1].split()[16])


def test_one_replay_at_a_time_a_second_is_409_and_delete_cancels(shop: Shop) -> None:
    first = _start(shop)
    second = shop.admin.post("/api/v1/admin/replays", json=_body(shop))
    error = assert_error(second, 409, "replay_running")
    assert first["id"] in error["message"] and "one runs at a time" in error["message"]
    assert "nothing was started" in error["message"]
    suggest = shop.admin.post("/api/v1/admin/suggestions", json=_body(shop))
    assert_error(suggest, 409, "replay_running")
    cancel = shop.admin.delete(f"/api/v1/admin/replays/{first['id']}")
    assert cancel.status_code in (200, 202), cancel.text
    ended = _wait_ended(shop.admin, first["id"])
    assert ended["state"] == "cancelled" and ended["cancel_requested"] and "report" not in ended, ended
    assert ended["frames_total"] is None or ended["frames_done"] < ended["frames_total"]  # stopped early
    # and a new one may start once it has stopped
    again = _start(shop)
    assert _wait_ended(shop.admin, again["id"])["state"] == "done"
    assert_error(shop.admin.get(f"/api/v1/admin/replays/{first['id']}"), 404, "replay_not_found")
    assert_error(shop.admin.delete(f"/api/v1/admin/replays/{first['id']}"), 404, "replay_not_found")


def test_a_replay_runs_in_its_own_process_at_a_lower_priority_than_the_live_analysis(shop: Shop) -> None:
    runner = shop.app.app.state.replays  # type: ignore[attr-defined]
    base = os.getpriority(os.PRIO_PROCESS, 0)
    seen: list[tuple[int, int]] = []
    started = _start(shop)

    groups: list[str] = []

    def measured() -> bool:
        run = runner.last
        if run.pid is not None and run.state == "running":
            try:
                if not seen:
                    seen.append((run.pid, _nice_of(Path(f"/proc/{run.pid}/stat"))))
                group = Path(f"/proc/{run.pid}/autogroup")
                own = Path("/proc/self/autogroup")
                theirs = group.read_text().split() if group.exists() else []
                # an exiting process reads as empty: only a whole line counts
                mine = own.read_text().split()
                if theirs and mine and theirs[0] != mine[0]:
                    groups.append(" ".join(theirs))  # it has left the server's group: "/autogroup-N nice 10"
            except (FileNotFoundError, ProcessLookupError):  # it ended between the looks
                return False
        settled = not _in_an_autogroup() or (groups and groups[-1].split()[-1] == str(REPLAY_NICE))
        return bool(seen and settled) or run.state != "running"

    wait_for(measured, 30.0, "the replay's process to be seen in a group of its own", step=0.001)
    ended = _wait_ended(shop.admin, started["id"])
    if _in_an_autogroup():  # sched_autogroup: a group of its own, at the same nice
        assert groups and groups[-1].split()[-1] == str(REPLAY_NICE), groups
    live = {tid.name: _nice_of(tid / "stat") for tid in Path("/proc/self/task").iterdir()}
    assert ended["state"] == "done"
    assert seen and seen[0][0] != os.getpid() and seen[0][1] == base + REPLAY_NICE, (seen, base)
    assert ended["nice"] == base + REPLAY_NICE  # what the run says of itself, read from the OS too
    assert all(nice == base for nice in live.values()), live  # every thread of the server's process


# --- bad requests: 422 / 404 in the one error shape, nothing started, nothing changed ----------


BAD = [
    ({"device_id": "nope"}, 404, "device_not_found", None),
    ({"since": "yesterday"}, 422, "validation_failed", "since"),
    ({"until": None}, 422, "validation_failed", "until"),
    ({"swap": True}, 422, "validation_failed", "since"),
    ({"overrides": {"start_threshold": 2.0}}, 422, "validation_failed", None),
    ({"overrides": {"how_much": 0.1}}, 422, "validation_failed", None),
    ({"overrides": {"start_threshold": 0.02, "end_threshold": 0.05}}, 422, "validation_failed", None),
    ({"overrides": [0.1]}, 422, "validation_failed", "overrides"),
    ({"roi_id": 999_999}, 404, "roi_not_found", None),
    ({"roi_id": "Cereal"}, 422, "validation_failed", "roi_id"),
    ({"colour": "red"}, 422, "validation_failed", "colour"),
]


@pytest.mark.parametrize(("changes", "status", "code", "field"), BAD,
                         ids=[next(iter(case[0])) + "-" + str(case[1]) for case in BAD])
def test_a_bad_replay_request_is_refused_in_the_error_shape_and_starts_nothing(
        shop: Shop, changes: dict, status: int, code: str, field: str | None) -> None:
    before = _rows(shop.app.appliance)
    last = shop.admin.get("/api/v1/admin/replays").json()["replay"]
    body = _body(shop)
    if changes.pop("swap", False):
        body["since"], body["until"] = body["until"], body["since"]
    body.update(changes)
    error = assert_error(shop.admin.post("/api/v1/admin/replays", json=body), status, code)
    if field:
        assert [d["field"] for d in error["details"]] == [field], error
    assert shop.admin.get("/api/v1/admin/replays").json()["replay"] == last  # nothing started
    assert _rows(shop.app.appliance) == before


def test_an_unknown_override_names_the_known_thresholds(shop: Shop) -> None:
    error = assert_error(shop.admin.post("/api/v1/admin/replays", json=_body(shop, overrides={"how_much": 0.1})),
                         422, "validation_failed")
    assert "how_much" in error["message"] and "start_threshold" in error["message"]


def test_a_span_outside_the_kept_frames_or_a_device_without_any_is_refused(shop: Shop) -> None:
    outside = _body(shop, since=shop.since - 86400 * 3, until=shop.since - 86400 * 2)
    error = assert_error(shop.admin.post("/api/v1/admin/replays", json=outside), 422, "validation_failed")
    assert "kept for replay run from" in error["message"]
    other = shop.admin.post("/api/v1/admin/devices", json={"name": "new camera"}).json()["device_id"]
    error = assert_error(shop.admin.post("/api/v1/admin/replays", json=_body(shop, device_id=other)),
                         409, "no_frames_kept")
    assert other in error["message"]


def test_replays_need_the_admin(shop: Shop) -> None:
    with shop.app.client() as anonymous:
        assert_error(anonymous.post("/api/v1/admin/replays", json=_body(shop)), 401)
        assert_error(anonymous.get("/api/v1/admin/replays"), 401)


# --- suggest -----------------------------------------------------------------------------------


def test_suggest_runs_like_a_replay_and_says_it_needs_reviewed_events(shop: Shop) -> None:
    answer = shop.admin.post("/api/v1/admin/suggestions", json=_body(shop))
    assert answer.status_code == 202, answer.text
    ended = _wait_ended(shop.admin, answer.json()["id"], timeout=120.0)
    assert ended["state"] == "done" and ended["kind"] == "suggest", ended
    suggestion = ended["suggestion"]
    assert set(suggestion) >= {"overrides", "rests_on", "kept_confirmed", "dropped_false_alarms", "message"}
    assert suggestion["rests_on"] == 0 and suggestion["message"]  # nobody has reviewed an event here
    assert_error(shop.admin.post("/api/v1/admin/suggestions",
                                 json=_body(shop, overrides={"start_threshold": 0.1})), 422, "validation_failed")
