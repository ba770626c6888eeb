"""Settings → Notifications in headless Chromium against a real `storewatch run`: the daily
digest's time and "health alerts even outside these times" set in the channel dialog reach
the channel (its API answer and the card's words), and clearing the time switches it off."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from support.browser import Shots, browser, login, page, shots  # noqa: F401 (fixtures)
from support.notify import Receiver
from support.servers import LiveServer

SECRET = "a-long-webhook-secret-456"


def test_the_dialog_sets_and_clears_the_daily_digest(page: Page, server: LiveServer, admin: httpx.Client,
                                                     receiver: Receiver, shots: Shots) -> None:
    login(page, server, "/settings/notifications")
    expect(page.locator("main h1")).to_have_text("Notifications")
    page.get_by_role("button", name="Add a channel").click()
    dialog = page.locator("dialog")
    dialog.get_by_label("Name", exact=True).fill("Evening summary")
    dialog.get_by_label("Where to send").fill(receiver.url)
    dialog.get_by_label("Signing secret").fill(SECRET)
    dialog.get_by_label("Only at these times").fill("mon-sat 20:00-08:00")
    dialog.get_by_label("Also tell me when the appliance needs a look").check()
    dialog.get_by_label("… even outside these times").check()
    dialog.get_by_label("A daily summary at").fill("21:30")
    dialog.get_by_role("button", name="Add channel").click()
    card = page.locator(".notify-channel[data-channel='Evening summary']")
    expect(card).to_contain_text("a daily digest at 21:30")
    (channel,) = [c for c in admin.get("/api/v1/admin/notify/channels").json()["channels"]
                  if c["name"] == "Evening summary"]
    assert (channel["digest_at"], channel["health"], channel["health_anytime"]) == ("21:30", True, True)
    shots(page, "digest")

    card.get_by_role("button", name="Edit").click()
    expect(dialog.get_by_label("A daily summary at")).to_have_value("21:30")
    dialog.get_by_label("A daily summary at").fill("")
    dialog.get_by_label("… even outside these times").uncheck()
    dialog.get_by_role("button", name="Save").click()
    expect(card).not_to_contain_text("daily digest")
    (channel,) = [c for c in admin.get("/api/v1/admin/notify/channels").json()["channels"]
                  if c["name"] == "Evening summary"]
    assert (channel["digest_at"], channel["health_anytime"]) == (None, False)
    assert admin.delete(f"/api/v1/admin/notify/channels/{channel['id']}").status_code == 200
