"""The data directory's secrets on disk: storewatch.db, huey.db (with their -wal and -shm)
and appliance.key are owner-only (0600) after a real `storewatch run`, and a looser mode
left by an older version or a careless copy is put right at the next start."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from storewatch import contract
from support.frames import make_jpeg
from support.servers import LiveServer, start_live_server

SECRET_FILES = ["storewatch.db", "storewatch.db-wal", "storewatch.db-shm",
                "huey.db", "huey.db-wal", "huey.db-shm", "appliance.key"]


@pytest.fixture
def open_umask() -> Iterator[None]:
    """022, the usual umask: the server (a child) inherits it, as under systemd."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _modes(data_dir: Path) -> dict[str, int]:
    """The mode of each secret file that is there (a WAL may be folded away as it is read)."""
    found = {}
    for name in SECRET_FILES:
        try:
            found[name] = stat.S_IMODE((data_dir / name).stat().st_mode)
        except FileNotFoundError:
            continue
    return found


def _store_a_frame(server: LiveServer) -> None:
    device_id, token = server.add_device("mode cam")
    meta = {"device_id": device_id, "capture_ts": contract.format_timestamp(contract.utc_now()), "seq": 1,
            "width": 64, "height": 48, "jpeg_quality": 85}
    answer = server.post(contract.INGEST_FRAME_PATH, headers={"Authorization": f"Bearer {token}"},
                         files={"meta": (None, contract.encode_meta(meta), "application/json"),
                               "image": ("f.jpg", make_jpeg(64, 48), "image/jpeg")}, timeout=10)
    assert answer.status_code == 201, answer.text


def test_a_running_appliance_keeps_its_database_queue_and_key_owner_only(data_dir: Path, open_umask: None) -> None:
    server = start_live_server(data_dir, ["--camera", "none"])
    try:
        _store_a_frame(server)  # the queue's file and both WALs exist once a job went through Huey
        assert _modes(data_dir) == {name: 0o600 for name in SECRET_FILES}
    finally:
        server.stop()


def test_looser_modes_are_put_right_at_the_next_start(data_dir: Path, open_umask: None) -> None:
    server = start_live_server(data_dir, ["--camera", "none"])
    try:
        _store_a_frame(server)
    finally:
        server.stop()
    for name in SECRET_FILES:
        path = data_dir / name
        path.touch()  # a clean stop may have folded a WAL away: recreate it, as a crash leaves it
        os.chmod(path, 0o644)
    server = start_live_server(data_dir, ["--camera", "none"])
    try:
        server.get("/api/v1/openapi.json").raise_for_status()
        # SQLite may fold a WAL (and its SHM) away as a connection closes: one that is gone leaks
        # nothing, and SQLite makes a new one with its database's mode; every one there is 0600
        modes = _modes(data_dir)
        assert {"storewatch.db", "huey.db", "appliance.key"} <= set(modes), modes
        assert modes == dict.fromkeys(modes, 0o600), modes
    finally:
        server.stop()
