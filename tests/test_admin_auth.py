"""Admin authentication on a real server: the guard on every admin route, sessions, CSRF,
API tokens, the login rate limit, logout and password changes."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import apsw
import httpx
import pytest
from starlette.requests import Request
from starlette.routing import BaseRoute, Mount, Route

from storewatch.appliance import Appliance
from storewatch.credentials import HashGate
from storewatch.server.admin_auth import COOKIE, OPEN_ADMIN_PATHS, LoginLimiter, client_key
from storewatch.server.app import create_app
from support import ADMIN_PASSWORD, REPO
from support.servers import AppClient, LiveServer, Requests
from support.api import assert_error

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


def login(server: Requests, password: str = ADMIN_PASSWORD) -> tuple[httpx.Response, str, str]:
    """(answer, cookie value, csrf token) of a fresh login."""
    answer = server.post(f"{ADMIN}/login", json={"password": password}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer, answer.cookies[COOKIE], answer.json()["csrf_token"]


def cli(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "storewatch", "--data-dir", str(data_dir), *args],
                          input=stdin, capture_output=True, text=True, cwd=REPO, timeout=60)


def new_api_token(data_dir: Path) -> str:
    done = cli(data_dir, "admin", "token")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def request(server: Requests, method: str, path: str, **kwargs) -> httpx.Response:  # noqa: ANN003
    if method in ("POST", "PATCH", "PUT"):
        kwargs.setdefault("json", {})
    return server.request(method, path, timeout=10, **kwargs)


# --- the guard -----------------------------------------------------------------------------


def test_every_admin_route_refuses_without_credentials(module_app: AppClient) -> None:
    for method, path in ADMIN_ROUTES:
        assert_error(request(module_app, method, path), 401, "unauthorized")


def test_every_admin_route_refuses_an_unknown_session_or_bad_token(module_app: AppClient) -> None:
    for method, path in ADMIN_ROUTES:
        assert_error(request(module_app, method, path, cookies={COOKIE: "made-up"}), 401)
        assert_error(request(module_app, method, path,
                             headers={"Authorization": "Bearer swa_abc_def"}), 401)


def test_unknown_admin_paths_are_guarded_too(module_app: AppClient) -> None:
    assert_error(module_app.get(f"{ADMIN}/no-such-thing"), 401)
    with module_app.admin_client() as admin:
        assert_error(admin.get(f"{ADMIN}/no-such-thing"), 404, "not_found")


def test_every_unsafe_admin_route_needs_the_csrf_token_with_a_cookie(module_app: AppClient) -> None:
    _, cookie, csrf = login(module_app)
    for method, path in UNSAFE_ROUTES:
        assert_error(request(module_app, method, path, cookies={COOKIE: cookie}), 403, "csrf_failed")
        assert_error(request(module_app, method, path, cookies={COOKIE: cookie},
                             headers={"X-CSRF-Token": csrf + "x"}), 403, "csrf_failed")
        answer = request(module_app, method, path, cookies={COOKIE: cookie},
                         headers={"X-CSRF-Token": csrf})
        assert answer.status_code not in (401, 403), (method, path, answer.text)


def test_safe_methods_need_no_csrf_token(module_app: AppClient) -> None:
    _, cookie, _ = login(module_app)
    answer = module_app.get(f"{ADMIN}/devices", cookies={COOKIE: cookie})
    assert answer.status_code == 200 and isinstance(answer.json()["devices"], list)


# --- login, cookie, CSRF --------------------------------------------------------------------


def test_login_sets_an_httponly_samesite_strict_cookie(module_app: AppClient) -> None:
    answer, cookie, csrf = login(module_app)
    set_cookie = answer.headers["set-cookie"]
    attributes = {a.strip().split("=")[0].lower() for a in set_cookie.split(";")}
    assert set_cookie.startswith(f"{COOKIE}={cookie};")
    assert "httponly" in attributes
    assert re.search(r"samesite=strict", set_cookie, re.I)
    assert re.search(r"path=/(;|$)", set_cookie, re.I)
    assert "max-age" in attributes
    assert len(cookie) >= 32 and len(csrf) >= 24 and cookie != csrf


def test_session_route_tells_the_spa_its_csrf_token(module_app: AppClient) -> None:
    _, cookie, csrf = login(module_app)
    answer = module_app.get(f"{ADMIN}/session", cookies={COOKIE: cookie})
    assert answer.json() == {"authenticated": True, "csrf_token": csrf}


def test_session_route_says_not_logged_in_without_an_error(module_app: AppClient) -> None:
    # a 401 here is a console error in the browser on every first visit to the login page
    for cookies in ({}, {COOKIE: "an-ended-session"}):
        answer = module_app.get(f"{ADMIN}/session", cookies=cookies)
        assert (answer.status_code, answer.json()) == (200, {"authenticated": False, "csrf_token": None})
    assert_error(module_app.get(f"{ADMIN}/session", headers={"Authorization": "Bearer wrong"}), 401)


def test_cookie_with_the_right_csrf_token_can_change_things(module_app: AppClient) -> None:
    _, cookie, csrf = login(module_app)
    url = f"{ADMIN}/devices"
    assert_error(module_app.post(url, json={"name": "cam"}, cookies={COOKIE: cookie}), 403, "csrf_failed")
    assert_error(module_app.post(url, json={"name": "cam"}, cookies={COOKIE: cookie},
                                 headers={"X-CSRF-Token": "wrong"}), 403, "csrf_failed")
    before = module_app.get(url, cookies={COOKIE: cookie}).json()["devices"]
    answer = module_app.post(url, json={"name": "cam"}, cookies={COOKIE: cookie},
                             headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 201, answer.text
    after = module_app.get(url, cookies={COOKIE: cookie}).json()["devices"]
    assert len(after) == len(before) + 1  # the refused posts added nothing


def test_another_sessions_csrf_token_does_not_count(module_app: AppClient) -> None:
    _, cookie_a, _ = login(module_app)
    _, _, csrf_b = login(module_app)
    answer = module_app.post(f"{ADMIN}/devices", json={"name": "cam"},
                             cookies={COOKIE: cookie_a}, headers={"X-CSRF-Token": csrf_b})
    assert_error(answer, 403, "csrf_failed")


@pytest.mark.parametrize("body", [{"password": "wrong password"}, {"password": ""}])
def test_a_wrong_password_is_401(module_app: AppClient, body: dict) -> None:
    answer = module_app.post(f"{ADMIN}/login", json=body)
    assert_error(answer, 401, "bad_password")
    assert COOKIE not in answer.cookies


@pytest.mark.parametrize("kwargs, status", [
    ({"json": {}}, 422), ({"json": {"password": 12345678}}, 422), ({"json": ["x"]}, 400),
    ({"content": b"not json"}, 400), ({"content": b"\xff\xfe"}, 400),
    ({"content": b'{"password": "' + b"x" * 5000 + b'"}'}, 413),
])
def test_a_malformed_login_is_refused_with_the_error_shape(module_app: AppClient, kwargs: dict,
                                                           status: int) -> None:
    assert_error(module_app.post(f"{ADMIN}/login", **kwargs), status)


# --- API tokens ----------------------------------------------------------------------------------


def test_an_api_token_from_the_cli_works_as_bearer_without_csrf(module_app: AppClient) -> None:
    token = new_api_token(module_app.data_dir)
    assert token.startswith("swa_")
    headers = {"Authorization": f"Bearer {token}"}
    assert module_app.get(f"{ADMIN}/devices", headers=headers).status_code == 200
    answer = module_app.post(f"{ADMIN}/devices", json={"name": "cam"}, headers=headers)
    assert answer.status_code == 201, answer.text


def test_a_bad_api_token_is_401(module_app: AppClient) -> None:
    token = new_api_token(module_app.data_dir)
    secret = token.split("_", 2)[2]
    for bad in (token + "x", token[:-1], token.replace("swa_", "swx_"), f"swa_{'0' * 12}_{secret}",
                "swa_x_y", "swa__", "nonsense"):
        answer = module_app.get(f"{ADMIN}/devices", headers={"Authorization": f"Bearer {bad}"})
        assert_error(answer, 401, "unauthorized")
    assert module_app.get(f"{ADMIN}/devices",
                          headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_a_token_deleted_by_another_process_stops_working_at_once(live_server: LiveServer) -> None:
    token = new_api_token(live_server.data_dir)
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{live_server.url}{ADMIN}/devices", headers=headers).status_code == 200
    other = Appliance(live_server.data_dir)  # this test process, not the server's
    try:
        other.admins.revoke_tokens()
    finally:
        other.close()
    assert_error(httpx.get(f"{live_server.url}{ADMIN}/devices", headers=headers), 401, "unauthorized")
    assert_error(httpx.get(f"{live_server.url}/metrics", headers=headers), 401, "unauthorized")


def test_an_expired_token_is_401_and_says_so(app: AppClient) -> None:
    done = cli(app.data_dir, "admin", "token", "--expires", "1d")
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {token}"}
    assert app.get(f"{ADMIN}/devices", headers=headers).status_code == 200
    conn = apsw.Connection(str(app.data_dir / "storewatch.db"))  # as if a day had passed
    try:
        conn.execute("UPDATE admin_tokens SET expires_at = '2020-01-01T00:00:00.000Z' WHERE id = ?",
                     (token.split("_", 2)[1],))
    finally:
        conn.close()
    body = assert_error(app.get(f"{ADMIN}/devices", headers=headers), 401, "unauthorized")
    assert "expired" in body["message"]
    assert_error(app.get("/metrics", headers=headers), 401, "unauthorized")


# --- rate limit, logout, password change ----------------------------------------------------------


def test_five_failed_logins_then_429_with_retry_after(app: AppClient) -> None:
    url = f"{ADMIN}/login"
    for _ in range(5):
        assert_error(app.post(url, json={"password": "guess guess"}), 401, "bad_password")
    for password in ("guess guess", ADMIN_PASSWORD):  # even the right one must wait now
        answer = app.post(url, json={"password": password})
        assert_error(answer, 429, "too_many_logins")
        assert 1 <= int(answer.headers["retry-after"]) <= 60
        assert COOKIE not in answer.cookies


def test_a_good_login_resets_the_failure_count(app: AppClient) -> None:
    url = f"{ADMIN}/login"
    for _ in range(4):
        app.post(url, json={"password": "guess guess"})
    login(app)
    for _ in range(4):
        assert_error(app.post(url, json={"password": "guess guess"}), 401)
    login(app)


def test_logout_ends_the_session_on_the_server(module_app: AppClient) -> None:
    _, cookie, csrf = login(module_app)
    answer = module_app.post(f"{ADMIN}/logout", cookies={COOKIE: cookie})
    assert answer.status_code == 200 and answer.json() == {"logged_out": True}
    assert re.search(rf"{COOKIE}=\"?\"?;.*max-age=0", answer.headers["set-cookie"], re.I)
    # Replaying the old cookie (a stolen copy) must not work any more.
    assert_error(module_app.get(f"{ADMIN}/devices", cookies={COOKIE: cookie}), 401)
    assert_error(module_app.post(f"{ADMIN}/devices", json={"name": "x"},
                                 cookies={COOKIE: cookie}, headers={"X-CSRF-Token": csrf}), 401)


def test_logout_without_a_session_is_harmless(module_app: AppClient) -> None:
    assert module_app.post(f"{ADMIN}/logout").status_code == 200


def test_set_password_logs_every_session_out(app: AppClient) -> None:
    sessions = [login(app)[1] for _ in range(2)]
    done = cli(app.data_dir, "admin", "set-password", stdin="a new long password\n")
    assert done.returncode == 0, done.stderr
    for cookie in sessions:
        assert_error(app.get(f"{ADMIN}/devices", cookies={COOKIE: cookie}), 401)
    assert_error(app.post(f"{ADMIN}/login", json={"password": ADMIN_PASSWORD}), 401)
    _, cookie, _ = login(app, "a new long password")
    assert app.get(f"{ADMIN}/devices", cookies={COOKIE: cookie}).status_code == 200


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


# --- the limiter itself, on a fake clock ---------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _fail(limiter: LoginLimiter, client: str) -> str | None:
    """One wrong try: the refusal's code, or None when it was checked (and failed)."""
    refusal = limiter.begin(client)
    if refusal:
        return refusal.code
    limiter.finish(client, False)
    return None


def test_the_limiter_counts_tries_when_they_start_not_when_they_end() -> None:
    limiter = LoginLimiter(gate=HashGate(10), clock=FakeClock())
    started = [limiter.begin("10.0.0.1") for _ in range(8)]  # none has finished yet
    assert started[:5] == [None] * 5
    assert {r.code for r in started[5:]} == {"too_many_logins"}
    assert all(1 <= r.retry_after <= 60 for r in started[5:])
    for _ in range(5):
        limiter.finish("10.0.0.1", False)
    assert limiter.gate.running == 0


def test_at_most_the_gates_slots_hash_at_once_and_the_rest_are_refused_at_once() -> None:
    limiter = LoginLimiter(attempts=1000, global_attempts=1000, gate=HashGate(2))
    running, peak, refused, lock = 0, 0, 0, threading.Lock()

    def one(index: int) -> None:
        nonlocal running, peak, refused
        client = f"10.0.{index // 200}.{index % 200}"
        refusal = limiter.begin(client)
        if refusal:
            assert refusal.code == "login_busy" and refusal.retry_after == 1
            with lock:
                refused += 1
            return
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.02)  # the hash
        with lock:
            running -= 1
        limiter.finish(client, False)

    with ThreadPoolExecutor(32) as pool:
        list(pool.map(one, range(300)))
    assert peak == 2 and refused > 0
    assert limiter.gate.running == 0


def test_past_the_global_cap_only_a_client_that_has_not_tried_yet_gets_one_try() -> None:
    clock = FakeClock()
    limiter = LoginLimiter(attempts=5, window_s=60, global_attempts=30, gate=HashGate(2), clock=clock)
    for index in range(10):
        assert [_fail(limiter, f"10.0.0.{index}") for _ in range(3)] == [None] * 3
    assert _fail(limiter, "10.0.0.1") == "too_many_logins"  # 3 of its 5, but everyone's 30 are used
    assert _fail(limiter, "10.0.0.99") is None  # the owner's address: one try
    assert _fail(limiter, "10.0.0.99") == "too_many_logins"
    clock.now += 61  # the window has passed: everyone may try again
    assert _fail(limiter, "10.0.0.1") is None


def test_a_good_login_clears_the_clients_count_and_its_own_try() -> None:
    limiter = LoginLimiter(gate=HashGate(2), clock=FakeClock())
    for _ in range(4):
        assert _fail(limiter, "10.0.0.1") is None
    assert limiter.begin("10.0.0.1") is None
    limiter.finish("10.0.0.1", True)
    for _ in range(5):
        assert _fail(limiter, "10.0.0.1") is None
    assert _fail(limiter, "10.0.0.1") == "too_many_logins"


def test_the_tries_kept_are_bounded_even_from_many_new_addresses() -> None:
    limiter = LoginLimiter(global_attempts=30, max_tracked=100, gate=HashGate(2), clock=FakeClock())
    codes = [_fail(limiter, f"10.{i // 65536}.{i // 256 % 256}.{i % 256}") for i in range(500)]
    assert codes.count(None) == 100 and set(codes[100:]) == {"too_many_logins"}


@pytest.mark.parametrize("host, key", [
    ("192.168.1.20", "192.168.1.20"), ("::ffff:192.168.1.20", "192.168.1.20"),
    ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"), ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
    ("fe80::1", "fe80::/64"), ("testclient", "testclient"),
])
def test_a_client_is_its_ipv4_address_or_its_ipv6_64(host: str, key: str) -> None:
    request = Request({"type": "http", "client": (host, 1234), "headers": []})
    assert client_key(request) == key


# --- login under attack: counted before hashing, hashes bounded, the owner still gets in --------

ATTACKERS = [f"127.0.0.{10 + i}" for i in range(10)]  # the server sees each as its own client
OWNER_ADDRESS = "127.0.0.2"
WRONG = {"password": "wrong guess"}
HASH_MIB = 16  # scrypt n=2**14, r=8: 128 * n * r bytes per password check


def _client(server: LiveServer, address: str, **kwargs) -> httpx.AsyncClient:  # noqa: ANN003
    return httpx.AsyncClient(base_url=server.url, transport=httpx.AsyncHTTPTransport(local_address=address),
                             timeout=60, **kwargs)


def _peak_rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmHWM:\s+(\d+) kB", status, re.M).group(1)) / 1024


async def _burst(server: LiveServer, per_address: int) -> list[httpx.Response]:
    """per_address concurrent wrong logins from each attacker address, all at once."""
    clients = [_client(server, address) for address in ATTACKERS]
    try:
        return await asyncio.gather(*(c.post(f"{ADMIN}/login", json=WRONG) for c in clients
                                      for _ in range(per_address)))
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))


def _heartbeats_while(server: LiveServer, device: tuple[str, str], running: threading.Event) -> list[float]:
    """Seconds each heartbeat of another device took while `running` is set (at most 200)."""
    device_id, token = device
    took: list[float] = []
    with httpx.Client(base_url=server.url, timeout=60,
                      headers={"Authorization": f"Bearer {token}"}) as client:
        while running.is_set() and len(took) < 200:
            started = time.monotonic()
            beat = client.post("/api/v1/ingest/heartbeat", json={"device_id": device_id, "ts": "2026-11-24T05:47:30Z"})
            took.append(time.monotonic() - started)
            assert beat.status_code == 200, beat.text
            time.sleep(0.02)
    return took


@pytest.mark.slow  # an attack of hundreds of concurrent logins
def test_a_burst_of_concurrent_wrong_logins_is_refused_before_hashing(live_server: LiveServer,
                                                                      device: tuple[str, str]) -> None:
    login(live_server)  # one password check done: the baseline holds one hash's memory
    rss_before = _peak_rss_mib(live_server.process.pid)
    running = threading.Event()
    running.set()
    with ThreadPoolExecutor(1) as pool:
        beats = pool.submit(_heartbeats_while, live_server, device, running)
        time.sleep(0.1)
        try:
            answers = asyncio.run(_burst(live_server, 15))
        finally:
            running.clear()
        took = beats.result()
    grown = _peak_rss_mib(live_server.process.pid) - rss_before
    statuses = Counter(a.status_code for a in answers)
    print(f"150 concurrent wrong logins: {dict(statuses)}; peak RSS +{grown:.0f} MiB; "
          f"{len(took)} heartbeats, slowest {max(took):.3f} s")
    assert statuses[429] >= 100, statuses  # most never reach the password hash
    assert set(statuses) <= {401, 429, 503}, statuses  # 503: the connection guard's cap, also before hashing
    assert statuses[401] <= 30 + len(ATTACKERS), statuses
    for answer in answers:
        if answer.status_code == 429:
            assert_error(answer, 429)
            assert 1 <= int(answer.headers["retry-after"]) <= 60
    assert grown < 3 * HASH_MIB, f"peak RSS grew {grown:.0f} MiB: more than two hashes at once"
    assert max(took) < 2.0, f"another device's heartbeat took {max(took):.1f} s during the burst"


async def _attack_until_locked(server: LiveServer, max_requests: int = 60) -> Counter:
    """Each attacker address tries wrong passwords until it is told to wait (bounded)."""

    async def one(address: str) -> Counter:
        seen: Counter = Counter()
        async with _client(server, address) as client:
            for _ in range(max_requests):
                answer = await client.post(f"{ADMIN}/login", json=WRONG)
                code = answer.json()["error"]["code"]
                seen[code] += 1
                if code == "too_many_logins":
                    break
                if answer.status_code == 429:  # busy checking others: come back in a moment
                    await asyncio.sleep(0.02)
        return seen

    return sum(await asyncio.gather(*(one(a) for a in ATTACKERS)), Counter())


async def _owner_logs_in_during_more_attack(server: LiveServer) -> tuple[httpx.Response, list[int]]:
    async def owner() -> httpx.Response:
        await asyncio.sleep(0.05)  # the attack's next wave is in flight
        async with _client(server, OWNER_ADDRESS) as client:
            return await client.post(f"{ADMIN}/login", json={"password": ADMIN_PASSWORD})

    wave = _burst(server, 5)
    attack, answer = await asyncio.gather(wave, owner())
    return answer, [a.status_code for a in attack]


@pytest.mark.slow  # an attack of hundreds of concurrent logins
def test_the_owner_logs_in_from_another_address_while_others_are_locked_out(live_server: LiveServer) -> None:
    seen = asyncio.run(_attack_until_locked(live_server))
    print(f"attack from {len(ATTACKERS)} addresses: {dict(seen)}")
    assert seen["too_many_logins"] == len(ATTACKERS), seen  # every attacker address was stopped
    assert seen["bad_password"] <= 30 + len(ATTACKERS), seen  # the global cap held
    answer, wave = asyncio.run(_owner_logs_in_during_more_attack(live_server))
    assert answer.status_code == 200, answer.text
    assert COOKIE in answer.cookies
    assert set(wave) == {429}, Counter(wave)  # the attackers are still locked out
    # A new address gets one try while the global cap is reached, not five.
    with httpx.Client(base_url=live_server.url, transport=httpx.HTTPTransport(local_address="127.0.0.3")) as client:
        codes = [client.post(f"{ADMIN}/login", json=WRONG).json()["error"]["code"] for _ in range(3)]
    assert codes == ["bad_password", "too_many_logins", "too_many_logins"], codes


def test_wrong_current_passwords_on_the_change_endpoint_share_the_login_limit(live_server: LiveServer) -> None:
    _, cookie, csrf = login(live_server)
    url = f"{live_server.url}{ADMIN}/password"
    change = {"current": "wrong guess", "new": "another long password"}
    auth = {"cookies": {COOKIE: cookie}, "headers": {"X-CSRF-Token": csrf}}
    for _ in range(5):
        assert_error(httpx.post(url, json=change, **auth), 403, "bad_password")
    answer = httpx.post(url, json={**change, "current": ADMIN_PASSWORD}, **auth)
    assert_error(answer, 429, "too_many_logins")
    assert 1 <= int(answer.headers["retry-after"]) <= 60
    assert_error(httpx.post(f"{live_server.url}{ADMIN}/login", json={"password": ADMIN_PASSWORD}), 429)
    assert httpx.get(f"{live_server.url}{ADMIN}/devices", cookies={COOKIE: cookie}).status_code == 200
    with httpx.Client(base_url=live_server.url, transport=httpx.HTTPTransport(local_address=OWNER_ADDRESS)) as other:
        assert other.post(f"{ADMIN}/login", json={"password": ADMIN_PASSWORD}).status_code == 200  # unchanged
