"""The device contract's three endpoints: ingest a frame, heartbeat, fetch config."""

from __future__ import annotations

import errno
from typing import Any

import anyio.to_thread
import apsw
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from storewatch import contract
from storewatch.appliance import Appliance
from storewatch.errors import FrameConflict, SeqTooOld
from storewatch.store import Row
from storewatch.jpeg import NotAJpeg, inspect_jpeg
from storewatch.server.device_auth import Caller, DeviceAuthenticator, require_same_device
from storewatch.server.errors import ApiError, api_error
from storewatch.server.ingest_writer import IngestWriter, Stored, WriterStopped
from storewatch.server.json_body import parse_json_object
from storewatch.server.multipart import parse_multipart, read_body
from storewatch.durable import DiskFull

MAX_JSON_BODY = 64 * 1024


def _appliance(request: Request) -> Appliance:
    return request.app.state.appliance


def _authenticator(request: Request) -> DeviceAuthenticator:
    return request.app.state.device_auth


def _refuse_while_stopping(request: Request) -> None:
    if request.app.state.stopping:
        raise _shutting_down()


def _shutting_down() -> ApiError:
    return ApiError(503, "shutting_down", "The appliance is shutting down; retry shortly.",
                    headers={"Retry-After": "5"})


def _caller_before_body(request: Request) -> Caller:
    """Everything about the credentials that can be checked before the body is read.

    A caller without valid credentials (a bogus HMAC one included) is then refused at
    once, before it can make the appliance hold up to max_body_bytes of its upload in
    memory. It runs on the event loop: a hash and one indexed read in WAL mode, cheaper
    than a hop to a thread.
    """
    return _authenticator(request).begin(request.headers)


def _device_for(request: Request, caller: Caller, body: bytes) -> Row:
    """The device, once an HMAC signature verified over the body."""
    return _authenticator(request).finish(caller, "POST", request.url.path, body)


async def ingest_frame(request: Request) -> Response:
    """Validate on the event loop (no thread hop for CPU work), store through the group commit."""
    appliance = _appliance(request)
    try:
        _refuse_while_stopping(request)
        caller = _caller_before_body(request)
        with _authenticator(request).receiving_body(caller):
            body = await read_body(request, appliance.settings.get("max_body_bytes"))
        device = _device_for(request, caller, body)
        meta, jpeg = _validated_frame(request, device, body)
        _require_capture_window(request, meta, jpeg)
        stored = await _store(request, meta, jpeg)
    except ApiError as exc:
        appliance.counters.add("ingest_rejected", exc.code)
        raise
    appliance.counters.add("ingest_frames", "duplicate" if stored.frame.duplicate else "accepted")
    if not stored.frame.duplicate:
        appliance.counters.add("ingest_bytes", "", len(jpeg))
    result = contract.IngestResult(capture_id=stored.frame.capture_id, device_id=device["id"], seq=meta["seq"],
                                   duplicate=stored.frame.duplicate, mode=stored.mode,
                                   config_version=stored.config_version)
    return JSONResponse(result.to_json(), status_code=200 if result.duplicate else 201)


def _validated_frame(request: Request, device: Row, body: bytes) -> tuple[dict[str, Any], bytes]:
    parts = parse_multipart(request.headers.get("content-type"), body,
                            {"meta": contract.MAX_META_BYTES})
    meta = _frame_meta(parts, device)
    jpeg = parts["image"].data
    try:
        width, height = inspect_jpeg(jpeg)
    except NotAJpeg as exc:
        raise api_error(exc) from None  # as an ApiError here: ingest counts refusals by code
    mismatched = [{"field": name, "message": f"is {meta[name]} but the JPEG is {actual}"}
                  for name, actual in (("width", width), ("height", height)) if meta[name] != actual]
    if mismatched:
        raise ApiError(422, "validation_failed", "width/height differ from the JPEG's own.", mismatched)
    return meta, jpeg


def _require_capture_window(request: Request, meta: dict[str, Any], jpeg: bytes) -> None:
    """capture_ts within the contract's window of the server's clock, for new frames only.

    The contract makes an exact re-send safe ("returns the first result"): a frame stored
    29 days ago and re-sent after its 30th (a spool replaying what it never saw
    acknowledged) still gets its 200 duplicate, not a 422 that makes the device drop it.
    The lookup runs only for a frame outside the window, which is rare.
    """
    try:
        contract.check_capture_window(meta, request.app.state.clock())
    except contract.ContractError as exc:
        if _appliance(request).captures.is_stored(meta["device_id"], meta["seq"], jpeg):
            return
        raise ApiError(422, "validation_failed", "The capture time is outside what the appliance accepts.",
                       exc.details) from None


async def _store(request: Request, meta: dict[str, Any], jpeg: bytes) -> Stored:
    writer: IngestWriter = request.app.state.ingest_writer
    try:
        return await writer.store(meta, jpeg)
    except (FrameConflict, SeqTooOld, DiskFull) as exc:  # as ApiErrors here: ingest counts refusals by code
        raise api_error(exc) from None
    except apsw.FullError:  # its row did not fit: a full disk like a file that did not; nothing was left behind
        raise api_error(DiskFull(errno.ENOSPC, "the database is full")) from None
    except WriterStopped:
        raise _shutting_down() from None


def _frame_meta(parts: dict[str, Any], device: dict[str, Any]) -> dict[str, Any]:
    if "meta" not in parts:
        raise ApiError(400, "meta_missing", "The form has no `meta` part.")
    if "image" not in parts:
        raise ApiError(400, "image_missing", "The form has no `image` part.")
    raw = parse_json_object(parts["meta"].data, "meta")
    require_same_device(device, raw.get("device_id") if isinstance(raw.get("device_id"), str) else None,
                        "meta")
    try:
        return contract.validate_frame_meta(raw)
    except contract.ContractError as exc:
        raise ApiError(422, "validation_failed", "Some meta fields are missing or invalid.",
                       exc.details) from None


async def heartbeat(request: Request) -> Response:
    try:
        _refuse_while_stopping(request)
        caller = _caller_before_body(request)
        with _authenticator(request).receiving_body(caller):
            body = await read_body(request, MAX_JSON_BODY)
        answer = await anyio.to_thread.run_sync(_heartbeat, request, body, caller)
    except ApiError as exc:
        _appliance(request).counters.add("heartbeat_rejected", exc.code)
        raise
    return JSONResponse(answer)


def _heartbeat(request: Request, body: bytes, caller: Caller) -> dict[str, str]:
    appliance = _appliance(request)
    device = _device_for(request, caller, body)
    raw = parse_json_object(body, "body")
    require_same_device(device, raw.get("device_id") if isinstance(raw.get("device_id"), str) else None,
                        "body")
    try:
        beat = contract.validate_heartbeat(raw)
    except contract.ContractError as exc:
        raise ApiError(422, "validation_failed", "Some heartbeat fields are missing or invalid.",
                       exc.details) from None
    appliance.devices.record_heartbeat(device["id"], beat)
    now = request.app.state.clock()  # the same clock as the capture window
    mode, version, _ = appliance.devices.current_mode(device["id"], now)
    return {"config_version": version, "mode": mode, "server_time": contract.format_timestamp(now)}


async def device_config(request: Request) -> Response:
    try:
        _refuse_while_stopping(request)
        return await anyio.to_thread.run_sync(_device_config, request)
    except ApiError as exc:
        _appliance(request).counters.add("config_rejected", exc.code)
        raise


def _device_config(request: Request) -> Response:
    appliance = _appliance(request)
    device = _authenticator(request).authenticate(request.headers, "GET", request.url.path, b"")
    claimed = request.query_params.get("device_id")
    if claimed is None:
        raise ApiError(422, "validation_failed", "The device_id query parameter is required.",
                       [{"field": "device_id", "message": "is required"}])
    require_same_device(device, claimed, "query")
    appliance.devices.record_config_fetch(device["id"])
    config = appliance.devices.config(device["id"], request.app.state.clock())
    # The ETag versions the settings the device applies. server_time and last_seq are
    # readings that change at every call and every frame without a new config_version, so a
    # 304 (no body) still means "nothing to apply"; it carries the clock in its Date header,
    # and a device that lost its seq asks without If-None-Match to get last_seq.
    etag = f'"{config.config_version}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    wanted = [tag.strip().removeprefix("W/") for tag in request.headers.get("if-none-match", "").split(",")]
    if etag in wanted or config.config_version in wanted or "*" in wanted:
        return Response(status_code=304, headers=headers)
    return JSONResponse(config.to_json(), headers=headers)


ROUTES = [
    Route(contract.INGEST_FRAME_PATH, ingest_frame, methods=["POST"]),
    Route(contract.HEARTBEAT_PATH, heartbeat, methods=["POST"]),
    Route(contract.DEVICE_CONFIG_PATH, device_config, methods=["GET"]),
]
