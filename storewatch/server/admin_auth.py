"""Admin authentication: login, logout and session routes, and the guard on /api/v1/admin/*.

A browser holds an HttpOnly, SameSite=Strict session cookie and sends the session's CSRF
token in `X-CSRF-Token` on every state-changing request; scripts send an API token as
`Authorization: Bearer swa_…` instead. Password checks (logins and password changes) go
through one limiter: counted per client and globally before the slow hash runs, and at
most a few hashes at once.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from storewatch.store.admins import SESSION_LIFETIME, Admins, TokenState, csrf_matches
from storewatch.credentials import SLOW_HASHES, HashGate
from storewatch.server import connections
from storewatch.server.errors import ApiError, error_response
from storewatch.server.json_body import read_json_object

COOKIE = "storewatch_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ADMIN_PREFIX = "/api/v1/admin/"
# session checks for itself: without a session it answers "not logged in" rather than 401,
# which a browser logs as a console error on every first visit to the login page.
OPEN_ADMIN_PATHS = frozenset({"/api/v1/admin/login", "/api/v1/admin/logout", "/api/v1/admin/session"})


class LoginLimiter:
    """Who may make the appliance check a password now, and how many checks run at once.

    An attempt is counted when it starts, before its hash (so a burst of concurrent guesses
    is limited like a sequence of them), and needs one of the process's slow-hash slots
    (`credentials.SLOW_HASHES`): with none free it is refused at once, not queued.

    Limits, over a sliding `window_s`:
    - per client (an IPv4 address, an IPv6 /64): `attempts` tries; a good login clears them.
    - global: once `global_attempts` tries were made by everyone together, a client that
      already tried in the window must wait, but a client with no try in the window still
      gets one. The global cap is there for an attacker with many addresses; without the
      exemption that same attacker could lock the owner out from every other address, and
      with it the attacker gains one guess per new address per window (five without the
      cap). The owner, trying from an address that has not been guessing, gets a try
      (at worst after a "busy, retry in 1 s" while the hash slots are taken). Only past
      `max_tracked` tries in the window (a flood from thousands of addresses) is everyone
      refused, which bounds this object's memory.
    Admin API tokens are not counted here: see `_check_api_token`.
    """

    def __init__(self, attempts: int = 5, window_s: float = 60.0, global_attempts: int = 30,
                 max_tracked: int = 4096, gate: HashGate = SLOW_HASHES,
                 clock: Callable[[], float] = time.monotonic):
        self.attempts, self.window_s, self.global_attempts = attempts, window_s, global_attempts
        self.max_tracked, self.gate, self.clock = max_tracked, gate, clock
        self._tries: dict[str, deque[float]] = {}
        self._all: deque[tuple[float, str]] = deque()  # every counted try, oldest first
        self._lock = threading.Lock()

    def begin(self, client: str) -> Refusal | None:
        """Count one try and take a hash slot (None), or say why not; `finish` must follow None."""
        with self._lock:
            now = self.clock()
            self._expire(now)
            mine = self._tries.get(client)
            wait = self._wait(mine[-self.attempts] if mine and len(mine) >= self.attempts else None, now)
            limit = self.global_attempts if mine else self.max_tracked  # a fresh client may pass the cap
            if not wait and len(self._all) >= limit:
                wait = self._wait(self._all[-limit][0], now)
            if wait:
                return Refusal("too_many_logins", wait)
            if not self.gate.try_acquire():
                return Refusal("login_busy", 1)
            self._tries.setdefault(client, deque()).append(now)
            self._all.append((now, client))
        return None

    def finish(self, client: str, succeeded: bool) -> None:
        """End a try begun with `begin`: a success clears the client's count (and its try)."""
        self.gate.release()
        if not succeeded:
            return
        with self._lock:
            tries = self._tries.pop(client, None)
            if tries:
                try:
                    self._all.remove((tries[-1], client))
                except ValueError:  # already expired
                    pass

    def _expire(self, now: float) -> None:
        while self._all and self._all[0][0] <= now - self.window_s:
            stamp, client = self._all.popleft()
            tries = self._tries.get(client)
            if tries and tries[0] <= stamp:
                tries.popleft()
                if not tries:
                    del self._tries[client]

    def _wait(self, oldest_counted: float | None, now: float) -> int:
        """Seconds until the oldest of the tries that reach a limit leaves the window (0: none)."""
        if oldest_counted is None:
            return 0
        return max(1, math.ceil(oldest_counted + self.window_s - now))


@dataclass(frozen=True)
class Refusal:
    code: str  # too_many_logins: this client (or everyone) tried too often; login_busy: no hash slot
    retry_after: int

    def error(self) -> ApiError:
        if self.code == "login_busy":
            message = "The appliance is busy checking other passwords; try again in a second."
        else:
            message = f"Too many wrong passwords; try again in {self.retry_after} s."
        return ApiError(429, self.code, message, headers={"Retry-After": str(self.retry_after)})


def client_key(request: Request) -> str:
    """The limiter's idea of a client: the one the connection caps count (its /64 for IPv6)."""
    return connections.client_key(request.client.host if request.client else "unknown")


async def check_secret(request: Request, check: Callable[[], bool]) -> bool:
    """Run one slow secret check for the request's client under the shared limiter, in a
    worker thread (never on the event loop); 429 when the client must wait or no slot is free."""
    limiter: LoginLimiter = request.app.state.login_limiter
    client = client_key(request)
    refusal = limiter.begin(client)
    if refusal:
        raise refusal.error()
    succeeded = False
    try:  # not abandoned on cancel: the slot stays taken as long as the hash really runs
        succeeded = await anyio.to_thread.run_sync(check)
    finally:
        limiter.finish(client, succeeded)
    return succeeded


def _admins(request: Request) -> Admins:
    return request.app.state.appliance.admins


def authenticate_admin(request: Request) -> None:
    """Raise 401/403 unless the request carries an admin's credentials (and CSRF when due)."""
    admins = _admins(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        _check_api_token(admins, token.strip())
        return
    cookie = request.cookies.get(COOKIE)
    csrf = admins.session_csrf(cookie) if cookie else None
    if csrf is None:
        raise ApiError(401, "unauthorized", "Log in first (POST /api/v1/admin/login).")
    if request.method not in SAFE_METHODS and not csrf_matches(csrf, request.headers.get(CSRF_HEADER)):
        raise ApiError(403, "csrf_failed", "The X-CSRF-Token header is missing or wrong; reload the page.")


def _check_api_token(admins: Admins, token: str) -> None:
    # A token is a 256-bit random secret checked with one SHA-256: guessing it is hopeless
    # and a wrong one costs no more than any refused request, so it is not counted against
    # the client's password tries (a script left running with a revoked token must not lock
    # the owner's browser out). Old scrypt-stored tokens take a slot of the shared gate.
    state = admins.token_state(token)
    if state is TokenState.BUSY:
        raise Refusal("login_busy", 1).error()
    if state is TokenState.EXPIRED:
        raise ApiError(401, "unauthorized", "This admin API token has expired; make a new one with "
                       "`storewatch admin token`.")
    if state is not TokenState.VALID:
        raise ApiError(401, "unauthorized", "The admin API token is not valid; make one with "
                       "`storewatch admin token`.")


async def login(request: Request) -> Response:
    payload = await read_json_object(request, 4096)
    if not isinstance(payload.get("password"), str):
        raise ApiError(422, "validation_failed", "A password is required.",
                       [{"field": "password", "message": "must be a string"}])
    password = payload["password"]
    admins = _admins(request)
    if not await check_secret(request, lambda: admins.check_password(password)):
        raise ApiError(401, "bad_password", "The password is wrong.")
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
    """Who am I: the CSRF token of the current session (the SPA calls this after a reload).

    No credentials, or a cookie whose session is gone: 200 "not logged in". An Authorization
    header is checked as on every admin route (a wrong token is still 401).
    """
    if not request.headers.get("authorization", "").strip():
        cookie = request.cookies.get(COOKIE)
        csrf = await anyio.to_thread.run_sync(_admins(request).session_csrf, cookie) if cookie else None
        return JSONResponse({"authenticated": csrf is not None, "csrf_token": csrf})
    await anyio.to_thread.run_sync(authenticate_admin, request)
    return JSONResponse({"authenticated": True, "csrf_token": None})


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
