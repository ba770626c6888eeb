"""Appliance health alerts: a camera down or silent, the disk below its reserve, dead jobs,
a device that stopped uploading.

A periodic check inside `storewatch run` compares what is wrong now with what was wrong at
the last check (health_conditions, in the database, so a restart neither repeats an alert
nor forgets one). A condition that starts writes one "raised" alert, one that ends one
"resolved"; each goes to the channels that asked for health alerts through the same outbox
as events (at least once, same delivery id on every retry, same backoff). A check that finds
nothing changed only reads.

The rules are the ones `storewatch doctor` and `status` use (storewatch/ops/doctor.py),
not a second set: stale is `doctor.stale_after_s`, the disk is `metrics.disk`'s
`below_reserve`, dead jobs are the jobs table's 'dead' state.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from storewatch.ops import camera_state, doctor
from storewatch import contract
from storewatch.upkeep import metrics
from storewatch.appliance import Appliance
from storewatch.store import Database
from storewatch.notify.channels import ChannelStore
from storewatch.notify.message import EventGone, Message, local_time

log = logging.getLogger("storewatch.notify")

CHECK_EVERY_S = 30.0
CHECK_ENV = "STOREWATCH_HEALTH_CHECK_S"  # tests check more often
KEEP_S = 30 * 86400.0  # alerts no longer needed are forgotten after this long, like the outbox's rows
PRUNE_EVERY = 120  # rounds: about hourly at the default interval
RAISED, RESOLVED = "raised", "resolved"


class AlertGone(EventGone):
    """The alert was forgotten before its notification could be sent."""


@dataclass(frozen=True)
class Problem:
    key: str  # stable while the condition lasts: camera_down, stale:<device>, disk, ...
    title: str
    body: str
    device_id: str | None = None  # a channel limited to some cameras hears only of those


def check_interval() -> float:
    try:
        value = float(os.environ.get(CHECK_ENV, CHECK_EVERY_S))
    except ValueError:
        value = CHECK_EVERY_S
    return min(3600.0, max(0.2, value))


def duration(seconds: float) -> str:
    """A span for people: '45 seconds', '5 minutes', '2.5 hours', '3 days'."""
    if seconds < 120:
        return f"{seconds:.0f} seconds"
    if seconds < 7200:
        return f"{seconds / 60:.0f} minutes"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 86400:.0f} days"


def _gb(size: float) -> str:
    return f"{size / 1e9:.1f} GB"


# --- what is wrong now ------------------------------------------------------------------------


def problems(appliance: Appliance, now: datetime | None = None) -> list[Problem]:
    now = now or contract.utc_now()
    found = _camera(appliance, now) + _devices(appliance, now)
    disk = metrics.disk(appliance)
    if disk["below_reserve"]:
        found.append(Problem("disk", "Disk almost full",
                             f"Disk almost full: {_gb(disk['free_bytes'])} left, the appliance keeps "
                             f"{_gb(disk['reserve_bytes'])} free. New pictures are refused until there is room; "
                             "`storewatch retention run --dry-run` shows what can go."))
    dead = metrics.queue(appliance, now)["by_state"]["dead"]
    if dead:
        found.append(Problem("dead_jobs", "Pictures not analysed",
                             f"{dead} picture(s) could not be analysed after several tries. "
                             "`storewatch queue list --state dead` says why; `storewatch queue retry --all-dead` "
                             "tries them again."))
    return found


def _camera(appliance: Appliance, now: datetime) -> list[Problem]:
    state = camera_state.report(appliance.data_dir, now)
    if state is None or state["state"] != camera_state.FAILED:
        return []
    return [Problem("camera_down", "The built-in camera is not working",
                    f"The built-in camera is not working: {state['message']}. {state['next_step']} "
                    "storewatch keeps trying by itself.".replace("  ", " "), camera_state.LOCAL_CAMERA_ID)]


def _devices(appliance: Appliance, now: datetime) -> list[Problem]:
    last_frames = {row["device_id"]: row["last"] for row in appliance.db.query(
        "SELECT device_id, MAX(received_at) AS last FROM captures GROUP BY device_id")}
    found = []
    for device in metrics.devices(appliance, now):
        age = device["last_seen_age_s"]
        if not device["enabled"] or age is None:  # never set up: nothing stopped
            continue
        name = device["name"] or device["id"]
        limit = doctor.stale_after_s(appliance.devices.settings_of(device["id"])["heartbeat_interval_s"])
        if age > limit:
            found.append(Problem(f"stale:{device['id']}", f"Camera '{name}' is silent",
                                 f"Camera '{name}' has sent nothing for {duration(age)}. Is it powered and on "
                                 "the Wi-Fi?", device["id"]))
            continue
        last = last_frames.get(device["id"])
        frame_age = None if last is None else (now - contract.parse_timestamp(last)).total_seconds()
        waiting = device["spool_frames"] or 0
        if waiting and frame_age is not None and frame_age > limit:  # heard from, but its pictures do not come
            found.append(Problem(f"uploading:{device['id']}", f"Camera '{name}' stopped uploading",
                                 f"Camera '{name}' is on but has uploaded no picture for {duration(frame_age)}; "
                                 f"{waiting} wait on it. Its last error: {device['last_error'] or 'none said'}.",
                                 device["id"]))
    return found


# --- raising and resolving --------------------------------------------------------------------


def check(appliance: Appliance, now: float | None = None) -> tuple[int, int]:
    """Raise what started, resolve what ended since the last check; returns (raised, resolved)."""
    now = time.time() if now is None else now
    found = {problem.key: problem for problem in problems(appliance)}
    db = appliance.db
    active = {row["key"]: row for row in db.query(
        "SELECT c.key, c.since, a.title, a.body FROM health_conditions c JOIN health_alerts a ON a.id = c.alert_id")}
    started = [problem for key, problem in found.items() if key not in active]
    ended = [row for key, row in active.items() if key not in found]
    if not started and not ended:  # the usual round: reads only
        return 0, 0
    with db.write() as conn:
        channels = [c for c in ChannelStore(db).list(conn) if c.health and c.enabled]
        for problem in started:
            alert_id = _alert(conn, problem.key, RAISED, problem.title, problem.body, now)
            conn.execute("INSERT INTO health_conditions (key, since, alert_id) VALUES (?, ?, ?)"
                         " ON CONFLICT (key) DO NOTHING", (problem.key, now, alert_id))
            _enqueue(conn, channels, alert_id, problem.device_id, now)
            log.warning("health: %s", problem.body)
        for row in ended:
            title = f"Resolved: {row['title']}"
            body = f"{row['title']}: fine again, after {duration(max(0.0, now - row['since']))}."
            alert_id = _alert(conn, row["key"], RESOLVED, title, body, now)
            conn.execute("DELETE FROM health_conditions WHERE key = ?", (row["key"],))
            _enqueue(conn, channels, alert_id, _device_of(row["key"]), now)
            log.info("health: %s", body)
    return len(started), len(ended)


def _device_of(key: str) -> str | None:
    if key == "camera_down":
        return camera_state.LOCAL_CAMERA_ID
    kind, _, device = key.partition(":")
    return device if kind in ("stale", "uploading") else None


def _alert(conn: Any, key: str, state: str, title: str, body: str, now: float) -> int:
    return conn.execute("INSERT INTO health_alerts (key, state, title, body, created_at) VALUES (?, ?, ?, ?, ?)"
                        " RETURNING id", (key, state, title, body, now)).fetchone()["id"]


def _enqueue(conn: Any, channels: list[Any], alert_id: int, device_id: str | None, now: float) -> None:
    for channel in channels:
        if device_id is not None and channel.devices is not None and device_id not in channel.devices:
            continue
        conn.execute("INSERT INTO notify_outbox (delivery_id, channel_id, alert_id, state, created_at,"
                     " next_attempt_at) VALUES (?, ?, ?, 'queued', ?, ?)",
                     (uuid.uuid4().hex, channel.id, alert_id, now, now))


def prune(db: Database, keep_s: float = KEEP_S, now: float | None = None) -> int:
    """Forget alerts older than `keep_s` that no condition still needs (their outbox rows go too)."""
    cutoff = (time.time() if now is None else now) - keep_s
    with db.write(flush=False) as conn:
        conn.execute("DELETE FROM health_alerts WHERE created_at < ?"
                     " AND id NOT IN (SELECT alert_id FROM health_conditions)", (cutoff,))
        return conn.changes()


# --- the message --------------------------------------------------------------------------------


def alert_message(db: Database, alert_id: int, delivery_id: str) -> Message:
    row = db.query_one("SELECT * FROM health_alerts WHERE id = ?", (alert_id,))
    if row is None:
        raise AlertGone(f"health alert {alert_id} was forgotten before it could be sent")
    at = contract.format_timestamp(datetime.fromtimestamp(row["created_at"], timezone.utc))
    payload = {"type": "health", "state": row["state"], "condition": row["key"], "title": row["title"],
               "message": row["body"], "at": at}
    return Message(delivery_id, payload, f"storewatch: {row['title']}", f"{row['body']} ({local_time(at)})")


# --- inside `storewatch run` --------------------------------------------------------------------


def health_service(appliance: Appliance) -> Any:
    """The check every CHECK_EVERY_S; the first waits a little longer (up to 2 minutes) so that
    cameras get to say hello after a restart before they count as silent."""
    from storewatch.ops.periodic import PeriodicService

    interval = check_interval()

    def tick(round_: int) -> None:
        check(appliance)
        if round_ % PRUNE_EVERY == 0:
            prune(appliance.db)

    return PeriodicService("health-alerts", interval, tick, first_delay_s=max(interval, min(120.0, 4 * interval)))
