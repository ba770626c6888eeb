"""The sender: threads of `storewatch run` that deliver the outbox.

It never holds up ingest or analysis: it works on its own threads (and so its own database
connections), its transactions are single short UPDATEs, and every send has a network
timeout. A few sending threads take one channel's rows each at a time, so a receiver that
hangs holds up only its own channel. When a channel fails, its other due rows wait for that
channel's next try instead of each paying the same timeout, so one dead receiver costs one
attempt per backoff step.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import queue
import threading
import time
from datetime import tzinfo
from typing import Any

from storewatch.appliance import Appliance
from storewatch.timezone import zone as zone_of
from storewatch.store import Row
from storewatch.store import notify_outbox
from storewatch.store.events import epoch_to_ts
from storewatch.notify import mqtt, webhook
from storewatch.notify.channels import Channel, ChannelNotFound, ChannelStore
from storewatch.notify.digest import DigestGone, digest_message
from storewatch.notify.health import alert_message
from storewatch.notify.image_links import ImageLinks
from storewatch.notify.message import EventGone, Message, event_message, visit_message
from storewatch.notify.outbox import Outbox, RetryPolicy, about, kind_of
from storewatch.notify.redaction import REDACTOR, guard_logs, redact
from storewatch.notify.result import SendResult

log = logging.getLogger("storewatch.notify")

POLL_S = 0.5  # how soon a new outbox row is picked up; one indexed SELECT per poll when idle
BATCH = 20
PRUNE_EVERY_S = 3600.0
SENDING_THREADS = 4  # channels sent to at once; more hanging receivers than this wait their turn
PUBLIC_URL_ENV = "STOREWATCH_PUBLIC_URL"


def public_base_url(host: str, port: int) -> str:
    """Where receivers reach the appliance for image URLs: $STOREWATCH_PUBLIC_URL, else
    the address it listens on (its LAN address when it listens on every interface)."""
    configured = os.environ.get(PUBLIC_URL_ENV, "").strip()
    if configured:
        return configured.rstrip("/")
    if host in ("0.0.0.0", "::", ""):
        host = _lan_address()
    return f"http://{host}:{port}"


def _lan_address() -> str:
    """The address of the interface with the default route (a UDP connect sends nothing)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect(("192.0.2.1", 9))  # TEST-NET-1: only picks the route
            return sock.getsockname()[0]
    except OSError:
        return "127.0.0.1"


def appliance_time_zone(appliance: Appliance) -> tzinfo:
    """The appliance's time zone (the `time_zone` setting, cached briefly by its settings)."""
    return zone_of(appliance.settings.get("time_zone"))


def send(channel: Channel, message: Message) -> SendResult:
    """One attempt on the channel's kind; the result's words never hold its URL or secret,
    nor do the log lines of the libraries under it (on the root logger's handlers)."""
    guard_logs()
    REDACTOR.remember(channel.url, channel.secret)
    if channel.kind == "webhook":
        result = webhook.send(channel, message)
    elif channel.kind == "mqtt":
        result = mqtt.send(channel, message)
    else:  # Apprise takes half a second to import (more on a Pi): only when a channel uses it
        from storewatch.notify import apprise_channel

        result = apprise_channel.send(channel, message)
    return SendResult(result.ok, redact(result.detail, channel.url, channel.secret))


class NotifySender:
    name = "notify"

    def __init__(self, appliance: Appliance, base_url: str, policy: RetryPolicy | None = None,
                 poll_s: float = POLL_S) -> None:
        self.appliance, self.base_url = appliance, base_url
        self.policy = policy or RetryPolicy.from_env()
        self.poll_s = poll_s
        self.outbox = Outbox(appliance.db)
        self.channels = ChannelStore(appliance.db)
        self.events = appliance.events
        self.links = ImageLinks(appliance.key)  # picture links that work without a login (image_links.py)
        self._stop = threading.Event()
        self._wake = threading.Event()  # a channel's thread finished: claim again at once
        self._thread: threading.Thread | None = None
        # A few long-lived sending threads (each keeps one database connection): a channel's rows
        # go to one of them at a time, and the channel is busy until they are done.
        self._jobs: queue.Queue[tuple[int, list[Row]] | None] = queue.Queue()
        self._workers: list[threading.Thread] = []
        self._busy: set[int] = set()
        self._busy_lock = threading.Lock()

    def start(self) -> None:
        again = self.outbox.requeue_interrupted()
        if again:
            log.info("%d notification(s) were being sent when storewatch stopped; sending them again", again)
        self._stop.clear()
        mqtt.LINKS.serve(self.appliance.db, self.channels.list())  # one long-lived connection per MQTT channel
        self._workers = [threading.Thread(target=self._work, name=f"notify-send-{n}", daemon=True)
                         for n in range(SENDING_THREADS)]
        for worker in self._workers:
            worker.start()
        self._thread = threading.Thread(target=self._loop, name="notify-sender", daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> None:
        """Stop claiming; let each channel's send in flight finish (within `timeout`) and record it."""
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        if self._thread is not None:
            self._thread.join(timeout)
        for _ in self._workers:
            self._jobs.put(None)
        for worker in self._workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        mqtt.LINKS.close_all()

    def _loop(self) -> None:
        pruned_at = float("-inf")
        while not self._stop.is_set():
            try:
                if time.monotonic() - pruned_at >= PRUNE_EVERY_S:
                    pruned_at = time.monotonic()
                    self.outbox.prune()
                with self._busy_lock:
                    busy = sorted(self._busy)
                rows = self.outbox.claim(BATCH, exclude=busy)
                if rows:
                    self._dispatch(rows)
                    continue
            except Exception:  # loop boundary: a busy disk or a bug must not end notifications
                log.exception("the notification sender's round failed")
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def _dispatch(self, rows: list[Row]) -> None:
        """Each channel's rows on a thread of their own: a receiver that hangs until its timeout
        holds up only its own channel, never the others."""
        by_channel: dict[int, list[Row]] = {}
        for row in rows:
            by_channel.setdefault(row["channel_id"], []).append(row)
        for channel_id, group in by_channel.items():
            with self._busy_lock:
                self._busy.add(channel_id)
            self._jobs.put((channel_id, group))

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            channel_id, rows = job
            try:
                self.deliver(rows)
            except Exception:  # thread boundary: what it left `sending` goes back to the queue
                log.exception("the notification sender failed on channel %s", channel_id)
                self._requeue(rows)
            finally:
                with self._busy_lock:
                    self._busy.discard(channel_id)
                self._wake.set()

    def _requeue(self, rows: list[Row]) -> None:
        try:
            self.outbox.requeue(rows)
        except Exception:  # the disk again: they are queued again at the next start
            log.exception("could not put %d notification(s) back in the queue", len(rows))

    def deliver(self, rows: list[Row]) -> None:
        """Send claimed rows in order; a failing channel's later rows wait for its next try."""
        failing: dict[int, tuple[float, str]] = {}
        for row in rows:
            if self._stop.is_set():  # stopping: what is left goes back to the queue as it was
                self.outbox.postpone(row, row["next_attempt_at"], row["last_error"] or "", self.policy)
                continue
            if row["channel_id"] in failing:
                until, error = failing[row["channel_id"]]
                self.outbox.postpone(row, until, error, self.policy)
                continue
            outcome = self._deliver_one(row)
            if outcome is not None:
                failing[row["channel_id"]] = outcome

    def _deliver_one(self, row: Row) -> tuple[float, str] | None:
        """None when delivered (or nothing is left to do), else the channel's next try and why."""
        what = about(row)
        try:
            channel = self.channels.get(row["channel_id"])
            message = self._message(row)
        except ChannelNotFound:  # removed meanwhile: its rows went with it
            return None
        except (EventGone, DigestGone) as exc:  # AlertGone is an EventGone
            self.outbox.dead(row, str(exc))
            log.warning("channel %s: %s was given up: %s", row["channel_id"], what, exc)
            return None
        if message is None:  # a visit's start that ended before it could be said: nothing to send
            self.outbox.delivered(row["id"])
            log.debug("channel %s: %s is past; not sent", channel.name, what)
            return None
        try:
            result = send(channel, message)
        except Exception as exc:  # a bug in a channel: counted as a failed attempt, logged in full
            log.exception("channel %s: sending %s failed", channel.name, what)
            result = SendResult(False, f"storewatch could not send it ({type(exc).__name__})")
        if result.ok:
            self.outbox.delivered(row["id"])
            log.info("channel %s: %s delivered (%s)", channel.name, what, result.detail)
            return None
        state, next_at = self.outbox.failed(row, result.detail, self.policy)
        if state == "dead":
            log.warning("channel %s: gave up on %s after %d attempts: %s", channel.name, what, row["attempts"],
                        result.detail)
        else:
            log.warning("channel %s: %s not delivered yet (%s); trying again", channel.name, what, result.detail)
        return next_at, result.detail

    def _message(self, row: Row) -> Message | None:
        kind = kind_of(row)
        zone = appliance_time_zone(self.appliance)
        if kind == "health":
            return alert_message(self.appliance.db, row["alert_id"], row["delivery_id"], zone)
        if kind == "digest":
            return digest_message(self.appliance.db, row["digest_id"], row["delivery_id"])
        if kind.startswith("visit_"):
            visit = json.loads(row["visit"])
            if kind == "visit_started" and self._visit_over(visit):
                return None
            return visit_message(visit, row["delivery_id"])
        return event_message(self.events, row["event_id"], row["delivery_id"], self.base_url, self.links, zone)

    def _visit_over(self, visit: dict[str, Any]) -> bool:
        """Its event is written (the visit ended), or it began longer ago than any visit lasts."""
        start = float(visit["start_epoch"])
        if time.time() - start > mqtt.TOUCH_MAX_S:
            return True
        return notify_outbox.event_started_at(self.appliance.db, visit["device_id"], epoch_to_ts(start - 0.002),
                                              epoch_to_ts(start + 0.002))


def sender_service(appliance: Appliance, host: str, port: int, **options: Any) -> NotifySender:
    return NotifySender(appliance, public_base_url(host, port), **options)
