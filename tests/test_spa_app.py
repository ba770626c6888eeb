"""The app shell (app.js) in headless Chromium: leaving a page with unsaved ROI edits asks
first, for a link, the back button and logging out, not only for closing the tab; the login
page's session probe leaves the console clean on a first visit; and what fails on the way
(the probe, logging out, learning the shop's time zone) is told to the owner, or is shown to
be a case with nothing to tell (the logout after a password change)."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from support import ADMIN_PASSWORD
from support.browser import browser, camera_with_a_frame, login, open_page, page  # noqa: F401 (fixtures)
from support.servers import LiveServer

NEW_PASSWORD = "a new password for the shelves"


@pytest.fixture(scope="module")
def camera(server: LiveServer, admin: httpx.Client) -> str:
    """A device with one stored frame to draw on."""
    return camera_with_a_frame(server, admin, "Door shelf", (320, 240))


def draw_a_rectangle(page: Page) -> None:
    page.wait_for_function("() => { const i = document.querySelector('.frame-stage img');"
                           " return i && i.complete && i.naturalWidth > 0; }")
    page.get_by_role("button", name="Rectangle").click()
    box = page.locator(".frame-stage svg").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 0.2 * box["width"], box["y"] + 0.2 * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + 0.6 * box["width"], box["y"] + 0.6 * box["height"], steps=6)
    page.mouse.up()
    expect(page.locator(".roi-item .dirty-dot")).to_be_visible()


def test_leaving_unsaved_roi_edits_asks_first(server: LiveServer, camera: str, page: Page) -> None:
    device_url = f"{server.url}/devices/{camera}"
    login(page, server, f"/devices/{camera}")
    leave = page.locator("dialog[open]")
    nav_devices = page.locator("#nav a[href='/devices']")

    nav_devices.click()  # nothing unsaved: no question
    expect(page.locator("main h1")).to_have_text("Devices")
    page.locator(f"a[href='/devices/{camera}']").first.click()
    draw_a_rectangle(page)

    nav_devices.click()  # a link: asked, and staying keeps the drawing
    expect(leave).to_contain_text("Leave without saving?")
    leave.get_by_role("button", name="Cancel").click()
    assert page.url == device_url
    expect(page.locator(".roi-item")).to_have_count(1)

    page.go_back()  # the back button: asked too; staying keeps the address and the drawing
    expect(leave).to_contain_text("Leave without saving?")
    leave.get_by_role("button", name="Cancel").click()
    expect(page).to_have_url(device_url)
    expect(page.locator(".roi-item .dirty-dot")).to_be_visible()

    page.locator("#logout").click()  # logging out: asked; staying keeps the session
    leave.get_by_role("button", name="Cancel").click()
    expect(page.locator("#topbar")).to_be_visible()
    expect(page.locator(".roi-item")).to_have_count(1)

    nav_devices.click()  # and saying "leave" leaves
    leave.get_by_role("button", name="Leave without saving").click()
    expect(page.locator("main h1")).to_have_text("Devices")
    assert page.url == server.url + "/devices"
    page.locator(f"a[href='/devices/{camera}']").first.click()
    expect(page.locator(".roi-item")).to_have_count(0)  # the drawing was not saved


def test_a_first_visit_to_the_login_page_logs_no_console_error(server: LiveServer, browser: Browser) -> None:
    page, _ = open_page(browser)
    console: list[str] = []  # every error, "Failed to load resource" (a 401) included
    page.on("console", lambda msg: console.append(msg.text) if msg.type == "error" else None)
    page.goto(server.url + "/")
    expect(page.get_by_label("Admin password")).to_be_visible()
    assert page.url == server.url + "/login"
    page.wait_for_timeout(300)  # a late answer's message would arrive here
    page.context.close()
    assert console == []


# A failure the owner must see, made where it happens: Playwright answers the one request in
# the browser as an appliance that is off would (the connection refused), while the page and
# every other request come from the real server.
NO_ANSWER = "The appliance did not answer. Is it on and on this network?"


def test_a_session_probe_without_an_answer_says_so_on_the_login_page(server: LiveServer, page: Page) -> None:
    page.route("**/api/v1/admin/session", lambda route: route.abort("connectionrefused"))
    page.goto(server.url + "/devices")
    expect(page.get_by_label("Admin password")).to_be_visible()
    expect(page.get_by_role("alert").filter(has_text="Could not check")).to_have_text(
        f"Could not check whether this browser is logged in: {NO_ANSWER} Reload the page to try again, or log in.")

    page.unroute("**/api/v1/admin/session")
    page.reload()  # the appliance answers again: the plain login page
    expect(page.get_by_label("Admin password")).to_be_visible()
    expect(page.locator(".alert")).to_have_count(0)
    login(page, server)  # the probe's answer "not logged in" was no failure: the page fixture saw no error


def test_logging_out_without_an_answer_stays_logged_in_and_says_so(server: LiveServer, page: Page) -> None:
    login(page, server, "/devices")
    page.route("**/api/v1/admin/logout", lambda route: route.abort("connectionrefused"))
    page.locator("#logout").click()
    expect(page.locator(".toast-error")).to_have_text(f"Not logged out: {NO_ANSWER} Try again.×")
    expect(page.locator("#topbar")).to_be_visible()  # not shown as logged out while the session lives
    assert page.request.get(server.url + "/api/v1/admin/session").json()["authenticated"] is True

    page.unroute("**/api/v1/admin/logout")
    page.locator("#logout").click()
    expect(page.get_by_label("Admin password")).to_be_visible()
    assert page.request.get(server.url + "/api/v1/admin/session").json()["authenticated"] is False


def browser_zone(page: Page) -> str:
    return page.evaluate("() => Intl.DateTimeFormat().resolvedOptions().timeZone")


def test_times_on_the_browsers_clock_are_announced_once_when_the_zone_cannot_be_learnt(
        server: LiveServer, page: Page) -> None:
    page.route("**/api/v1/admin/settings", lambda route: route.abort("connectionrefused"))
    login(page, server)
    toast = page.locator(".toast-error")
    expect(toast).to_have_text(f"Times are shown on this browser's clock ({browser_zone(page)}), not the shop's: "
                               f"the appliance's time zone could not be loaded. {NO_ANSWER} "
                               "Reload the page to try again.×")
    toast.get_by_role("button", name="Dismiss").click()
    page.locator("#nav a[href='/devices']").click()  # asked again, failing again: not said twice
    expect(page.locator("main h1")).to_have_text("Devices")
    page.wait_for_timeout(300)
    expect(toast).to_have_count(0)

    page.unroute("**/api/v1/admin/settings")
    page.locator("#nav a[href='/events']").click()  # learnt now: nothing to say
    expect(page.locator("main h1")).to_have_text("Events")
    page.wait_for_timeout(300)
    expect(toast).to_have_count(0)


def test_a_time_zone_this_browser_does_not_know_is_announced(server: LiveServer, page: Page) -> None:
    def unknown_zone(route):  # the appliance's real answer, with a zone no browser knows
        answer = route.fetch()
        body = answer.json()
        body["settings"]["time_zone"] = "Mars/Olympus_Mons"
        route.fulfill(response=answer, json=body)

    page.route("**/api/v1/admin/settings", unknown_zone)
    login(page, server)
    expect(page.locator(".toast-error")).to_have_text(
        f"This browser does not know the shop's time zone (Mars/Olympus_Mons), so times are shown on this "
        f"browser's clock ({browser_zone(page)}). A newer browser shows them on the shop's clock.×")


def test_a_password_change_ends_the_session_even_when_the_logout_after_it_gets_no_answer(
        live_server: LiveServer, page: Page) -> None:
    """The settings page drops the ended session's cookie with a logout whose failure it does not
    show: the change has ended the session on the appliance, so the cookie opens nothing."""
    login(page, live_server, "/settings")
    page.route("**/api/v1/admin/logout", lambda route: route.abort("connectionrefused"))
    form = page.locator("form", has=page.get_by_role("heading", name="Admin password"))
    form.get_by_label("Current password").fill(ADMIN_PASSWORD)
    form.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    form.get_by_label("New password again").fill(NEW_PASSWORD)
    form.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status").filter(has_text="password was changed")).to_have_text(
        "The password was changed; log in with the new one.")
    assert any(c["name"] == "storewatch_session" for c in page.context.cookies())  # the logout did not clear it
    assert page.request.get(live_server.url + "/api/v1/admin/session").json()["authenticated"] is False

    page.goto(live_server.url + "/devices")  # the old cookie opens no page
    expect(page.get_by_label("Admin password")).to_be_visible()
    page.get_by_label("Admin password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("main h1")).to_have_text("Devices")
