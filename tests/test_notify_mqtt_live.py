"""MQTT "touched" from a real visit, end to end: a real `storewatch run` analyses the simulated
shelf's frames (a reach that takes an item, posted as a camera uploads them) and publishes to
Debian's real mosquitto on 127.0.0.1; a paho subscriber sees an area go ON while the visit is
still going on (before its event is written) and OFF with the event."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from support.mosquitto import Mosquitto, Subscriber
from support.reliability import Frame, FramePoster, open_db
from support.scripts import load_script
from support.servers import LiveServer, free_port
from support.waiting import wait_for
from storewatch import contract
from storewatch.appliance import Appliance
from storewatch.notify.channels import ChannelStore

SIZE = (640, 480)

# storewatch run analysing a real visit and publishing it to mosquitto
pytestmark = pytest.mark.slow


def test_a_real_visit_turns_its_area_on_before_it_ends_and_off_with_its_event(data_dir: Path,
                                                                               broker: Mosquitto) -> None:
    bench = load_script("bench-notify")  # its scripted visit of the simulated shelf and its appliance
    device_id, token = bench.prepare(data_dir, SIZE, 0, "http://127.0.0.1:9/unused")
    opened = Appliance(data_dir)
    try:
        ChannelStore(opened.db).add("ha", "mqtt", broker.url)
    finally:
        opened.close()
    jpegs = bench.visit_frames(1, SIZE)
    times = bench.capture_times(1, time.time() - 2 * len(jpegs))
    frames = [Frame(seq, epoch, jpeg, *SIZE) for seq, (jpeg, epoch) in enumerate(zip(jpegs, times), start=1)]
    subscriber = Subscriber(broker.port)
    server = LiveServer(data_dir, free_port(), ["--camera", "none"])
    server.start()
    try:
        wait_for(lambda: subscriber.last("storewatch/status") and subscriber.last("storewatch/status").payload
                 == b"online", timeout=20)
        poster = FramePoster(server.url, device_id, token, frames, interval_s=0.25)  # a camera's pace
        poster.start()
        poster.join(120)
        (event_message,) = wait_for(lambda: subscriber.on(f"storewatch/{device_id}/events"), timeout=60)
        db = open_db(data_dir)
        try:
            rows = wait_for(lambda: [r for r in db.query("SELECT * FROM notify_outbox ORDER BY id")
                                     if r["state"] == "delivered"] or None)
            started = [r for r in db.query("SELECT * FROM notify_outbox WHERE visit IS NOT NULL")]
            event = db.query_one("SELECT id, created_at FROM events WHERE type = 'interaction_detected'")
        finally:
            db.close()
    finally:
        assert server.stop() == 0
        subscriber.close()
    assert rows and len(started) == 1 and started[0]["state"] == "delivered"
    visit = json.loads(started[0]["visit"])
    assert visit["state"] == "started" and visit["device_id"] == device_id
    written = contract.parse_timestamp(event["created_at"]).timestamp()
    assert started[0]["delivered_at"] < written  # ON was said while the visit was going on
    assert json.loads(event_message.payload)["id"] == event["id"]
    order = [(m.topic, m.payload) for m in subscriber.messages]
    for roi_id in visit["roi_ids"]:
        topic = f"storewatch/{device_id}/roi/{roi_id}/touched"
        said = [payload for t, payload in order if t == topic]
        assert said[:3] == [b"OFF", b"ON", b"OFF"], said  # OFF on connect, ON at the start, OFF at the end
        on_at = next(i for i, (t, payload) in enumerate(order) if t == topic and payload == b"ON")
        assert on_at < order.index((event_message.topic, event_message.payload))
