"""A channel's daily digest: per shelf area, how many visits and what was taken or placed.

Optional per channel (`digest_at`, "HH:MM" in the appliance's time zone; off by default).
The digest made at HH:MM on a day counts the visits that began in the 24 hours of wall
clock before it (from HH:MM the day before), so no visit is counted twice or missed; a
visit marked a false alarm is left out and counted apart. `check` runs inside
`storewatch run` with the health check: once a channel's time has come and its digest of
the day is not made yet, it makes it (one per channel and local day: a restart never makes
a second) and queues it in the outbox in the same transaction, so it is delivered at least
once like an event. An appliance that was off at that time makes the day's digest when it
is back, the same day; days it missed entirely get none. The SQL is
storewatch/store/notify_digests.py's.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta, tzinfo
from typing import Any

from storewatch.store import Database
from storewatch.store import notify_digests as store
from storewatch.store import notify_outbox
from storewatch.store.events import VERDICTS, epoch_to_ts
from storewatch.notify.channels import Channel, ChannelStore
from storewatch.notify.message import Message

log = logging.getLogger("storewatch.notify")

KEEP_S = 30 * 86400.0
COUNTED = (*VERDICTS, "undecided")


class DigestGone(LookupError):
    """The digest was forgotten before it could be sent."""


def period(digest_at: str, now: float, zone: tzinfo) -> tuple[str, float, float] | None:
    """(local day, start, end) of the digest due at `now`, or None before today's time."""
    hour, minute = (int(part) for part in digest_at.split(":"))
    local = datetime.fromtimestamp(now, zone)
    sent = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if local < sent:
        return None
    return sent.date().isoformat(), (sent - timedelta(days=1)).timestamp(), sent.timestamp()


def _wanted(channel: Channel, row: Any) -> bool:
    return ((channel.devices is None or row["device_id"] in channel.devices)
            and (channel.rois is None or row["roi_id"] in channel.rois))


def summarize(db: Database, channel: Channel, day: str, start: float, end: float, zone: tzinfo) -> dict[str, Any]:
    """The digest's payload: per shelf area (in the channel's devices and ROIs) its visits and verdicts."""
    shelves: dict[tuple[str, int | None], dict[str, Any]] = {}
    visits: set[int] = set()
    false_alarms: set[int] = set()
    for row in store.touches_between(db, start, end):
        if not _wanted(channel, row):
            continue
        if row["false_alarm"]:
            false_alarms.add(row["event_id"])
            continue
        visits.add(row["event_id"])
        shelf = shelves.setdefault((row["device_id"], row["roi_id"]), {
            "device_id": row["device_id"], "device_name": row["device_name"] or row["device_id"],
            "roi_id": row["roi_id"], "roi_name": row["roi_name"] or f"area {row['roi_id']}",
            "visits": 0, **dict.fromkeys(COUNTED, 0)})
        shelf["visits"] += 1
        shelf[row["verdict"] if row["verdict"] in VERDICTS else "undecided"] += 1
    ordered = sorted(shelves.values(), key=lambda s: (s["device_name"], s["roi_name"], s["roi_id"] or 0))
    return {"type": "digest", "channel": channel.name, "day": day, "from": epoch_to_ts(start),
            "until": epoch_to_ts(end), "time_zone": str(zone), "visits": len(visits),
            "false_alarms": len(false_alarms), "shelves": ordered}


def check(db: Database, now: float | None = None, zone: tzinfo | None = None) -> int:
    """Make and queue every digest that is due and not made yet; returns how many were made.
    A round with none due only reads (and none at all when no channel has a digest)."""
    now = time.time() if now is None else now
    channels = [c for c in ChannelStore(db).list() if c.enabled and c.digest_at]
    if not channels:
        return 0
    if zone is None:
        from storewatch.notify.outbox import appliance_zone

        zone = appliance_zone(db)
    made = 0
    for channel in channels:
        due = period(channel.digest_at or "", now, zone)
        if due is None or store.made(db, channel.id, due[0]):
            continue
        day, start, end = due
        payload = summarize(db, channel, day, start, end, zone)
        with db.write() as conn:
            digest_id = store.insert(conn, channel.id, day, start, end, payload, now)
            if digest_id is None:  # another process made it meanwhile
                continue
            notify_outbox.insert(conn, channel.id, now, digest_id=digest_id)
        made += 1
        log.info("channel %s: the daily digest of %s is made (%d visits)", channel.name, day, payload["visits"])
    return made


def prune(db: Database, keep_s: float = KEEP_S, now: float | None = None) -> int:
    return store.prune(db, (time.time() if now is None else now) - keep_s)


# --- the message --------------------------------------------------------------------------------


def _counts(shelf: dict[str, Any]) -> str:
    visits = f"{shelf['visits']} visit{'s' if shelf['visits'] != 1 else ''}"
    said = [f"{shelf[word]} {word}" for word in ("taken", "placed", "moved") if shelf[word]]
    return ", ".join([visits, *said])


def digest_message(db: Database, digest_id: int, delivery_id: str) -> Message:
    row = store.get(db, digest_id)
    if row is None:
        raise DigestGone(f"daily digest {digest_id} was forgotten before it could be sent")
    payload = json.loads(row["payload"])
    from zoneinfo import ZoneInfo

    try:
        zone: tzinfo = ZoneInfo(payload["time_zone"])
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    start = datetime.fromtimestamp(row["period_start"], zone)
    end = datetime.fromtimestamp(row["period_end"], zone)
    span = f"{start:%a %d %b %H:%M} to {end:%a %d %b %H:%M %Z}"
    title = f"storewatch: the day on the shelves, {end:%a %d %b}"
    if not payload["shelves"]:
        lines = [f"No visits from {span}."]
    else:
        lines = [f"{payload['visits']} visit{'s' if payload['visits'] != 1 else ''} from {span}:"]
        lines += [f"- {s['roi_name']} ({s['device_name']}): {_counts(s)}" for s in payload["shelves"]]
    if payload["false_alarms"]:
        lines.append(f"({payload['false_alarms']} marked false alarm, not counted.)")
    return Message(delivery_id, payload, title, "\n".join(lines))
