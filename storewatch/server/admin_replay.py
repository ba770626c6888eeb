"""Admin API for what-if replays: a device's kept frames re-run with other thresholds.

POST starts one (202 and its id); GET reads its progress and, once done, its report; DELETE
cancels it at the next frame. One runs at a time, at a lower priority than the live
analysis (server/replay_runner.py). A request is checked whole before anything starts:
a wrong field is a 422 naming it, and nothing runs.
"""

from __future__ import annotations

import math
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from storewatch import replay as engine
from storewatch.analysis.thresholds import Thresholds
from storewatch.appliance import Appliance
from storewatch.errors import InvalidInput, NoFramesKept, RoiInvalid
from storewatch.server.errors import ApiError
from storewatch.server.json_body import read_json_object
from storewatch.server.replay_runner import ReplayRequest, ReplayRunner
from storewatch.store.events import epoch_to_ts, parse_moment
from storewatch.store.rois import validate_overrides

A = "/api/v1/admin"
FIELDS = {"replay": ("device_id", "since", "until", "overrides", "roi_id"),
          "suggest": ("device_id", "since", "until", "roi_id")}


def _appliance(request: Request) -> Appliance:
    return request.app.state.appliance


def _runner(request: Request) -> ReplayRunner:
    return request.app.state.replays


async def _run(fn: Any, *args: Any) -> Any:
    """In a worker thread; what it raises is answered through server/errors.ERROR_TABLE."""
    return await anyio.to_thread.run_sync(fn, *args)


def _invalid(name: str, message: str) -> ApiError:
    return ApiError(422, "validation_failed", f"{name} {message}; nothing was started.",
                    [{"field": name, "message": message}])


def _moment(payload: dict[str, Any], name: str) -> float:
    raw = payload.get(name)
    if isinstance(raw, (int, float)) and not isinstance(raw, bool) and math.isfinite(raw) and raw >= 0:
        raw = repr(float(raw)) if not float(raw).is_integer() else str(int(raw))
    try:
        if not isinstance(raw, str):
            raise ValueError
        return parse_moment(raw).timestamp()
    except ValueError:
        raise _invalid(name, "must be an RFC 3339 time (2026-01-31T08:00:00Z) or epoch seconds") from None


def _shape(kind: str, payload: dict[str, Any]) -> ReplayRequest:
    """The body's fields and types; what they name is checked against the store after."""
    unknown = sorted(set(payload) - set(FIELDS[kind]))
    if unknown:
        raise _invalid(unknown[0], f"is not a field of a {kind}; known: {', '.join(FIELDS[kind])}")
    device_id = payload.get("device_id")
    if not isinstance(device_id, str) or not device_id:
        raise _invalid("device_id", "is required (the device's id)")
    since, until = _moment(payload, "since"), _moment(payload, "until")
    if since >= until:
        raise _invalid("since", "must be before until")
    roi_id = payload.get("roi_id")
    if roi_id is not None and (isinstance(roi_id, bool) or not isinstance(roi_id, int) or roi_id < 0):
        raise _invalid("roi_id", "must be an ROI's id, or null for all of the device's ROIs")
    overrides = payload.get("overrides") or {}
    if not isinstance(overrides, dict):
        raise _invalid("overrides", "must be an object {threshold name: value}")
    return ReplayRequest(kind, device_id, since, until, dict(overrides), roi_id)


def _checked(appliance: Appliance, shaped: ReplayRequest) -> ReplayRequest:
    """The device, the ROI, the kept frames and every override, as the replay will meet them."""
    store = appliance.rois
    appliance.devices.get(shaped.device_id)  # DeviceNotFound: 404
    specs, defaults = store.specs(shaped.device_id)
    if shaped.roi_id is not None:
        row = store.get(shaped.device_id, shaped.roi_id)  # RoiNotFound: 404
        bases = [(row["name"], Thresholds.from_overrides(store.public(row, defaults)["thresholds"], defaults))]
    else:
        names = {row["id"]: row["name"] for row in store.list(shaped.device_id)}
        bases = [(names.get(spec.id, str(spec.id)), spec.thresholds) for spec in specs] or [("defaults", defaults)]
    clean: dict[str, float] = {}
    for name, base in bases:
        try:
            clean = validate_overrides(shaped.overrides, base)
        except RoiInvalid as exc:
            raise RoiInvalid(f"{exc} (with the thresholds of ROI {name!r})" if len(bases) > 1 else str(exc)) from None
    kept = engine.kept_range(appliance, shaped.device_id)
    if kept is None:
        raise NoFramesKept(f"no frames of {shaped.device_id} are kept for replay yet; they are kept from the "
                           "next analysed frame on")
    if shaped.until <= kept[0] or shaped.since >= kept[1]:
        raise InvalidInput(f"the frames of {shaped.device_id} kept for replay run from {epoch_to_ts(kept[0])} to "
                           f"{epoch_to_ts(kept[1])}; the span asked for lies outside them")
    return ReplayRequest(shaped.kind, shaped.device_id, shaped.since, shaped.until, clean, shaped.roi_id)


async def _start(request: Request, kind: str) -> Response:
    payload = await read_json_object(request)
    shaped, runner = _shape(kind, payload), _runner(request)
    runner.check_free()  # ReplayBusy (409) before the slower checks of what it names
    run = runner.start(await _run(_checked, _appliance(request), shaped))
    return JSONResponse(run.public(), status_code=202, headers={"Location": f"{A}/replays/{run.id}"})


async def start_replay(request: Request) -> Response:
    """{device_id, since, until, overrides {name: value}, roi_id}: 202 with the replay's id."""
    return await _start(request, "replay")


async def start_suggest(request: Request) -> Response:
    """{device_id, since, until, roi_id}: a bounded search for better thresholds, run like a replay."""
    return await _start(request, "suggest")


async def last_replay(request: Request) -> Response:
    run = _runner(request).last
    return JSONResponse({"replay": run.public() if run else None})


async def get_replay(request: Request) -> Response:
    return JSONResponse(_runner(request).get(request.path_params["replay_id"]).public())


async def cancel_replay(request: Request) -> Response:
    """202 while it stops (at its next frame); 200 with it as it was when it had already ended."""
    run = _runner(request).cancel(request.path_params["replay_id"])
    return JSONResponse(run.public(), status_code=202 if run.cancel.is_set() and run.state == "running" else 200)


async def kept_frames(request: Request) -> Response:
    """The span of the device's frames kept for replay (nulls when none are)."""
    appliance, device_id = _appliance(request), request.path_params["device_id"]

    def read() -> tuple[float, float] | None:
        appliance.devices.get(device_id)
        return engine.kept_range(appliance, device_id)

    kept = await _run(read)
    return JSONResponse({"device_id": device_id, "since": epoch_to_ts(kept[0]) if kept else None,
                         "until": epoch_to_ts(kept[1]) if kept else None})


ROUTES = [
    Route(f"{A}/devices/{{device_id}}/replay-range", kept_frames, methods=["GET"]),
    Route(f"{A}/replays", last_replay, methods=["GET"]),
    Route(f"{A}/replays", start_replay, methods=["POST"]),
    Route(f"{A}/suggestions", start_suggest, methods=["POST"]),
    Route(f"{A}/replays/{{replay_id}}", get_replay, methods=["GET"]),
    Route(f"{A}/replays/{{replay_id}}", cancel_replay, methods=["DELETE"]),
]
