"""Admin API for devices: list, add (token shown once), rotate, enable, settings, burst now."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from storewatch.ops import camera_state
from storewatch import contract
from storewatch.appliance import Appliance
from storewatch.errors import DeviceInvalid
from storewatch.server.errors import ApiError
from storewatch.server.json_body import read_json_object


def _appliance(request: Request) -> Appliance:
    return request.app.state.appliance


async def _run(fn: Any, *args: Any) -> Any:
    """In a worker thread; what it raises is answered through server/errors.ERROR_TABLE."""
    return await anyio.to_thread.run_sync(fn, *args)


def _public(appliance: Appliance, device: Any) -> dict[str, Any]:
    """A device for the panel, with its restless ROIs (they start no events for now); the
    built-in camera's also says how its camera part is doing."""
    shown = appliance.devices.public(device)
    shown["restless"] = appliance.rois.restless(shown["id"])
    if shown["id"] == camera_state.LOCAL_CAMERA_ID:
        shown["camera"] = camera_state.report(appliance.data_dir)
    return shown


async def list_devices(request: Request) -> Response:
    appliance = _appliance(request)
    rows = await _run(lambda: [_public(appliance, d) for d in appliance.devices.list()])
    return JSONResponse({"devices": rows})


async def add_device(request: Request) -> Response:
    payload = await read_json_object(request)
    name, auth = payload.get("name"), payload.get("auth_scheme", "bearer")
    if not isinstance(name, str) or not isinstance(auth, str):
        raise ApiError(422, "validation_failed", "name (text) is required; auth_scheme is bearer or hmac.")
    devices = _appliance(request).devices
    device_id, token = await _run(devices.add, name, None, auth)
    return JSONResponse({"device_id": device_id, "token": token,
                         "device": await _run(lambda: devices.public(devices.get(device_id)))},
                        status_code=201)


async def get_device(request: Request) -> Response:
    appliance = _appliance(request)
    device_id = request.path_params["device_id"]
    return JSONResponse(await _run(lambda: _public(appliance, appliance.devices.get(device_id))))


async def update_device(request: Request) -> Response:
    """PATCH: any of enabled, auth_scheme, settings {…}."""
    payload = await read_json_object(request)
    devices = _appliance(request).devices
    device_id = request.path_params["device_id"]

    def apply() -> dict[str, Any]:
        with devices.db.write():  # one transaction: a bad part rolls back the parts before it
            devices.get(device_id)
            if "enabled" in payload:
                if not isinstance(payload["enabled"], bool):
                    raise DeviceInvalid("enabled must be true or false")
                devices.set_enabled(device_id, payload["enabled"])
            if "auth_scheme" in payload:
                devices.set_auth_scheme(device_id, str(payload["auth_scheme"]))
            if "settings" in payload:
                if not isinstance(payload["settings"], dict):
                    raise DeviceInvalid("settings must be an object")
                devices.update_settings(device_id, payload["settings"])
        return devices.public(devices.get(device_id))

    return JSONResponse(await _run(apply))


async def rotate_token(request: Request) -> Response:
    devices = _appliance(request).devices
    device_id = request.path_params["device_id"]
    token = await _run(devices.rotate_token, device_id)
    return JSONResponse({"device_id": device_id, "token": token})


async def burst_now(request: Request) -> Response:
    devices = _appliance(request).devices
    device_id = request.path_params["device_id"]

    def apply() -> dict[str, Any]:
        hold = devices.settings_of(device_id)["burst_hold_s"]
        now = contract.utc_now()
        devices.request_burst(device_id, now + timedelta(seconds=hold), now)
        return devices.public(devices.get(device_id))

    return JSONResponse(await _run(apply))


ROUTES = [
    Route("/api/v1/admin/devices", list_devices, methods=["GET"]),
    Route("/api/v1/admin/devices", add_device, methods=["POST"]),
    Route("/api/v1/admin/devices/{device_id}", get_device, methods=["GET"]),
    Route("/api/v1/admin/devices/{device_id}", update_device, methods=["PATCH"]),
    Route("/api/v1/admin/devices/{device_id}/rotate-token", rotate_token, methods=["POST"]),
    Route("/api/v1/admin/devices/{device_id}/burst", burst_now, methods=["POST"]),
]
