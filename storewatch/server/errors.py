"""The API's one error shape: domain exceptions become JSON responses here, and only here."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from storewatch import errors as domain
from storewatch.contract import error_body
from storewatch.store.connection import DISK_ERRORS, storage_error
from storewatch.store.events import EventNotFound
from storewatch.jpeg import NotAJpeg
from storewatch.notify.channels import ChannelError, ChannelNameTaken, ChannelNotFound
from storewatch.settings import SettingError
from storewatch.durable import DiskFull, StorageUnavailable

log = logging.getLogger("storewatch.server")

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


# --- the table: every domain error's status and code -------------------------------------------
#
# 404 the thing named does not exist; 422 the request is wrong whatever is stored; 409 the
# request is well formed but what is stored refuses it now (a job that is not dead, a name
# already taken, a seq already used); 500 the appliance's own data is damaged, which is
# never the caller's fault. The device contract fixes its codes (seq_conflict, seq_too_old,
# not_a_jpeg, disk_reserve, validation_failed): do not rename them.


def _own_words(exc: BaseException) -> str:
    return str(exc)


def _no_details(exc: BaseException) -> list[dict[str, str]]:
    return []


@dataclass(frozen=True)
class ErrorRule:
    status: int
    code: str
    message: Callable[[BaseException], str] = _own_words
    details: Callable[[BaseException], list[dict[str, str]]] = _no_details
    headers: dict[str, str] | None = None


def _seq_too_old_details(exc: BaseException) -> list[dict[str, str]]:
    assert isinstance(exc, domain.SeqTooOld)
    return [{"field": "seq", "message": f"must be above {exc.last_seq}"},
            {"field": "last_seq", "message": str(exc.last_seq)}]


def _damaged(exc: BaseException) -> str:
    return (f"The appliance's own stored data is damaged ({exc}); the request was fine. "
            "See its log (journalctl -u storewatch); restoring a backup may be needed.")


_INVALID = ErrorRule(422, "validation_failed")


def _sentence(exc: BaseException) -> str:
    text = str(exc)
    return f"{text[:1].upper()}{text[1:]}; nothing was changed."


def _capitalized(exc: BaseException) -> str:
    text = str(exc)
    return f"{text[:1].upper()}{text[1:]}."


def _channel_field(exc: BaseException) -> list[dict[str, str]]:
    field = getattr(exc, "field", None)
    return [{"field": field, "message": str(exc)}] if field else []

ERROR_TABLE: dict[type[BaseException], ErrorRule] = {
    domain.DeviceNotFound: ErrorRule(404, "device_not_found"),
    domain.RoiNotFound: ErrorRule(404, "roi_not_found"),
    domain.JobNotFound: ErrorRule(404, "job_not_found"),
    EventNotFound: ErrorRule(404, "event_not_found"),
    domain.InvalidInput: _INVALID,
    domain.DeviceInvalid: _INVALID,
    domain.RoiInvalid: _INVALID,
    domain.PasswordTooWeak: _INVALID,
    SettingError: _INVALID,
    ChannelNotFound: ErrorRule(404, "channel_not_found"),
    ChannelError: ErrorRule(422, "validation_failed", _sentence, _channel_field),
    ChannelNameTaken: ErrorRule(409, "channel_name_taken", _sentence, _channel_field),
    domain.DeviceIdTaken: ErrorRule(409, "device_id_taken"),
    domain.RoiNameTaken: ErrorRule(409, "roi_name_taken"),
    domain.JobNotRetryable: ErrorRule(409, "job_not_retryable"),
    domain.ReplayNotFound: ErrorRule(404, "replay_not_found", _capitalized),
    domain.ReplayBusy: ErrorRule(409, "replay_running", lambda exc: f"{_capitalized(exc)[:-1]}; nothing was started."),
    domain.NoFramesKept: ErrorRule(409, "no_frames_kept", _capitalized),
    domain.FrameConflict: ErrorRule(409, "seq_conflict", lambda exc: f"{exc}; a device must never reuse a seq."),
    domain.SeqTooOld: ErrorRule(409, "seq_too_old", lambda exc: f"{exc}; a device must never reuse a seq.",
                                _seq_too_old_details),
    domain.CorruptStoredValue: ErrorRule(500, "stored_data_damaged", _damaged),
    NotAJpeg: ErrorRule(415, "not_a_jpeg", lambda exc: f"The image part is not a decodable JPEG: {exc}."),
    DiskFull: ErrorRule(507, "disk_reserve", lambda exc: "The appliance is below its disk reserve; keep the frame "
                        "and retry later.", headers={"Retry-After": "60"}),
}


def rule_for(exc: BaseException) -> ErrorRule | None:
    """The table's row for `exc`: its own class's, else its nearest mapped base's."""
    for kind in type(exc).__mro__:
        if kind in ERROR_TABLE:
            return ERROR_TABLE[kind]
    return None


def api_error(exc: BaseException) -> ApiError:
    """`exc` as the API answers it, for a route that must know the code (to count it)."""
    rule = rule_for(exc)
    if rule is None:
        raise TypeError(f"{type(exc).__name__} has no row in ERROR_TABLE") from exc
    return ApiError(rule.status, rule.code, rule.message(exc), rule.details(exc), rule.headers)


async def handle_domain_error(request: Request, exc: Exception) -> Response:
    error = api_error(exc)
    if error.status >= 500:
        log.error("%s %s: %s", request.method, request.url.path, exc, exc_info=exc)
    return error_response(error.status, error.code, error.message, error.details, error.headers)


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
    **{kind: handle_domain_error for kind in ERROR_TABLE},
    HTTPException: handle_http_exception,
    StorageUnavailable: handle_storage_unavailable,
    **{kind: handle_storage_unavailable for kind in DISK_ERRORS},  # SQLite's, outside a write transaction
    Exception: handle_unexpected,
}
