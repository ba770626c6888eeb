"""The camera client against the real appliance through a TCP proxy that fails on command.

The client (CameraClient, in this process) talks to a real `storewatch run` through a
proxy on 127.0.0.1 that cuts connections mid-request, stalls them past the client's
timeout, or stops listening (connection refused); the server is also killed and
restarted, and the client itself is restarted from its spool. Whatever happens, every
captured frame reaches the server exactly once, with its bytes, in capture order; drops
happen only past the spool limit and are counted exactly, by the client and in its
heartbeat on the server.
"""

from __future__ import annotations

import hashlib
import json
import signal
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from support.frames import make_jpeg
from support.servers import LiveServer, free_port, prepare_data_dir
from support.reliability import TcpProxy, open_db
from storewatch.appliance import Appliance
from storewatch.camera.client import CameraClient
from storewatch.camera.sources.base import CapturedFrame, FrameSource, SourceExhaustedError
from storewatch.camera.uploader import Backoff
from support.waiting import wait_for

pytestmark = pytest.mark.slow  # the camera client through a faulty TCP proxy, for many seconds: scripts/test --fast leaves it out

DEVICE = "faulty-cam"
SIZE = (160, 120)
SETTINGS = {"baseline_interval_s": 0.1, "heartbeat_interval_s": 5, "config_poll_interval_s": 2,
            "motion_trigger_enabled": False, "width": SIZE[0], "height": SIZE[1]}


class CountedSource(FrameSource):
    """`count` distinct small JPEGs, then exhausted; keeps every frame it handed out."""

    name = "counted"

    def __init__(self, count: int):
        self.count = count
        self.jpegs: list[bytes] = []
        self._lock = threading.Lock()

    def open(self, width: int, height: int, jpeg_quality: int) -> None:
        pass

    def capture(self) -> CapturedFrame:
        with self._lock:
            if len(self.jpegs) >= self.count:
                raise SourceExhaustedError(f"all {self.count} frames taken")
            jpeg = make_jpeg(*SIZE, seed=len(self.jpegs))
            self.jpegs.append(jpeg)
        return CapturedFrame(jpeg, *SIZE, datetime.now(timezone.utc))

    def close(self) -> None:
        pass


class Rig:
    """The server, the proxy in front of it, and the client's folders."""

    def __init__(self, tmp_path: Path):
        self.data_dir = tmp_path / "appliance"
        self.data_dir.mkdir()
        prepare_data_dir(self.data_dir)
        appliance = Appliance(self.data_dir)
        try:
            self.token = appliance.devices.add("faulty cam", DEVICE)[1]
            appliance.devices.update_settings(DEVICE, SETTINGS)
        finally:
            appliance.close()
        self.server = LiveServer(self.data_dir, free_port(), ["--camera", "none"])
        self.server.start()
        self.proxy = TcpProxy(self.server.port)
        self.proxy.up()
        self.camera_dir = tmp_path / "camera"
        self.clients: list[CameraClient] = []

    def client(self, source: FrameSource, **options: object) -> CameraClient:
        client = CameraClient(self.proxy.url, DEVICE, self.token, source, self.camera_dir / "spool",
                              self.camera_dir, backoff=Backoff(base_s=0.05, cap_s=0.4), http_timeout_s=1.0,
                              **options)
        client.start()
        self.clients.append(client)
        return client

    def stored(self) -> list[dict]:
        db = open_db(self.data_dir)
        try:
            return db.query("SELECT id, seq, sha256 FROM captures WHERE device_id = ? ORDER BY id", (DEVICE,))
        finally:
            db.close()

    def health(self) -> dict:
        db = open_db(self.data_dir)
        try:
            return json.loads(db.scalar("SELECT health FROM devices WHERE id = ?", (DEVICE,)))
        finally:
            db.close()

    def close(self) -> None:
        for client in self.clients:
            client.stop(5)
        self.proxy.close()
        self.server.stop()


@pytest.fixture
def rig(tmp_path: Path):
    made = Rig(tmp_path)
    yield made
    made.close()


def wait_all_sent(client: CameraClient, source: CountedSource, timeout: float) -> None:
    wait_for(lambda: len(source.jpegs) == source.count and client.spool.stats().frames == 0, timeout,
               "every frame captured and the spool empty")


def wait_heartbeat(rig: Rig, client: CameraClient, dropped: int) -> dict:
    """The server's copy of the client's health, once it reports the drained spool.

    One heartbeat is sent now rather than waited for: a client that started offline keeps
    the default 60 s heartbeat interval until its next beat, even after fetching 5 s.
    """
    wanted = client.seqs.last_issued
    client.control.send_heartbeat()
    wait_for(lambda: (rig.health().get("last_seq"), rig.health().get("spool_frames"),
                        rig.health().get("dropped_frames")) == (wanted, 0, dropped), 15,
               f"a heartbeat with last_seq {wanted}, an empty spool and {dropped} dropped")
    return rig.health()


def check_arrivals(rows: list[dict], source: CountedSource) -> None:
    """Arrival order is seq order, and each stored frame is the captured one."""
    seqs = [row["seq"] for row in rows]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), "frames arrived out of seq order"
    captured = {hashlib.sha256(jpeg).hexdigest(): i for i, jpeg in enumerate(source.jpegs)}
    order = [captured.get(row["sha256"]) for row in rows]
    assert None not in order, "the server holds bytes the camera never captured"
    assert order == sorted(order), "stored frames are not in capture order"


@pytest.mark.timeout(150)
def test_nothing_is_lost_through_cuts_stalls_refusals_and_restarts(rig: Rig) -> None:
    source = CountedSource(260)  # 26 s at 10 frames/s
    client = rig.client(source)
    time.sleep(2.0)
    for _ in range(10):  # connections reset mid-request
        rig.proxy.cut()
        time.sleep(0.3)
    time.sleep(1.0)
    rig.proxy.stall(True)  # the link hangs: every request times out
    time.sleep(3.0)
    rig.proxy.stall(False)
    time.sleep(1.5)
    rig.proxy.down()  # nothing listens: connection refused
    time.sleep(1.5)
    client.stop(5)  # the camera restarts while offline; its spool holds the backlog
    spooled = client.spool.stats().disk_frames
    client = rig.client(source)
    time.sleep(1.5)
    rig.proxy.up()
    time.sleep(1.5)
    rig.server.stop(signal.SIGKILL)  # the appliance crashes and comes back
    rig.server.start()
    time.sleep(1.5)
    rig.server.stop(signal.SIGTERM)  # a clean restart: 503 while it drains
    rig.server.start()
    wait_all_sent(client, source, 60)

    rows = rig.stored()
    first, second = rig.clients[0].stats(), client.stats()
    print(f"first client {first}\nsecond client {second}\n{spooled} frames spooled across the client restart, "
          f"{rig.proxy.connections} proxied connections")
    assert len(rows) == len(source.jpegs) == source.count, "frames were lost or stored twice"
    check_arrivals(rows, source)
    assert first["dropped_frames"] == second["dropped_frames"] == 0
    assert first["rejected"] == second["rejected"] == 0
    assert first["uploaded"] + second["uploaded"] == source.count
    assert first["retries"] + second["retries"] > 0 and spooled > 0, "the faults never touched the client"
    assert rows[-1]["seq"] == client.seqs.last_issued
    health = wait_heartbeat(rig, client, 0)
    assert health["spool_bytes"] == 0


@pytest.mark.timeout(120)
def test_a_long_outage_drops_only_past_the_spool_limit_and_counts_each_drop(rig: Rig) -> None:
    source = CountedSource(100)
    client = rig.client(source, spool_max_frames=25)
    time.sleep(2.0)
    rig.proxy.down()
    wait_for(lambda: client.spool.stats().dropped >= 20, 20, "the spool to overflow")
    rig.proxy.up()
    wait_all_sent(client, source, 40)

    rows = rig.stored()
    stats = client.stats()
    print(f"client {stats}")
    dropped = stats["dropped_frames"]
    assert dropped >= 20
    assert len(rows) + dropped == source.count == stats["captured"], "a frame is neither stored nor counted"
    check_arrivals(rows, source)
    captured = [hashlib.sha256(jpeg).hexdigest() for jpeg in source.jpegs]
    stored = {row["sha256"] for row in rows}
    missing = [i for i, digest in enumerate(captured) if digest not in stored]
    assert missing == list(range(missing[0], missing[0] + dropped)), "drops must be the oldest waiting frames"
    assert wait_heartbeat(rig, client, dropped)["dropped_frames"] == dropped
