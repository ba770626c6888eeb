"""The sender in this process against a real HTTP receiver on 127.0.0.1: signed webhooks in the
events API's shape, Apprise's json:// and ntfy:// with the After picture, outages, a hanging
receiver, giving up, and no secret in the log."""

from __future__ import annotations

import base64
import io
import logging
import time
from collections.abc import Iterator

import pytest
from PIL import Image

from support.notify import Receiver, write_visit
from storewatch.appliance import Appliance
from storewatch.notify.channels import ChannelStore
from storewatch.notify.deliver import NotifySender
from storewatch.notify.outbox import RetryPolicy
from support.waiting import wait_for

BASE = "http://192.168.1.5:8080"
SECRET = "s3cret-for-the-test-0123456789"
FAST = RetryPolicy(base_s=0.1, cap_s=0.3, give_up_s=60, jitter=0.1)


@pytest.fixture
def shelf(appliance: Appliance) -> int:
    appliance.devices.add("Aisle camera", "cam")
    return appliance.rois.add("cam", "top shelf", [[0.2, 0.2], [0.6, 0.2], [0.6, 0.6], [0.2, 0.6]])["id"]


@pytest.fixture
def sender(appliance: Appliance) -> Iterator[NotifySender]:
    started = NotifySender(appliance, BASE, policy=FAST, poll_s=0.05)
    started.start()
    yield started
    started.stop(5)


def states(appliance: Appliance) -> list[str]:
    return [row["state"] for row in appliance.db.query("SELECT state FROM notify_outbox ORDER BY id")]


def test_webhook_posts_the_event_signed_with_a_stable_delivery_id(appliance: Appliance, shelf: int,
                                                                   receiver: Receiver, sender: NotifySender) -> None:
    ChannelStore(appliance.db).add("hook", "webhook", receiver.url, secret=SECRET)
    event_id = write_visit(appliance, "cam", [(shelf, "taken")])
    (request,) = wait_for(lambda: receiver.requests)
    assert request.signed_with(SECRET) and not request.signed_with(SECRET + "x")
    body = request.json
    assert (body["id"], body["device_id"], body["device_name"], body["type"]) == (
        event_id, "cam", "Aisle camera", "interaction_detected")
    assert [(roi["roi_id"], roi["roi_name"], roi["verdict"]) for roi in body["rois"]] == [(shelf, "top shelf", "taken")]
    assert body["images"]["post"].startswith(f"{BASE}/api/v1/notify/images/{event_id}/post?expires=")  # signed
    assert request.delivery == appliance.db.scalar("SELECT delivery_id FROM notify_outbox")
    wait_for(lambda: states(appliance) == ["delivered"])


def test_a_receiver_that_was_down_gets_everything_once_when_back(appliance: Appliance, shelf: int,
                                                                receiver: Receiver, sender: NotifySender) -> None:
    ChannelStore(appliance.db).add("hook", "webhook", receiver.url, secret=SECRET)
    receiver.down()
    events = [write_visit(appliance, "cam", [(shelf, "taken")], capture_id=n) for n in range(1, 6)]
    wait_for(lambda: appliance.db.scalar("SELECT MAX(attempts) FROM notify_outbox") >= 3)
    tried = appliance.db.query("SELECT attempts, last_error FROM notify_outbox ORDER BY id")
    assert "could not reach the receiver" in tried[0]["last_error"]
    assert sum(row["attempts"] for row in tried) < 3 * len(events)  # one probe per backoff step, not one per row
    receiver.up()
    back = time.monotonic()
    wait_for(lambda: states(appliance) == ["delivered"] * 5, timeout=10)
    assert time.monotonic() - back < FAST.cap_s + 2  # within one capped backoff step (and a poll) of its return
    assert sorted(request.json["id"] for request in receiver.requests) == events  # each once
    assert len(set(receiver.deliveries())) == 5


def test_an_error_status_is_retried_with_the_same_delivery_id(appliance: Appliance, shelf: int,
                                                              receiver: Receiver, sender: NotifySender) -> None:
    ChannelStore(appliance.db).add("hook", "webhook", receiver.url, secret=SECRET)
    receiver.status = 503
    write_visit(appliance, "cam", [(shelf, "taken")])
    wait_for(lambda: len(receiver.requests) >= 2)
    receiver.status = 200
    wait_for(lambda: states(appliance) == ["delivered"])
    assert len(set(receiver.deliveries())) == 1


def test_a_delivery_that_keeps_failing_ends_dead_in_bounded_time(appliance: Appliance, shelf: int,
                                                                receiver: Receiver) -> None:
    ChannelStore(appliance.db).add("hook", "webhook", receiver.url, secret=SECRET)
    receiver.status = 500
    sender = NotifySender(appliance, BASE, policy=RetryPolicy(base_s=0.1, cap_s=0.2, give_up_s=1.0), poll_s=0.05)
    sender.start()
    try:
        write_visit(appliance, "cam", [(shelf, "taken")])
        started = time.monotonic()
        wait_for(lambda: states(appliance) == ["dead"], timeout=5)
        assert time.monotonic() - started < 3
    finally:
        sender.stop(5)
    row = appliance.db.query_one("SELECT * FROM notify_outbox")
    assert row["last_error"] == "the receiver answered HTTP 500" and row["attempts"] >= 3


def test_apprise_json_sends_title_body_and_the_cropped_after(appliance: Appliance, shelf: int,
                                                              receiver: Receiver, sender: NotifySender) -> None:
    ChannelStore(appliance.db).add("phone", "apprise", f"json://127.0.0.1:{receiver.port}/apprise")
    event_id = write_visit(appliance, "cam", [(shelf, "taken")])
    (request,) = wait_for(lambda: receiver.requests)
    assert request.path == "/apprise"
    body = request.json
    assert body["title"].startswith("Aisle camera: top shelf taken at ")
    assert f"{BASE}/#/events/{event_id}" in body["message"]
    (attachment,) = body["attachments"]
    assert (attachment["filename"], attachment["mimetype"]) == ("after.jpg", "image/jpeg")
    picture = Image.open(io.BytesIO(base64.b64decode(attachment["base64"])))
    assert picture.format == "JPEG" and picture.size[0] < 320 and picture.size[1] < 240  # cut to the shelf
    wait_for(lambda: states(appliance) == ["delivered"])


def test_secrets_never_reach_the_log(appliance: Appliance, shelf: int, receiver: Receiver) -> None:
    """As `storewatch run -v` logs: everything at DEBUG through a handler on the root logger."""
    token = "tok3n-in-the-apprise-url"
    ChannelStore(appliance.db).add("hook", "webhook", f"{receiver.url}?key=hidden-key-123", secret=SECRET)
    ChannelStore(appliance.db).add("phone", "apprise", f"json://{token}@127.0.0.1:{receiver.port}/a")
    receiver.status = 500
    written, root, httpx_log = io.StringIO(), logging.getLogger(), logging.getLogger("httpx")
    handler, level, httpx_level = logging.StreamHandler(written), root.level, httpx_log.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    httpx_log.setLevel(logging.DEBUG)  # as `-v` sets it (the CLI quiets httpx otherwise, and an earlier test ran it)
    sender = NotifySender(appliance, BASE, policy=FAST, poll_s=0.05)
    sender.start()
    try:
        write_visit(appliance, "cam", [(shelf, "taken")])
        wait_for(lambda: len(receiver.requests) >= 4)
    finally:
        sender.stop(5)
        root.removeHandler(handler)
        root.setLevel(level)
        httpx_log.setLevel(httpx_level)
    log = written.getvalue()
    assert "not delivered yet" in log and "HTTP Request: POST" in log  # httpx's own line, masked
    errors = " ".join(row["last_error"] or "" for row in appliance.db.query("SELECT last_error FROM notify_outbox"))
    for secret in (SECRET, token, "hidden-key-123"):
        assert secret not in log and secret not in errors


def test_an_event_deleted_before_sending_ends_dead_saying_so(appliance: Appliance, shelf: int,
                                                             receiver: Receiver) -> None:
    ChannelStore(appliance.db).add("hook", "webhook", receiver.url, secret=SECRET)
    event_id = write_visit(appliance, "cam", [(shelf, "taken")])
    with appliance.db.write() as conn:
        conn.execute("DELETE FROM events WHERE id = ?", (event_id,))
    sender = NotifySender(appliance, BASE, policy=FAST, poll_s=0.05)
    sender.start()
    try:
        wait_for(lambda: states(appliance) == ["dead"])
    finally:
        sender.stop(5)
    assert "was deleted" in appliance.db.scalar("SELECT last_error FROM notify_outbox")
    assert receiver.requests == []


def test_a_hanging_receiver_does_not_hold_up_another_channel(appliance: Appliance, shelf: int,
                                                             receiver: Receiver, sender: NotifySender) -> None:
    hanging = Receiver()
    try:
        ChannelStore(appliance.db).add("slow", "webhook", hanging.url, secret=SECRET)  # claimed first
        ChannelStore(appliance.db).add("hook", "webhook", receiver.url, secret=SECRET)
        hanging.hold()  # takes the request and does not answer (the webhook waits up to its 10 s timeout)
        write_visit(appliance, "cam", [(shelf, "taken")], capture_id=1)
        assert hanging.arrived.wait(5)
        started = time.monotonic()
        wait_for(lambda: receiver.requests, timeout=5)
        assert time.monotonic() - started < 2
        write_visit(appliance, "cam", [(shelf, "taken")], capture_id=2)
        wait_for(lambda: len(receiver.requests) == 2, timeout=3)  # and goes on while the other still hangs
        hanging.release()
        wait_for(lambda: states(appliance).count("delivered") == 4, timeout=15)
    finally:
        hanging.close()


def test_a_sending_thread_that_fails_puts_its_rows_back(appliance: Appliance, shelf: int, receiver: Receiver,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    ChannelStore(appliance.db).add("hook", "webhook", receiver.url, secret=SECRET)
    sender = NotifySender(appliance, BASE, policy=FAST, poll_s=0.05)
    broken = {"left": 1}
    real = sender.deliver

    def deliver_once_broken(rows: list) -> None:
        if broken["left"]:
            broken["left"] -= 1
            raise RuntimeError("the disk went away for a moment")
        real(rows)

    monkeypatch.setattr(sender, "deliver", deliver_once_broken)
    sender.start()
    try:
        write_visit(appliance, "cam", [(shelf, "taken")])
        wait_for(lambda: states(appliance) == ["delivered"], timeout=5)
    finally:
        sender.stop(5)
    assert len(receiver.requests) == 1
    assert appliance.db.scalar("SELECT attempts FROM notify_outbox") == 1  # the failed round did not count


def test_apprise_ntfy_posts_the_after_with_title_and_message(appliance: Appliance, shelf: int,
                                                              receiver: Receiver, sender: NotifySender) -> None:
    from urllib.parse import parse_qs, urlsplit

    ChannelStore(appliance.db).add("phone", "apprise", f"ntfy://127.0.0.1:{receiver.port}/shop-alerts")
    write_visit(appliance, "cam", [(shelf, "taken")])
    (request,) = wait_for(lambda: receiver.requests)
    where = urlsplit(request.path)
    query = parse_qs(where.query)
    assert where.path == "/shop-alerts" and query["filename"] == ["after.jpg"]
    assert query["title"][0].startswith("Aisle camera: top shelf taken at ")
    assert Image.open(io.BytesIO(request.body)).format == "JPEG"  # the picture is the body
    wait_for(lambda: states(appliance) == ["delivered"])
