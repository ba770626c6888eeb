"""The API's one error shape: domain exceptions become JSON responses here, and only here."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from storewatch.contract import error_body
from storewatch.db.connection import DISK_ERRORS, storage_error
from storewatch.storage import StorageUnavailable

_DEFAULT_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                  405: "method_not_allowed", 408: "request_timeout", 409: "conflict",
                  413: "payload_too_large", 415: "unsupported_media_type",
                  422: "validation_failed", 429: "too_many_requests", 500: "internal_error",
                  503: "unavailable", 507: "insufficient_storage"}
# Answered by the connection guard (server/connections.py) before a request reaches the app.
CONNECTION_CODES = {408: "request_timeout", 431: "headers_too_large", 503: "too_many_connections"}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str,
                 details: list[dict[str, str]] | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details = details or []
        self.headers = headers


def error_response(status: int, code: str, message: str,
                   details: list[dict[str, str]] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


async def handle_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 304:
        return Response(status_code=304, headers=exc.headers)
    code = _DEFAULT_CODES.get(exc.status_code, "error")
    return error_response(exc.status_code, code, exc.detail or code.replace("_", " "),
                          headers=exc.headers)


STORAGE_RETRY_AFTER_S = 60


async def handle_storage_unavailable(request: Request, exc: Exception) -> Response:
    """A read-only or failing data disk (from any route): 503, counted by reason for the metrics."""
    unavailable = storage_error(exc)
    assert isinstance(unavailable, StorageUnavailable)
    request.app.state.appliance.counters.add("storage_unavailable", unavailable.reason)
    return error_response(503, "storage_unavailable",
                          "The appliance cannot write to its data disk (read-only or failing); nothing was "
                          "stored. Keep the data and retry later; the owner should run `storewatch doctor`.",
                          headers={"Retry-After": str(STORAGE_RETRY_AFTER_S)})


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    return error_response(500, "internal_error",
                          "The appliance hit an unexpected error; see its log (journalctl -u storewatch).")


EXCEPTION_HANDLERS = {
    ApiError: handle_api_error,
    HTTPException: handle_http_exception,
    StorageUnavailable: handle_storage_unavailable,
    **{kind: handle_storage_unavailable for kind in DISK_ERRORS},  # SQLite's, outside a write transaction
    Exception: handle_unexpected,
}
