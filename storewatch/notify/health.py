"""Appliance health alerts: a camera down or silent, the disk below its reserve, dead jobs,
a device that stopped uploading.

A periodic check inside `storewatch run` compares what is wrong now with what was wrong at
the last check (health_conditions, in the database, so a restart neither repeats an alert
nor forgets one). A condition that starts writes one "raised" alert, one that ends one
"resolved"; each goes to the channels that asked for health alerts through the same outbox
as events (at least once, same delivery id on every retry, same backoff). A check that finds
nothing changed only reads.

A channel with a schedule gets its health alerts inside the schedule: one raised outside
it waits (queued) for the schedule's next window, and a condition that was raised and
resolved before that window opened is dropped for that channel, both messages unsent.
`health_anytime` sends them at once instead. The SQL is storewatch/store/notify_health.py's.

The rules are the ones `storewatch doctor` and `status` use (storewatch/ops/doctor.py),
not a second set: stale is `doctor.stale_after_s`, the disk is `metrics.disk`'s
`below_reserve`, dead jobs are the jobs table's 'dead' state.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from storewatch.ops import camera_state, doctor
from storewatch import contract
from storewatch.upkeep import metrics
from storewatch.appliance import Appliance
from storewatch.store import Database
from storewatch.store import notify_health as store
from storewatch.store import notify_outbox
from storewatch.notify.channels import Channel, ChannelStore
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
    last_frames = store.last_frames(appliance.db)
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
    active = store.active(db)
    started = [problem for key, problem in found.items() if key not in active]
    ended = [row for key, row in active.items() if key not in found]
    if not started and not ended:  # the usual round: reads only
        return 0, 0
    with db.write() as conn:
        channels = [c for c in ChannelStore(db).list(conn) if c.health and c.enabled]
        zone = None
        if any(c.schedule and not c.health_anytime for c in channels):
            from storewatch.notify.outbox import appliance_zone

            zone = appliance_zone(db)
        for problem in started:
            alert_id = store.add_alert(conn, problem.key, RAISED, problem.title, problem.body, now)
            store.raise_condition(conn, problem.key, now, alert_id)
            _enqueue(conn, channels, alert_id, problem.device_id, now, zone)
            log.warning("health: %s", problem.body)
        for row in ended:
            title = f"Resolved: {row['title']}"
            body = f"{row['title']}: fine again, after {duration(max(0.0, now - row['since']))}."
            alert_id = store.add_alert(conn, row["key"], RESOLVED, title, body, now)
            store.resolve_condition(conn, row["key"])
            # a channel whose "raised" still waits for its schedule hears of neither
            waiting = [c for c in channels if store.drop_unsent(conn, c.id, row["alert_id"], now)]
            _enqueue(conn, [c for c in channels if c not in waiting], alert_id, _device_of(row["key"]), now, zone)
            log.info("health: %s", body)
    return len(started), len(ended)


def _device_of(key: str) -> str | None:
    if key == "camera_down":
        return camera_state.LOCAL_CAMERA_ID
    kind, _, device = key.partition(":")
    return device if kind in ("stale", "uploading") else None


def when_to_send(channel: Channel, now: float, zone: Any) -> float:
    """Now, or the next window of the channel's schedule unless its health alerts come at any time."""
    if channel.schedule is None or channel.health_anytime:
        return now
    opens = channel.schedule.next_start(now, zone)
    return now if opens is None else opens


def _enqueue(conn: Any, channels: list[Channel], alert_id: int, device_id: str | None, now: float,
             zone: Any) -> None:
    for channel in channels:
        if device_id is not None and channel.devices is not None and device_id not in channel.devices:
            continue
        notify_outbox.insert(conn, channel.id, now, next_attempt_at=when_to_send(channel, now, zone),
                             alert_id=alert_id)


def prune(db: Database, keep_s: float = KEEP_S, now: float | None = None) -> int:
    """Forget alerts older than `keep_s` that no condition still needs (their outbox rows go too)."""
    return store.prune(db, (time.time() if now is None else now) - keep_s)


# --- the message --------------------------------------------------------------------------------


def alert_message(db: Database, alert_id: int, delivery_id: str, zone: Any = None) -> Message:
    row = store.alert(db, alert_id)
    if row is None:
        raise AlertGone(f"health alert {alert_id} was forgotten before it could be sent")
    at = contract.format_timestamp(datetime.fromtimestamp(row["created_at"], timezone.utc))
    payload = {"type": "health", "state": row["state"], "condition": row["key"], "title": row["title"],
               "message": row["body"], "at": at}
    return Message(delivery_id, payload, f"storewatch: {row['title']}", f"{row['body']} ({local_time(at, zone)})")


# --- inside `storewatch run` --------------------------------------------------------------------


def health_service(appliance: Appliance) -> Any:
    """The check, and the daily digests' (notify/digest.py), every CHECK_EVERY_S; the first
    waits a little longer (up to 2 minutes) so that cameras get to say hello after a restart
    before they count as silent."""
    from storewatch.ops.periodic import PeriodicService

    interval = check_interval()

    def tick(round_: int) -> None:
        from storewatch.notify import digest

        try:
            check(appliance)
        finally:  # the digests are due whatever the health check met (they share this thread, not its fate)
            digest.check(appliance.db)
        if round_ % PRUNE_EVERY == 0:
            prune(appliance.db)
            digest.prune(appliance.db)

    return PeriodicService("health-alerts", interval, tick, first_delay_s=max(interval, min(120.0, 4 * interval)))
