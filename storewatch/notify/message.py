"""What a notification says: the event in the API's shape (absolute image URLs) for webhooks,
and a title, a short body and one picture for people (Apprise)."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from typing import Any

from PIL import Image

from storewatch import contract
from storewatch.store.events import EventNotFound, EventStore
from storewatch.notify.image_links import ImageLinks

log = logging.getLogger("storewatch.notify")

EVENTS_API = "/api/v1/admin/events"
PICTURE_QUALITY = 85
PICTURE_KINDS = ("post", "diff")  # the After first; the Difference where there is no After


class EventGone(LookupError):
    """The event was deleted before its notification could be sent."""


@dataclass
class Message:
    delivery_id: str
    payload: dict[str, Any]  # the webhook's JSON body
    title: str
    body: str
    picture: bytes | None = None
    picture_name: str = "after.jpg"


def local_time(ts: str, zone: tzinfo | None = None) -> str:
    """An RFC 3339 time in the appliance's time zone `zone` (None: the system's), for people."""
    return contract.parse_timestamp(ts).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z").strip()


def _area(roi: dict[str, Any]) -> str:
    name = roi["roi_name"] or f"area {roi['roi_id']}"
    return f"{name} {roi['verdict'] or 'not decided'}"


def event_message(events: EventStore, event_id: int, delivery_id: str, base_url: str,
                  links: ImageLinks | None = None, zone: tzinfo | None = None) -> Message:
    """The event's message; with `links`, its picture URLs are signed links that need no login
    (notify/image_links.py), and the body names the After (or Difference) picture's."""
    try:
        row = events.get(event_id)
    except EventNotFound:
        raise EventGone(f"event {event_id} was deleted before it could be sent") from None
    pictures = events.pictures([event_id]).get(event_id, {})
    rois = events.touched_rois([event_id]).get(event_id)
    event = events.public(row, pictures, rois, url_prefix=base_url.rstrip("/") + EVENTS_API)
    if links is not None:
        _sign(event, links, base_url)
    device = event["device_name"] or event["device_id"]
    areas = ", ".join(_area(roi) for roi in event["rois"]) or "a shelf area"
    when = local_time(event["start_ts"], zone)
    title = f"{device}: {areas} at {when.split(' ')[1] if ' ' in when else when}"
    seconds = f" for {event['duration_s']:.0f} s" if event["duration_s"] is not None else ""
    body = (f"Someone reached into {device}{seconds}, {when}: {areas}."
            f"\nSee it: {base_url.rstrip('/')}/#/events/{event_id}")
    shown = next((event["images"][kind] for kind in PICTURE_KINDS if event["images"].get(kind)), None)
    if links is not None and shown:
        body += f"\nPicture: {shown}"
    picture, name = _picture(events, event_id, pictures, event["view_box"], bool(row["images_expired"]))
    return Message(delivery_id, event, title, body, picture, name)


def _sign(event: dict[str, Any], links: ImageLinks, base_url: str) -> None:
    """The event's picture and thumbnail URLs made signed links, in place."""
    for kind, url in event["images"].items():
        if url:
            event["images"][kind] = links.url(base_url, event["id"], kind)
    for size in event["thumbnails"]:
        event["thumbnails"][size] = links.url(base_url, event["id"], f"thumb_{size}")


def visit_message(visit: dict[str, Any], delivery_id: str) -> Message:
    """A visit's start or end, for MQTT's "touched" state (visit: the outbox row's JSON)."""
    state = visit["state"]
    start_ts = contract.format_timestamp(datetime.fromtimestamp(visit["start_epoch"], timezone.utc))
    payload = {"type": f"visit_{state}", "device_id": visit["device_id"], "roi_ids": list(visit["roi_ids"]),
               "start_ts": start_ts}
    words = "started" if state == "started" else "ended"
    return Message(delivery_id, payload, f"storewatch: a visit {words} on {visit['device_id']}",
                   f"A visit {words} on {visit['device_id']} (areas {', '.join(map(str, visit['roi_ids']))}).")


def test_message(channel_name: str, delivery_id: str, zone: tzinfo | None = None) -> Message:
    now = contract.format_timestamp(contract.utc_now())
    payload = {"type": "test", "channel": channel_name, "sent_at": now,
               "message": "A test from storewatch: this channel works."}
    return Message(delivery_id, payload, f"storewatch: test of {channel_name}",
                   f"This channel works: storewatch will tell you here about shelf events ({local_time(now, zone)}).")


def _picture(events: EventStore, event_id: int, pictures: dict[str, Any], box: list[float] | None,
             expired: bool) -> tuple[bytes | None, str]:
    """The After (else the Difference) cropped to the touched ROIs' view box, as a JPEG."""
    if expired:
        return None, ""
    for kind in PICTURE_KINDS:
        if kind not in pictures:
            continue
        try:
            data = events.images.read(pictures[kind]["path"])
        except OSError as exc:  # gone from disk: the message goes without it
            log.warning("event %s: its %s picture could not be read (%s)", event_id, kind, exc.strerror or exc)
            continue
        name = "after.jpg" if kind == "post" else "difference.jpg"
        return (crop(data, box) if box else data), name
    return None, ""


def crop(jpeg: bytes, box: list[float]) -> bytes:
    """`jpeg` cut to the normalized box [x0, y0, x1, y1]; the original when it cannot be."""
    try:
        with Image.open(io.BytesIO(jpeg)) as image:
            width, height = image.size
            x0, y0, x1, y1 = (round(box[0] * width), round(box[1] * height), round(box[2] * width),
                              round(box[3] * height))
            if x1 - x0 < 2 or y1 - y0 < 2:
                return jpeg
            out = io.BytesIO()
            image.convert("RGB").crop((x0, y0, x1, y1)).save(out, format="JPEG", quality=PICTURE_QUALITY)
            return out.getvalue()
    except (OSError, ValueError, Image.DecompressionBombError):
        return jpeg
