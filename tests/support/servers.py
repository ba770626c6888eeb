"""Servers for tests: `storewatch run` in a subprocess, a real uvicorn in a thread, or the app
in this process behind httpx.ASGITransport.

Which one: a test about sockets (raw HTTP, slow or hostile clients, the ESP32's requests),
crashes, signals, the browser, or what `storewatch run` starts (worker, services) uses the
live server; a test of what the API answers (the contract, the admin API) uses an AppClient:
the same app, the same real SQLite file, no port and no process start.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio.from_thread
import httpx

from storewatch.appliance import Appliance
from support import ADMIN_PASSWORD, REPO


# httpx builds a TLS context from certifi's bundle for every Client it makes (~30 ms, more under
# load); these servers speak plain HTTP on 127.0.0.1, so their clients share one context.
PLAIN_HTTP = ssl.create_default_context()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare_data_dir(data_dir: Path) -> None:
    """Set the known admin password so tests can log in."""
    opened = Appliance(data_dir)
    try:
        if not opened.admins.check_password(ADMIN_PASSWORD):
            opened.admins.set_password(ADMIN_PASSWORD)
    finally:
        opened.close()


def log_in(client: httpx.Client) -> httpx.Client:
    """Log `client` in as the admin and make it send the CSRF header."""
    answer = client.post("/api/v1/admin/login", json={"password": ADMIN_PASSWORD})
    answer.raise_for_status()
    client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
    return client


def add_device(client: httpx.Client, name: str, auth_scheme: str = "bearer") -> tuple[str, str]:
    """Register a device through the admin API with a logged-in client: (device_id, token)."""
    answer = client.post("/api/v1/admin/devices", json={"name": name, "auth_scheme": auth_scheme})
    answer.raise_for_status()
    body = answer.json()
    return body["device_id"], body["token"]


class Requests:
    """What a test asks a server, whichever server it is: a subclass gives `client()`."""

    def client(self, **kwargs: object) -> httpx.Client:
        raise NotImplementedError

    def request(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        """One request with no session (a fresh client: no cookies kept but those given), as
        httpx.request."""
        cookies = kwargs.pop("cookies", None)
        with self.client(cookies=cookies) as client:
            return client.request(method, path, **kwargs)  # type: ignore[arg-type]

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def head(self, path: str, **kwargs: object) -> httpx.Response:
        return self.request("HEAD", path, **kwargs)

    def post(self, path: str, **kwargs: object) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: object) -> httpx.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: object) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def add_device(self, name: str, auth_scheme: str = "bearer") -> tuple[str, str]:
        """Register a device through the admin API: (device_id, token)."""
        with self.admin_client() as admin:
            return add_device(admin, name, auth_scheme)

    @contextlib.contextmanager
    def admin_client(self) -> Iterator[httpx.Client]:
        """A client logged in as the admin, sending the CSRF header."""
        with self.client() as client:
            yield log_in(client)


# --- `storewatch run` in a subprocess ----------------------------------------------------------


@dataclass
class LiveServer(Requests):
    """`storewatch run` in a subprocess, as a user would start it."""

    data_dir: Path
    port: int
    extra_args: list[str] = field(default_factory=list)
    process: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        self.log_path = self.data_dir.parent / f"server-{self.port}.log"
        log = open(self.log_path, "ab")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "storewatch", "--data-dir", str(self.data_dir), "run",
             "--host", "127.0.0.1", "--port", str(self.port), *self.extra_args],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"storewatch run exited early:\n{self.log()}")
            try:
                httpx.get(f"{self.url}/api/v1/device/config", timeout=1.0, verify=PLAIN_HTTP)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"storewatch run did not answer within {timeout} s:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def client(self, **kwargs: object) -> httpx.Client:
        """A plain client on the server (no session); close it, or use it in a `with`."""
        options = {"timeout": 10.0, "verify": PLAIN_HTTP, **kwargs}
        return httpx.Client(base_url=self.url, **options)  # type: ignore[arg-type]


def start_live_server(data_dir: Path, extra_args: list[str] | None = None) -> LiveServer:
    prepare_data_dir(data_dir)
    server = LiveServer(data_dir=data_dir, port=free_port(), extra_args=extra_args or ["--camera", "none"])
    server.start()
    return server


# --- a real uvicorn in this process --------------------------------------------------------------


@contextlib.contextmanager
def in_process_server(appliance: Appliance) -> Iterator[tuple[str, object]]:
    """A real uvicorn in this process, for tests that flip the app's state or break the disk
    under it; yields the base URL and the Starlette app."""
    import uvicorn

    from storewatch.server.app import create_app

    app = create_app(appliance)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(10)


# --- the app in this process, no socket ----------------------------------------------------------

APP_URL = "http://127.0.0.1"  # what the app sees as its host; no socket is opened


class _AsyncChunks(httpx.AsyncByteStream):
    """A sync request body (a generator a test streams) handed to the app chunk by chunk."""

    def __init__(self, chunks: httpx.SyncByteStream) -> None:
        self._chunks = chunks

    async def __aiter__(self):  # type: ignore[override]
        for chunk in self._chunks:
            yield chunk


class _PortalTransport(httpx.BaseTransport):
    """A sync httpx transport that hands each request to httpx.ASGITransport on the event loop
    of an anyio blocking portal (one thread, where the app's lifespan also runs)."""

    def __init__(self, portal: anyio.from_thread.BlockingPortal, app: object) -> None:
        self._portal = portal
        # An error the app does not handle is a 500 answer, as uvicorn gives it, not a raise.
        self._asgi = httpx.ASGITransport(app=app, raise_app_exceptions=False,  # type: ignore[arg-type]
                                         client=("127.0.0.1", 40000))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(request.stream, httpx.AsyncByteStream):
            request.stream = _AsyncChunks(request.stream)  # type: ignore[arg-type]

        async def send() -> tuple[int, httpx.Headers, bytes]:
            response = await self._asgi.handle_async_request(request)
            return response.status_code, response.headers, await response.aread()

        status, headers, body = self._portal.call(send)
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(body), request=request)


@dataclass
class AppClient(Requests):
    """create_app(appliance) served in this process, with its lifespan: what an admin or
    contract test asks through `client()` / `admin_client()` goes through the whole app
    (middleware, routes, error handlers) onto the appliance's real SQLite file."""

    appliance: Appliance
    app: object
    portal: anyio.from_thread.BlockingPortal

    @property
    def data_dir(self) -> Path:
        return self.appliance.data_dir

    url = APP_URL

    def add_device(self, name: str, auth_scheme: str = "bearer") -> tuple[str, str]:
        """Register a device on the appliance, as the admin API's POST does (devices.add), without
        the admin login and its scrypt (~70 ms a test)."""
        return self.appliance.devices.add(name, None, auth_scheme)

    def client(self, **kwargs: object) -> httpx.Client:
        """A plain client (no session); close it, or use it in a `with`."""
        return httpx.Client(transport=_PortalTransport(self.portal, self.app), base_url=APP_URL,
                            **{"timeout": 10.0, **kwargs})  # type: ignore[arg-type]


@contextlib.contextmanager
def app_client(appliance: Appliance) -> Iterator[AppClient]:
    """The appliance's app in this process, started (lifespan) and stopped around the block."""
    from storewatch.server.app import create_app

    if not appliance.admins.check_password(ADMIN_PASSWORD):
        appliance.admins.set_password(ADMIN_PASSWORD)
    app = create_app(appliance)
    with anyio.from_thread.start_blocking_portal() as portal:
        with portal.wrap_async_context_manager(app.router.lifespan_context(app)):
            yield AppClient(appliance, app, portal)
