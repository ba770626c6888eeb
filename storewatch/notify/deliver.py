"""The sender: a thread of `storewatch run` that delivers the outbox.

It never holds up ingest or analysis: it works on its own thread (and so its own database
connection), its transactions are single short UPDATEs, and every send has a network
timeout. When a channel fails, its other due rows wait for that channel's next try instead
of each paying the same timeout, so one dead receiver costs one attempt per backoff step.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any

from storewatch.appliance import Appliance
from storewatch.db import Row
from storewatch.events import EventStore
from storewatch.notify import mqtt, webhook
from storewatch.notify.channels import Channel, ChannelNotFound, ChannelStore
from storewatch.notify.message import EventGone, Message, event_message
from storewatch.notify.outbox import Outbox, RetryPolicy
from storewatch.notify.redaction import REDACTOR, guard_logs, redact
from storewatch.notify.result import SendResult

log = logging.getLogger("storewatch.notify")

POLL_S = 0.5  # how soon a new outbox row is picked up; one indexed SELECT per poll when idle
BATCH = 20
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
        self.events = EventStore(appliance.db, appliance.images)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        again = self.outbox.requeue_interrupted()
        if again:
            log.info("%d notification(s) were being sent when storewatch stopped; sending them again", again)
        self._stop.clear()
        mqtt.LINKS.serve(self.appliance.db, self.channels.list())  # one long-lived connection per MQTT channel
        self._thread = threading.Thread(target=self._loop, name="notify-sender", daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        mqtt.LINKS.close_all()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                rows = self.outbox.claim(BATCH)
                if rows:
                    self.deliver(rows)
                    continue
            except Exception:  # loop boundary: a busy disk or a bug must not end notifications
                log.exception("the notification sender's round failed")
            self._stop.wait(self.poll_s)

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
        try:
            channel = self.channels.get(row["channel_id"])
            message = event_message(self.events, row["event_id"], row["delivery_id"], self.base_url)
        except ChannelNotFound:  # removed meanwhile: its rows went with it
            return None
        except EventGone as exc:
            self.outbox.dead(row, str(exc))
            log.warning("a notification for event %s was given up: %s", row["event_id"], exc)
            return None
        try:
            result = send(channel, message)
        except Exception as exc:  # a bug in a channel: counted as a failed attempt, logged in full
            log.exception("channel %s: sending event %s failed", channel.name, row["event_id"])
            result = SendResult(False, f"storewatch could not send it ({type(exc).__name__})")
        if result.ok:
            self.outbox.delivered(row["id"])
            log.info("channel %s: event %s delivered (%s)", channel.name, row["event_id"], result.detail)
            return None
        state, next_at = self.outbox.failed(row, result.detail, self.policy)
        if state == "dead":
            log.warning("channel %s: gave up on event %s after %d attempts: %s", channel.name, row["event_id"],
                        row["attempts"], result.detail)
        else:
            log.warning("channel %s: event %s not delivered yet (%s); trying again", channel.name,
                        row["event_id"], result.detail)
        return next_at, result.detail


def sender_service(appliance: Appliance, host: str, port: int, **options: Any) -> NotifySender:
    return NotifySender(appliance, public_base_url(host, port), **options)
