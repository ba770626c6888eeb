"""MQTT "touched" follows the visit, against Debian's real mosquitto on 127.0.0.1 and a real
paho subscriber: ON when the analysis sees a visit start (the worker's outputs queue it),
OFF when its event is written, OFF too when the channel does not want that event or when the
analysis drops the visit without one, and the start never holds up the worker's commit (no
MQTT channel: no row; a broken one: the job still commits)."""

from __future__ import annotations

import json
import time

import pytest

from support import dropped_visits
from support.mosquitto import Mosquitto, Subscriber
from support.notify import sender, shelf, write_visit  # sender, shelf: fixtures
from support.waiting import wait_for
from storewatch.analysis.device_analyzer import DeviceAnalyzer, FrameResult, RoiSpec
from storewatch.analysis.transitions import VisitDropped, VisitStarted
from storewatch.appliance import Appliance
from storewatch.jobs import outputs
from storewatch.notify import mqtt
from storewatch.notify.channels import ChannelStore
from storewatch.notify.deliver import NotifySender
from storewatch.notify.outbox import Outbox

def visit_starts(appliance: Appliance, device_id: str, start: float, roi_ids: tuple[int, ...],
                 capture_id: int = 100) -> None:
    """A frame on which the analysis saw a visit begin, committed as the worker commits it."""
    frame = outputs.FrameOutputs(device_id, {"id": capture_id, "capture_epoch": start},
                                 FrameResult(scores={}, lighting=False,
                                             transitions=[VisitStarted(start, capture_id, roi_ids)],
                                             wants_burst=False), [], [])
    assert outputs.commit(appliance, appliance.events, frame) == []


def payloads(subscriber: Subscriber, topic: str) -> list[bytes]:
    return [m.payload for m in subscriber.on(topic)]


def kinds(appliance: Appliance) -> list[tuple[str | None, str]]:
    return [(json.loads(r["visit"])["state"] if r["visit"] else None, r["state"])
            for r in appliance.db.query("SELECT visit, state FROM notify_outbox ORDER BY id")]


def test_touched_goes_on_when_a_visit_starts_and_off_when_its_event_is_written(
        appliance: Appliance, shelf: tuple[int, int], broker: Mosquitto, sender: NotifySender,
        monkeypatch: pytest.MonkeyPatch) -> None:
    top, bottom = shelf
    monkeypatch.setattr(mqtt, "TOUCH_HOLD_S", 0.5)
    ChannelStore(appliance.db).add("ha", "mqtt", broker.url)
    subscriber = Subscriber(broker.port)
    try:
        sender.start()
        wait_for(lambda: subscriber.last("storewatch/status"))
        touched = f"storewatch/cam/roi/{top}/touched"
        wait_for(lambda: payloads(subscriber, touched) == [b"OFF"])  # every area OFF on connect
        start = time.time()
        visit_starts(appliance, "cam", start, (top,))
        wait_for(lambda: payloads(subscriber, touched) == [b"OFF", b"ON"])  # the visit is on: no event yet
        assert subscriber.on("storewatch/cam/events") == []
        assert appliance.db.scalar("SELECT COUNT(*) FROM events") == 0
        time.sleep(mqtt.TOUCH_HOLD_S + 0.5)
        assert payloads(subscriber, touched) == [b"OFF", b"ON"]  # it stays ON while the visit goes on
        event_id = write_visit(appliance, "cam", [(top, "taken"), (bottom, "placed")], start=start)
        (event,) = wait_for(lambda: subscriber.on("storewatch/cam/events"))
        assert json.loads(event.payload)["id"] == event_id
        assert payloads(subscriber, touched) == [b"OFF", b"ON", b"OFF"]  # OFF with the event, before it
        # the area that joined the visit later was not ON yet: ON with the event, OFF a moment later
        other = f"storewatch/cam/roi/{bottom}/touched"
        wait_for(lambda: payloads(subscriber, other) == [b"OFF", b"ON", b"OFF"], timeout=mqtt.TOUCH_HOLD_S + 5)
        wait_for(lambda: kinds(appliance) == [("started", "delivered"), (None, "delivered")])
    finally:
        subscriber.close()


def test_a_visit_the_channel_does_not_want_still_ends_its_touch(
        appliance: Appliance, shelf: tuple[int, int], broker: Mosquitto, sender: NotifySender) -> None:
    top, _ = shelf
    ChannelStore(appliance.db).add("ha", "mqtt", broker.url, verdicts=["taken"])
    subscriber = Subscriber(broker.port)
    try:
        sender.start()
        touched = f"storewatch/cam/roi/{top}/touched"
        wait_for(lambda: payloads(subscriber, touched) == [b"OFF"])
        start = time.time()
        visit_starts(appliance, "cam", start, (top,))
        wait_for(lambda: payloads(subscriber, touched) == [b"OFF", b"ON"])
        write_visit(appliance, "cam", [(top, "unchanged")], start=start)  # not an event this channel tells of
        wait_for(lambda: payloads(subscriber, touched) == [b"OFF", b"ON", b"OFF"])
        assert subscriber.on("storewatch/cam/events") == []
        assert kinds(appliance) == [("started", "delivered"), ("ended", "delivered")]
    finally:
        subscriber.close()


def test_a_visit_the_analysis_drops_turns_touched_off_and_writes_no_event(
        appliance: Appliance, shelf: tuple[int, int], broker: Mosquitto, sender: NotifySender) -> None:
    """The worker's own path: the analysis fed frames, its results prepared and committed as the
    processor does. A visit starts and is then found to be a lighting change's onset."""
    top, _ = shelf
    ChannelStore(appliance.db).add("ha", "mqtt", broker.url)
    subscriber = Subscriber(broker.port)
    try:
        sender.start()
        touched = f"storewatch/cam/roi/{top}/touched"
        wait_for(lambda: payloads(subscriber, touched) == [b"OFF"])
        specs = [RoiSpec(top, dropped_visits.ROI)]
        analyzer, start = DeviceAnalyzer(specs), time.time() - 30
        drops = []
        for i, gray in enumerate(dropped_visits.lighting_onset()):
            result = analyzer.feed(gray, start + 0.5 * i, i + 1)
            drops += [t for t in result.transitions if isinstance(t, VisitDropped)]
            capture = {"id": i + 1, "device_id": "cam", "capture_epoch": start + 0.5 * i}
            outputs.commit(appliance, appliance.events, outputs.prepare(appliance, capture, result, specs))
            if any(isinstance(t, VisitStarted) for t in result.transitions):  # ON before the next frame
                wait_for(lambda: payloads(subscriber, touched) == [b"OFF", b"ON"])
        assert [(d.roi_ids, d.over) for d in drops] == [((top,), True)]
        wait_for(lambda: payloads(subscriber, touched) == [b"OFF", b"ON", b"OFF"])
        assert appliance.db.scalar("SELECT COUNT(*) FROM events WHERE type = 'interaction'") == 0
        wait_for(lambda: kinds(appliance) == [("started", "delivered"), ("ended", "delivered")])
    finally:
        subscriber.close()


def test_a_start_sent_after_its_visit_ended_is_not_said(appliance: Appliance, shelf: tuple[int, int],
                                                        broker: Mosquitto, sender: NotifySender) -> None:
    """The sender was behind (the broker was away): by the time the start is due, its event is
    written; the start turns nothing ON, the event's own short touch is all that shows."""
    top, _ = shelf
    ChannelStore(appliance.db).add("ha", "mqtt", broker.url)
    start = time.time()
    visit_starts(appliance, "cam", start, (top,))
    write_visit(appliance, "cam", [(top, "taken")], start=start)
    subscriber = Subscriber(broker.port)
    try:
        sender.start()
        wait_for(lambda: subscriber.on("storewatch/cam/events"))
        wait_for(lambda: kinds(appliance) == [("started", "delivered"), (None, "delivered")])
        touched = f"storewatch/cam/roi/{top}/touched"
        wait_for(lambda: payloads(subscriber, touched)[-1:] == [b"OFF"] and len(payloads(subscriber, touched)) >= 3,
                 timeout=mqtt.TOUCH_HOLD_S + 5)
        assert payloads(subscriber, touched).count(b"ON") == 1  # the event's, not the stale start's
    finally:
        subscriber.close()


def test_a_start_makes_rows_only_for_mqtt_channels_that_follow_the_camera(
        appliance: Appliance, shelf: tuple[int, int]) -> None:
    top, bottom = shelf
    visit_starts(appliance, "cam", 1_790_000_000.0, (top,))  # no channel: no row, no harm
    assert appliance.db.scalar("SELECT COUNT(*) FROM notify_outbox") == 0
    store = ChannelStore(appliance.db)
    store.add("hook", "webhook", "http://127.0.0.1:9/h", secret="x" * 20)
    store.add("ha", "mqtt", "mqtt://127.0.0.1:9")
    store.add("bottom only", "mqtt", "mqtt://127.0.0.1:9", rois=[bottom])
    store.add("nights", "mqtt", "mqtt://127.0.0.1:9", schedule="sat,sun")
    appliance.settings.update({"time_zone": "UTC"})
    monday = 1_790_000_000.0 - (1_790_000_000.0 % 86400) + 4 * 86400 + 12 * 3600  # Monday noon UTC
    visit_starts(appliance, "cam", monday, (top,), capture_id=101)
    rows = appliance.db.query("SELECT c.name, o.visit FROM notify_outbox o JOIN notify_channels c ON c.id ="
                              " o.channel_id ORDER BY o.id")
    assert [(row["name"], json.loads(row["visit"])["roi_ids"]) for row in rows] == [("ha", [top])]
    assert Outbox(appliance.db).enqueue_visit_starts("cam", []) == 0


def test_a_failing_start_never_fails_the_workers_commit(appliance: Appliance, shelf: tuple[int, int],
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    top, _ = shelf
    ChannelStore(appliance.db).add("ha", "mqtt", "mqtt://127.0.0.1:9")

    def broken(self: Outbox, *args: object, **kwargs: object) -> int:
        raise RuntimeError("a bug in notify")

    monkeypatch.setattr(Outbox, "enqueue_visit_starts", broken)
    frame = outputs.FrameOutputs("cam", {"id": 7, "capture_epoch": 1_790_000_000.0},
                                 FrameResult(scores={top: 0.5}, lighting=False,
                                             transitions=[VisitStarted(1_790_000_000.0, 7, (top,))],
                                             wants_burst=False), [], [])
    outputs.commit(appliance, appliance.events, frame)
    assert appliance.db.scalar("SELECT score FROM roi_scores WHERE capture_id = 7") == 0.5  # the job's writes stay
    assert "could not queue the start of a visit" in caplog.text


def test_a_failing_end_of_a_dropped_visit_never_fails_the_workers_commit(
        appliance: Appliance, shelf: tuple[int, int], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    top, _ = shelf
    ChannelStore(appliance.db).add("ha", "mqtt", "mqtt://127.0.0.1:9")

    def broken(self: Outbox, *args: object, **kwargs: object) -> int:
        raise RuntimeError("a bug in notify")

    monkeypatch.setattr(Outbox, "end_visit", broken)
    dropped = VisitDropped(1_790_000_000.0, 6, 1_790_000_001.0, 8, (top,), over=True)
    frame = outputs.FrameOutputs("cam", {"id": 8, "capture_epoch": 1_790_000_001.0},
                                 FrameResult(scores={top: 0.25}, lighting=True, transitions=[dropped]), [], [])
    outputs.commit(appliance, appliance.events, frame)
    assert appliance.db.scalar("SELECT score FROM roi_scores WHERE capture_id = 8") == 0.25  # the job's writes stay
    assert "could not queue the end of a dropped visit" in caplog.text
