"""Health alerts and a channel's schedule (storewatch/notify/health.py) on a real SQLite file,
delivered to a real HTTP receiver: outside the schedule an alert waits for its next window
(it is not dropped), one resolved before then is sent to nobody on that channel, and a
channel with `health_anytime` hears at once. Plus Schedule.next_start across midnight and a
daylight-saving change."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from support.notify import Receiver
from support.waiting import wait_for
from storewatch.appliance import Appliance
from storewatch.notify import health
from storewatch.notify.channels import ChannelStore
from storewatch.notify.deliver import NotifySender
from storewatch.notify.outbox import RetryPolicy
from storewatch.notify.schedule import DAYS, parse_schedule

SECRET = "health-schedule-secret-0123456"
FAST = RetryPolicy(base_s=0.1, cap_s=0.3, give_up_s=60, jitter=0.1)
UTC = ZoneInfo("UTC")


def rows(appliance: Appliance) -> list[dict]:
    return appliance.db.query("SELECT c.name, o.alert_id, o.next_attempt_at, o.state, a.state AS said"
                              " FROM notify_outbox o JOIN notify_channels c ON c.id = o.channel_id"
                              " JOIN health_alerts a ON a.id = o.alert_id ORDER BY o.id")


def test_an_alert_outside_the_schedule_waits_for_its_window_unless_the_channel_says_anytime(
        appliance: Appliance) -> None:
    appliance.settings.update({"time_zone": "UTC", "disk_reserve_percent": 0, "disk_reserve_bytes": 0})
    now = time.time()
    today = datetime.fromtimestamp(now, timezone.utc)
    later = today + timedelta(days=2)  # a day that is not today: the schedule is closed now
    opens = datetime(later.year, later.month, later.day, tzinfo=timezone.utc).timestamp()
    receiver = Receiver()
    store = ChannelStore(appliance.db)
    store.add("nights", "webhook", receiver.url, secret=SECRET, health=True, schedule=DAYS[later.weekday()])
    store.add("anytime", "webhook", receiver.url + "?anytime", secret=SECRET, health=True,
              schedule=DAYS[later.weekday()], health_anytime=True)
    store.add("always", "webhook", receiver.url + "?always", secret=SECRET, health=True)
    sender = NotifySender(appliance, "http://shop:8080", policy=FAST, poll_s=0.05)
    sender.start()
    try:
        appliance.settings.update({"disk_reserve_bytes": 2**50})
        assert health.check(appliance, now=now) == (1, 0)
        waiting = {row["name"]: row for row in rows(appliance)}
        assert waiting["nights"]["next_attempt_at"] == opens  # its window's first minute, not dropped
        assert waiting["anytime"]["next_attempt_at"] == now and waiting["always"]["next_attempt_at"] == now
        wait_for(lambda: len(receiver.requests) == 2)
        assert {r.path for r in receiver.requests} == {"/hook?anytime", "/hook?always"}
        assert appliance.db.scalar("SELECT state FROM notify_outbox o JOIN notify_channels c ON c.id = o.channel_id"
                                   " WHERE c.name = 'nights'") == "queued"

        appliance.settings.update({"disk_reserve_bytes": 0})
        assert health.check(appliance) == (0, 1)  # fine again before the window opened
        wait_for(lambda: len(receiver.requests) == 4)
        said = sorted((r.path, r.json["state"]) for r in receiver.requests)
        assert said == [("/hook?always", "raised"), ("/hook?always", "resolved"),
                        ("/hook?anytime", "raised"), ("/hook?anytime", "resolved")]
        assert [row["name"] for row in rows(appliance) if row["name"] == "nights"] == []  # neither is sent
        time.sleep(0.3)
        assert len(receiver.requests) == 4
    finally:
        sender.stop(5)
        receiver.close()


def test_an_alert_still_on_when_the_window_opens_is_sent_then(appliance: Appliance) -> None:
    appliance.settings.update({"time_zone": "UTC", "disk_reserve_percent": 0, "disk_reserve_bytes": 2**50})
    ChannelStore(appliance.db).add("weekend", "webhook", "http://127.0.0.1:9/h", secret=SECRET, health=True,
                                   schedule="sat,sun")
    monday_noon = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc).timestamp()
    assert health.check(appliance, now=monday_noon) == (1, 0)
    (row,) = rows(appliance)
    assert row["next_attempt_at"] == datetime(2026, 12, 5, tzinfo=timezone.utc).timestamp()  # Saturday 00:00
    appliance.settings.update({"disk_reserve_bytes": 0})
    assert health.check(appliance, now=datetime(2026, 12, 5, 9, 0, tzinfo=timezone.utc).timestamp()) == (0, 1)
    assert [r["said"] for r in rows(appliance)] == ["raised", "resolved"]  # the raised was due: both go


def test_next_start_over_midnight_and_a_daylight_saving_change() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    evenings = parse_schedule("mon-fri 18:00-08:00")
    tuesday_noon = datetime(2026, 12, 1, 12, 0, tzinfo=berlin).timestamp()
    assert evenings.next_start(tuesday_noon, berlin) == datetime(2026, 12, 1, 18, 0, tzinfo=berlin).timestamp()
    saturday_7 = datetime(2026, 12, 5, 7, 0, tzinfo=berlin).timestamp()  # Friday's window runs to 08:00
    assert evenings.next_start(saturday_7, berlin) == saturday_7
    saturday_9 = datetime(2026, 12, 5, 9, 0, tzinfo=berlin).timestamp()
    assert evenings.next_start(saturday_9, berlin) == datetime(2026, 12, 7, 18, 0, tzinfo=berlin).timestamp()
    # 29 March 2026: Berlin's clocks go from 02:00 to 03:00; a window from 02:30 opens at 03:00 CEST
    night = parse_schedule("sun 02:30-04:00")
    before = datetime(2026, 3, 29, 1, 0, tzinfo=berlin).timestamp()
    opened = night.next_start(before, berlin)
    assert datetime.fromtimestamp(opened, berlin).strftime("%H:%M %Z") == "03:00 CEST"
    assert opened - before == 3600  # one hour of real time, though the wall clock moved two
