"""What a notification says: the event in the API's shape with absolute URLs, a title and body
for people naming each touched area's verdict, the After cut to the touched areas, and the
webhook's signature (a known HMAC-SHA256 answer)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from support.frames import make_jpeg
from support.notify import write_visit
from storewatch.appliance import Appliance
from storewatch.notify.message import EventGone, crop, event_message, local_time
from storewatch.notify.webhook import signature

BASE = "http://shop.local:8080/"


def test_signature_is_hmac_sha256_of_the_body_in_hex() -> None:
    assert signature(b"The quick brown fox jumps over the lazy dog", "key") == (
        "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8")


def test_a_visit_of_two_areas_names_both_and_links_the_event(appliance: Appliance) -> None:
    appliance.devices.add("Aisle camera", "cam")
    rois = appliance.rois
    top = rois.add("cam", "top shelf", [[0.1, 0.1], [0.4, 0.1], [0.4, 0.3]])["id"]
    low = rois.add("cam", "low shelf", [[0.1, 0.6], [0.4, 0.6], [0.4, 0.9]])["id"]
    event_id = write_visit(appliance, "cam", [(top, "unchanged"), (low, "taken")])
    message = event_message(appliance.events, event_id, "d-1", BASE)
    assert message.title.startswith("Aisle camera: low shelf taken, top shelf unchanged at ")
    assert local_time(message.payload["start_ts"]).split(" ")[1] in message.title
    assert f"http://shop.local:8080/#/events/{event_id}" in message.body
    assert message.payload["images"]["post"] == f"http://shop.local:8080/api/v1/admin/events/{event_id}/images/post"
    assert message.payload["images"]["pre"] is None  # only what the event has
    width, height = Image.open(io.BytesIO(message.picture)).size
    assert message.picture_name == "after.jpg" and width < 320 and height < 240


def test_no_picture_once_the_pictures_expired_and_a_deleted_event_is_gone(appliance: Appliance) -> None:
    appliance.devices.add("Aisle camera", "cam")
    roi = appliance.rois.add("cam", "top", [[0.1, 0.1], [0.4, 0.1], [0.4, 0.3]])["id"]
    event_id = write_visit(appliance, "cam", [(roi, "taken")])
    with appliance.db.write() as conn:
        conn.execute("UPDATE events SET images_expired = 1")
    events = appliance.events
    assert event_message(events, event_id, "d-1", BASE).picture is None
    with pytest.raises(EventGone):
        event_message(events, event_id + 1, "d-2", BASE)


def test_crop_cuts_to_the_box_and_keeps_what_it_cannot_cut() -> None:
    jpeg = make_jpeg(200, 100)
    assert Image.open(io.BytesIO(crop(jpeg, [0.25, 0.5, 0.75, 1.0]))).size == (100, 50)
    assert crop(jpeg, [0.5, 0.5, 0.5, 0.5]) == jpeg
    assert crop(b"not a jpeg", [0, 0, 1, 1]) == b"not a jpeg"


def test_the_runbooks_receiver_check_accepts_our_signature_only() -> None:
    from support import REPO

    text = (REPO / "docs" / "RUNBOOK.md").read_text()
    start = text.index("```python\nimport hashlib, hmac\ndef genuine") + len("```python\n")
    scope: dict = {}
    exec(text[start:text.index("```", start)], scope)  # noqa: S102 - the runbook's own snippet
    body = b'{"id":1}'
    assert scope["genuine"](body, signature(body, "the-channel-secret"), "the-channel-secret")
    assert not scope["genuine"](body + b" ", signature(body, "the-channel-secret"), "the-channel-secret")
