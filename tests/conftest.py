"""Shared fixtures: a data directory, an opened appliance, and a real server on 127.0.0.1."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from storewatch import contract
from storewatch.appliance import Appliance

REPO = Path(__file__).resolve().parents[1]
ADMIN_PASSWORD = "correct horse battery"
ARTIFACTS = REPO / "test-artifacts"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def in_process_server(appliance: Appliance) -> Iterator[tuple[str, object]]:
    """A real uvicorn in this process, for tests that flip the app's state or break the disk
    under it; yields the base URL and the Starlette app."""
    import threading

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


def make_jpeg(width: int = 64, height: int = 48, quality: int = 85, seed: int = 0) -> bytes:
    """A real JPEG with some texture, different for every seed."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, size=(max(1, height // 8), max(1, width // 8), 3), dtype=np.uint8)
    image = Image.fromarray(pixels).resize((width, height), Image.NEAREST)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def capture_ts(seconds_ago: float = 0.0) -> str:
    """An RFC 3339 capture time `seconds_ago` before now (negative: ahead of now).

    Ingest refuses a capture_ts older than 30 days, so a frame a test POSTs must carry a
    time relative to now, never a fixed date that goes stale.
    """
    return contract.format_timestamp(contract.utc_now() - timedelta(seconds=seconds_ago))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def appliance(data_dir: Path) -> Iterator[Appliance]:
    opened = Appliance(data_dir)
    yield opened
    opened.close()


@dataclass
class LiveServer:
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
                httpx.get(f"{self.url}/api/v1/device/config", timeout=1.0)
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

    def add_device(self, name: str, auth_scheme: str = "bearer") -> tuple[str, str]:
        """Register a device through the admin API: (device_id, token)."""
        with self.admin_client() as admin:
            answer = admin.post("/api/v1/admin/devices", json={"name": name, "auth_scheme": auth_scheme})
            answer.raise_for_status()
            body = answer.json()
        return body["device_id"], body["token"]

    @contextlib.contextmanager
    def admin_client(self) -> Iterator[httpx.Client]:
        """An httpx client logged in as the admin, sending the CSRF header."""
        with httpx.Client(base_url=self.url, timeout=10.0) as client:
            answer = client.post("/api/v1/admin/login", json={"password": ADMIN_PASSWORD})
            answer.raise_for_status()
            client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
            yield client


def prepare_data_dir(data_dir: Path) -> None:
    """Set the known admin password so tests can log in."""
    opened = Appliance(data_dir)
    try:
        if not opened.admins.check_password(ADMIN_PASSWORD):
            opened.admins.set_password(ADMIN_PASSWORD)
    finally:
        opened.close()


def start_live_server(data_dir: Path, extra_args: list[str] | None = None) -> LiveServer:
    prepare_data_dir(data_dir)
    server = LiveServer(data_dir=data_dir, port=free_port(), extra_args=extra_args or ["--camera", "none"])
    server.start()
    return server


@pytest.fixture
def live_server(data_dir: Path) -> Iterator[LiveServer]:
    server = start_live_server(data_dir)
    yield server
    server.stop()


@pytest.fixture
def device(live_server: LiveServer) -> tuple[str, str]:
    """A registered device on the live server: (device_id, token)."""
    return live_server.add_device("test cam")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One live server shared by the tests of a module, for tests that only add to it."""
    data_dir = tmp_path_factory.mktemp("module-server") / "data"
    data_dir.mkdir()
    started = start_live_server(data_dir)
    yield started
    started.stop()


@pytest.fixture(scope="module")
def admin(server: LiveServer) -> Iterator[httpx.Client]:
    """An admin session on the module's shared server."""
    with server.admin_client() as client:
        yield client
