"""Settings → Notifications in headless Chromium against a real `storewatch run` (its
notification sender running): add a webhook channel in the dialog, send a test to a real
receiver on 127.0.0.1, see a real event's delivery in the list, edit, delete."""

from __future__ import annotations


import httpx
from playwright.sync_api import Page, expect

from support.browser import Shots, browser, login, page, shots  # noqa: F401 (fixtures)
from support.servers import LiveServer
from support.notify import Receiver, write_visit
from storewatch.appliance import Appliance
from support.waiting import wait_for

SECRET = "a-long-webhook-secret-123"


def test_add_test_see_delivered_edit_and_delete_a_webhook(page: Page, server: LiveServer, admin: httpx.Client,
                                                          receiver: Receiver, shots: Shots) -> None:
    device_id, _ = server.add_device("Aisle camera")
    roi = admin.post(f"/api/v1/admin/devices/{device_id}/rois",
                     json={"name": "top", "polygon": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]]})
    assert roi.status_code == 201, roi.text
    login(page, server, "/settings")
    page.get_by_role("link", name="Notification channels").click()
    expect(page.locator("main h1")).to_have_text("Notifications")
    expect(page.get_by_text("No channels yet")).to_be_visible()

    page.get_by_role("button", name="Add a channel").click()
    dialog = page.locator("dialog")
    dialog.get_by_label("Name", exact=True).fill("Back office")
    dialog.get_by_label("Where to send").fill(receiver.url)
    dialog.get_by_label("Signing secret").fill("short")
    dialog.get_by_role("button", name="Add channel").click()
    expect(dialog.locator(".field-error").filter(has_text="at least 16")).to_be_visible()  # said at its field
    dialog.get_by_label("Signing secret").fill(SECRET)
    dialog.get_by_role("button", name="Add channel").click()
    card = page.locator(".notify-channel[data-channel='Back office']")
    expect(card).to_contain_text("Webhook")
    expect(card).to_contain_text("Sends: Taken, Placed")
    expect(card.locator(".notify-last")).to_have_text("Nothing sent yet")
    expect(card).not_to_contain_text(SECRET)

    card.get_by_role("button", name="Send a test").click()
    expect(card.locator(".notify-test-result")).to_have_text(
        "The test message was sent: the receiver answered HTTP 200.")
    (test,) = receiver.requests
    assert test.signed_with(SECRET) and test.json["type"] == "test"

    opened = Appliance(server.data_dir)
    try:
        event_id = write_visit(opened, device_id, [(roi.json()["id"], "taken")])
    finally:
        opened.close()
    wait_for(lambda: [r for r in receiver.requests if r.json.get("id") == event_id], timeout=15)
    wait_for(lambda: admin.get("/api/v1/admin/notify/outbox", params={"state": "delivered"}).json()["deliveries"])
    page.reload()
    expect(card.locator(".notify-last")).to_contain_text("Delivered")
    expect(card).to_contain_text("delivered 1")
    shots(page, "delivered")

    card.get_by_role("button", name="Edit").click()
    dialog.get_by_label("Placed").uncheck()
    dialog.get_by_role("button", name="Save").click()
    expect(card).to_contain_text("Sends: Taken —")
    assert admin.get("/api/v1/admin/notify/channels").json()["channels"][0]["verdicts"] == ["taken"]

    card.get_by_role("button", name="Delete").click()
    page.locator("dialog").get_by_role("button", name="Delete").click()
    expect(page.get_by_text("No channels yet")).to_be_visible()
    assert admin.get("/api/v1/admin/notify/channels").json()["channels"] == []
