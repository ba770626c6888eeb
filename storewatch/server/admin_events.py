"""Admin API for events: filtered listing (newest first), one event, false-alarm marks, pictures.

A picture is served from the path stored with the event; the request only names the
event id and a kind from a fixed list, so no request can reach another file.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from storewatch.appliance import Appliance
from storewatch import contract
from storewatch.events import MAX_LIMIT, VERDICTS, EventNotFound, EventStore
from storewatch.server.errors import ApiError
from storewatch.server.json_body import read_json_object
from storewatch.server.query_params import int_param, time_param

MEDIA_TYPES = {"jpg": "image/jpeg", "png": "image/png"}


def _appliance(request: Request) -> Appliance:
    return request.app.state.appliance


def _events(request: Request) -> EventStore:
    appliance = _appliance(request)
    return EventStore(appliance.db, appliance.images)


async def _run(fn: Any, *args: Any) -> Any:
    try:
        return await anyio.to_thread.run_sync(fn, *args)
    except EventNotFound as exc:
        raise ApiError(404, "event_not_found", str(exc)) from None


def _filters(request: Request) -> dict[str, Any]:
    query = request.query_params
    filters: dict[str, Any] = {"device_id": query.get("device") or None,
                               "roi_id": int_param(query, "roi", 0, 2**62),
                               "decision": query.get("decision") or None,
                               "verdict": query.get("verdict") or None,
                               "limit": int_param(query, "limit", 1, MAX_LIMIT) or 100,
                               "before_id": int_param(query, "before_id", 0, 2**62)}
    if query.get("type"):
        filters["event_type"] = None if query["type"] == "all" else query["type"]
    for name in ("since", "until"):
        moment = time_param(query, name)
        if moment is not None:
            filters[name] = contract.format_timestamp(moment)  # the stored text form
    if filters["decision"] not in (None, "changed", "unchanged", "unknown"):
        raise ApiError(422, "validation_failed", "decision must be changed, unchanged or unknown.")
    if filters["verdict"] not in (None, *VERDICTS):
        raise ApiError(422, "validation_failed", "verdict must be taken, placed, moved or unchanged.",
                       [{"field": "verdict", "message": "must be taken, placed, moved or unchanged"}])
    return filters


async def list_events(request: Request) -> Response:
    store, filters = _events(request), _filters(request)
    rows = await _run(lambda: store.public_many(store.list(**filters)))
    return JSONResponse({"events": rows})


async def get_event(request: Request) -> Response:
    store, event_id = _events(request), request.path_params["event_id"]
    return JSONResponse(await _run(lambda: store.public_many([store.get(event_id)])[0]))


async def update_event(request: Request) -> Response:
    """PATCH {"false_alarm": bool}: the event is kept, the mark is counted in the metrics."""
    payload = await read_json_object(request)
    if set(payload) != {"false_alarm"} or not isinstance(payload["false_alarm"], bool):
        raise ApiError(422, "validation_failed", 'The body must be {"false_alarm": true or false}.',
                       [{"field": "false_alarm", "message": "must be true or false"}])
    store, event_id, appliance = _events(request), request.path_params["event_id"], _appliance(request)

    def apply() -> dict[str, Any]:
        row, changed = store.set_false_alarm(event_id, payload["false_alarm"])
        if changed:
            appliance.counters.add("false_alarms", row["decision"] or "", 1 if payload["false_alarm"] else -1)
        return store.public_many([row])[0]

    return JSONResponse(await _run(apply))


async def event_picture(request: Request) -> Response:
    store, event_id, kind = _events(request), request.path_params["event_id"], request.path_params["kind"]
    images = _appliance(request).images
    relative = await _run(store.picture_path, event_id, kind)
    path = images.absolute(relative)
    if not path.is_file():
        raise ApiError(404, "event_not_found", f"event {event_id}'s {kind} picture is gone")
    return FileResponse(path, media_type=MEDIA_TYPES.get(path.suffix.lstrip("."), "application/octet-stream"),
                        headers={"Cache-Control": "private, max-age=86400"})


ROUTES = [
    Route("/api/v1/admin/events", list_events, methods=["GET"]),
    Route("/api/v1/admin/events/{event_id:int}", get_event, methods=["GET"]),
    Route("/api/v1/admin/events/{event_id:int}", update_event, methods=["PATCH"]),
    Route("/api/v1/admin/events/{event_id:int}/images/{kind}", event_picture, methods=["GET"]),
]
