"""Admin API for events: filtered listing (newest first), one event, the owner's review
(reviewed, false alarm with a reason, all reviewed at once), pictures and their thumbnails.

A picture is served from the path stored with the event; the request only names the
event id and a kind from a fixed list, so no request can reach another file.
"""

from __future__ import annotations

from typing import Any

import re

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from storewatch.appliance import Appliance
from storewatch import contract
from storewatch.store.events import MAX_LIMIT, MAX_REASON, VERDICTS, EventNotFound, EventStore
from storewatch.server.errors import ApiError
from storewatch.server.json_body import read_json_object
from storewatch.server.query_params import int_param, time_param

MEDIA_TYPES = {"jpg": "image/jpeg", "png": "image/png"}
REVIEW_FIELDS = {"reviewed", "false_alarm", "reason"}
FILTER_FIELDS = {"device", "roi", "decision", "verdict", "type", "since", "until", "reviewed"}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # a reason is one plain line or a few; no control bytes


def _appliance(request: Request) -> Appliance:
    return request.app.state.appliance


def _events(request: Request) -> EventStore:
    return _appliance(request).events


async def _run(fn: Any, *args: Any) -> Any:
    return await anyio.to_thread.run_sync(fn, *args)


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(422, "validation_failed", f"{field} {message}.", [{"field": field, "message": message}])


def _filters(request: Request) -> dict[str, Any]:
    query = request.query_params
    filters = {**_selection(query), "limit": int_param(query, "limit", 1, MAX_LIMIT) or 100,
               "before_id": int_param(query, "before_id", 0, 2**62),
               "after_id": int_param(query, "after_id", 0, 2**62)}
    return filters


def _selection(query: Any) -> dict[str, Any]:
    """Which events: device, ROI, decision, verdict, type, since/until, reviewed (strings, as in a query)."""
    filters: dict[str, Any] = {"device_id": query.get("device") or None,
                               "roi_id": int_param(query, "roi", 0, 2**62),
                               "decision": query.get("decision") or None,
                               "verdict": query.get("verdict") or None}
    reviewed = query.get("reviewed") or None
    if reviewed not in (None, "true", "false"):
        raise _invalid("reviewed", "must be true or false")
    filters["reviewed"] = None if reviewed is None else reviewed == "true"
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


def _review_body(payload: dict[str, Any]) -> dict[str, Any]:
    """{"reviewed": bool, "false_alarm": bool, "reason": str}, any of them but at least one."""
    unknown = sorted(set(payload) - REVIEW_FIELDS)
    if unknown or not payload:
        raise ApiError(422, "validation_failed",
                       'The body takes "reviewed" (true or false), "false_alarm" (true or false) and "reason".',
                       [{"field": name, "message": "is not a field of an event's review"} for name in unknown]
                       or [{"field": "reviewed", "message": "is required (or false_alarm)"}])
    for name in ("reviewed", "false_alarm"):
        if name in payload and not isinstance(payload[name], bool):
            raise _invalid(name, "must be true or false")
    reason = payload.get("reason")
    if reason is not None:
        if not isinstance(reason, str) or len(reason) > MAX_REASON or _CONTROL.search(reason):
            raise _invalid("reason", f"must be plain text of at most {MAX_REASON} characters")
        if payload.get("false_alarm") is not True:
            raise _invalid("reason", 'goes with "false_alarm": true')
    if payload.get("reviewed") is False and payload.get("false_alarm") is True:
        raise _invalid("reviewed", "cannot be false for a false alarm (a false alarm is reviewed)")
    return {"reviewed": payload.get("reviewed"), "false_alarm": payload.get("false_alarm"), "reason": reason}


async def update_event(request: Request) -> Response:
    """PATCH {"reviewed", "false_alarm", "reason"}: the event is kept; false-alarm marks are counted."""
    review = _review_body(await read_json_object(request))
    store, event_id, appliance = _events(request), request.path_params["event_id"], _appliance(request)

    def apply() -> dict[str, Any]:
        row, changed = store.review(event_id, **review)
        if changed:
            appliance.counters.add("false_alarms", row["decision"] or "", 1 if row["false_alarm"] else -1)
        return store.public_many([row])[0]

    return JSONResponse(await _run(apply))


async def review_all(request: Request) -> Response:
    """POST {"until_id": N, filters...}: every unreviewed event matching, up to N, is reviewed.

    `until_id` is the newest event the page showed, so one that arrived meanwhile stays unreviewed."""
    payload = await read_json_object(request)
    unknown = sorted(set(payload) - FILTER_FIELDS - {"until_id"})
    if unknown:
        raise _invalid(unknown[0], "is not a filter of the event list")
    until_id = payload.get("until_id")
    if isinstance(until_id, bool) or not isinstance(until_id, int) or not 0 <= until_id <= 2**62:
        raise _invalid("until_id", "must be the id of the newest event shown (a whole number)")
    query: dict[str, str] = {}
    for name in FILTER_FIELDS & set(payload):
        value = payload[name]
        if isinstance(value, bool):
            value = "true" if value else "false"
        if value is not None and not isinstance(value, (str, int)):
            raise _invalid(name, "must be text, as in the event list's query")
        query[name] = "" if value is None else str(value)
    filters = _selection(query)
    store = _events(request)
    return JSONResponse({"reviewed": await _run(lambda: store.review_all(until_id, **filters))})


async def event_picture(request: Request) -> Response:
    store, event_id, kind = _events(request), request.path_params["event_id"], request.path_params["kind"]
    images = _appliance(request).images
    relative = await _run(store.picture_path, event_id, kind)
    path = images.absolute(relative)
    if not path.is_file():
        raise EventNotFound(f"event {event_id}'s {kind} picture is gone")
    return FileResponse(path, media_type=MEDIA_TYPES.get(path.suffix.lstrip("."), "application/octet-stream"),
                        headers={"Cache-Control": "private, max-age=86400"})


ROUTES = [
    Route("/api/v1/admin/events", list_events, methods=["GET"]),
    Route("/api/v1/admin/events/review-all", review_all, methods=["POST"]),
    Route("/api/v1/admin/events/{event_id:int}", get_event, methods=["GET"]),
    Route("/api/v1/admin/events/{event_id:int}", update_event, methods=["PATCH"]),
    Route("/api/v1/admin/events/{event_id:int}/images/{kind}", event_picture, methods=["GET"]),
]
