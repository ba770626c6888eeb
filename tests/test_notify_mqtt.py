"""The MQTT channel against Debian's real mosquitto on 127.0.0.1 and a real paho subscriber:
events through the outbox, retained per-ROI states, Home Assistant discovery (checked against
the documented schema), availability with a last will, and a broker outage."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from support.mosquitto import PASSWORD, Mosquitto, Subscriber
from support.notify import BASE, sender, shelf, write_visit  # sender, shelf: fixtures
from support.servers import start_live_server
from storewatch.appliance import Appliance
from storewatch.cli import main
from storewatch.store import Database
from storewatch.store.migrations import MIGRATIONS
from storewatch.notify import ha_discovery, mqtt
from storewatch.notify.channels import ChannelError, ChannelStore
from storewatch.notify.deliver import NotifySender, send
from storewatch.notify.ha_discovery import DeviceInfo, RoiInfo, Topics
from storewatch.notify.message import test_message as make_test_message
from support.waiting import wait_for
from support.schema import database_at


def _states(appliance: Appliance) -> list[str]:
    return [row["state"] for row in appliance.db.query("SELECT state FROM notify_outbox ORDER BY id")]


# --- the documented discovery schema ------------------------------------------------------------

# Home Assistant MQTT discovery: <prefix>/<component>/[<node_id>/]<object_id>/config, ids of
# [a-zA-Z0-9_-]; each platform's required key (camera: topic; binary_sensor, sensor: state_topic).
REQUIRED = {"camera": {"topic"}, "binary_sensor": {"state_topic"}, "sensor": {"state_topic"}}
ALLOWED = {"name", "unique_id", "device", "availability_topic", "payload_available", "payload_not_available",
           "origin", "icon", "device_class", "state_topic", "payload_on", "payload_off", "topic"}


def check_discovery(topic: str, config: dict, status_topic: str) -> str:
    parts = topic.split("/")
    assert len(parts) == 5 and parts[0] == "homeassistant" and parts[4] == "config", topic
    component, node_id, object_id = parts[1:4]
    assert component in REQUIRED
    for ident in (node_id, object_id):
        assert ident and all(c.isascii() and (c.isalnum() or c in "_-") for c in ident), ident
    assert REQUIRED[component] <= config.keys() and config.keys() <= ALLOWED, config.keys()
    assert isinstance(config["unique_id"], str) and config["unique_id"]
    device = config["device"]
    assert isinstance(device["identifiers"], list) and all(isinstance(i, str) for i in device["identifiers"])
    assert {"name", "manufacturer", "model"} <= device.keys()
    assert config["availability_topic"] == status_topic
    assert (config["payload_available"], config["payload_not_available"]) == ("online", "offline")
    for key in ("topic", "state_topic", "availability_topic"):
        if key in config:
            assert isinstance(config[key], str) and "+" not in config[key] and "#" not in config[key]
    if component == "binary_sensor":
        assert (config["payload_on"], config["payload_off"]) == ("ON", "OFF")
    return component


def test_discovery_configs_follow_home_assistants_schema() -> None:
    topics = Topics()
    device = DeviceInfo("cam.2", "Aisle camera", (RoiInfo(3, "top shelf", "taken"), RoiInfo(4, "", None)))
    configs = ha_discovery.discovery_configs(topics, device)
    kinds = [check_discovery(topic, config, topics.status) for topic, config in configs]
    assert kinds == ["camera", "binary_sensor", "sensor", "binary_sensor", "sensor"]
    assert len({config["unique_id"] for _, config in configs}) == 5  # one entity each
    assert configs[0][0] == "homeassistant/camera/storewatch_cam_2/last_event/config"
    assert configs[0][1]["topic"] == "storewatch/cam.2/last_event/picture"
    assert configs[1][1]["state_topic"] == "storewatch/cam.2/roi/3/touched"
    assert configs[2][1]["state_topic"] == "storewatch/cam.2/roi/3/last_verdict"
    assert configs[3][1]["name"] == "Area 4 touched"


def test_urls_are_checked_and_the_password_is_masked(appliance: Appliance) -> None:
    store = ChannelStore(appliance.db)
    for bad in ("mqtt://", "http://broker", "mqtt://host:99999", "mqtt://host/a/+/b", "mqtt://host/x?y=1"):
        with pytest.raises(ChannelError):
            store.add("bad", "mqtt", bad)
    with pytest.raises(ChannelError, match="--secret is for webhooks"):
        store.add("bad", "mqtt", "mqtt://host", secret="x" * 20)
    assert store.list() == []
    channel, made = store.add("ha", "mqtt", "mqtts://shop:hunter2-pass@broker.lan:8883/shop1")
    assert made is None and channel.public()["url"] == "mqtts://broker.lan:8883/…"
    broker = mqtt.parse_url(channel.url)
    assert (broker.host, broker.port, broker.tls, broker.username, broker.password, broker.base) == (
        "broker.lan", 8883, True, "shop", "hunter2-pass", "shop1")
    assert mqtt.parse_url("mqtt://h").port == 1883 and mqtt.parse_url("mqtt://h").base == "storewatch"


# --- against the real broker ---------------------------------------------------------------------

def test_event_states_and_discovery_reach_a_subscriber_and_a_late_one(
        appliance: Appliance, shelf: tuple[int, int], broker: Mosquitto, sender: NotifySender,
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    top, bottom = shelf
    monkeypatch.setattr(mqtt, "TOUCH_HOLD_S", 0.5)
    caplog.set_level(logging.DEBUG)
    ChannelStore(appliance.db).add("ha", "mqtt", broker.url)
    early = Subscriber(broker.port)
    try:
        sender.start()
        wait_for(lambda: early.last("storewatch/status"))
        event_id = write_visit(appliance, "cam", [(top, "taken")])
        (event,) = wait_for(lambda: early.on("storewatch/cam/events"))
        body = json.loads(event.payload)
        assert body["id"] == event_id and body["device_id"] == "cam" and not event.retain
        assert [(r["roi_id"], r["verdict"]) for r in body["rois"]] == [(top, "taken")]
        assert body["images"]["post"].startswith(f"{BASE}/api/v1/notify/images/{event_id}/post?expires=")
        assert body["delivery_id"] == appliance.db.scalar("SELECT delivery_id FROM notify_outbox")
        wait_for(lambda: _states(appliance) == ["delivered"])
        touched = f"storewatch/cam/roi/{top}/touched"
        assert [m.payload for m in early.on(touched)][:2] == [b"OFF", b"ON"]  # OFF on connect, ON with the event
        wait_for(lambda: early.last(f"storewatch/cam/roi/{top}/touched").payload == b"OFF",
                 timeout=5)
    finally:
        early.close()

    late = Subscriber(broker.port)  # joins after everything: sees only the retained messages
    try:
        wait_for(lambda: late.last(f"homeassistant/sensor/storewatch_cam/roi_{bottom}_last_verdict/config"))
        retained = {m.topic: m for m in late.messages}
        assert all(m.retain for m in retained.values())
        assert "storewatch/cam/events" not in retained
        assert retained["storewatch/status"].payload == b"online"
        assert retained[f"storewatch/cam/roi/{top}/last_verdict"].payload == b"taken"
        assert retained[f"storewatch/cam/roi/{bottom}/last_verdict"].payload == b"undecided"
        assert retained[f"storewatch/cam/roi/{top}/touched"].payload == b"OFF"
        assert retained["storewatch/cam/last_event/picture"].payload[:2] == b"\xff\xd8"  # the event's JPEG
        configs = {t: json.loads(m.payload) for t, m in retained.items() if t.startswith("homeassistant/")}
        kinds = sorted(check_discovery(t, c, "storewatch/status") for t, c in configs.items())
        assert kinds == ["binary_sensor", "binary_sensor", "camera", "sensor", "sensor"]
        camera = configs["homeassistant/camera/storewatch_cam/last_event/config"]
        assert camera["topic"] == "storewatch/cam/last_event/picture" and camera["device"]["name"] == "Aisle camera"
    finally:
        late.close()
    assert PASSWORD not in caplog.text


@pytest.mark.slow  # keeps the broker down 3 s, then waits out the reconnect
def test_a_stopped_broker_gets_the_queued_event_once_it_is_back(
        appliance: Appliance, shelf: tuple[int, int], broker: Mosquitto, sender: NotifySender) -> None:
    top, _ = shelf
    ChannelStore(appliance.db).add("ha", "mqtt", broker.url)
    sender.start()
    link = wait_for(lambda: next(iter(mqtt.LINKS._links.values()), None))
    wait_for(link.connected)
    broker.stop()
    down = time.monotonic()
    wait_for(lambda: not link.connected())
    event_id = write_visit(appliance, "cam", [(top, "placed")])
    row = wait_for(lambda: appliance.db.query_one("SELECT * FROM notify_outbox WHERE attempts >= 2"))
    assert row["state"] in ("queued", "sending") and "not connected to the MQTT broker" in (row["last_error"] or "")
    began = time.monotonic()  # an attempt on a lost connection fails at once: the sender never hangs on it
    assert not send(ChannelStore(appliance.db).named("ha"), make_test_message("ha", "t")).ok
    assert time.monotonic() - began < 0.5
    time.sleep(max(0.0, 3 - (time.monotonic() - down)))  # down for 3 s
    broker.start()  # the same port, a fresh broker (no persistence)
    subscriber = Subscriber(broker.port)
    try:
        # paho reconnects within its capped backoff (<= 2 s here), the outbox retries within cap_s
        wait_for(lambda: _states(appliance) == ["delivered"], timeout=15)
        events = wait_for(lambda: subscriber.on("storewatch/cam/events"))
        assert {json.loads(m.payload)["id"] for m in events} == {event_id}
        # the reconnect announced everything again to the fresh broker
        wait_for(lambda: subscriber.last("storewatch/status") and subscriber.last("storewatch/status").payload
                 == b"online")
        wait_for(lambda: subscriber.last(f"homeassistant/binary_sensor/storewatch_cam/roi_{top}_touched/config"))
    finally:
        subscriber.close()


def test_a_wrong_password_is_said_plainly_and_retried(appliance: Appliance, shelf: tuple[int, int],
                                                      broker: Mosquitto, sender: NotifySender) -> None:
    top, _ = shelf
    ChannelStore(appliance.db).add("ha", "mqtt", broker.url.replace(PASSWORD, "wrong-password"))
    sender.start()
    write_visit(appliance, "cam", [(top, "taken")])
    row = wait_for(lambda: appliance.db.query_one("SELECT * FROM notify_outbox WHERE last_error IS NOT NULL"))
    row = wait_for(lambda: appliance.db.query_one("SELECT * FROM notify_outbox WHERE last_error LIKE '%refused%'"))
    assert "not connected to the MQTT broker" in row["last_error"] and "not authorized" in row["last_error"].lower()
    assert "wrong-password" not in row["last_error"]
    assert _states(appliance) != ["delivered"]


def test_notify_test_publishes_without_touching_the_availability(appliance: Appliance, broker: Mosquitto,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mqtt, "CONNECT_WAIT_S", 1.0)
    channel, _ = ChannelStore(appliance.db).add("ha", "mqtt", broker.url)
    subscriber = Subscriber(broker.port)
    try:
        result = send(channel, make_test_message("ha", "test-1"))
        assert result.ok, result.detail
        (message,) = wait_for(lambda: subscriber.on("storewatch/test"))
        assert json.loads(message.payload)["type"] == "test"
        assert subscriber.on("storewatch/status") == []
    finally:
        subscriber.close()
    broker.stop()
    failed = send(channel, make_test_message("ha", "test-2"))
    assert not failed.ok and "not connected to the MQTT broker" in failed.detail and PASSWORD not in failed.detail


KILLED_LINK = textwrap.dedent("""
    import sys, time
    from storewatch.notify import mqtt
    link = mqtt.Link(mqtt.parse_url(sys.argv[1]), "storewatch-killed", announce=True, devices=lambda: [])
    assert link.connected(10)
    print("connected", flush=True)
    time.sleep(60)
""")


def test_the_last_will_says_offline_when_the_appliance_dies(broker: Mosquitto) -> None:
    subscriber = Subscriber(broker.port, ("storewatch/status",))
    process = subprocess.Popen([sys.executable, "-c", KILLED_LINK, broker.url], stdout=subprocess.PIPE,
                               env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    try:
        assert process.stdout is not None and process.stdout.readline() == b"connected\n"
        wait_for(lambda: [m.payload for m in subscriber.on("storewatch/status")] == [b"online"])
        process.send_signal(signal.SIGKILL)  # no goodbye: the broker publishes the will
        process.wait(5)
        wait_for(lambda: [m.payload for m in subscriber.on("storewatch/status")] == [b"online", b"offline"])
    finally:
        process.kill()
        subscriber.close()
    late = Subscriber(broker.port, ("storewatch/status",))
    try:
        last = wait_for(lambda: late.last("storewatch/status"))
        assert last.payload == b"offline" and last.retain
    finally:
        late.close()


def test_stopping_the_sender_says_offline(appliance: Appliance, shelf: tuple[int, int], broker: Mosquitto,
                                          sender: NotifySender) -> None:
    ChannelStore(appliance.db).add("ha", "mqtt", broker.url)
    subscriber = Subscriber(broker.port, ("storewatch/status",))
    try:
        sender.start()
        wait_for(lambda: [m.payload for m in subscriber.on("storewatch/status")] == [b"online"])
        sender.stop(5)
        wait_for(lambda: [m.payload for m in subscriber.on("storewatch/status")] == [b"online", b"offline"])
        assert mqtt.LINKS._links == {}
    finally:
        subscriber.close()


def test_the_cli_adds_lists_masked_and_tests_an_mqtt_channel(data_dir: Path, broker: Mosquitto) -> None:
    def run(*args: str) -> str:
        result = CliRunner().invoke(main, ["--data-dir", str(data_dir), "notify", *args])
        assert result.exit_code == 0, result.output
        return result.output

    assert "Added mqtt channel 'ha'" in run("add", "ha", "--kind", "mqtt", "--url", broker.url)
    (shown,) = json.loads(run("list", "--json"))
    assert shown["kind"] == "mqtt" and shown["url"] == f"mqtt://127.0.0.1:{broker.port}"
    listed = run("list")
    assert PASSWORD not in listed and "shop:" not in listed
    subscriber = Subscriber(broker.port)
    try:
        assert "Test message sent on 'ha'" in run("test", "ha")
        wait_for(lambda: subscriber.on("storewatch/test"))
    finally:
        subscriber.close()


def test_a_database_from_before_mqtt_keeps_its_channels_outbox_and_cooldowns(tmp_path: Path) -> None:
    version = next(number for number, sql in enumerate(MIGRATIONS) if "'mqtt'" in sql)  # the one before
    path = tmp_path / "old.db"
    conn = database_at(path, version)
    with conn:
        conn.execute("INSERT INTO notify_channels (id, name, kind, url, secret, verdicts, created_at, schedule)"
                     " VALUES (1, 'hook', 'webhook', 'http://h/x', 'k', '[\"taken\"]', 't', 'sat,sun')")
        conn.execute("INSERT INTO notify_outbox (delivery_id, channel_id, event_id, state, created_at,"
                     " next_attempt_at) VALUES ('d1', 1, 7, 'queued', 1, 1)")
        conn.execute("INSERT INTO notify_cooldowns (channel_id, roi_id, last_epoch) VALUES (1, 3, 5)")
    conn.close()
    db = Database(path)
    try:
        assert db.query_one("SELECT name, kind, schedule FROM notify_channels") == {
            "name": "hook", "kind": "webhook", "schedule": "sat,sun"}
        assert db.query_one("SELECT delivery_id, state FROM notify_outbox") == {"delivery_id": "d1", "state": "queued"}
        assert db.scalar("SELECT last_epoch FROM notify_cooldowns WHERE roi_id = 3") == 5
        with db.write() as write:
            write.execute("INSERT INTO notify_channels (name, kind, url, verdicts, created_at)"
                          " VALUES ('ha', 'mqtt', 'mqtt://h', '[]', 't')")
            write.execute("DELETE FROM notify_channels WHERE id = 1")  # the foreign keys still cascade
        assert db.scalar("SELECT COUNT(*) FROM notify_outbox") == 0
        assert db.scalar("SELECT COUNT(*) FROM notify_cooldowns") == 0
    finally:
        db.close()


def test_a_big_shop_is_announced_whole(broker: Mosquitto) -> None:
    """150 areas make 301 configs and 300 states in one connect, more than paho's queue holds."""
    device = DeviceInfo("cam", "Aisle camera", tuple(RoiInfo(n, f"shelf {n}", "taken") for n in range(1, 151)))
    link = mqtt.Link(mqtt.parse_url(broker.url), "storewatch-big", announce=True, devices=lambda: [device])
    try:
        assert link.connected(10)
        late = Subscriber(broker.port, ("homeassistant/#", "storewatch/cam/roi/+/last_verdict"))
        try:
            wait_for(lambda: len(late.messages) == 301 + 150)
            assert len({m.topic for m in late.messages}) == 451
        finally:
            late.close()
    finally:
        link.close()


def test_a_channel_added_or_removed_while_running_connects_or_lets_go(
        appliance: Appliance, shelf: tuple[int, int], broker: Mosquitto, sender: NotifySender,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mqtt, "WATCH_S", 0.2)
    subscriber = Subscriber(broker.port, ("storewatch/status", "homeassistant/#"))
    try:
        sender.start()
        store = ChannelStore(appliance.db)
        store.add("ha", "mqtt", broker.url)  # no event needed: Home Assistant sees it at once
        wait_for(lambda: [m.payload for m in subscriber.on("storewatch/status")] == [b"online"], timeout=5)
        wait_for(lambda: subscriber.on("homeassistant/camera/storewatch_cam/last_event/config"))
        store.remove("ha")
        wait_for(lambda: [m.payload for m in subscriber.on("storewatch/status")] == [b"online", b"offline"],
                 timeout=5)
        assert mqtt.LINKS._links == {}
    finally:
        subscriber.close()


@pytest.mark.slow  # SIGKILLs and restarts storewatch run
def test_storewatch_run_announces_itself_says_offline_when_stopped_and_its_will_when_killed(data_dir: Path,
                                                                               broker: Mosquitto) -> None:
    opened = Appliance(data_dir)
    try:
        opened.devices.add("Aisle camera", "cam")
        roi = opened.rois.add("cam", "top", [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]])["id"]
        ChannelStore(opened.db).add("ha", "mqtt", broker.url)
    finally:
        opened.close()
    subscriber = Subscriber(broker.port, ("storewatch/status", "homeassistant/#"))
    server = start_live_server(data_dir)
    try:
        wait_for(lambda: [m.payload for m in subscriber.on("storewatch/status")] == [b"online"])
        wait_for(lambda: subscriber.on(f"homeassistant/binary_sensor/storewatch_cam/roi_{roi}_touched/config"))
        server.stop(signal.SIGKILL)  # the broker sees the connection die and publishes the will
        wait_for(lambda: [m.payload for m in subscriber.on("storewatch/status")] == [b"online", b"offline"])
        server.start()
        wait_for(lambda: [m.payload for m in subscriber.on("storewatch/status")][2:] == [b"online"])
        assert server.stop() == 0  # a stop says goodbye itself
        wait_for(lambda: [m.payload for m in subscriber.on("storewatch/status")][2:] == [b"online", b"offline"])
    finally:
        server.stop()
        subscriber.close()
    assert PASSWORD not in server.log()
