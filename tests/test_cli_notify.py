"""`storewatch notify …`: add with checked input (bad input stores nothing), list and outbox with
secrets masked, test against a real receiver (webhook and Apprise json://), remove."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from support.notify import Receiver, write_visit
from storewatch.appliance import Appliance
from storewatch.cli import main

SECRET = "cli-secret-0123456789abcdef"


@pytest.fixture
def shop(data_dir: Path) -> int:
    with_device = Appliance(data_dir)
    try:
        with_device.devices.add("Aisle camera", "cam")
        rois = with_device.rois
        return rois.add("cam", "top", [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]])["id"]
    finally:
        with_device.close()


def run(data_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--data-dir", str(data_dir), "notify", *args])


def channel_count(data_dir: Path) -> int:
    opened = Appliance(data_dir)
    try:
        return opened.db.scalar("SELECT COUNT(*) FROM notify_channels")
    finally:
        opened.close()


@pytest.mark.parametrize("args, says", [
    (["--kind", "webhook", "--url", "ftp://host/x"], "starts with http:// or https://"),
    (["--kind", "webhook", "--url", "http://h/x", "--secret", "short"], "at least 16"),
    (["--kind", "webhook", "--url", "http://h/x", "--verdicts", "taken,stolen"], "given: stolen"),
    (["--kind", "webhook", "--url", "http://h/x", "--verdicts", ""], "verdicts are some of"),
    (["--kind", "webhook", "--url", "http://h/x", "--devices", "cam,ghost"], "no device ghost"),
    (["--kind", "webhook", "--url", "http://h/x", "--rois", "999"], "no ROI 999"),
    (["--kind", "webhook", "--url", "http://h/x", "--rois", "top"], "ROI ids as numbers"),
    (["--kind", "webhook", "--url", "http://h/x", "--cooldown", "-1"], "-1"),
    (["--kind", "apprise", "--url", "nosuchservice://x"], "Apprise does not understand"),
    (["--kind", "apprise", "--url", "ntfy://topic", "--secret", "0123456789abcdefgh"], "for webhooks"),
    (["--kind", "sms", "--url", "mqtt://h"], "'sms' is not one of"),
    (["--kind", "mqtt", "--url", "http://broker"], "starts with mqtt:// or mqtts://"),
    (["--kind", "mqtt", "--url", "mqtt://h", "--secret", "0123456789abcdefgh"], "for webhooks"),
    (["--kind", "webhook", "--url", "http://h/x", "--schedule", "weekdays"], "the schedule: 'weekdays' is not a day"),
])
def test_bad_input_is_refused_clearly_and_stores_nothing(data_dir: Path, shop: int, args: list[str],
                                                         says: str) -> None:
    result = run(data_dir, "add", "shop", *args)
    assert result.exit_code != 0 and says in result.output, result.output
    assert "Traceback" not in result.output
    assert channel_count(data_dir) == 0


def test_a_name_is_taken_once(data_dir: Path, shop: int) -> None:
    assert run(data_dir, "add", "shop", "--kind", "webhook", "--url", "http://h/x").exit_code == 0
    again = run(data_dir, "add", "shop", "--kind", "apprise", "--url", "ntfy://topic")
    assert again.exit_code == 1 and "already a channel called 'shop'" in again.output
    assert channel_count(data_dir) == 1


def test_add_list_show_secrets_masked_and_the_made_secret_once(data_dir: Path, shop: int) -> None:
    added = run(data_dir, "add", "shop", "--kind", "webhook", "--url", "http://10.0.0.2:8123/api/webhook/s3cr3tid",
                "--devices", "cam", "--rois", str(shop), "--verdicts", "taken", "--cooldown", "30",
                "--schedule", "mon-fri 18:00-08:00; sat,sun", "--json")
    assert added.exit_code == 0, added.output
    made = json.loads(added.output)["secret"]
    assert len(made) >= 16
    phone = run(data_dir, "add", "phone", "--kind", "apprise", "--url", "ntfy://my-shop-alerts-7x")
    assert phone.exit_code == 0 and "my-shop-alerts-7x" not in phone.output
    listed = run(data_dir, "list", "--json")
    shown = {channel["name"]: channel for channel in json.loads(listed.output)}
    assert shown["shop"]["url"] == "http://10.0.0.2:8123/…" and shown["shop"]["secret"] == made[:3] + "…"
    assert (shown["shop"]["devices"], shown["shop"]["rois"], shown["shop"]["verdicts"],
            shown["shop"]["cooldown_s"], shown["shop"]["schedule"]) == (
        ["cam"], [shop], ["taken"], 30.0, "mon,tue,wed,thu,fri 18:00-08:00; sat,sun")
    assert shown["phone"]["url"] == "ntfy://…" and shown["phone"]["verdicts"] == ["taken", "placed"]
    assert shown["phone"]["last"] is None and shown["phone"]["counts"]["queued"] == 0
    text = run(data_dir, "list").output
    for secret in (made, "s3cr3tid", "my-shop-alerts-7x"):
        assert secret not in listed.output and secret not in text


def test_test_sends_now_and_says_what_happened(data_dir: Path, shop: int, receiver: Receiver) -> None:
    run(data_dir, "add", "hook", "--kind", "webhook", "--url", receiver.url, "--secret", SECRET)
    run(data_dir, "add", "phone", "--kind", "apprise", "--url", f"json://127.0.0.1:{receiver.port}/apprise")
    sent = run(data_dir, "test", "hook")
    assert sent.exit_code == 0 and "Test message sent on 'hook': the receiver answered HTTP 200" in sent.output
    assert run(data_dir, "test", "phone").exit_code == 0
    webhook, apprised = receiver.requests
    assert webhook.signed_with(SECRET) and webhook.json["type"] == "test" and webhook.delivery.startswith("test-")
    assert apprised.path == "/apprise" and apprised.json["title"] == "storewatch: test of phone"
    receiver.status = 500
    failed = run(data_dir, "test", "hook")
    assert failed.exit_code == 1 and "not sent: the receiver answered HTTP 500" in failed.output
    missing = run(data_dir, "test", "nope")
    assert missing.exit_code == 1 and "no channel called 'nope'" in missing.output


def test_outbox_and_list_show_deliveries_then_remove_drops_them(data_dir: Path, shop: int,
                                                                 receiver: Receiver) -> None:
    run(data_dir, "add", "hook", "--kind", "webhook", "--url", receiver.url, "--secret", SECRET)
    assert run(data_dir, "outbox").output.strip() == "The outbox is empty."
    opened = Appliance(data_dir)
    try:
        event_id = write_visit(opened, "cam", [(shop, "taken")])
    finally:
        opened.close()
    (row,) = json.loads(run(data_dir, "outbox", "--json").output)
    assert (row["channel"], row["event_id"], row["state"], row["attempts"]) == ("hook", event_id, "queued", 0)
    assert row["delivery_id"] in run(data_dir, "outbox").output
    assert "waiting 1, delivered 0, given up 0; last: nothing sent yet" in run(data_dir, "list").output
    assert json.loads(run(data_dir, "outbox", "--json", "--state", "dead").output) == []
    removed = run(data_dir, "remove", "hook")
    assert removed.exit_code == 0 and "Removed channel 'hook'" in removed.output
    assert json.loads(run(data_dir, "outbox", "--json").output) == []
    assert run(data_dir, "remove", "hook").exit_code == 1


def test_a_failed_test_says_what_to_check_and_edit_fixes_the_url(data_dir: Path, shop: int,
                                                                  receiver: Receiver) -> None:
    run(data_dir, "add", "hook", "--kind", "webhook", "--url", receiver.url.replace("/hook", "/old"),
        "--secret", SECRET)
    receiver.down()
    failed = run(data_dir, "test", "hook")
    assert failed.exit_code == 1 and "could not reach the receiver" in failed.output, failed.output
    # Was the cause alone; the next step names how to change a wrong URL (edit had no --url).
    assert "Is the receiver running at that address?" in failed.output, failed.output
    assert "storewatch notify edit 'hook' --url URL" in failed.output, failed.output
    receiver.up()
    edited = run(data_dir, "edit", "hook", "--url", receiver.url)
    assert edited.exit_code == 0, edited.output
    assert run(data_dir, "test", "hook").exit_code == 0
    (sent,) = receiver.requests
    assert sent.path == "/hook" and sent.signed_with(SECRET)  # the secret stayed


def test_edit_refuses_a_bad_url_and_keeps_the_old_one(data_dir: Path, shop: int, receiver: Receiver) -> None:
    run(data_dir, "add", "hook", "--kind", "webhook", "--url", receiver.url, "--secret", SECRET)
    refused = run(data_dir, "edit", "hook", "--url", "ftp://host/x")
    assert refused.exit_code == 1 and "starts with http:// or https://" in refused.output, refused.output
    assert run(data_dir, "test", "hook").exit_code == 0
    assert len(receiver.requests) == 1


def test_list_says_when_the_last_delivery_was_on_the_shops_clock(data_dir: Path, shop: int,
                                                                  receiver: Receiver) -> None:
    from storewatch.notify.outbox import Outbox

    run(data_dir, "add", "hook", "--kind", "webhook", "--url", receiver.url, "--secret", SECRET)
    assert CliRunner().invoke(main, ["--data-dir", str(data_dir), "settings", "time_zone=Europe/Berlin"]).exit_code == 0
    opened = Appliance(data_dir)
    try:
        event_id = write_visit(opened, "cam", [(shop, "taken")])
        outbox = Outbox(opened.db)
        (row,) = outbox.claim(10)
        outbox.delivered(row["id"], now=1767225600.0)  # 2026-01-01T00:00:00Z
    finally:
        opened.close()
    # It showed the stored UTC text ("at 2026-01-01T00:00:00.000Z").
    assert f"last: delivered event {event_id} at 2026-01-01 01:00:00 CET" in run(data_dir, "list").output
