"""The device page's "What if" replay in headless Chromium against a real `storewatch run`:
a camera's frames go in through the device contract and its worker keeps them; in the page
the owner moves a slider (the number beside it follows), presses Replay, sees the progress,
then the summary and the charts redrawn with the replayed scores; Apply saves the moved
threshold for the area (read back through the API). Screenshots go to test-artifacts/."""

from __future__ import annotations

import json
import os
import signal
import time
from datetime import datetime, timezone
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from storewatch import contract
from support import shelf_scenes
from support.browser import Shots, browser, login, page, shots  # noqa: F401 (fixtures)
from support.servers import LiveServer
from support.waiting import wait_for

ITEM = 2
AREA = "Cereal"
# Every text the progress line showed, as the page changed it (a replay of these frames takes
# well under a second, so a poll from the test could miss it).
WATCH_PROGRESS = """() => {
  window.__progress = [];
  const seen = () => document.querySelectorAll('.replay-progress:not([hidden]) .replay-progress-text')
    .forEach((el) => window.__progress.push(el.textContent));
  new MutationObserver(seen).observe(document.body, {subtree: true, childList: true, characterData: true,
                                                     attributes: true});
}"""


def _replay_process(server: LiveServer) -> int | None:
    """The pid of the replay's own process (a spawned child of `storewatch run`), once it runs."""
    assert server.process is not None
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):  # it ended between the looks
            continue
        if parent == server.process.pid and b"spawn_main" in command:
            return int(stat.parent.name)
    return None


def _sentence(text: str) -> str:
    """The engine's summary as the page writes it: a capital first, a full stop last."""
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


def _post(server: LiveServer, device_id: str, token: str, seq: int, epoch: float, jpeg: bytes) -> None:
    meta = {"device_id": device_id, "seq": seq, "width": 640, "height": 480, "jpeg_quality": 85,
            "capture_ts": contract.format_timestamp(datetime.fromtimestamp(epoch, timezone.utc))}
    answer = httpx.post(server.url + contract.INGEST_FRAME_PATH, timeout=10,
                        headers={"Authorization": f"Bearer {token}"},
                        files={"meta": (None, json.dumps(meta), "application/json"),
                               "image": ("f.jpg", jpeg, "image/jpeg")})
    assert answer.status_code == 201, answer.text


@pytest.fixture(scope="module")
def camera(server: LiveServer, admin: httpx.Client) -> Iterator[dict]:
    """A camera with one shelf area that saw an arm take item 2 and put it back (70 frames
    through the device contract, analysed and kept by the server's own worker)."""
    body = admin.post("/api/v1/admin/devices", json={"name": "Aisle 4"}).json()
    device_id, token = body["device_id"], body["token"]
    roi = admin.post(f"/api/v1/admin/devices/{device_id}/rois",
                     json={"name": AREA, "polygon": [list(p) for p in shelf_scenes.roi_around(ITEM)]}).json()
    seq, clock = 0, time.time() - 900
    for outcome in ("take", "place"):
        sequence = shelf_scenes.reach_sequence(ITEM, outcome)
        for jpeg, at in zip(sequence.jpegs, sequence.times):
            _post(server, device_id, token, seq, clock + at - sequence.times[0], jpeg)
            seq += 1
        clock += sequence.times[-1] - sequence.times[0] + 0.5

    def drained() -> bool:
        counts = admin.get("/api/v1/admin/queue").json()["counts"]
        return counts["queued"] == 0 and counts["running"] == 0 and counts.get("done", 0) >= seq

    wait_for(drained, 120.0, "the server's worker to analyse every frame", step=0.1)
    kept = admin.get(f"/api/v1/admin/devices/{device_id}/replay-range").json()
    assert kept["since"] and kept["until"], kept
    yield {"id": device_id, "roi": roi}


def test_moving_a_slider_and_replaying_shows_progress_then_the_summary_and_apply_saves_it(
        server: LiveServer, admin: httpx.Client, camera: dict, page: Page, shots: Shots) -> None:
    live = admin.get("/api/v1/admin/events", params={"device": camera["id"]}).json()["events"]
    assert live  # the take (and the putting back) were events
    login(page, server, f"/devices/{camera['id']}")
    panel = page.locator(".replay-panel")
    expect(panel.get_by_role("heading", name="What if…")).to_be_visible()
    expect(panel.get_by_text("Frames are kept from")).to_be_visible()
    panel.get_by_label("Shelf area").select_option(label=AREA)

    slider = panel.get_by_label("How much change starts a visit")
    expect(slider).to_have_value("0.06")  # the threshold in force (the built-in default)
    field = panel.locator("[data-threshold=start_threshold]")
    expect(field.locator("output")).to_have_text("0.06")
    slider.focus()
    for _ in range(4):
        page.keyboard.press("ArrowRight")  # 0.005 a step
    expect(slider).to_have_value("0.08")
    expect(field.locator("output")).to_have_text("0.08")
    expect(field).to_have_class("field slider-field moved")
    shots(page, "sliders-moved")

    page.evaluate(WATCH_PROGRESS)
    panel.get_by_role("button", name="Replay").click()
    summary = panel.locator(".replay-summary")
    expect(summary).to_contain_text("With these settings:", timeout=60_000)
    progress = page.evaluate("() => window.__progress")
    assert any(text.startswith("Replaying") for text in progress), progress
    expect(panel.locator(".replay-progress")).to_be_hidden()  # gone once it ended

    last = admin.get("/api/v1/admin/replays").json()["replay"]
    assert last["state"] == "done" and last["overrides"] == {"start_threshold": 0.08}
    assert last["roi_id"] == camera["roi"]["id"]
    expect(summary).to_have_text(_sentence(last["report"]["summary"]))
    chart = page.locator(f".tuning-roi[data-roi-id='{camera['roi']['id']}']")
    expect(chart.locator(".legend")).to_contain_text("replayed score")
    expect(chart.locator(".legend")).to_contain_text("replayed start 0.08")
    expect(chart.locator("path.series")).to_have_count(2)  # the real scores and the replayed ones
    would_be = sum(1 for visit in last["report"]["replayed"])
    expect(chart.locator("rect.band.replayed")).to_have_count(would_be)
    expect(page.get_by_text(f"Replayed: {_sentence(last['report']['summary'])}")).to_be_visible()
    chart.scroll_into_view_if_needed()
    shots(page, "replayed")

    panel.get_by_role("button", name=f"Save for {AREA}").click()
    expect(page.get_by_text(f"Saved for {AREA}")).to_be_visible()
    roi = admin.get(f"/api/v1/admin/devices/{camera['id']}/rois/{camera['roi']['id']}").json()
    assert roi["thresholds"] == {"start_threshold": 0.08}
    assert roi["effective_thresholds"]["start_threshold"] == 0.08
    expect(panel.locator("[data-threshold=start_threshold]")).to_have_class("field slider-field")  # the new base
    expect(page.locator(".roi-item").first.get_by_text("1 overridden")).to_be_visible()  # the list above, too

    panel.get_by_role("button", name="Back to live scores").click()
    expect(chart.locator("path.series")).to_have_count(1)


def test_a_running_replay_shows_cancel_and_cancelling_it_changes_nothing(
        server: LiveServer, admin: httpx.Client, camera: dict, page: Page, shots: Shots) -> None:
    before = admin.get(f"/api/v1/admin/devices/{camera['id']}/rois").json()["rois"]
    login(page, server, f"/devices/{camera['id']}")
    panel = page.locator(".replay-panel")
    expect(panel.get_by_text("Frames are kept from")).to_be_visible()
    panel.get_by_role("button", name="Last day").click()
    panel.get_by_role("button", name="Replay").click()
    # These frames replay in well under a second: hold the replay's process while it is still
    # starting (its imports alone take longer than a look here), so the owner's Cancel comes first.
    held = wait_for(lambda: _replay_process(server), 30.0, "the replay's process to start", step=0.005)
    os.kill(held, signal.SIGSTOP)
    try:
        progress = panel.locator(".replay-progress")
        expect(progress).to_be_visible()
        expect(progress.get_by_role("progressbar", name="Replay progress")).to_be_visible()
        shots(page, "replay-running")
        progress.get_by_role("button", name="Cancel").click()
        wait_for(lambda: admin.get("/api/v1/admin/replays").json()["replay"]["cancel_requested"], 10.0,
                 "the cancel to reach the appliance")
    finally:
        os.kill(held, signal.SIGCONT)
    expect(panel.get_by_text("Replay cancelled; nothing was changed.")).to_be_visible(timeout=30_000)
    expect(progress).to_be_hidden()
    last = admin.get("/api/v1/admin/replays").json()["replay"]
    assert last["state"] == "cancelled" and last["cancel_requested"], last
    assert admin.get(f"/api/v1/admin/devices/{camera['id']}/rois").json()["rois"] == before
    expect(panel.get_by_role("button", name="Replay")).to_be_enabled()  # and another may start
