"""The shared fixtures: a data directory, an opened appliance, its app in this process, and a
real `storewatch run` on 127.0.0.1. What they are built from lives in tests/support/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from storewatch.appliance import Appliance
from support.mosquitto import MOSQUITTO, PASSWD, Mosquitto
from support.notify import Receiver
from support.servers import AppClient, LiveServer, app_client, start_live_server


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every browser test (it asks for the `browser` fixture of tests/support/browser.py) is
    slow: `scripts/test --fast` (-m "not slow") leaves it out. Other slow suites say so with
    `pytestmark = pytest.mark.slow`."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


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


@pytest.fixture
def app(appliance: Appliance) -> Iterator[AppClient]:
    """The appliance's app in this process (httpx.ASGITransport: no socket, no subprocess)."""
    with app_client(appliance) as served:
        yield served


@pytest.fixture(scope="module")
def module_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppClient]:
    """One in-process app on one appliance shared by the tests of a module."""
    opened = Appliance(tmp_path_factory.mktemp("module-app") / "data")
    try:
        with app_client(opened) as served:
            yield served
    finally:
        opened.close()


@pytest.fixture(scope="module")
def module_admin(module_app: AppClient) -> Iterator[httpx.Client]:
    """An admin session on the module's shared in-process app."""
    with module_app.admin_client() as client:
        yield client


@pytest.fixture
def app_admin(app: AppClient) -> Iterator[httpx.Client]:
    """An admin session (logged in, CSRF header) on the in-process app of `appliance`."""
    with app.admin_client() as client:
        yield client


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on 127.0.0.1 (tests/support/notify.py) that records what it gets."""
    started = Receiver()
    yield started
    started.close()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """Debian's mosquitto on 127.0.0.1 with a free port (tests/support/mosquitto.py)."""
    if not (MOSQUITTO and PASSWD):
        pytest.skip("Debian's mosquitto is not installed (scripts/test installs it: apt-get install mosquitto)")
    started = Mosquitto(tmp_path)
    yield started
    started.stop()


@pytest.fixture
def app_device(app: AppClient) -> tuple[str, str]:
    """A registered device on the in-process app: (device_id, token)."""
    return app.add_device("test cam")
