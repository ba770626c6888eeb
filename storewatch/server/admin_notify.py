"""Admin API for notification channels: list with their last delivery, add, edit, delete,
send a test, and the outbox. Validation is the channel store's (the CLI's rule too); its
errors are answered through server/errors.ERROR_TABLE."""

from __future__ import annotations

import time
import uuid
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from storewatch.appliance import Appliance
from storewatch.store.events import epoch_to_ts
from storewatch.notify.channels import EDITABLE, Channel, ChannelError, ChannelStore
from storewatch.notify.outbox import STATES, Outbox, public_row
from storewatch.server.errors import ApiError
from storewatch.server.json_body import read_json_object
from storewatch.server.query_params import int_param

MAX_BODY = 16 * 1024
ADD_FIELDS = ("kind", *EDITABLE)


def _appliance(request: Request) -> Appliance:
    return request.app.state.appliance


def _channel_id(request: Request) -> int:
    raw = request.path_params["channel_id"]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise ApiError(404, "channel_not_found", f"No channel {raw[:40]!r}.")
    return int(raw)


def _tests(request: Request) -> dict[int, dict[str, Any]]:
    """The last test per channel id, kept in memory: a test is not a delivery of the outbox."""
    if not hasattr(request.app.state, "notify_tests"):
        request.app.state.notify_tests = {}
    return request.app.state.notify_tests


def _shown(channel: Channel, summary: dict[int, dict[str, Any]], tests: dict[int, dict[str, Any]]) -> dict[str, Any]:
    got = summary.get(channel.id, {"counts": dict.fromkeys(STATES, 0), "last": None})
    counts = got["counts"]
    return {**channel.public(), "last": got["last"], "last_test": tests.get(channel.id),
            "counts": {"queued": counts["queued"] + counts["sending"], "delivered": counts["delivered"],
                       "dead": counts["dead"]}}


def _fields(payload: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    unknown = sorted(set(payload) - set(allowed))
    if unknown:
        raise ChannelError(f"unknown field {unknown[0]!r} (known: {', '.join(allowed)})", unknown[0])
    changes = dict(payload)
    if changes.get("secret") in ("", None):  # an empty secret field means: keep (or make) one
        changes.pop("secret", None)
    for name in ("devices", "rois"):
        value = changes.get(name)
        if value is not None and not isinstance(value, list):
            raise ChannelError(f"{name} is a list, or null for every one", name)
    if isinstance(changes.get("rois"), list) and not all(
            isinstance(r, int) and not isinstance(r, bool) for r in changes["rois"]):
        raise ChannelError("ROI ids are whole numbers", "rois")
    if isinstance(changes.get("devices"), list) and not all(isinstance(d, str) for d in changes["devices"]):
        raise ChannelError("device ids are text", "devices")
    if "enabled" in changes and not isinstance(changes["enabled"], bool):
        raise ChannelError("enabled is true or false", "enabled")
    return changes


async def list_channels(request: Request) -> Response:
    appliance = _appliance(request)

    def read() -> list[dict[str, Any]]:
        summary = Outbox(appliance.db).summary()
        return [_shown(c, summary, _tests(request)) for c in ChannelStore(appliance.db).list()]

    return JSONResponse({"channels": await anyio.to_thread.run_sync(read)})


async def add_channel(request: Request) -> Response:
    payload = _fields(await read_json_object(request, MAX_BODY), ADD_FIELDS)
    for name in ("kind", "name", "url"):
        if not isinstance(payload.get(name), str):
            raise ChannelError(f"{name} is required", name)
    store = ChannelStore(_appliance(request).db)
    kind, name, url = payload.pop("kind"), payload.pop("name"), payload.pop("url")
    channel, made = await anyio.to_thread.run_sync(lambda: store.add(name, kind, url, **payload))
    shown = _shown(channel, {}, {})
    return JSONResponse({"channel": shown, "secret": made}, status_code=201)  # a made secret is shown once


async def update_channel(request: Request) -> Response:
    channel_id = _channel_id(request)
    changes = _fields(await read_json_object(request, MAX_BODY), EDITABLE)
    appliance = _appliance(request)

    def apply() -> dict[str, Any]:
        channel = ChannelStore(appliance.db).update(channel_id, changes)
        return _shown(channel, Outbox(appliance.db).summary(), _tests(request))

    return JSONResponse({"channel": await anyio.to_thread.run_sync(apply)})


async def delete_channel(request: Request) -> Response:
    channel_id = _channel_id(request)
    channel = await anyio.to_thread.run_sync(ChannelStore(_appliance(request).db).remove_id, channel_id)
    _tests(request).pop(channel_id, None)
    return JSONResponse({"deleted": True, "name": channel.name})


async def test_channel(request: Request) -> Response:
    """Send a test message now through the real send path, off the event loop; the send is
    bounded by the channel kind's own network timeout."""
    from storewatch.notify.deliver import appliance_time_zone, send
    from storewatch.notify.message import test_message

    appliance = _appliance(request)
    channel = await anyio.to_thread.run_sync(ChannelStore(appliance.db).get, _channel_id(request))
    message = test_message(channel.name, f"test-{uuid.uuid4().hex}", appliance_time_zone(appliance))
    result = await anyio.to_thread.run_sync(send, channel, message)
    words = (f"The test message was sent: {result.detail}." if result.ok
             else f"The test message was not sent: {result.detail}.")
    outcome = {"ok": result.ok, "detail": result.detail, "message": words, "at": epoch_to_ts(time.time())}
    _tests(request)[channel.id] = outcome
    return JSONResponse(outcome)


async def list_outbox(request: Request) -> Response:
    state = request.query_params.get("state") or None
    if state is not None and state not in STATES:
        raise ApiError(422, "validation_failed", f"state is one of {', '.join(STATES)}.",
                       [{"field": "state", "message": f"must be one of {', '.join(STATES)}"}])
    limit = int_param(request.query_params, "limit", 1, 1000) or 50
    rows = await anyio.to_thread.run_sync(lambda: Outbox(_appliance(request).db).list(state=state, limit=limit))
    return JSONResponse({"deliveries": [public_row(row) for row in rows]})


_CHANNEL = "/api/v1/admin/notify/channels/{channel_id}"
ROUTES = [
    Route("/api/v1/admin/notify/channels", list_channels, methods=["GET"]),
    Route("/api/v1/admin/notify/channels", add_channel, methods=["POST"]),
    Route(_CHANNEL, update_channel, methods=["PATCH"]),
    Route(_CHANNEL, delete_channel, methods=["DELETE"]),
    Route(_CHANNEL + "/test", test_channel, methods=["POST"]),
    Route("/api/v1/admin/notify/outbox", list_outbox, methods=["GET"]),
]
