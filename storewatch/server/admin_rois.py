"""Admin API for ROIs, the global threshold defaults, and the ROI editor's helpers.

The editor draws on the newest frame (latest-frame) and tunes with the score chart
(scores): per-frame ROI scores, the interactions and the lighting changes of a span.
"""

from __future__ import annotations

import time
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from storewatch.appliance import Appliance
from storewatch.errors import InvalidInput
from storewatch.store.events import epoch_to_ts
from storewatch.store.rois import RoiStore
from storewatch.server.errors import ApiError
from storewatch.server.json_body import read_json_object
from storewatch.server.query_params import int_param, time_param
from storewatch.upkeep.thumbnails import thumbnail

DEFAULT_SPAN_S = 3600.0
LATEST_FRAME_TRIES = 5


def _appliance(request: Request) -> Appliance:
    return request.app.state.appliance


def _rois(request: Request) -> RoiStore:
    return _appliance(request).rois


async def _run(fn: Any, *args: Any) -> Any:
    """In a worker thread; what it raises is answered through server/errors.ERROR_TABLE."""
    return await anyio.to_thread.run_sync(fn, *args)


def _ids(request: Request) -> tuple[str, int]:
    return request.path_params["device_id"], request.path_params["roi_id"]


async def list_rois(request: Request) -> Response:
    store, device_id = _rois(request), request.path_params["device_id"]

    def read() -> list[dict[str, Any]]:
        defaults = store.defaults()
        return [store.public(row, defaults) for row in store.list(device_id)]

    return JSONResponse({"rois": await _run(read)})


async def add_roi(request: Request) -> Response:
    payload = await read_json_object(request)
    store, device_id = _rois(request), request.path_params["device_id"]
    enabled = payload.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ApiError(422, "validation_failed", "enabled must be true or false")
    row = await _run(lambda: store.add(device_id, payload.get("name"), payload.get("polygon"), enabled,
                                       payload.get("thresholds") or {}))
    return JSONResponse(await _run(store.public, row), status_code=201)


async def get_roi(request: Request) -> Response:
    store, (device_id, roi_id) = _rois(request), _ids(request)
    return JSONResponse(await _run(lambda: store.public(store.get(device_id, roi_id))))


async def update_roi(request: Request) -> Response:
    """PATCH any of name, polygon, enabled, thresholds {name: value, or null to drop an override}."""
    payload = await read_json_object(request)
    unknown = set(payload) - {"name", "polygon", "enabled", "thresholds"}
    if unknown:
        raise ApiError(422, "validation_failed", f"unknown ROI fields: {', '.join(sorted(unknown))}")
    store, (device_id, roi_id) = _rois(request), _ids(request)
    row = await _run(lambda: store.update(device_id, roi_id, name=payload.get("name"),
                                          polygon=payload.get("polygon"), enabled=payload.get("enabled"),
                                          thresholds=payload.get("thresholds")))
    return JSONResponse(await _run(store.public, row))


async def delete_roi(request: Request) -> Response:
    store, (device_id, roi_id) = _rois(request), _ids(request)
    await _run(store.remove, device_id, roi_id)
    return JSONResponse({"deleted": True, "id": roi_id})


async def get_thresholds(request: Request) -> Response:
    return JSONResponse(await _run(_rois(request).thresholds_public))


async def update_thresholds(request: Request) -> Response:
    """PATCH {name: value, or null for the built-in default}; also accepts {"defaults": {...}}."""
    payload = await read_json_object(request)
    changes = payload.get("defaults", payload)
    if not isinstance(changes, dict):
        raise ApiError(422, "validation_failed", "defaults must be an object {name: value}")
    return JSONResponse(await _run(_rois(request).update_defaults, changes))


async def score_history(request: Request) -> Response:
    appliance, device_id = _appliance(request), request.path_params["device_id"]
    store = _rois(request)
    asked_since, asked_until = (time_param(request.query_params, name) for name in ("since", "until"))

    def read() -> dict[str, Any]:
        appliance.devices.get(device_id)
        until = asked_until.timestamp() if asked_until else _newest_score(appliance, device_id)
        since = asked_since.timestamp() if asked_since else until - DEFAULT_SPAN_S
        if since > until:
            raise InvalidInput("since must not be after until")
        defaults = store.defaults()
        body = {"device_id": device_id, "since": epoch_to_ts(since), "until": epoch_to_ts(until),
                "rois": [store.public(row, defaults) for row in store.list(device_id)]}
        body.update(appliance.scores.history(device_id, since, until))
        return body

    return JSONResponse(await _run(read))


def _newest_score(appliance: Appliance, device_id: str) -> float:
    newest = appliance.scores.newest_ts(device_id)
    return newest if newest is not None else time.time()


async def latest_frame(request: Request) -> Response:
    """The newest frame; `?width=N` (64..1024) scales it down on the server (the overview's tiles)."""
    appliance, device_id = _appliance(request), request.path_params["device_id"]
    width = int_param(request.query_params, "width", 64, 1024)

    def read() -> tuple[dict[str, Any], bytes] | None:
        appliance.devices.get(device_id)
        for row in appliance.captures.latest(device_id, LATEST_FRAME_TRIES):  # retention may have just removed the newest file
            try:
                return row, appliance.images.read(row["path"])
            except FileNotFoundError:
                continue
            except OSError as exc:  # a failing card, or a folder where the file was: say so, not a 500
                raise ApiError(503, "frame_unreadable",
                               f"The newest frame of {device_id} could not be read from the data disk "
                               f"({exc.strerror or exc}). Run `storewatch doctor` to check the disk.",
                               headers={"Retry-After": "60"}) from None
        return None

    found = await _run(read)
    if found is None:
        raise ApiError(404, "no_frame", f"No frame of {device_id} is stored yet.")
    row, data = found
    if width is not None:
        small = await anyio.to_thread.run_sync(thumbnail, data, None, width, None)
        data = small[0] if small is not None else data
    return Response(data, media_type="image/jpeg",
                    headers={"X-Capture-Id": str(row["id"]), "X-Capture-Ts": row["capture_ts"],
                             "Cache-Control": "no-store"})


ROUTES = [
    Route("/api/v1/admin/devices/{device_id}/rois", list_rois, methods=["GET"]),
    Route("/api/v1/admin/devices/{device_id}/rois", add_roi, methods=["POST"]),
    Route("/api/v1/admin/devices/{device_id}/rois/{roi_id:int}", get_roi, methods=["GET"]),
    Route("/api/v1/admin/devices/{device_id}/rois/{roi_id:int}", update_roi, methods=["PATCH"]),
    Route("/api/v1/admin/devices/{device_id}/rois/{roi_id:int}", delete_roi, methods=["DELETE"]),
    Route("/api/v1/admin/devices/{device_id}/scores", score_history, methods=["GET"]),
    Route("/api/v1/admin/devices/{device_id}/latest-frame", latest_frame, methods=["GET"]),
    Route("/api/v1/admin/thresholds", get_thresholds, methods=["GET"]),
    Route("/api/v1/admin/thresholds", update_thresholds, methods=["PATCH"]),
]
