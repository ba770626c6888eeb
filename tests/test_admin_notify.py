"""The admin notifications API through a real app on a real SQLite file: add, list with the
last delivery, edit, send a test to a real receiver on 127.0.0.1, the outbox, delete."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from storewatch.appliance import Appliance
from storewatch.notify.deliver import NotifySender
from storewatch.notify.outbox import RetryPolicy
from support.notify import Receiver, write_visit
from support.waiting import wait_for

CHANNELS = "/api/v1/admin/notify/channels"
SECRET = "a-long-webhook-secret-123"


@pytest.fixture
def shop(appliance: Appliance) -> int:
    appliance.devices.add("Aisle camera", "cam")
    return appliance.rois.add("cam", "top", [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]])["id"]


def rows(appliance: Appliance) -> int:
    return appliance.db.scalar("SELECT COUNT(*) FROM notify_channels")


def test_add_list_edit_and_delete_a_webhook_channel(appliance: Appliance, app_admin: httpx.Client, shop: int,
                                                    receiver: Receiver) -> None:
    added = app_admin.post(CHANNELS, json={"name": "Back office", "kind": "webhook", "url": receiver.url + "?k=tok",
                                        "verdicts": ["taken"], "rois": [shop], "cooldown_s": 30})
    assert added.status_code == 201, added.text
    channel, made = added.json()["channel"], added.json()["secret"]
    assert len(made) >= 16 and channel["secret"] == made[:3] + "…"  # shown in full once, then masked
    assert channel["url"] == f"http://127.0.0.1:{receiver.port}/…" and "tok" not in added.text.replace(made, "")
    (listed,) = app_admin.get(CHANNELS).json()["channels"]
    assert (listed["name"], listed["kind"], listed["verdicts"], listed["rois"]) == ("Back office", "webhook",
                                                                                    ["taken"], [shop])
    assert listed["last"] is None and listed["counts"] == {"queued": 0, "delivered": 0, "dead": 0}
    assert made not in app_admin.get(CHANNELS).text

    path = f"{CHANNELS}/{channel['id']}"
    edited = app_admin.patch(path, json={"verdicts": ["taken", "placed"], "rois": None, "enabled": False,
                                      "schedule": "mon-fri 18:00-08:00", "secret": ""})
    assert edited.status_code == 200, edited.text
    shown = edited.json()["channel"]
    assert (shown["verdicts"], shown["rois"], shown["enabled"]) == (["taken", "placed"], None, False)
    assert shown["schedule"] and shown["secret"] == made[:3] + "…"
    assert appliance.db.scalar("SELECT secret FROM notify_channels") == made  # an empty secret keeps it
    app_admin.patch(path, json={"secret": SECRET})
    assert appliance.db.scalar("SELECT secret FROM notify_channels") == SECRET
    assert SECRET not in app_admin.get(CHANNELS).text

    assert app_admin.delete(path).json() == {"deleted": True, "name": "Back office"}
    assert rows(appliance) == 0 and app_admin.get(CHANNELS).json()["channels"] == []
    assert app_admin.delete(path).status_code == 404


def test_send_a_test_reaches_the_receiver_and_says_what_happened(app_admin: httpx.Client, receiver: Receiver) -> None:
    channel = app_admin.post(CHANNELS, json={"name": "hook", "kind": "webhook", "url": receiver.url,
                                          "secret": SECRET}).json()["channel"]
    sent = app_admin.post(f"{CHANNELS}/{channel['id']}/test")
    assert sent.status_code == 200, sent.text
    assert sent.json()["ok"] is True and sent.json()["message"] == (
        "The test message was sent: the receiver answered HTTP 200.")
    (request,) = receiver.requests
    assert request.signed_with(SECRET) and request.json["type"] == "test" and request.delivery.startswith("test-")
    (listed,) = app_admin.get(CHANNELS).json()["channels"]
    assert listed["last_test"]["ok"] is True

    receiver.status = 503
    failed = app_admin.post(f"{CHANNELS}/{channel['id']}/test").json()
    assert failed["ok"] is False
    assert failed["message"] == "The test message was not sent: the receiver answered HTTP 503."
    receiver.down()
    gone = app_admin.post(f"{CHANNELS}/{channel['id']}/test").json()
    assert gone["ok"] is False and "could not reach the receiver" in gone["message"]
    assert receiver.url not in gone["detail"]
    receiver.up()


def test_bad_input_is_422_naming_the_field_and_stores_nothing(appliance: Appliance, app_admin: httpx.Client,
                                                              receiver: Receiver) -> None:
    for payload, field in [({"kind": "webhook", "url": receiver.url}, "name"),
                           ({"name": "x", "kind": "fax", "url": receiver.url}, "kind"),
                           ({"name": "x", "kind": "webhook", "url": "ftp://host/x"}, "url"),
                           ({"name": "x", "kind": "webhook", "url": receiver.url, "secret": "short"}, "secret"),
                           ({"name": "x", "kind": "webhook", "url": receiver.url, "verdicts": ["stolen"]}, "verdicts"),
                           ({"name": "x", "kind": "webhook", "url": receiver.url, "cooldown_s": -1}, "cooldown_s"),
                           ({"name": "x", "kind": "webhook", "url": receiver.url, "cooldown_s": "1"}, "cooldown_s"),
                           ({"name": "x", "kind": "webhook", "url": receiver.url, "schedule": "someday"}, "schedule"),
                           ({"name": "x", "kind": "webhook", "url": receiver.url, "devices": ["nope"]}, "devices"),
                           ({"name": "x", "kind": "webhook", "url": receiver.url, "rois": ["1"]}, "rois"),
                           ({"name": "x", "kind": "webhook", "url": receiver.url, "colour": "red"}, "colour")]:
        answer = app_admin.post(CHANNELS, json=payload)
        assert answer.status_code == 422, (payload, answer.text)
        error = answer.json()["error"]
        assert error["code"] == "validation_failed" and error["details"][0]["field"] == field, (payload, error)
    assert rows(appliance) == 0

    channel = app_admin.post(CHANNELS, json={"name": "hook", "kind": "webhook", "url": receiver.url}).json()["channel"]
    app_admin.post(CHANNELS, json={"name": "other", "kind": "webhook", "url": receiver.url})
    taken = app_admin.post(CHANNELS, json={"name": "hook", "kind": "webhook", "url": receiver.url})
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "channel_name_taken"
    renamed = app_admin.patch(f"{CHANNELS}/{channel['id']}", json={"name": "other"})
    assert renamed.status_code == 409 and renamed.json()["error"]["details"][0]["field"] == "name"
    for change in ({"url": "nope"}, {"kind": "apprise"}, {"enabled": "yes"}, {"verdicts": []}):
        answer = app_admin.patch(f"{CHANNELS}/{channel['id']}", json=change)
        assert answer.status_code == 422, (change, answer.text)
    assert app_admin.get(CHANNELS).json()["channels"][0]["name"] == "hook"
    assert appliance.db.scalar("SELECT url FROM notify_channels WHERE id = ?", (channel["id"],)) == receiver.url
    for method, path in (("PATCH", f"{CHANNELS}/999"), ("POST", f"{CHANNELS}/999/test"),
                         ("DELETE", f"{CHANNELS}/abc")):
        answer = app_admin.request(method, path, json={"enabled": True} if method == "PATCH" else None)
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "channel_not_found", answer.text
    assert app_admin.get("/api/v1/admin/notify/outbox", params={"state": "lost"}).status_code == 422
    assert app_admin.get("/api/v1/admin/notify/outbox", params={"limit": "0"}).status_code == 422


def test_the_list_shows_the_last_delivery_and_the_outbox_lists_it(appliance: Appliance, app_admin: httpx.Client,
                                                                  shop: int, receiver: Receiver,
                                                                  data_dir: Path) -> None:
    app_admin.post(CHANNELS, json={"name": "hook", "kind": "webhook", "url": receiver.url, "secret": SECRET})
    event_id = write_visit(appliance, "cam", [(shop, "taken")])
    sender = NotifySender(appliance, "http://127.0.0.1:1", policy=RetryPolicy(base_s=0.05, cap_s=0.1),
                          poll_s=0.05)
    sender.start()
    try:
        wait_for(lambda: receiver.requests)
        (listed,) = wait_for(lambda: [c for c in app_admin.get(CHANNELS).json()["channels"]
                                      if c["last"] and c["last"]["state"] == "delivered"])
        assert listed["counts"] == {"queued": 0, "delivered": 1, "dead": 0}
        assert listed["last"]["event_id"] == event_id and listed["last"]["delivered_at"]
        receiver.status = 500
        second = write_visit(appliance, "cam", [(shop, "taken")], start=1_790_000_100.0, capture_id=2)
        (failing,) = wait_for(lambda: [c for c in app_admin.get(CHANNELS).json()["channels"]
                                       if c["last"] and c["last"]["event_id"] == second and c["last"]["last_error"]])
        assert failing["last"]["state"] in ("queued", "sending")  # retried every 0.1 s here
        assert failing["last"]["last_error"] == "the receiver answered HTTP 500"
    finally:
        sender.stop(5)
    outbox = app_admin.get("/api/v1/admin/notify/outbox",
                           params={"state": "delivered", "limit": 5}).json()["deliveries"]
    assert [(row["event_id"], row["channel"], row["state"]) for row in outbox] == [(event_id, "hook", "delivered")]
    assert len(app_admin.get("/api/v1/admin/notify/outbox").json()["deliveries"]) == 2
