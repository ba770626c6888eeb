"""Appliance health alerts (storewatch/notify/health.py) through the outbox to a real HTTP receiver,
on a real SQLite file: each condition raises once and resolves once, a restart sends nothing
twice, a failed send is retried with the same delivery id; `notify add --health` and `list`."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from support.notify import Receiver
from storewatch.ops import camera_state
from storewatch import contract
from storewatch.appliance import Appliance
from storewatch.cli import main
from storewatch.notify import health
from storewatch.notify.channels import ChannelError, ChannelStore
from storewatch.notify.deliver import NotifySender
from storewatch.notify.outbox import RetryPolicy
from support.waiting import wait_for

SECRET = "health-secret-0123456789abc"
FAST = RetryPolicy(base_s=0.1, cap_s=0.3, give_up_s=60, jitter=0.1)
KEYS = {"camera_down", "stale:aisle-3", "uploading:door", "disk", "dead_jobs"}


def sender(appliance: Appliance) -> NotifySender:
    started = NotifySender(appliance, "http://127.0.0.1:8080", policy=FAST, poll_s=0.05)
    started.start()
    return started


def ago(minutes: float) -> str:
    return contract.format_timestamp(contract.utc_now() - timedelta(minutes=minutes))


def frame(appliance: Appliance, device_id: str, seq: int) -> None:
    appliance.captures.store({"device_id": device_id, "capture_ts": contract.format_timestamp(contract.utc_now()),
                              "seq": seq, "width": 16, "height": 16, "jpeg_quality": 80}, b"frame")


def shop(appliance: Appliance) -> None:
    """Two cameras that work, a disk with room (no reserve: this VM's disk may be nearly full)."""
    appliance.settings.update({"disk_reserve_bytes": 0, "disk_reserve_percent": 0})
    appliance.devices.add("Aisle 3", "aisle-3")
    appliance.devices.add("Door", "door")
    for device in ("aisle-3", "door"):
        appliance.devices.record_heartbeat(device, {"spool_frames": 0})
    frame(appliance, "door", 1)
    with appliance.db.write() as conn:
        conn.execute("UPDATE jobs SET state = 'done'")


def break_everything(appliance: Appliance) -> None:
    camera_state.write(appliance.data_dir, camera_state.CameraState(
        camera_state.FAILED, "picamera2", message="no camera is connected", next_step="Check the ribbon cable."))
    appliance.devices.record_heartbeat("door", {"spool_frames": 40, "last_error": "upload timed out"})
    with appliance.db.write() as conn:
        conn.execute("UPDATE devices SET last_seen = ? WHERE id = 'aisle-3'", (ago(6),))
        conn.execute("UPDATE captures SET received_at = ? WHERE device_id = 'door'", (ago(20),))
        conn.execute("UPDATE jobs SET state = 'dead'")
    appliance.settings.update({"disk_reserve_bytes": 2**50})


def mend_everything(appliance: Appliance) -> None:
    camera_state.write(appliance.data_dir, camera_state.CameraState(camera_state.RUNNING, "picamera2"))
    appliance.devices.record_heartbeat("aisle-3", {"spool_frames": 0})
    frame(appliance, "door", 2)
    with appliance.db.write() as conn:
        conn.execute("UPDATE jobs SET state = 'done'")
    appliance.settings.update({"disk_reserve_bytes": 0})


def alerts(receiver: Receiver) -> list[dict]:
    return [request.json for request in receiver.requests]


def test_each_condition_raises_once_and_resolves_once(appliance: Appliance, receiver: Receiver) -> None:
    shop(appliance)
    channels = ChannelStore(appliance.db)
    channels.add("owner", "webhook", receiver.url, secret=SECRET, health=True)
    channels.add("events only", "webhook", receiver.url + "-events", secret=SECRET)
    running = sender(appliance)
    try:
        assert health.check(appliance) == (0, 0)
        break_everything(appliance)
        assert health.check(appliance) == (5, 0)
        assert health.check(appliance) == (0, 0)  # still wrong: nothing new
        wait_for(lambda: len(receiver.requests) == 5)
        raised = {alert["condition"]: alert for alert in alerts(receiver)}
        assert set(raised) == KEYS and {alert["state"] for alert in raised.values()} == {"raised"}
        assert raised["stale:aisle-3"]["message"].startswith("Camera 'Aisle 3' has sent nothing for 6 minutes")
        assert raised["disk"]["message"].startswith("Disk almost full: ") and "GB left, the appliance keeps" in \
            raised["disk"]["message"]
        assert "Camera 'Door' is on but has uploaded no picture for 20 minutes; 40 wait on it" in \
            raised["uploading:door"]["message"]
        assert "no camera is connected" in raised["camera_down"]["message"]
        assert "1 picture(s) could not be analysed" in raised["dead_jobs"]["message"]
        assert all(request.signed_with(SECRET) and request.path == "/hook" for request in receiver.requests)

        mend_everything(appliance)
        assert health.check(appliance) == (0, 5)
        assert health.check(appliance) == (0, 0)
        wait_for(lambda: len(receiver.requests) == 10)
        resolved = {alert["condition"]: alert for alert in alerts(receiver)[5:]}
        assert set(resolved) == KEYS and {alert["state"] for alert in resolved.values()} == {"resolved"}
        assert resolved["disk"]["title"] == "Resolved: Disk almost full"
        assert len(set(receiver.deliveries())) == 10
    finally:
        running.stop(5)
    assert appliance.db.scalar("SELECT COUNT(*) FROM notify_outbox WHERE state = 'delivered'") == 10


def test_a_restart_sends_nothing_twice(data_dir: Path, receiver: Receiver) -> None:
    first = Appliance(data_dir)
    try:
        shop(first)
        ChannelStore(first.db).add("owner", "webhook", receiver.url, secret=SECRET, health=True)
        break_everything(first)
        assert health.check(first) == (5, 0)  # queued; the appliance stops before sending
    finally:
        first.close()
    second = Appliance(data_dir)
    try:
        assert health.check(second) == (0, 0)  # the conditions were kept: no second alert
        running = sender(second)
        try:
            wait_for(lambda: len(receiver.requests) == 5)
            mend_everything(second)
            assert health.check(second) == (0, 5)
            wait_for(lambda: len(receiver.requests) == 10)
        finally:
            running.stop(5)
    finally:
        second.close()
    third = Appliance(data_dir)
    try:
        assert health.check(third) == (0, 0)
        assert [a["state"] for a in alerts(receiver)].count("raised") == 5
        assert len(set(receiver.deliveries())) == 10
    finally:
        third.close()


def test_a_failed_alert_is_sent_again_with_the_same_delivery_id(appliance: Appliance, receiver: Receiver) -> None:
    shop(appliance)
    ChannelStore(appliance.db).add("owner", "webhook", receiver.url, secret=SECRET, health=True)
    appliance.settings.update({"disk_reserve_bytes": 2**50})
    receiver.status = 503
    assert health.check(appliance) == (1, 0)
    running = sender(appliance)
    try:
        wait_for(lambda: len(receiver.requests) >= 2)
        receiver.status = 200
        wait_for(lambda: appliance.db.scalar("SELECT state FROM notify_outbox") == "delivered")
    finally:
        running.stop(5)
    assert len(set(receiver.deliveries())) == 1 and len(receiver.requests) >= 3
    assert {alert["condition"] for alert in alerts(receiver)} == {"disk"}


def test_a_channel_for_some_cameras_hears_only_of_those(appliance: Appliance) -> None:
    shop(appliance)
    ChannelStore(appliance.db).add("door only", "webhook", "http://127.0.0.1:9/hook", secret=SECRET, health=True,
                                   devices=["door"])
    with appliance.db.write() as conn:
        conn.execute("UPDATE devices SET last_seen = ? WHERE id = 'aisle-3'", (ago(6),))
    assert health.check(appliance) == (1, 0)
    assert appliance.db.scalar("SELECT COUNT(*) FROM notify_outbox") == 0


def test_mqtt_channels_take_no_health_alerts(appliance: Appliance) -> None:
    with pytest.raises(ChannelError, match="webhook and Apprise"):
        ChannelStore(appliance.db).add("ha", "mqtt", "mqtt://127.0.0.1:1883", health=True)
    assert appliance.db.scalar("SELECT COUNT(*) FROM notify_channels") == 0


def test_cli_add_with_health_and_list_shows_it(data_dir: Path, receiver: Receiver) -> None:
    def run(*args: str) -> str:
        result = CliRunner().invoke(main, ["--data-dir", str(data_dir), "notify", *args])
        assert result.exit_code == 0, result.output
        return result.output

    assert "and health alerts" in run("add", "owner", "--kind", "webhook", "--url", receiver.url, "--secret", SECRET,
                                      "--health")
    run("add", "events", "--kind", "webhook", "--url", receiver.url, "--secret", SECRET)
    shown = {channel["name"]: channel for channel in json.loads(run("list", "--json"))}
    assert (shown["owner"]["health"], shown["events"]["health"]) == (True, False)
    assert "and health alerts" in run("list")
    opened = Appliance(data_dir)
    try:
        opened.settings.update({"disk_reserve_bytes": 2**50})
        assert health.check(opened) == (1, 0)
    finally:
        opened.close()
    outbox = run("outbox")
    assert "health" in outbox and "owner" in outbox


@pytest.mark.slow  # storewatch run and its periodic check, on the real clock
def test_storewatch_run_checks_by_itself(data_dir: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    """The periodic check inside a real `storewatch run`: the disk falls below its reserve, the
    webhook hears it once; it is fine again, the webhook hears that once."""
    from support.servers import LiveServer, free_port, prepare_data_dir

    monkeypatch.setenv(health.CHECK_ENV, "0.3")
    prepare_data_dir(data_dir)
    opened = Appliance(data_dir)
    try:
        opened.settings.update({"disk_reserve_bytes": 2**50, "disk_reserve_percent": 0})
        ChannelStore(opened.db).add("owner", "webhook", receiver.url, secret=SECRET, health=True)
    finally:
        opened.close()
    server = LiveServer(data_dir, free_port(), ["--camera", "none"])
    server.start()
    try:
        wait_for(lambda: len(receiver.requests) == 1, timeout=20)
        with server.admin_client() as admin:
            assert admin.patch("/api/v1/admin/settings", json={"disk_reserve_bytes": 0}).status_code == 200
        wait_for(lambda: len(receiver.requests) == 2, timeout=20)
    finally:
        assert server.stop() == 0
    assert [(a["condition"], a["state"]) for a in alerts(receiver)] == [("disk", "raised"), ("disk", "resolved")]
