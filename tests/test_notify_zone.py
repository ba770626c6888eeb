"""Notifications say times in the appliance's time zone (the `time_zone` setting), not the
system's: an event's title and body, and a health alert, as a real Apprise json:// receiver
on 127.0.0.1 gets them from the sender."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from support.notify import Receiver, T0, write_visit
from support.waiting import wait_for
from storewatch.appliance import Appliance
from storewatch.notify import health
from storewatch.notify.channels import ChannelStore
from storewatch.notify.deliver import NotifySender
from storewatch.notify.outbox import RetryPolicy

FAST = RetryPolicy(base_s=0.1, cap_s=0.3, give_up_s=60, jitter=0.1)


def test_event_and_health_messages_use_the_appliances_time_zone(appliance: Appliance, receiver: Receiver) -> None:
    appliance.settings.update({"time_zone": "Asia/Tokyo", "disk_reserve_percent": 0, "disk_reserve_bytes": 0})
    appliance.devices.add("Aisle camera", "cam")
    roi = appliance.rois.add("cam", "top shelf", [[0.2, 0.2], [0.6, 0.2], [0.6, 0.6], [0.2, 0.6]])["id"]
    ChannelStore(appliance.db).add("phone", "apprise", f"json://127.0.0.1:{receiver.port}/apprise", health=True)
    sender = NotifySender(appliance, "http://shop:8080", policy=FAST, poll_s=0.05)
    sender.start()
    try:
        write_visit(appliance, "cam", [(roi, "taken")], start=T0)
        (event,) = wait_for(lambda: receiver.requests)
        tokyo = datetime.fromtimestamp(T0, ZoneInfo("Asia/Tokyo"))
        assert event.json["title"].endswith(f" at {tokyo:%H:%M:%S}")
        assert f"{tokyo:%Y-%m-%d %H:%M:%S} JST" in event.json["message"]
        appliance.settings.update({"disk_reserve_bytes": 2**50})
        assert health.check(appliance) == (1, 0)
        alert = wait_for(lambda: receiver.requests[1:])[0]
        assert alert.json["title"] == "storewatch: Disk almost full" and " JST)" in alert.json["message"]
    finally:
        sender.stop(5)
