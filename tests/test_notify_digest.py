"""The daily digest per channel (storewatch/notify/digest.py) on a real SQLite file, through
the outbox to a real HTTP receiver (a signed webhook, and Apprise's json://): per shelf area
the day's visits and verdicts in the appliance's time zone, made once per channel and day
even across a restart, at least once delivered; `notify add --digest`, `notify edit`, and
the admin API. Only the digest's clock is given (the moment of the check), nothing else is
faked."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from support.notify import Receiver, write_visit
from support.waiting import wait_for
from support.schema import database_at
from storewatch.appliance import Appliance
from storewatch.cli import main
from storewatch.notify import digest
from storewatch.notify.channels import ChannelError, ChannelStore
from storewatch.notify.deliver import NotifySender
from storewatch.notify.outbox import RetryPolicy

SECRET = "digest-secret-0123456789abcd"
FAST = RetryPolicy(base_s=0.1, cap_s=0.3, give_up_s=60, jitter=0.1)
BERLIN = ZoneInfo("Europe/Berlin")
SEND = datetime(2026, 9, 21, 21, 0, tzinfo=BERLIN).timestamp()  # the digest's moment, 21:00 in Berlin
HOUR = 3600.0


@pytest.fixture
def shop(appliance: Appliance) -> dict[str, int]:
    """Two cameras, three shelf areas, and a day of visits written as the worker writes them
    (before any channel exists, so none of them is told as an event)."""
    appliance.settings.update({"time_zone": "Europe/Berlin"})
    appliance.devices.add("Aisle camera", "cam")
    appliance.devices.add("Door", "door")
    rois = appliance.rois
    square = [[0.2, 0.2], [0.6, 0.2], [0.6, 0.6], [0.2, 0.6]]
    ids = {"top": rois.add("cam", "top shelf", square)["id"], "bottom": rois.add("cam", "bottom shelf", square)["id"],
           "till": rois.add("door", "till", square)["id"]}
    visits = [  # (seconds before SEND, device, touched)
        (25 * HOUR, "cam", [(ids["top"], "taken")]),  # yesterday before 21:00: the day before's digest
        (23 * HOUR, "cam", [(ids["top"], "taken")]),
        (5 * HOUR, "cam", [(ids["top"], "placed"), (ids["bottom"], "unchanged")]),
        (2 * HOUR, "cam", [(ids["top"], "taken")]),
        (1 * HOUR, "door", [(ids["till"], "placed")]),
        (0.5 * HOUR, "cam", [(ids["bottom"], "taken")]),  # marked a false alarm below
        (-0.2 * HOUR, "cam", [(ids["top"], "taken")]),  # after 21:00: tomorrow's
    ]
    events = []
    for number, (before, device, touched) in enumerate(visits, start=1):
        events.append(write_visit(appliance, device, touched, start=SEND - before, capture_id=number,
                                  with_picture=False))
    appliance.events.review(events[5], false_alarm=True)
    return ids


def sent(receiver: Receiver, count: int) -> list[dict]:
    wait_for(lambda: len(receiver.requests) >= count)
    return [request.json for request in receiver.requests]


def test_a_digest_counts_each_shelf_of_the_day_and_is_delivered_once(
        appliance: Appliance, shop: dict[str, int], receiver: Receiver) -> None:
    channels = ChannelStore(appliance.db)
    channels.add("owner", "webhook", receiver.url, secret=SECRET, digest_at="21:00")
    channels.add("no digest", "webhook", receiver.url, secret=SECRET)
    assert digest.check(appliance.db, now=SEND - 60) == 0  # 20:59: not yet
    assert digest.check(appliance.db, now=SEND + 30) == 1
    assert digest.check(appliance.db, now=SEND + 60) == 0  # made once
    sender = NotifySender(appliance, "http://shop:8080", policy=FAST, poll_s=0.05)
    sender.start()
    try:
        (body,) = sent(receiver, 1)
        wait_for(lambda: appliance.db.scalar("SELECT state FROM notify_outbox") == "delivered")
    finally:
        sender.stop(5)
    assert receiver.requests[0].signed_with(SECRET)
    assert (body["type"], body["channel"], body["day"], body["time_zone"]) == ("digest", "owner", "2026-09-21",
                                                                                 "Europe/Berlin")
    assert (body["from"], body["until"]) == ("2026-09-20T19:00:00.000Z", "2026-09-21T19:00:00.000Z")
    assert (body["visits"], body["false_alarms"]) == (4, 1)
    shelves = {(s["device_name"], s["roi_name"]): s for s in body["shelves"]}
    assert list(shelves) == [("Aisle camera", "bottom shelf"), ("Aisle camera", "top shelf"), ("Door", "till")]
    top = shelves[("Aisle camera", "top shelf")]
    assert (top["visits"], top["taken"], top["placed"], top["moved"], top["unchanged"]) == (3, 2, 1, 0, 0)
    bottom = shelves[("Aisle camera", "bottom shelf")]
    assert (bottom["visits"], bottom["taken"], bottom["unchanged"]) == (1, 0, 1)  # its false alarm left out
    assert shelves[("Door", "till")]["placed"] == 1
    row = appliance.db.query_one("SELECT * FROM notify_outbox")
    assert row["digest_id"] is not None and row["event_id"] is None


def test_once_per_day_across_a_restart_and_again_the_next_day(data_dir: Path, appliance: Appliance,
                                                              shop: dict[str, int]) -> None:
    ChannelStore(appliance.db).add("owner", "webhook", "http://127.0.0.1:9/hook", secret=SECRET, digest_at="21:00")
    assert digest.check(appliance.db, now=SEND + 5) == 1
    appliance.close()
    reopened = Appliance(data_dir)  # storewatch restarted the same evening
    try:
        assert digest.check(reopened.db, now=SEND + 2 * HOUR) == 0
        assert digest.check(reopened.db, now=SEND + 24 * HOUR + 5) == 1  # the next day's
        days = [row["day"] for row in reopened.db.query("SELECT day FROM notify_digests ORDER BY id")]
        assert days == ["2026-09-21", "2026-09-22"]
        second = json.loads(reopened.db.scalar("SELECT payload FROM notify_digests WHERE day = '2026-09-22'"))
        assert second["visits"] == 1  # the visit after 21:00 yesterday
        kinds = [row["digest_id"] is not None for row in reopened.db.query("SELECT * FROM notify_outbox")]
        assert kinds == [True, True]
    finally:
        reopened.close()


def test_an_appliance_off_at_digest_time_sends_it_when_back_the_same_day_only(appliance: Appliance,
                                                                              shop: dict[str, int]) -> None:
    ChannelStore(appliance.db).add("owner", "webhook", "http://127.0.0.1:9/hook", secret=SECRET, digest_at="07:30")
    morning = datetime(2026, 9, 23, 23, 10, tzinfo=BERLIN).timestamp()  # off since the 21st, back at 23:10
    assert digest.check(appliance.db, now=morning) == 1
    assert [r["day"] for r in appliance.db.query("SELECT day FROM notify_digests")] == ["2026-09-23"]


def test_the_digest_follows_the_channels_areas_and_apprise_gets_words(appliance: Appliance, shop: dict[str, int],
                                                                      receiver: Receiver) -> None:
    ChannelStore(appliance.db).add("phone", "apprise", f"json://127.0.0.1:{receiver.port}/apprise",
                                   rois=[shop["top"]], digest_at="21:00")
    assert digest.check(appliance.db, now=SEND + 1) == 1
    payload = json.loads(appliance.db.scalar("SELECT payload FROM notify_digests"))
    assert [s["roi_name"] for s in payload["shelves"]] == ["top shelf"] and payload["visits"] == 3
    sender = NotifySender(appliance, "http://shop:8080", policy=FAST, poll_s=0.05)
    sender.start()
    try:
        (body,) = sent(receiver, 1)
    finally:
        sender.stop(5)
    assert body["title"] == "storewatch: the day on the shelves, Mon 21 Sep"
    assert body["message"].splitlines() == [
        "3 visits from Sun 20 Sep 21:00 to Mon 21 Sep 21:00 CEST:",
        "- top shelf (Aisle camera): 3 visits, 2 taken, 1 placed"]


def test_a_quiet_day_says_so(appliance: Appliance) -> None:
    appliance.settings.update({"time_zone": "Europe/Berlin"})
    channel, _ = ChannelStore(appliance.db).add("owner", "webhook", "http://127.0.0.1:9/h", secret=SECRET,
                                                digest_at="21:00")
    assert digest.check(appliance.db, now=SEND) == 1
    message = digest.digest_message(appliance.db, appliance.db.scalar("SELECT id FROM notify_digests"), "d")
    assert message.body == "No visits from Sun 20 Sep 21:00 to Mon 21 Sep 21:00 CEST."
    assert message.payload["shelves"] == [] and message.payload["visits"] == 0


def test_the_digest_time_is_checked_and_nothing_is_stored_when_wrong(appliance: Appliance) -> None:
    store = ChannelStore(appliance.db)
    for bad in ("24:00", "9pm", "21:60", "21", 2100):
        with pytest.raises(ChannelError) as caught:
            store.add("owner", "webhook", "http://h/x", secret=SECRET, digest_at=bad)
        assert caught.value.field == "digest_at"
    assert store.list() == []
    channel, _ = store.add("owner", "webhook", "http://h/x", secret=SECRET, digest_at="7:05")
    assert channel.digest_at == "07:05" and channel.public()["digest_at"] == "07:05"
    assert store.update(channel.id, {"digest_at": "off"}).digest_at is None
    with pytest.raises(ChannelError):
        store.update(channel.id, {"digest_at": "25:00"})
    assert store.get(channel.id).digest_at is None


def run(data_dir: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--data-dir", str(data_dir), "notify", *args])
    return result.exit_code, result.output


def test_the_cli_adds_and_edits_a_digest(data_dir: Path) -> None:
    code, out = run(data_dir, "add", "owner", "--kind", "webhook", "--url", "http://h/x", "--secret", SECRET,
                    "--digest", "21:00")
    assert code == 0 and "a daily digest at 21:00" in out
    code, out = run(data_dir, "add", "other", "--kind", "webhook", "--url", "http://h/x", "--digest", "25:00")
    assert code == 1 and "the digest time is HH:MM" in out and "Traceback" not in out
    code, out = run(data_dir, "edit", "owner", "--digest", "07:30", "--schedule", "mon-fri 18:00-08:00",
                    "--health", "--health-anytime")
    assert code == 0, out
    (shown,) = json.loads(run(data_dir, "list", "--json")[1])
    assert (shown["digest_at"], shown["schedule"], shown["health"], shown["health_anytime"]) == (
        "07:30", "mon,tue,wed,thu,fri 18:00-08:00", True, True)
    assert "a daily digest at 07:30" in run(data_dir, "list")[1]
    code, out = run(data_dir, "edit", "owner", "--digest", "7pm")
    assert code == 1 and "channel not changed" in out
    assert json.loads(run(data_dir, "list", "--json")[1])[0]["digest_at"] == "07:30"  # unchanged
    assert run(data_dir, "edit", "owner", "--digest", "off", "--schedule", "always")[0] == 0
    (shown,) = json.loads(run(data_dir, "list", "--json")[1])
    assert (shown["digest_at"], shown["schedule"]) == (None, None)
    code, out = run(data_dir, "edit", "owner")
    assert code == 2 and "give at least one change" in out
    code, out = run(data_dir, "edit", "nope", "--digest", "21:00")
    assert code == 1 and "no channel called 'nope'" in out


def test_the_admin_api_sets_and_clears_the_digest(appliance: Appliance) -> None:
    from support.servers import app_client

    with app_client(appliance) as served, served.admin_client() as admin:
        added = admin.post("/api/v1/admin/notify/channels", json={
            "name": "owner", "kind": "webhook", "url": "http://h/x", "secret": SECRET, "digest_at": "21:00"})
        assert added.status_code == 201, added.text
        channel = added.json()["channel"]
        assert channel["digest_at"] == "21:00" and channel["health_anytime"] is False
        wrong = admin.patch(f"/api/v1/admin/notify/channels/{channel['id']}", json={"digest_at": "21:99"})
        assert wrong.status_code == 422 and wrong.json()["error"]["details"][0]["field"] == "digest_at"
        cleared = admin.patch(f"/api/v1/admin/notify/channels/{channel['id']}",
                              json={"digest_at": None, "health_anytime": True})
        assert cleared.status_code == 200
        assert (cleared.json()["channel"]["digest_at"], cleared.json()["channel"]["health_anytime"]) == (None, True)


@pytest.mark.slow  # storewatch run and its periodic check, on the real clock
def test_storewatch_run_makes_the_digest_by_itself(data_dir: Path, receiver: Receiver,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A real `storewatch run` (its periodic check, the real clock): a channel whose digest time
    is this very minute gets the day's digest once."""
    from support.servers import LiveServer, free_port, prepare_data_dir
    from storewatch.notify import health

    monkeypatch.setenv(health.CHECK_ENV, "0.3")
    prepare_data_dir(data_dir)
    opened = Appliance(data_dir)
    try:
        opened.settings.update({"time_zone": "UTC"})
        now = datetime.now(ZoneInfo("UTC"))
        ChannelStore(opened.db).add("owner", "webhook", receiver.url, secret=SECRET, digest_at=f"{now:%H:%M}")
    finally:
        opened.close()
    server = LiveServer(data_dir, free_port(), ["--camera", "none"])
    server.start()
    try:
        (body,) = sent(receiver, 1)
        assert body["type"] == "digest" and body["day"] == now.date().isoformat()
        assert receiver.requests[0].signed_with(SECRET)
    finally:
        assert server.stop() == 0
    assert len(receiver.requests) == 1


def test_a_database_from_before_the_digest_keeps_its_channels_and_outbox(tmp_path: Path) -> None:
    import apsw

    from storewatch.store import Database
    from storewatch.store.migrations import MIGRATIONS

    version = next(number for number, sql in enumerate(MIGRATIONS) if "notify_digests" in sql)  # the one before
    path = tmp_path / "old.db"
    conn = database_at(path, version)
    with conn:
        conn.execute("INSERT INTO notify_channels (id, name, kind, url, secret, verdicts, created_at, health)"
                     " VALUES (1, 'hook', 'webhook', 'http://h/x', 'k', '[\"taken\"]', 't', 1)")
        conn.execute("INSERT INTO health_alerts (id, key, state, title, body, created_at)"
                     " VALUES (4, 'disk', 'raised', 'Disk', 'Disk almost full', 1)")
        conn.execute("INSERT INTO notify_outbox (delivery_id, channel_id, event_id, state, created_at,"
                     " next_attempt_at) VALUES ('d1', 1, 7, 'queued', 1, 1)")
        conn.execute("INSERT INTO notify_outbox (delivery_id, channel_id, alert_id, state, created_at,"
                     " next_attempt_at, attempts, last_error) VALUES ('d2', 1, 4, 'dead', 1, 1, 9, 'gone')")
    conn.close()
    db = Database(path)
    try:
        kept = db.query("SELECT delivery_id, event_id, alert_id, digest_id, visit, state, attempts, last_error"
                        " FROM notify_outbox ORDER BY id")
        assert kept == [{"delivery_id": "d1", "event_id": 7, "alert_id": None, "digest_id": None, "visit": None,
                         "state": "queued", "attempts": 0, "last_error": None},
                        {"delivery_id": "d2", "event_id": None, "alert_id": 4, "digest_id": None, "visit": None,
                         "state": "dead", "attempts": 9, "last_error": "gone"}]
        channel = ChannelStore(db).get(1)
        assert (channel.digest_at, channel.health_anytime, channel.health) == (None, False, True)
        with pytest.raises(apsw.ConstraintError):  # a row is about one thing
            with db.write() as write:
                write.execute("INSERT INTO notify_outbox (delivery_id, channel_id, event_id, alert_id, state,"
                              " created_at, next_attempt_at) VALUES ('d3', 1, 8, 4, 'queued', 1, 1)")
    finally:
        db.close()
