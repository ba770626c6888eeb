"""The outbox: which events become deliveries (decided once, when the worker writes the event),
and the retry schedule of a delivery (real SQLite file)."""

from __future__ import annotations

from datetime import datetime

import pytest

from support.notify import T0, write_visit
from storewatch.appliance import Appliance
from storewatch.jobs import outputs
from storewatch.notify.channels import ChannelStore
from storewatch.notify.outbox import Outbox, RetryPolicy

SQUARE = [[0.1, 0.1], [0.4, 0.1], [0.4, 0.4], [0.1, 0.4]]
OTHER = [[0.5, 0.5], [0.9, 0.5], [0.9, 0.9], [0.5, 0.9]]


@pytest.fixture
def shop(appliance: Appliance) -> dict[str, int]:
    appliance.devices.add("Aisle camera", "cam")
    appliance.devices.add("Till camera", "till")
    rois = appliance.rois
    return {"top": rois.add("cam", "top", SQUARE)["id"], "bottom": rois.add("cam", "bottom", OTHER)["id"],
            "till": rois.add("till", "counter", SQUARE)["id"]}


def hook(appliance: Appliance, name: str = "hook", **rules: object) -> int:
    channel, _ = ChannelStore(appliance.db).add(name, "webhook", "http://127.0.0.1:9/hook", **rules)
    return channel.id


def queued(appliance: Appliance, channel_id: int) -> list[int]:
    return [row["event_id"] for row in appliance.db.query(
        "SELECT event_id FROM notify_outbox WHERE channel_id = ? ORDER BY event_id", (channel_id,))]


def test_written_event_gets_a_delivery_per_channel_in_its_own_transaction(appliance: Appliance,
                                                                           shop: dict[str, int]) -> None:
    first, second = hook(appliance, "first"), hook(appliance, "second")
    event = write_visit(appliance, "cam", [(shop["top"], "taken")])
    assert queued(appliance, first) == [event] and queued(appliance, second) == [event]
    rows = appliance.db.query("SELECT delivery_id, state, attempts FROM notify_outbox")
    assert {row["state"] for row in rows} == {"queued"} and {row["attempts"] for row in rows} == {0}
    assert len({row["delivery_id"] for row in rows}) == 2


def test_a_job_whose_transaction_fails_leaves_neither_event_nor_delivery(appliance: Appliance, shop: dict[str, int],
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    hook(appliance)

    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the disk failed after the visit was written")

    monkeypatch.setattr(outputs, "_request_burst", fail)  # the last step of commit
    with pytest.raises(RuntimeError):
        write_visit(appliance, "cam", [(shop["top"], "taken")], wants_burst=True)
    assert appliance.db.scalar("SELECT COUNT(*) FROM events") == 0
    assert appliance.db.scalar("SELECT COUNT(*) FROM notify_outbox") == 0
    monkeypatch.undo()
    event = write_visit(appliance, "cam", [(shop["top"], "taken")])  # the job's retry
    assert queued(appliance, 1) == [event]


def test_an_event_written_again_keeps_its_one_delivery(appliance: Appliance, shop: dict[str, int]) -> None:
    channel = hook(appliance)
    event = write_visit(appliance, "cam", [(shop["top"], "taken")])
    delivery = appliance.db.scalar("SELECT delivery_id FROM notify_outbox")
    assert write_visit(appliance, "cam", [(shop["top"], "taken")]) == event  # the job ran again
    assert queued(appliance, channel) == [event]
    assert appliance.db.scalar("SELECT delivery_id FROM notify_outbox") == delivery


def test_default_verdicts_are_taken_and_placed_of_any_touched_roi(appliance: Appliance,
                                                                  shop: dict[str, int]) -> None:
    channel = hook(appliance)
    crossed = write_visit(appliance, "cam", [(shop["top"], "unchanged")], capture_id=1)
    placed = write_visit(appliance, "cam", [(shop["top"], "unchanged"), (shop["bottom"], "placed")], capture_id=2)
    moved = write_visit(appliance, "cam", [(shop["top"], "moved")], capture_id=3)
    undecided = write_visit(appliance, "cam", [(shop["top"], None)], capture_id=4)
    assert queued(appliance, channel) == [placed]
    assert {crossed, moved, undecided}.isdisjoint(queued(appliance, channel))


def test_devices_rois_and_verdicts_filter(appliance: Appliance, shop: dict[str, int]) -> None:
    till_only = hook(appliance, "till", devices=["till"])
    bottom_moves = hook(appliance, "bottom", rois=[shop["bottom"]], verdicts=["moved"])
    on_top = write_visit(appliance, "cam", [(shop["top"], "moved")], capture_id=1)
    on_bottom = write_visit(appliance, "cam", [(shop["bottom"], "moved")], capture_id=2)
    at_till = write_visit(appliance, "till", [(shop["till"], "taken")], capture_id=3)
    assert queued(appliance, till_only) == [at_till]
    assert queued(appliance, bottom_moves) == [on_bottom] and on_top not in queued(appliance, bottom_moves)


def test_cooldown_counts_per_roi(appliance: Appliance, shop: dict[str, int]) -> None:
    channel = hook(appliance, cooldown_s=60)
    first = write_visit(appliance, "cam", [(shop["top"], "taken")], start=T0, capture_id=1)
    write_visit(appliance, "cam", [(shop["top"], "taken")], start=T0 + 30, capture_id=2)  # cooling down
    other_roi = write_visit(appliance, "cam", [(shop["bottom"], "taken")], start=T0 + 40, capture_id=3)
    again = write_visit(appliance, "cam", [(shop["top"], "placed")], start=T0 + 61, capture_id=4)
    assert queued(appliance, channel) == [first, other_roi, again]


def test_schedule_picks_visits_by_their_start_in_local_time(appliance: Appliance, shop: dict[str, int]) -> None:
    channel = hook(appliance, schedule="mon-fri 18:00-08:00; sat,sun")
    times = [datetime(2026, 12, 2, 12, 0), datetime(2026, 12, 4, 19, 0), datetime(2026, 12, 5, 12, 0)]  # Wed Fri Sat
    written = [write_visit(appliance, "cam", [(shop["top"], "taken")], start=moment.timestamp(), capture_id=n)
               for n, moment in enumerate(times, 1)]
    assert queued(appliance, channel) == written[1:]


def test_a_disabled_channel_makes_nothing(appliance: Appliance, shop: dict[str, int]) -> None:
    ChannelStore(appliance.db).add("off", "webhook", "http://127.0.0.1:9/h", enabled=False)
    write_visit(appliance, "cam", [(shop["top"], "taken")])
    assert appliance.db.scalar("SELECT COUNT(*) FROM notify_outbox") == 0


def test_channels_added_later_do_not_reach_back(appliance: Appliance, shop: dict[str, int]) -> None:
    write_visit(appliance, "cam", [(shop["top"], "taken")])
    hook(appliance)
    assert appliance.db.scalar("SELECT COUNT(*) FROM notify_outbox") == 0


def test_claim_failure_backoff_and_dead_after_give_up(appliance: Appliance, shop: dict[str, int]) -> None:
    hook(appliance)
    write_visit(appliance, "cam", [(shop["top"], "taken")])
    outbox, policy = Outbox(appliance.db), RetryPolicy(base_s=2, cap_s=10, give_up_s=100, jitter=0.0)
    created = appliance.db.scalar("SELECT created_at FROM notify_outbox")
    delays, now = [], created
    for _ in range(5):
        (row,) = outbox.claim(5, now=now)
        assert outbox.claim(5, now=now) == []  # sending: not claimed twice
        state, next_at = outbox.failed(row, "could not reach the receiver", policy, now=now)
        assert state == "queued"
        assert outbox.claim(5, now=next_at - 0.01) == []  # not before its time
        delays.append(round(next_at - now, 3))
        now = next_at
    assert delays == [2, 4, 8, 10, 10]  # doubling, capped
    (row,) = outbox.claim(5, now=created + 100)
    assert outbox.failed(row, "still down", policy, now=created + 100)[0] == "dead"
    assert outbox.claim(5, now=created + 1000) == []
    dead = appliance.db.query_one("SELECT * FROM notify_outbox")
    assert (dead["state"], dead["attempts"], dead["last_error"]) == ("dead", 6, "still down")


def test_jitter_spreads_retries_within_the_cap() -> None:
    policy = RetryPolicy(base_s=2, cap_s=60, jitter=0.2)
    delays = {round(policy.delay(3), 6) for _ in range(50)}
    assert len(delays) > 10 and all(6.4 <= d <= 9.6 for d in delays)
    assert all(policy.delay(30) <= 60 for _ in range(50))


def test_a_delivery_left_sending_by_a_crash_is_queued_again_with_its_id(appliance: Appliance,
                                                                        shop: dict[str, int]) -> None:
    hook(appliance)
    write_visit(appliance, "cam", [(shop["top"], "taken")])
    outbox = Outbox(appliance.db)
    (row,) = outbox.claim(5)
    assert outbox.requeue_interrupted() == 1
    (again,) = outbox.claim(5)
    assert again["delivery_id"] == row["delivery_id"] and again["attempts"] == 2


def test_removing_a_channel_drops_its_outbox(appliance: Appliance, shop: dict[str, int]) -> None:
    hook(appliance)
    write_visit(appliance, "cam", [(shop["top"], "taken")])
    ChannelStore(appliance.db).remove("hook")
    assert appliance.db.scalar("SELECT COUNT(*) FROM notify_outbox") == 0
    assert appliance.db.scalar("SELECT COUNT(*) FROM notify_cooldowns") == 0


def test_delivered_and_dead_rows_are_forgotten_after_the_keep_time(appliance: Appliance,
                                                                   shop: dict[str, int]) -> None:
    hook(appliance)
    outbox, policy = Outbox(appliance.db), RetryPolicy(give_up_s=1)
    for n in range(1, 4):
        write_visit(appliance, "cam", [(shop["top"], "taken")], capture_id=n, start=T0 + 100 * n)
    created = appliance.db.scalar("SELECT MAX(created_at) FROM notify_outbox")
    delivered, dead, waiting = outbox.claim(3, now=created + 1)
    outbox.delivered(delivered["id"], now=created + 1)
    outbox.failed(dead, "gone", policy, now=created + 2)
    outbox.failed(waiting, "down", RetryPolicy(), now=created + 2)
    assert outbox.prune(keep_s=10, now=created + 5) == 0
    assert outbox.prune(keep_s=10, now=created + 12) == 2
    assert [row["state"] for row in appliance.db.query("SELECT state FROM notify_outbox")] == ["queued"]
