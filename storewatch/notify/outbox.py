"""The outbox table: one row per (channel, event) to deliver, and its retry schedule.

Rows are made in the transaction that writes the event (`enqueue_events`), so an event is
never written without its deliveries, nor a delivery made for an event that was rolled
back. A row goes queued -> sending -> delivered, or back to queued with a later
`next_attempt_at` after a failure, or dead once it has failed for `give_up_s`. A row left
`sending` by a process that died is queued again at the next start with the same
delivery id, so a receiver can tell a re-send from a new event.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from storewatch import contract
from storewatch.store import Database, Row
from storewatch.store.events import INTERACTION
from storewatch.notify.channels import ChannelStore
from storewatch.notify.rules import Touch, out_of_cooldown, picked_rois

STATES = ("queued", "sending", "delivered", "dead")
MAX_ERROR = 300  # characters of last_error kept
KEEP_S = 30 * 86400.0  # delivered and dead rows are kept this long, for `notify outbox`


def _env_seconds(name: str, default: float, low: float, high: float) -> float:
    """A delivery timing from the environment (tests shorten them), clamped to sane bounds."""
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        value = default
    return min(high, max(low, value))


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with jitter; dead after `give_up_s` of failing."""

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
        raw = min(self.cap_s, self.base_s * 2 ** max(0, attempts - 1))
        return min(self.cap_s, raw * random.uniform(1 - self.jitter, 1 + self.jitter))


def _touches(conn: Any, event: Row) -> list[Touch]:
    rows = conn.execute("SELECT roi_id, verdict FROM event_rois WHERE event_id = ?", (event["id"],)).fetchall()
    if not rows:  # written without ROI rows: the event is its one ROI
        rows = [event]
    return [Touch(row["roi_id"], row["verdict"]) for row in rows]


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
            for event_id in dict.fromkeys(event_ids):
                event = conn.execute("SELECT id, device_id, type, roi_id, verdict, start_ts FROM events"
                                     " WHERE id = ?", (event_id,)).fetchone()
                if event is None or event["type"] != INTERACTION:
                    continue
                touches = _touches(conn, event)
                for channel in channels:
                    made += self._enqueue_one(conn, channel, event, touches, now)
        return made

    def _enqueue_one(self, conn: Any, channel: Any, event: Row, touches: list[Touch], now: float) -> int:
        if conn.execute("SELECT 1 FROM notify_outbox WHERE channel_id = ? AND event_id = ?",
                        (channel.id, event["id"])).fetchone():
            return 0
        start = contract.parse_timestamp(event["start_ts"]).timestamp()
        picked = picked_rois(channel, event["device_id"], touches, start)
        if not picked:
            return 0
        last = {row["roi_id"]: row["last_epoch"] for row in conn.execute(
            "SELECT roi_id, last_epoch FROM notify_cooldowns WHERE channel_id = ?", (channel.id,))}
        if not out_of_cooldown(channel, picked, last, start):
            return 0
        for touch in picked:
            fresh = touch.roi_id is not None and (touch.roi_id not in last
                                                  or start - last[touch.roi_id] >= channel.cooldown_s)
            if fresh:
                conn.execute("INSERT INTO notify_cooldowns (channel_id, roi_id, last_epoch) VALUES (?, ?, ?)"
                             " ON CONFLICT (channel_id, roi_id) DO UPDATE SET last_epoch = excluded.last_epoch",
                             (channel.id, touch.roi_id, start))
        conn.execute("INSERT INTO notify_outbox (delivery_id, channel_id, event_id, state, created_at,"
                     " next_attempt_at) VALUES (?, ?, ?, 'queued', ?, ?)",
                     (uuid.uuid4().hex, channel.id, event["id"], now, now))
        return 1

    # --- the sender's side ---------------------------------------------------------------------

    def requeue_interrupted(self) -> int:
        """Rows a killed process left `sending` are queued again (same delivery id): at least once."""
        with self.db.write() as conn:
            conn.execute("UPDATE notify_outbox SET state = 'queued' WHERE state = 'sending'")
            return conn.changes()

    def requeue(self, rows: list[Row]) -> None:
        """These rows, if still `sending`, back to the queue as they were (their sender failed)."""
        ids = [row["id"] for row in rows]
        with self.db.write(flush=False) as conn:
            conn.execute(f"UPDATE notify_outbox SET state = 'queued', attempts = MAX(0, attempts - 1)"
                         f" WHERE state = 'sending' AND id IN ({','.join('?' * len(ids))})", ids)

    def claim(self, limit: int, now: float | None = None, exclude: Collection[int] = ()) -> list[Row]:
        """Up to `limit` due rows, oldest due first, marked sending with one more attempt;
        none of the channels in `exclude` (busy sending already)."""
        now = time.time() if now is None else now
        skip = f" AND channel_id NOT IN ({','.join('?' * len(exclude))})" if exclude else ""
        due = f"state = 'queued' AND next_attempt_at <= ?{skip}"
        if self.db.query_one(f"SELECT 1 FROM notify_outbox WHERE {due} LIMIT 1",
                             (now, *exclude)) is None:  # idle: a read, so the poll never takes the write lock
            return []
        with self.db.write(flush=False) as conn:  # a claim lost to a power cut only means a re-send
            return conn.execute(
                "UPDATE notify_outbox SET state = 'sending', attempts = attempts + 1, last_attempt_at = ?"
                f" WHERE id IN (SELECT id FROM notify_outbox WHERE {due} ORDER BY next_attempt_at, id LIMIT ?)"
                " RETURNING *", (now, now, *exclude, limit)).fetchall()

    def delivered(self, row_id: int, now: float | None = None) -> None:
        with self.db.write(flush=False) as conn:  # lost to a power cut: sent again, which at-least-once allows
            conn.execute("UPDATE notify_outbox SET state = 'delivered', delivered_at = ?, last_error = NULL"
                         " WHERE id = ?", (time.time() if now is None else now, row_id))

    def failed(self, row: Row, error: str, policy: RetryPolicy, now: float | None = None) -> tuple[str, float]:
        """Back to queued after the backoff, or dead once it has failed for give_up_s.

        Returns the new state and the next attempt's time."""
        now = time.time() if now is None else now
        next_at = now + policy.delay(row["attempts"])
        dead = now - row["created_at"] >= policy.give_up_s
        with self.db.write(flush=False) as conn:
            conn.execute("UPDATE notify_outbox SET state = ?, next_attempt_at = ?, last_error = ? WHERE id = ?",
                         ("dead" if dead else "queued", next_at, error[:MAX_ERROR], row["id"]))
        return ("dead" if dead else "queued"), next_at

    def dead(self, row: Row, error: str) -> None:
        """No use trying again (its event is gone): dead at once, saying why."""
        with self.db.write(flush=False) as conn:
            conn.execute("UPDATE notify_outbox SET state = 'dead', last_error = ? WHERE id = ?",
                         (error[:MAX_ERROR], row["id"]))

    def postpone(self, row: Row, until: float, error: str, policy: RetryPolicy, now: float | None = None) -> None:
        """A row not tried because its channel just failed waits for that channel's next try."""
        now = time.time() if now is None else now
        dead = now - row["created_at"] >= policy.give_up_s
        with self.db.write(flush=False) as conn:
            conn.execute("UPDATE notify_outbox SET state = ?, attempts = attempts - 1, next_attempt_at = ?,"
                         " last_error = ? WHERE id = ?", ("dead" if dead else "queued", until, error[:MAX_ERROR],
                                                          row["id"]))

    def prune(self, keep_s: float = KEEP_S, now: float | None = None) -> int:
        """Forget delivered and dead rows older than `keep_s` (their events' retention is longer
        gone by then); returns how many."""
        cutoff = (time.time() if now is None else now) - keep_s
        with self.db.write(flush=False) as conn:
            conn.execute("DELETE FROM notify_outbox WHERE (state = 'delivered' AND delivered_at < ?)"
                         " OR (state = 'dead' AND created_at < ?)", (cutoff, cutoff))
            return conn.changes()

    # --- reading ------------------------------------------------------------------------------

    def list(self, *, state: str | None = None, limit: int = 100) -> list[Row]:
        where, params = ("WHERE o.state = ?", [state]) if state else ("", [])
        return self.db.query(
            "SELECT o.*, c.name AS channel FROM notify_outbox o JOIN notify_channels c ON c.id = o.channel_id"
            f" {where} ORDER BY o.id DESC LIMIT ?", (*params, max(1, min(int(limit), 1000))))

    def summary(self) -> dict[int, dict[str, Any]]:
        """Per channel id: counts by state and its last attempted delivery."""
        found: dict[int, dict[str, Any]] = {}
        for row in self.db.query("SELECT channel_id, state, COUNT(*) AS n FROM notify_outbox"
                                 " GROUP BY channel_id, state"):
            found.setdefault(row["channel_id"], {"counts": dict.fromkeys(STATES, 0), "last": None})
            found[row["channel_id"]]["counts"][row["state"]] = row["n"]
        for row in self.db.query(
                "SELECT * FROM notify_outbox o WHERE id = (SELECT id FROM notify_outbox i"
                " WHERE i.channel_id = o.channel_id AND i.last_attempt_at IS NOT NULL"
                " ORDER BY i.last_attempt_at DESC, i.id DESC LIMIT 1)"):
            found[row["channel_id"]]["last"] = public_row(row)
        return found


def public_row(row: Row) -> dict[str, Any]:
    """One outbox row as the CLI shows it (times as RFC 3339)."""
    from storewatch.store.events import epoch_to_ts

    def ts(value: float | None) -> str | None:
        return None if value is None else epoch_to_ts(value)

    return {"delivery_id": row["delivery_id"], "channel": row.get("channel"), "event_id": row["event_id"],
            "alert_id": row.get("alert_id"),
            "state": row["state"], "attempts": row["attempts"], "created_at": ts(row["created_at"]),
            "next_attempt_at": ts(row["next_attempt_at"]) if row["state"] == "queued" else None,
            "last_attempt_at": ts(row["last_attempt_at"]), "delivered_at": ts(row["delivered_at"]),
            "last_error": row["last_error"]}
