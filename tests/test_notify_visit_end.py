"""A visit the analysis drops without an event still ends for MQTT: "touched" goes OFF."""
from __future__ import annotations

import json

import pytest

from storewatch.appliance import Appliance
from storewatch.notify.channels import ChannelStore
from storewatch.notify.outbox import Outbox

SQUARE = [[0.1, 0.1], [0.4, 0.1], [0.4, 0.4], [0.1, 0.4]]
OTHER = [[0.5, 0.5], [0.9, 0.5], [0.9, 0.9], [0.5, 0.9]]
START = 1_796_000_000.25


@pytest.fixture
def shelf(appliance: Appliance) -> dict[str, int]:
    appliance.devices.add("Aisle camera", "cam")
    top = appliance.rois.add("cam", "top", SQUARE)["id"]
    bottom = appliance.rois.add("cam", "bottom", OTHER)["id"]
    broker, _ = ChannelStore(appliance.db).add("broker", "mqtt", "mqtt://127.0.0.1:1883")
    only_top, _ = ChannelStore(appliance.db).add("top only", "mqtt", "mqtt://127.0.0.1:1884", rois=[top])
    return {"top": top, "bottom": bottom, "broker": broker.id, "only_top": only_top.id}


def visits(appliance: Appliance, state: str) -> list[tuple[int, list[int]]]:
    found = [(row["channel_id"], json.loads(row["visit"])) for row in Outbox(appliance.db).list()
             if row["visit"] is not None]
    return sorted((channel, visit["roi_ids"]) for channel, visit in found if visit["state"] == state)


def test_a_dropped_visit_ends_on_every_channel_told_of_its_start(appliance: Appliance, shelf: dict[str, int]) -> None:
    outbox = Outbox(appliance.db)
    assert outbox.enqueue_visit_starts("cam", [(START, [shelf["top"], shelf["bottom"]])]) == 2
    assert outbox.end_visit("cam", START) == 2
    assert visits(appliance, "ended") == visits(appliance, "started") == sorted(
        [(shelf["broker"], sorted([shelf["top"], shelf["bottom"]])), (shelf["only_top"], [shelf["top"]])])


def test_only_the_dropped_areas_end_and_a_channel_left_with_none_is_not_told(appliance: Appliance,
                                                                            shelf: dict[str, int]) -> None:
    outbox = Outbox(appliance.db)
    outbox.enqueue_visit_starts("cam", [(START, [shelf["top"], shelf["bottom"]])])
    assert outbox.end_visit("cam", START, roi_ids=[shelf["bottom"]]) == 1
    assert visits(appliance, "ended") == [(shelf["broker"], [shelf["bottom"]])]


def test_a_visit_nobody_was_told_of_or_of_another_device_ends_nothing(appliance: Appliance,
                                                                      shelf: dict[str, int]) -> None:
    outbox = Outbox(appliance.db)
    assert outbox.end_visit("cam", START) == 0
    outbox.enqueue_visit_starts("cam", [(START, [shelf["top"]])])
    assert outbox.end_visit("till", START) == 0
    assert outbox.end_visit("cam", START + 5.0) == 0
    assert visits(appliance, "ended") == []
