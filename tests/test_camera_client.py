"""The camera client against a small contract server on a real uvicorn at 127.0.0.1.

The server here implements just enough of the contract (auth, status codes, config ETag)
to script failures: 4xx drop, 5xx/timeout retry, 507 keep with Retry-After, config
switching, server down then up. Every loop is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import io
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import uvicorn
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from support.servers import free_port
from storewatch import contract
from storewatch.camera.client import CameraClient, CameraClientError, camera_error, next_step_hint
from storewatch.camera.sources.base import CameraError, CapturedFrame, FrameSource, NoCameraError
from storewatch.camera.uploader import Backoff
from support.waiting import wait_for

TOKEN = "test-token-0123456789"
DEVICE = "cam-1"


# --- a scriptable contract server -------------------------------------------------------


@dataclass
class Script:
    config: dict[str, Any]
    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # next ingest answers
    delays: list[float] = field(default_factory=list)  # next ingest delays
    frames: list[dict[str, Any]] = field(default_factory=list)  # every POST, accepted or not
    stored: dict[int, bytes] = field(default_factory=dict)
    heartbeats: list[dict[str, Any]] = field(default_factory=list)
    config_gets: list[int] = field(default_factory=list)  # status of each GET
    answer_version: str | None = None  # config_version reported in ingest answers


def base_config(**changes: Any) -> dict[str, Any]:
    config = {"device_id": DEVICE, "config_version": "c1", "mode": "baseline", "mode_until": None,
              "baseline_interval_s": 0.1, "burst_interval_s": 0.05, "burst_hold_s": 5,
              "jpeg_quality": 80, "width": 64, "height": 48, "config_poll_interval_s": 60,
              "heartbeat_interval_s": 60, "motion_trigger": {"enabled": False}}
    config.update(changes)
    return config


def _authorized(request: Request, body: bytes) -> bool:
    if "x-signature" in request.headers:
        h = request.headers
        expected = contract.sign(TOKEN, request.method, request.url.path, h["x-timestamp"], h["x-nonce"], body)
        return expected == h["x-signature"] and h["x-device-id"] == DEVICE
    return request.headers.get("authorization") == f"Bearer {TOKEN}"


def make_app(script: Script) -> Starlette:
    def error(status: int, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse(contract.error_body("scripted", f"scripted {status}"), status, headers)

    async def ingest(request: Request) -> Response:
        body = await request.body()
        if not _authorized(request, body):
            return error(401)
        form = await request.form()
        meta = contract.validate_frame_meta(__import__("json").loads(form["meta"]))
        image = form["image"]
        jpeg = await image.read()
        script.frames.append({"meta": meta, "content_type": image.content_type, "jpeg": jpeg,
                              "at": time.monotonic(), "hmac": "x-signature" in request.headers})
        if script.delays:
            await asyncio.sleep(script.delays.pop(0))
        if script.answers:
            status, headers = script.answers.pop(0)
            return error(status, headers)
        duplicate = meta["seq"] in script.stored
        script.stored.setdefault(meta["seq"], jpeg)
        return JSONResponse({"capture_id": len(script.stored), "device_id": DEVICE, "seq": meta["seq"],
                             "duplicate": duplicate, "mode": script.config["mode"],
                             "config_version": script.answer_version or script.config["config_version"]},
                            200 if duplicate else 201)

    async def config(request: Request) -> Response:
        if not _authorized(request, b""):
            return error(401)
        etag = f'"{script.config["config_version"]}"'
        if request.headers.get("if-none-match") == etag:
            script.config_gets.append(304)
            return Response(status_code=304, headers={"ETag": etag})
        script.config_gets.append(200)
        return JSONResponse(script.config, headers={"ETag": etag})

    async def heartbeat(request: Request) -> Response:
        body = await request.body()
        if not _authorized(request, body):
            return error(401)
        script.heartbeats.append(contract.validate_heartbeat(__import__("json").loads(body)))
        return JSONResponse({"config_version": script.config["config_version"], "mode": script.config["mode"]})

    return Starlette(routes=[Route(contract.INGEST_FRAME_PATH, ingest, methods=["POST"]),
                             Route(contract.DEVICE_CONFIG_PATH, config, methods=["GET"]),
                             Route(contract.HEARTBEAT_PATH, heartbeat, methods=["POST"])])


class ThreadedServer:
    def __init__(self, script: Script, port: int) -> None:
        self.script, self.port = script, port
        self.server = uvicorn.Server(uvicorn.Config(make_app(script), host="127.0.0.1", port=port,
                                                    log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "ThreadedServer":
        self.thread.start()
        wait_for(lambda: self.server.started, 10, step=0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def script() -> Script:
    return Script(base_config())


@pytest.fixture
def server(script: Script):
    running = ThreadedServer(script, free_port()).start()
    yield running
    running.stop()


# --- a controllable frame source ----------------------------------------------------------


class FakeSource(FrameSource):
    name = "fake"

    def __init__(self, fail_after: int | None = None) -> None:
        self.fail_after = fail_after
        self.size = (0, 0)
        self.quality = 0
        self.captures = self.looks = 0
        self.scene = 0  # change it to make "motion"
        self.reconfigured: list[tuple[int, int, int]] = []

    def open(self, width: int, height: int, jpeg_quality: int) -> None:
        self.size, self.quality = (width, height), jpeg_quality

    def reconfigure(self, width: int, height: int, jpeg_quality: int) -> None:
        self.reconfigured.append((width, height, jpeg_quality))
        self.open(width, height, jpeg_quality)

    def _gray(self) -> np.ndarray:
        return np.full((24, 32), 40 + 150 * (self.scene % 2), np.uint8)

    def capture(self) -> CapturedFrame:
        if self.fail_after is not None and self.captures >= self.fail_after:
            raise CameraError("the ribbon cable came loose")
        self.captures += 1
        buffer = io.BytesIO()
        Image.new("RGB", self.size, (self.captures % 255, 80, 120)).save(buffer, format="JPEG", quality=self.quality)
        return CapturedFrame(buffer.getvalue(), *self.size, datetime.now(timezone.utc), self._gray())

    def capture_lores(self) -> np.ndarray:
        self.looks += 1
        return self._gray()

    def close(self) -> None:
        pass


def make_client(url: str, tmp_path: Path, source: FrameSource | None = None, **options: Any) -> CameraClient:
    options.setdefault("backoff", Backoff(base_s=0.05, cap_s=0.2))
    return CameraClient(url, DEVICE, TOKEN, source or FakeSource(), tmp_path / "spool", tmp_path / "state",
                        **options)


@pytest.fixture
def running(tmp_path):
    started: list[CameraClient] = []

    def start(url: str, **options: Any) -> CameraClient:
        client = make_client(url, tmp_path, **options)
        client.start()
        started.append(client)
        return client

    yield start
    for client in started:
        client.stop(5)


def seqs_of(frames: list[dict[str, Any]]) -> list[int]:
    return [f["meta"]["seq"] for f in frames]


# --- the tests ---------------------------------------------------------------------------


def test_frames_arrive_in_order_with_meta_and_a_jpeg_part(server, script, running):
    client = running(server.url)
    wait_for(lambda: len(script.stored) >= 8, 10, step=0.02)
    frames = script.frames[:8]
    assert seqs_of(frames) == sorted(seqs_of(frames)) and len(set(seqs_of(frames))) == 8
    meta = frames[0]["meta"]
    assert meta["device_id"] == DEVICE and (meta["width"], meta["height"]) == (64, 48)
    assert meta["jpeg_quality"] == 80 and meta["mode"] == "baseline"
    assert frames[0]["content_type"] == "image/jpeg"
    with Image.open(io.BytesIO(frames[0]["jpeg"])) as image:
        assert image.size == (64, 48)
    assert script.config_gets[0] == 200
    assert client.stats()["uploaded"] >= 8 and client.stats()["rejected"] == 0


def test_hmac_requests_are_signed_at_send_time(server, script, running):
    running(server.url, auth="hmac")
    wait_for(lambda: len(script.stored) >= 3, 10, step=0.02)
    assert all(f["hmac"] for f in script.frames) and script.config_gets[0] == 200


def test_a_4xx_answer_drops_the_frame_and_counts_it(server, script, running):
    script.answers = [(422, {})]
    client = running(server.url)
    wait_for(lambda: len(script.stored) >= 3, 10, step=0.02)
    refused = script.frames[0]["meta"]["seq"]
    assert refused not in script.stored
    assert seqs_of(script.frames).count(refused) == 1  # never sent again
    assert client.stats()["rejected_by_status"] == {422: 1}


def test_5xx_and_a_timeout_are_retried_with_the_same_frame(server, script, running):
    script.answers = [(500, {}), (503, {})]
    script.delays = [0, 0, 1.5]  # the third attempt outlives the client's 0.5 s timeout
    client = running(server.url, http_timeout_s=0.5)
    wait_for(lambda: len(script.stored) >= 3, 15, step=0.02)
    first = script.frames[0]["meta"]["seq"]
    assert seqs_of(script.frames)[:4] == [first] * 4  # 500, 503, timeout, stored
    assert min(script.stored) == first
    delivered = sorted(script.stored)
    assert delivered == sorted(set(seqs_of(script.frames)))
    assert client.stats()["retries"] >= 3


def test_507_keeps_the_frame_and_honours_retry_after(server, script, running):
    script.answers = [(507, {"Retry-After": "1"})]
    client = running(server.url)
    wait_for(lambda: len(script.stored) >= 2, 10, step=0.02)
    first, second = script.frames[0], script.frames[1]
    assert first["meta"]["seq"] == second["meta"]["seq"]
    assert second["at"] - first["at"] >= 0.95
    assert client.stats()["spool_disk_frames"] >= 0  # frames taken meanwhile went to disk


def test_a_config_change_applies_within_one_poll(server, script, running):
    script.config.update(config_poll_interval_s=1, baseline_interval_s=30)
    client = running(server.url)
    wait_for(lambda: len(script.stored) == 1, 5, step=0.02)
    script.config.update(config_version="c2", mode="burst", burst_hold_s=30)
    wait_for(lambda: len(script.stored) >= 6, 5, step=0.02)  # burst cadence: only possible after the switch
    assert client.stats()["mode"] == "burst"
    assert script.frames[-1]["meta"]["mode"] == "burst"
    assert 304 in script.config_gets or script.config_gets.count(200) == 2


def test_a_new_config_version_in_an_ingest_answer_is_fetched_at_once(server, script, running):
    client = running(server.url)
    wait_for(lambda: len(script.stored) >= 1, 5, step=0.02)
    script.config.update(config_version="c9", width=80, height=60, jpeg_quality=60)
    wait_for(lambda: client.stats()["config_version"] == "c9", 5, step=0.02)  # poll interval is 60 s
    wait_for(lambda: script.frames[-1]["meta"]["width"] == 80, 5, step=0.02)
    assert script.frames[-1]["meta"]["jpeg_quality"] == 60 and client.source.reconfigured == [(80, 60, 60)]


def test_server_down_then_up_every_frame_arrives_once_in_order(tmp_path, script):
    port = free_port()
    client = make_client(f"http://127.0.0.1:{port}", tmp_path, config=contract.DeviceConfig(**base_config()))
    client.start()
    try:
        wait_for(lambda: client.stats()["spool_disk_frames"] >= 10, 10, step=0.02)
        server = ThreadedServer(script, port).start()
        try:
            time.sleep(0.3)
            wait_for(lambda: client.stats()["spool_frames"] <= 1 and len(script.stored) >= 15, 15, step=0.02)
        finally:
            client.stop(5)
            server.stop()
    finally:
        client.stop(5)
    sent = seqs_of(script.frames)
    assert sent == sorted(sent) and len(sent) == len(set(sent))  # in order, each once
    assert sorted(script.stored) == sent
    leftover = client.stats()["spool_frames"]
    assert len(sent) + leftover == client.stats()["captured"]


def test_frames_spooled_before_a_restart_are_sent_first(tmp_path, script):
    port = free_port()
    first = make_client(f"http://127.0.0.1:{port}", tmp_path, config=contract.DeviceConfig(**base_config()))
    first.start()
    wait_for(lambda: first.stats()["spool_frames"] >= 5, 10, step=0.02)
    first.stop(5)
    left = first.stats()["spool_frames"]
    server = ThreadedServer(script, port).start()
    second = make_client(server.url, tmp_path)
    second.start()
    try:
        wait_for(lambda: len(script.stored) >= left + 5, 10, step=0.02)
    finally:
        second.stop(5)
        server.stop()
    sent = seqs_of(script.frames)
    assert sent == sorted(sent) and len(sent) == len(set(sent))
    assert sent[:left] == sorted(sent[:left]) and second.stats()["captured"] >= 5
    assert max(sent[:left]) < min(sent[left:])  # the old run's frames went first


def test_heartbeat_reports_health(server, script, running):
    script.config.update(heartbeat_interval_s=1)
    running(server.url)
    beat = wait_for(lambda: script.heartbeats and script.heartbeats[-1], 6, step=0.02)
    assert beat["device_id"] == DEVICE and beat["mode"] == "baseline"
    assert beat["last_seq"] >= 0 and beat["spool_frames"] >= 0 and beat["dropped_frames"] == 0
    assert beat["uptime_s"] > 0 and beat["disk_free_bytes"] > 0 and beat["fw_version"].startswith("storewatch")


def test_motion_in_the_rois_switches_to_burst_by_itself(server, script, running):
    script.config.update(baseline_interval_s=30, burst_hold_s=2,
                         motion_trigger={"enabled": True, "threshold": 0.02,
                                         "rois": [{"id": 1, "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]]}]})
    source = FakeSource()
    client = running(server.url, source=source, motion_check_interval_s=0.05)
    wait_for(lambda: len(script.stored) == 1 and source.looks >= 2, 5, step=0.02)
    assert client.stats()["mode"] == "baseline"
    source.scene += 1
    wait_for(lambda: len(script.stored) >= 5, 5, step=0.02)
    assert client.stats()["mode"] == "burst"
    assert script.frames[-1]["meta"]["mode"] == "burst"


def test_a_camera_failing_mid_run_makes_run_forever_raise(server, script, tmp_path):
    pets = []
    client = make_client(server.url, tmp_path, source=FakeSource(fail_after=3), watchdog=lambda: pets.append(1))
    client.start()
    stop = threading.Event()
    threading.Timer(10, stop.set).start()
    with pytest.raises(CameraClientError, match="ribbon cable") as raised:
        client.run_forever(stop)
    stop.set()
    assert client.stats()["captured"] == 3 and client.stats()["capture_failures"] == 3
    assert pets
    behind = camera_error(raised.value)  # the source's own error, with its next step
    assert isinstance(behind, CameraError) and str(behind) == "the ribbon cable came loose"
    assert next_step_hint(raised.value) == f" {CameraError.next_step}"


def test_the_camera_error_behind_a_failure_is_itself_or_the_one_the_client_raised_from() -> None:
    missing = NoCameraError("no camera is connected")
    assert camera_error(missing) is missing and next_step_hint(missing) == f" {NoCameraError.next_step}"
    try:
        raise CameraClientError("camera failed: no camera is connected") from missing
    except CameraClientError as exc:
        assert camera_error(exc) is missing and next_step_hint(exc) == f" {NoCameraError.next_step}"
    try:
        raise CameraClientError("camera failed: a bug") from KeyError("mode")
    except CameraClientError as exc:
        assert camera_error(exc) is None and next_step_hint(exc) == ""
    for other in (ValueError("width must be even"), RuntimeError("raised from a camera error")):
        other.__cause__ = missing  # only a CameraClientError carries one
        assert camera_error(other) is None and next_step_hint(other) == ""


def test_stop_keeps_unsent_frames_on_disk(tmp_path):
    port = free_port()
    client = make_client(f"http://127.0.0.1:{port}", tmp_path, config=contract.DeviceConfig(**base_config()))
    client.start()
    wait_for(lambda: client.stats()["captured"] >= 3, 5, step=0.02)
    client.stop(5)
    assert len(list((tmp_path / "spool").glob("*.frame"))) == client.stats()["spool_frames"] >= 3


def test_in_burst_the_capture_loop_sleeps_between_frames(server, script, running):
    """Regression: with the motion trigger on, burst once spun on a stale motion-look time."""
    script.config.update(mode="burst", burst_interval_s=0.5, burst_hold_s=30,
                         motion_trigger={"enabled": True, "threshold": 0.02,
                                         "rois": [{"id": 1, "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]]}]})
    turns: list[float] = []
    running(server.url, watchdog=lambda: turns.append(time.monotonic()), motion_check_interval_s=0.05)
    wait_for(lambda: len(script.stored) >= 2, 5, step=0.02)
    turns.clear()
    time.sleep(1.5)
    assert script.frames[-1]["meta"]["mode"] == "burst"
    assert len(turns) < 40, f"the capture loop turned {len(turns)} times in 1.5 s"


@pytest.mark.slow  # waits out the contract's shortest heartbeat interval (5 s)
def test_a_shorter_heartbeat_interval_applies_without_waiting_out_the_old_one(server, script, running):
    script.config.update(config_poll_interval_s=1)
    running(server.url)
    wait_for(lambda: len(script.heartbeats) == 1, 5, step=0.02)  # the first beat, then 60 s to the next
    # 5 s is the shortest interval the contract's config table allows (the camera refuses less).
    script.config.update(config_version="c2", heartbeat_interval_s=5)
    wait_for(lambda: len(script.heartbeats) >= 2, 9, step=0.02)
