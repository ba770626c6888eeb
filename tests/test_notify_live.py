"""Notifications from a real `storewatch run` (a subprocess): a SIGKILL while a webhook is being
delivered re-sends it with the same delivery id after the restart, a channel that cannot be
reached ends dead in bounded time and shows so, and the log holds no secret."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from click.testing import CliRunner

from support.servers import LiveServer, start_live_server
from support.notify import Receiver, write_visit
from storewatch.appliance import Appliance
from storewatch.cli import main
from storewatch.notify.channels import ChannelStore
from support.waiting import wait_for

SECRET = "live-secret-0123456789abcdef"
TOKEN = "topic-token-9f8e7d"


@pytest.mark.slow  # SIGKILLs storewatch run mid-delivery and restarts it
def test_sigkill_during_delivery_resends_with_the_same_id_and_nothing_is_lost(
        data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOREWATCH_NOTIFY_RETRY_BASE_S", "0.2")
    monkeypatch.setenv("STOREWATCH_NOTIFY_RETRY_CAP_S", "0.5")
    monkeypatch.setenv("STOREWATCH_NOTIFY_GIVE_UP_S", "3")
    receiver = Receiver()
    appliance = Appliance(data_dir)
    server: LiveServer | None = None
    try:
        appliance.devices.add("Aisle camera", "cam")
        shelf = appliance.rois.add("cam", "top", [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]])["id"]
        channels = ChannelStore(appliance.db)
        channels.add("hook", "webhook", f"{receiver.url}?token={TOKEN}", secret=SECRET)
        channels.add("nowhere", "apprise", f"json://{TOKEN}@127.0.0.1:1/never")  # nothing listens on port 1
        receiver.hold()
        server = start_live_server(data_dir)
        first = write_visit(appliance, "cam", [(shelf, "taken")], capture_id=1)
        assert receiver.arrived.wait(10), server.log()
        held = appliance.db.query_one("SELECT * FROM notify_outbox o JOIN notify_channels c ON c.id = o.channel_id"
                                      " WHERE c.name = 'hook'")
        assert held["state"] == "sending"
        server.stop(signal.SIGKILL)
        receiver.release()  # the first copy is recorded; its answer goes nowhere
        second = write_visit(appliance, "cam", [(shelf, "placed")], capture_id=2)  # while it was down
        server.start()
        wait_for(lambda: len(receiver.requests) >= 3, timeout=15)
        by_event: dict[int, list[str]] = {}
        for request in receiver.requests:
            assert request.signed_with(SECRET)
            by_event.setdefault(request.json["id"], []).append(request.delivery)
        assert by_event[first] == [held["delivery_id"]] * 2  # re-sent after the kill, same id
        assert len(by_event[second]) == 1
        wait_for(lambda: appliance.db.scalar("SELECT COUNT(*) FROM notify_outbox WHERE state = 'dead'") == 2,
                 timeout=15)
        server.stop()
    finally:
        if server is not None and server.process and server.process.poll() is None:
            server.stop()
        appliance.close()
        receiver.close()
    outbox = json.loads(CliRunner().invoke(main, ["--data-dir", str(data_dir), "notify", "outbox", "--json"]).output)
    dead = [row for row in outbox if row["state"] == "dead"]
    assert {row["channel"] for row in dead} == {"nowhere"} and all(row["last_error"] for row in dead)
    shown = CliRunner().invoke(main, ["--data-dir", str(data_dir), "notify", "list"]).output
    assert "given up 2" in shown and "delivered 2" in shown
    log = server.log()
    assert "sending them again" in log and "gave up on event" in log
    for secret in (SECRET, TOKEN):
        assert secret not in log and secret not in shown
