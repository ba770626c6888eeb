"""Admin authentication: login, logout and session routes, and the guard on /api/v1/admin/*.

A browser holds an HttpOnly, SameSite=Strict session cookie and sends the session's CSRF
token in `X-CSRF-Token` on every state-changing request; scripts send an API token as
`Authorization: Bearer swa_…` instead. Failed logins are rate-limited per client.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from storewatch.admins import SESSION_LIFETIME, Admins, csrf_matches
from storewatch.server.errors import ApiError, error_response
from storewatch.server.json_body import read_json_object

COOKIE = "storewatch_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ADMIN_PREFIX = "/api/v1/admin/"
OPEN_ADMIN_PATHS = frozenset({"/api/v1/admin/login", "/api/v1/admin/logout"})


class LoginLimiter:
    """At most `attempts` failed logins per client per `window_s`, and a global cap."""

    def __init__(self, attempts: int = 5, window_s: float = 60.0, global_attempts: int = 30):
        self.attempts, self.window_s, self.global_attempts = attempts, window_s, global_attempts
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def retry_after(self, client: str, now: float) -> int:
        """Seconds to wait before another try, 0 when a try is allowed."""
        with self._lock:
            waits = [self._wait(self._failures[client], self.attempts, now),
                     self._wait(self._failures["*"], self.global_attempts, now)]
        return max(waits)

    def _wait(self, failures: deque[float], limit: int, now: float) -> int:
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        if len(failures) < limit:
            return 0
        return max(1, int(failures[0] + self.window_s - now + 0.999))

    def failed(self, client: str, now: float) -> None:
        with self._lock:
            self._failures[client].append(now)
            self._failures["*"].append(now)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)


def _admins(request: Request) -> Admins:
    return request.app.state.appliance.admins


def authenticate_admin(request: Request) -> None:
    """Raise 401/403 unless the request carries an admin's credentials (and CSRF when due)."""
    admins = _admins(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        if admins.check_token(token.strip()):
            return
        raise ApiError(401, "unauthorized", "The admin API token is not valid; make one with "
                       "`storewatch admin token`.")
    cookie = request.cookies.get(COOKIE)
    csrf = admins.session_csrf(cookie) if cookie else None
    if csrf is None:
        raise ApiError(401, "unauthorized", "Log in first (POST /api/v1/admin/login).")
    if request.method not in SAFE_METHODS and not csrf_matches(csrf, request.headers.get(CSRF_HEADER)):
        raise ApiError(403, "csrf_failed", "The X-CSRF-Token header is missing or wrong; reload the page.")


async def login(request: Request) -> Response:
    limiter: LoginLimiter = request.app.state.login_limiter
    client = request.client.host if request.client else "unknown"
    wait = limiter.retry_after(client, time.monotonic())
    if wait:
        raise ApiError(429, "too_many_logins", f"Too many failed logins; try again in {wait} s.",
                       headers={"Retry-After": str(wait)})
    payload = await read_json_object(request, 4096)
    if not isinstance(payload.get("password"), str):
        raise ApiError(422, "validation_failed", "A password is required.",
                       [{"field": "password", "message": "must be a string"}])
    password = payload["password"]
    admins = _admins(request)
    if not await anyio.to_thread.run_sync(admins.check_password, password):
        limiter.failed(client, time.monotonic())
        raise ApiError(401, "bad_password", "The password is wrong.")
    limiter.succeeded(client)
    cookie, csrf = await anyio.to_thread.run_sync(admins.open_session)
    response = JSONResponse({"csrf_token": csrf})
    response.set_cookie(COOKIE, cookie, max_age=int(SESSION_LIFETIME.total_seconds()), httponly=True,
                        samesite="strict", path="/", secure=request.url.scheme == "https")
    return response


async def logout(request: Request) -> Response:
    cookie = request.cookies.get(COOKIE)
    if cookie:
        await anyio.to_thread.run_sync(_admins(request).close_session, cookie)
    response = JSONResponse({"logged_out": True})
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


async def session(request: Request) -> Response:
    """Who am I: the CSRF token of the current session (the SPA calls this after a reload)."""
    cookie = request.cookies.get(COOKIE)
    csrf = _admins(request).session_csrf(cookie) if cookie else None
    return JSONResponse({"authenticated": True, "csrf_token": csrf})


ROUTES = [
    Route("/api/v1/admin/login", login, methods=["POST"]),
    Route("/api/v1/admin/logout", logout, methods=["POST"]),
    Route("/api/v1/admin/session", session, methods=["GET"]),
]


class AdminGuard:
    """ASGI middleware: every /api/v1/admin/* route but login and logout needs an admin."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path.startswith(ADMIN_PREFIX) and path not in OPEN_ADMIN_PATHS:
            request = Request(scope)
            try:
                await anyio.to_thread.run_sync(authenticate_admin, request)
            except ApiError as exc:
                response = error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
