"""GET /api/v1/notify/images/<event>/<kind>?expires=&sig=: a notification's picture link,
open without a login because its signature (storewatch/notify/image_links.py) says the
appliance made it for this one picture until `expires`. Read-only: nothing is written."""

from __future__ import annotations

import time

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from storewatch.appliance import Appliance
from storewatch.store.events import EventNotFound
from storewatch.notify.image_links import ROUTE, ImageLinks, LinkRefused
from storewatch.server.errors import ApiError

MEDIA_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png"}
MAX_AGE_S = 86400


async def notify_picture(request: Request) -> Response:
    appliance: Appliance = request.app.state.appliance
    event_id, kind = request.path_params["event_id"], request.path_params["kind"]
    try:  # the signature first: an unsigned request learns nothing, not even whether the event exists
        expires = ImageLinks(appliance.key).verify(event_id, kind, request.query_params.get("expires"),
                                                   request.query_params.get("sig"))
    except LinkRefused as exc:
        raise ApiError(403, "link_expired" if exc.expired else "link_invalid", str(exc)) from None
    relative = await anyio.to_thread.run_sync(appliance.events.picture_path, event_id, kind)
    path = appliance.images.absolute(relative)
    if not path.is_file():
        raise EventNotFound(f"event {event_id}'s {kind} picture is gone")
    max_age = max(0, min(MAX_AGE_S, int(expires - time.time())))
    return FileResponse(path, media_type=MEDIA_TYPES.get(path.suffix.lstrip("."), "application/octet-stream"),
                        headers={"Cache-Control": f"private, max-age={max_age}", "Referrer-Policy": "no-referrer"})


ROUTES = [Route(ROUTE, notify_picture, methods=["GET"])]
