"""Admin authentication on a real server: the guard on every admin route, sessions, CSRF,
API tokens, the login rate limit, logout and password changes."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.routing import BaseRoute, Mount, Route

from storewatch.appliance import Appliance
from storewatch.server.admin_auth import COOKIE, OPEN_ADMIN_PATHS
from storewatch.server.app import create_app
from tests.conftest import ADMIN_PASSWORD, REPO, LiveServer

ADMIN = "/api/v1/admin"


def _walk(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str]]:
    for route in routes:
        if isinstance(route, Mount):
            yield from _walk(list(route.routes), prefix + route.path)
        elif isinstance(route, Route):
            path = re.sub(r"\{[^}]+\}", "1", prefix + route.path)
            for method in sorted(route.methods or {"GET"}):
                if method != "HEAD":
                    yield method, path


def admin_routes() -> list[tuple[str, str]]:
    """Every guarded admin route of the real app, found from create_app itself."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        appliance = Appliance(Path(folder))
        try:
            app = create_app(appliance)
        finally:
            appliance.close()
    found = [(m, p) for m, p in _walk(app.routes) if p.startswith(ADMIN + "/") and p not in OPEN_ADMIN_PATHS]
    assert len(found) >= 7, found
    return found


ADMIN_ROUTES = admin_routes()
UNSAFE_ROUTES = [(m, p) for m, p in ADMIN_ROUTES if m not in ("GET", "HEAD", "OPTIONS")]


def assert_error(answer: httpx.Response, status: int, code: str | None = None) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert re.fullmatch(r"[a-z][a-z0-9_]*", body["error"]["code"])
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], list)
    if code:
        assert body["error"]["code"] == code
    return body


def login(server: LiveServer, password: str = ADMIN_PASSWORD) -> tuple[httpx.Response, str, str]:
    """(answer, cookie value, csrf token) of a fresh login."""
    answer = httpx.post(f"{server.url}{ADMIN}/login", json={"password": password}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer, answer.cookies[COOKIE], answer.json()["csrf_token"]


def cli(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "storewatch", "--data-dir", str(data_dir), *args],
                          input=stdin, capture_output=True, text=True, cwd=REPO, timeout=60)


def new_api_token(data_dir: Path) -> str:
    done = cli(data_dir, "admin", "token")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def request(server: LiveServer, method: str, path: str, **kwargs) -> httpx.Response:  # noqa: ANN003
    if method in ("POST", "PATCH", "PUT"):
        kwargs.setdefault("json", {})
    return httpx.request(method, server.url + path, timeout=10, **kwargs)


# --- the guard -----------------------------------------------------------------------------


def test_every_admin_route_refuses_without_credentials(server: LiveServer) -> None:
    for method, path in ADMIN_ROUTES:
        assert_error(request(server, method, path), 401, "unauthorized")


def test_every_admin_route_refuses_an_unknown_session_or_bad_token(server: LiveServer) -> None:
    for method, path in ADMIN_ROUTES:
        assert_error(request(server, method, path, cookies={COOKIE: "made-up"}), 401)
        assert_error(request(server, method, path,
                             headers={"Authorization": "Bearer swa_abc_def"}), 401)


def test_unknown_admin_paths_are_guarded_too(server: LiveServer) -> None:
    assert_error(httpx.get(f"{server.url}{ADMIN}/no-such-thing"), 401)
    with server.admin_client() as admin:
        assert_error(admin.get(f"{ADMIN}/no-such-thing"), 404, "not_found")


def test_every_unsafe_admin_route_needs_the_csrf_token_with_a_cookie(server: LiveServer) -> None:
    _, cookie, csrf = login(server)
    for method, path in UNSAFE_ROUTES:
        assert_error(request(server, method, path, cookies={COOKIE: cookie}), 403, "csrf_failed")
        assert_error(request(server, method, path, cookies={COOKIE: cookie},
                             headers={"X-CSRF-Token": csrf + "x"}), 403, "csrf_failed")
        answer = request(server, method, path, cookies={COOKIE: cookie},
                         headers={"X-CSRF-Token": csrf})
        assert answer.status_code not in (401, 403), (method, path, answer.text)


def test_safe_methods_need_no_csrf_token(server: LiveServer) -> None:
    _, cookie, _ = login(server)
    answer = httpx.get(f"{server.url}{ADMIN}/devices", cookies={COOKIE: cookie})
    assert answer.status_code == 200 and isinstance(answer.json()["devices"], list)


# --- login, cookie, CSRF --------------------------------------------------------------------


def test_login_sets_an_httponly_samesite_strict_cookie(server: LiveServer) -> None:
    answer, cookie, csrf = login(server)
    set_cookie = answer.headers["set-cookie"]
    attributes = {a.strip().split("=")[0].lower() for a in set_cookie.split(";")}
    assert set_cookie.startswith(f"{COOKIE}={cookie};")
    assert "httponly" in attributes
    assert re.search(r"samesite=strict", set_cookie, re.I)
    assert re.search(r"path=/(;|$)", set_cookie, re.I)
    assert "max-age" in attributes
    assert len(cookie) >= 32 and len(csrf) >= 24 and cookie != csrf


def test_session_route_tells_the_spa_its_csrf_token(server: LiveServer) -> None:
    _, cookie, csrf = login(server)
    answer = httpx.get(f"{server.url}{ADMIN}/session", cookies={COOKIE: cookie})
    assert answer.json() == {"authenticated": True, "csrf_token": csrf}


def test_cookie_with_the_right_csrf_token_can_change_things(server: LiveServer) -> None:
    _, cookie, csrf = login(server)
    url = f"{server.url}{ADMIN}/devices"
    assert_error(httpx.post(url, json={"name": "cam"}, cookies={COOKIE: cookie}), 403, "csrf_failed")
    assert_error(httpx.post(url, json={"name": "cam"}, cookies={COOKIE: cookie},
                            headers={"X-CSRF-Token": "wrong"}), 403, "csrf_failed")
    before = httpx.get(url, cookies={COOKIE: cookie}).json()["devices"]
    answer = httpx.post(url, json={"name": "cam"}, cookies={COOKIE: cookie},
                        headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 201, answer.text
    after = httpx.get(url, cookies={COOKIE: cookie}).json()["devices"]
    assert len(after) == len(before) + 1  # the refused posts added nothing


def test_another_sessions_csrf_token_does_not_count(server: LiveServer) -> None:
    _, cookie_a, _ = login(server)
    _, _, csrf_b = login(server)
    answer = httpx.post(f"{server.url}{ADMIN}/devices", json={"name": "cam"},
                        cookies={COOKIE: cookie_a}, headers={"X-CSRF-Token": csrf_b})
    assert_error(answer, 403, "csrf_failed")


@pytest.mark.parametrize("body", [{"password": "wrong password"}, {"password": ""}])
def test_a_wrong_password_is_401(server: LiveServer, body: dict) -> None:
    answer = httpx.post(f"{server.url}{ADMIN}/login", json=body)
    assert_error(answer, 401, "bad_password")
    assert COOKIE not in answer.cookies


@pytest.mark.parametrize("kwargs, status", [
    ({"json": {}}, 422), ({"json": {"password": 12345678}}, 422), ({"json": ["x"]}, 400),
    ({"content": b"not json"}, 400), ({"content": b"\xff\xfe"}, 400),
    ({"content": b'{"password": "' + b"x" * 5000 + b'"}'}, 413),
])
def test_a_malformed_login_is_refused_with_the_error_shape(server: LiveServer, kwargs: dict,
                                                           status: int) -> None:
    assert_error(httpx.post(f"{server.url}{ADMIN}/login", **kwargs), status)


# --- API tokens ----------------------------------------------------------------------------------


def test_an_api_token_from_the_cli_works_as_bearer_without_csrf(server: LiveServer) -> None:
    token = new_api_token(server.data_dir)
    assert token.startswith("swa_")
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{server.url}{ADMIN}/devices", headers=headers).status_code == 200
    answer = httpx.post(f"{server.url}{ADMIN}/devices", json={"name": "cam"}, headers=headers)
    assert answer.status_code == 201, answer.text


def test_a_bad_api_token_is_401(server: LiveServer) -> None:
    token = new_api_token(server.data_dir)
    secret = token.split("_", 2)[2]
    for bad in (token + "x", token[:-1], token.replace("swa_", "swx_"), f"swa_{'0' * 12}_{secret}",
                "swa_x_y", "swa__", "nonsense"):
        answer = httpx.get(f"{server.url}{ADMIN}/devices", headers={"Authorization": f"Bearer {bad}"})
        assert_error(answer, 401, "unauthorized")
    assert httpx.get(f"{server.url}{ADMIN}/devices",
                     headers={"Authorization": f"Bearer {token}"}).status_code == 200


# --- rate limit, logout, password change ----------------------------------------------------------


def test_five_failed_logins_then_429_with_retry_after(live_server: LiveServer) -> None:
    url = f"{live_server.url}{ADMIN}/login"
    for _ in range(5):
        assert_error(httpx.post(url, json={"password": "guess guess"}), 401, "bad_password")
    for password in ("guess guess", ADMIN_PASSWORD):  # even the right one must wait now
        answer = httpx.post(url, json={"password": password})
        assert_error(answer, 429, "too_many_logins")
        assert 1 <= int(answer.headers["retry-after"]) <= 60
        assert COOKIE not in answer.cookies


def test_a_good_login_resets_the_failure_count(live_server: LiveServer) -> None:
    url = f"{live_server.url}{ADMIN}/login"
    for _ in range(4):
        httpx.post(url, json={"password": "guess guess"})
    login(live_server)
    for _ in range(4):
        assert_error(httpx.post(url, json={"password": "guess guess"}), 401)
    login(live_server)


def test_logout_ends_the_session_on_the_server(server: LiveServer) -> None:
    _, cookie, csrf = login(server)
    answer = httpx.post(f"{server.url}{ADMIN}/logout", cookies={COOKIE: cookie})
    assert answer.status_code == 200 and answer.json() == {"logged_out": True}
    assert re.search(rf"{COOKIE}=\"?\"?;.*max-age=0", answer.headers["set-cookie"], re.I)
    # Replaying the old cookie (a stolen copy) must not work any more.
    assert_error(httpx.get(f"{server.url}{ADMIN}/devices", cookies={COOKIE: cookie}), 401)
    assert_error(httpx.post(f"{server.url}{ADMIN}/devices", json={"name": "x"},
                            cookies={COOKIE: cookie}, headers={"X-CSRF-Token": csrf}), 401)


def test_logout_without_a_session_is_harmless(server: LiveServer) -> None:
    assert httpx.post(f"{server.url}{ADMIN}/logout").status_code == 200


def test_set_password_logs_every_session_out(live_server: LiveServer) -> None:
    sessions = [login(live_server)[1] for _ in range(2)]
    done = cli(live_server.data_dir, "admin", "set-password", stdin="a new long password\n")
    assert done.returncode == 0, done.stderr
    for cookie in sessions:
        assert_error(httpx.get(f"{live_server.url}{ADMIN}/devices", cookies={COOKIE: cookie}), 401)
    assert_error(httpx.post(f"{live_server.url}{ADMIN}/login", json={"password": ADMIN_PASSWORD}), 401)
    _, cookie, _ = login(live_server, "a new long password")
    assert httpx.get(f"{live_server.url}{ADMIN}/devices", cookies={COOKIE: cookie}).status_code == 200


@pytest.mark.parametrize("path", [
    "/api/v1/admin/devices/", "/api/v1/admin//devices", "/api/v1//admin/devices", "/api/v1/admin/./devices",
    "/api/v1/x/../admin/devices", "/api/v1/admin/%64evices", "/api/v1/admin%2Fdevices", "/API/v1/admin/devices",
    "/api/v1/admin/devices?x=/api/v1/admin/login", "/api/v1/admin/login/../devices",
])
def test_odd_spellings_of_an_admin_path_never_get_past_the_guard(server: LiveServer, path: str) -> None:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", path)  # sent as written: no client-side normalisation
        answer = conn.getresponse()
        body = answer.read()
    finally:
        conn.close()
    # Either refused (401), unknown (404), a slash redirect, or the SPA's HTML shell for an
    # unknown page; never the admin API's data.
    kind = answer.getheader("content-type", "")
    assert answer.status in (200, 307, 401, 404), (answer.status, body[:200])
    if answer.status == 200:
        assert kind.startswith("text/html"), (kind, body[:200])
    assert b'"devices"' not in body
