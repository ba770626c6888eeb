"""Admin API for appliance-wide settings and the admin password."""

from __future__ import annotations

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from storewatch.appliance import Appliance
from storewatch.server.admin_auth import check_secret
from storewatch.server.errors import ApiError
from storewatch.server.json_body import read_json_object
from storewatch.settings import APPLIANCE_SETTINGS


def _appliance(request: Request) -> Appliance:
    return request.app.state.appliance


def _describe() -> dict:
    return {name: {"default": s.default, "minimum": s.minimum, "maximum": s.maximum, "help": s.help}
            for name, s in APPLIANCE_SETTINGS.items()}


async def get_settings(request: Request) -> Response:
    values = await anyio.to_thread.run_sync(_appliance(request).settings.all)
    return JSONResponse({"settings": values, "schema": _describe()})


async def update_settings(request: Request) -> Response:
    payload = await read_json_object(request)
    values = await anyio.to_thread.run_sync(_appliance(request).settings.update, payload)  # SettingError: 422
    return JSONResponse({"settings": values, "schema": _describe()})


async def change_password(request: Request) -> Response:
    """{current, new}: the current password is asked again, so a left-open tab cannot lock the owner out."""
    payload = await read_json_object(request, 4096)
    current, new = payload.get("current"), payload.get("new")
    if not isinstance(current, str) or not isinstance(new, str):
        raise ApiError(422, "validation_failed", "current and new passwords are required.")
    admins = _appliance(request).admins
    admins.validate_password(new)  # before the slow check: a weak new one costs no try (PasswordTooWeak: 422)
    changed = await check_secret(request, lambda: admins.change_password(current, new))
    if not changed:
        raise ApiError(403, "bad_password", "The current password is wrong.")
    return JSONResponse({"changed": True, "logged_out": True})


ROUTES = [
    Route("/api/v1/admin/settings", get_settings, methods=["GET"]),
    Route("/api/v1/admin/settings", update_settings, methods=["PATCH"]),
    Route("/api/v1/admin/password", change_password, methods=["POST"]),
]
