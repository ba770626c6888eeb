"""The outbox: one row per (channel, thing to tell) to deliver, and its retry schedule.

Rows are made in the transaction that writes what they tell of (`enqueue_events` with the
event, health.check with the alert, digest.check with the digest), so nothing is written
without its deliveries, nor a delivery made for something rolled back. A row goes queued ->
sending -> delivered, or back to queued with a later `next_attempt_at` after a failure, or
dead once it has failed for `give_up_s`. A row left `sending` by a process that died is
queued again at the next start with the same delivery id, so a receiver can tell a re-send
from a new event.

MQTT channels also get a row when a visit starts (`enqueue_visit_starts`, from the worker's
outputs): its areas' "touched" goes ON then, and OFF with the visit's event, or with a
`visit` row of state "ended" when the channel does not want that event (its verdicts).
The SQL is storewatch/store/notify_outbox.py's.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from storewatch import contract
from storewatch.backoff import capped_exponential
from storewatch.store import Database, Row
from storewatch.store import notify_outbox as store
from storewatch.store.events import INTERACTION
from storewatch.store.notify_outbox import STATES
from storewatch.notify.channels import Channel, ChannelStore
from storewatch.notify.rules import Touch, out_of_cooldown, picked_rois

KEEP_S = 30 * 86400.0  # delivered and dead rows are kept this long, for `notify outbox`


def _env_seconds(name: str, default: float, low: float, high: float) -> float:
    """A delivery timing from the environment (tests shorten them), clamped to sane bounds."""
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        value = default
    return min(high, max(low, value))


def appliance_zone(db: Database) -> tzinfo:
    """The appliance's time zone (the `time_zone` setting), for schedules and digests."""
    from storewatch.appliance import ApplianceSettings
    from storewatch.timezone import zone

    return zone(ApplianceSettings(db).get("time_zone"))


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff (storewatch.backoff) with jitter; dead after `give_up_s` of failing."""

    base_s: float = 2.0
    cap_s: float = 60.0  # a receiver back after an outage waits at most about this long
    give_up_s: float = 24 * 3600.0
    jitter: float = 0.2

    @classmethod
    def from_env(cls) -> RetryPolicy:
        return cls(base_s=_env_seconds("STOREWATCH_NOTIFY_RETRY_BASE_S", cls.base_s, 0.05, 3600),
                   cap_s=_env_seconds("STOREWATCH_NOTIFY_RETRY_CAP_S", cls.cap_s, 0.05, 86400),
                   give_up_s=_env_seconds("STOREWATCH_NOTIFY_GIVE_UP_S", cls.give_up_s, 1, 30 * 86400))

    def delay(self, attempts: int) -> float:
        ceiling = capped_exponential(self.base_s, self.cap_s, attempts - 1)
        return min(self.cap_s, ceiling * random.uniform(1 - self.jitter, 1 + self.jitter))


class Outbox:
    def __init__(self, db: Database):
        self.db = db

    # --- made with the event -----------------------------------------------------------------

    def enqueue_events(self, event_ids: list[int], now: float | None = None) -> int:
        """Rows for the channels that want these events (joins the caller's transaction).

        Decided once per (channel, event): an event written again keeps what it had, and
        channels added later do not reach back to older events. Returns rows made."""
        if not event_ids:  # most frames end no visit: no query for them
            return 0
        now = time.time() if now is None else now
        made = 0
        with self.db.write() as conn:
            channels = ChannelStore(self.db).list(conn)
            if not channels:
                return 0
            zone = appliance_zone(self.db) if any(c.schedule for c in channels) else None
            follows_visits = any(c.kind == "mqtt" for c in channels)  # only MQTT is told of a visit's start
            for event_id in dict.fromkeys(event_ids):
                event = store.event_for_outbox(conn, event_id)
                if event is None or event["type"] != INTERACTION:
                    continue
                touches = [Touch(roi_id, verdict) for roi_id, verdict in store.event_touches(conn, event)]
                start = contract.parse_timestamp(event["start_ts"]).timestamp()
                told = {channel.id for channel in channels
                        if self._enqueue_one(conn, channel, event, touches, start, now, zone)}
                made += len(told)
                if follows_visits:
                    self._end_visit(conn, event["device_id"], start, told, now)
        return made

    def _enqueue_one(self, conn: Any, channel: Channel, event: Row, touches: list[Touch], start: float, now: float,
                     zone: tzinfo | None) -> bool:
        if store.has_event(conn, channel.id, event["id"]):
            return False
        picked = picked_rois(channel, event["device_id"], touches, start, zone)
        if not picked:
            return False
        last = store.cooldowns(conn, channel.id)
        if not out_of_cooldown(channel, picked, last, start):
            return False
        for touch in picked:
            fresh = touch.roi_id is not None and (touch.roi_id not in last
                                                  or start - last[touch.roi_id] >= channel.cooldown_s)
            if fresh:
                store.set_cooldown(conn, channel.id, touch.roi_id, start)
        store.insert(conn, channel.id, now, event_id=event["id"])
        return True

    @staticmethod
    def _end_visit(conn: Any, device_id: str, start: float, told: set[int], now: float,
                   keep: Collection[int] | None = None) -> int:
        """A channel told of this visit's start but not yet of its end (`told`: those that were,
        as by its event, which sets its areas OFF itself) hears that it ended: of its areas, or
        only of those in `keep`; a channel left with none is not told. Returns rows made."""
        made = 0
        for row in store.visit_starts(conn, device_id, start):
            if row["channel_id"] in told:
                continue
            started = _visit(row)
            if keep is not None:
                started["roi_ids"] = [r for r in started.get("roi_ids", []) if r in keep]
                if not started["roi_ids"]:
                    continue
            store.insert(conn, row["channel_id"], now, visit={**started, "state": "ended"})
            told.add(row["channel_id"])
            made += 1
        return made

    def end_visit(self, device_id: str, start_epoch: float, roi_ids: Collection[int] | None = None,
                  now: float | None = None) -> int:
        """A visit that the analysis dropped without an event (its areas turned out to be a
        lighting change's onset, went restless, or were removed) still ends: every MQTT channel
        told of its start hears that it ended, so "touched" goes OFF (joins the caller's
        transaction). With `roi_ids`, only those of the started areas; a channel left with none
        is not told. Returns rows made."""
        now = time.time() if now is None else now
        with self.db.write() as conn:
            return self._end_visit(conn, device_id, start_epoch, set(), now,
                                   None if roi_ids is None else set(roi_ids))

    # --- made when a visit starts (jobs/outputs.commit) -------------------------------------------

    def enqueue_visit_starts(self, device_id: str, starts: Iterable[tuple[float, Collection[int]]],
                             now: float | None = None) -> int:
        """A row per MQTT channel that follows this device for each visit that started (its
        areas' "touched" goes ON); joins the caller's transaction. Returns rows made."""
        starts = list(starts)
        if not starts:
            return 0
        now = time.time() if now is None else now
        made = 0
        with self.db.write() as conn:
            channels = [c for c in ChannelStore(self.db).list(conn) if c.kind == "mqtt" and c.enabled
                        and (c.devices is None or device_id in c.devices)]
            if not channels:
                return 0
            zone = appliance_zone(self.db) if any(c.schedule for c in channels) else None
            for start, roi_ids in starts:
                for channel in channels:
                    rois = sorted(r for r in roi_ids if channel.rois is None or r in channel.rois)
                    if not rois or (channel.schedule is not None
                                    and not channel.schedule.contains_epoch(start, zone)):
                        continue
                    store.insert(conn, channel.id, now, visit={"state": "started", "device_id": device_id,
                                                               "start_epoch": start, "roi_ids": rois})
                    made += 1
        return made

    # --- the sender's side ---------------------------------------------------------------------

    def requeue_interrupted(self) -> int:
        """Rows a killed process left `sending` are queued again (same delivery id): at least once."""
        return store.requeue_interrupted(self.db)

    def requeue(self, rows: list[Row]) -> None:
        """These rows, if still `sending`, back to the queue as they were (their sender failed)."""
        store.requeue(self.db, [row["id"] for row in rows])

    def claim(self, limit: int, now: float | None = None, exclude: Collection[int] = ()) -> list[Row]:
        """Up to `limit` due rows, oldest due first, marked sending with one more attempt;
        none of the channels in `exclude` (busy sending already)."""
        return store.claim(self.db, limit, time.time() if now is None else now, exclude)

    def delivered(self, row_id: int, now: float | None = None) -> None:
        store.mark_delivered(self.db, row_id, time.time() if now is None else now)

    def failed(self, row: Row, error: str, policy: RetryPolicy, now: float | None = None) -> tuple[str, float]:
        """Back to queued after the backoff, or dead once it has failed for give_up_s.

        Returns the new state and the next attempt's time."""
        now = time.time() if now is None else now
        next_at = now + policy.delay(row["attempts"])
        state = "dead" if now - row["created_at"] >= policy.give_up_s else "queued"
        store.mark_failed(self.db, row["id"], state, next_at, error)
        return state, next_at

    def dead(self, row: Row, error: str) -> None:
        """No use trying again (its event is gone): dead at once, saying why."""
        store.mark_dead(self.db, row["id"], error)

    def postpone(self, row: Row, until: float, error: str, policy: RetryPolicy, now: float | None = None) -> None:
        """A row not tried because its channel just failed waits for that channel's next try."""
        now = time.time() if now is None else now
        state = "dead" if now - row["created_at"] >= policy.give_up_s else "queued"
        store.mark_failed(self.db, row["id"], state, until, error, one_attempt_back=True)

    def prune(self, keep_s: float = KEEP_S, now: float | None = None) -> int:
        """Forget delivered and dead rows older than `keep_s` (their events' retention is longer
        gone by then); returns how many."""
        return store.prune(self.db, (time.time() if now is None else now) - keep_s)

    # --- reading ------------------------------------------------------------------------------

    def list(self, *, state: str | None = None, limit: int = 100) -> list[Row]:
        return store.listing(self.db, state, limit)

    def summary(self) -> dict[int, dict[str, Any]]:
        """Per channel id: counts by state and its last attempted delivery."""
        found: dict[int, dict[str, Any]] = {}
        for row in store.counts_by_channel(self.db):
            found.setdefault(row["channel_id"], {"counts": dict.fromkeys(STATES, 0), "last": None})
            found[row["channel_id"]]["counts"][row["state"]] = row["n"]
        for row in store.last_attempts(self.db):
            found[row["channel_id"]]["last"] = public_row(row)
        return found


def _visit(row: Row) -> dict[str, Any]:
    return json.loads(row["visit"])


def kind_of(row: Row) -> str:
    """What an outbox row tells of: event, health, digest, visit_started or visit_ended."""
    if row.get("alert_id") is not None:
        return "health"
    if row.get("digest_id") is not None:
        return "digest"
    if row.get("visit"):
        return f"visit_{_visit(row)['state']}"
    return "event"


def about(row: Row) -> str:
    """The row's subject in words, for logs and the CLI: 'event 12', 'a health alert', ..."""
    kind = kind_of(row)
    if kind == "event":
        return f"event {row['event_id']}"
    if kind == "health":
        return f"health alert {row['alert_id']}"
    if kind == "digest":
        return f"daily digest {row['digest_id']}"
    visit = _visit(row)
    return f"the {'start' if kind == 'visit_started' else 'end'} of a visit on {visit['device_id']}"


def public_row(row: Row) -> dict[str, Any]:
    """One outbox row as the CLI shows it (times as RFC 3339)."""
    from storewatch.store.events import epoch_to_ts

    def ts(value: float | None) -> str | None:
        return None if value is None else epoch_to_ts(value)

    return {"delivery_id": row["delivery_id"], "channel": row.get("channel"), "kind": kind_of(row),
            "about": about(row), "event_id": row["event_id"], "alert_id": row.get("alert_id"),
            "digest_id": row.get("digest_id"),
            "state": row["state"], "attempts": row["attempts"], "created_at": ts(row["created_at"]),
            "next_attempt_at": ts(row["next_attempt_at"]) if row["state"] == "queued" else None,
            "last_attempt_at": ts(row["last_attempt_at"]), "delivered_at": ts(row["delivered_at"]),
            "last_error": row["last_error"]}
