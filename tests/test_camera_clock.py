"""The camera against the appliance's word: its clock checked, its lost seq record recovered."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone

import pytest

from storewatch import contract
from storewatch.camera.client import CameraClient
from storewatch.camera.clock import ClockWatch, WatchedHttp, clock_offset_s
from storewatch.camera.sources.simulated import SimulatedShelf
from storewatch.camera.spool import PendingFrame
from support.frames import make_jpeg

LOGGER = "storewatch.camera"


def test_the_offset_is_taken_at_the_middle_of_the_round_trip() -> None:
    assert clock_offset_s("2026-11-24T05:47:30.000Z", 1795499240.0, 1795499252.0) == pytest.approx(
        1795499246.0 - contract.parse_timestamp("2026-11-24T05:47:30Z").timestamp())
    now = time.time()
    assert clock_offset_s(contract.format_timestamp(contract.utc_now()), now - 1, now + 1) == pytest.approx(0, abs=1)


def test_a_clock_a_minute_off_warns_once_and_says_when_it_is_back(caplog) -> None:
    watch = ClockWatch()
    now = 1795499240.0
    server = {"server_time": contract.format_timestamp(datetime.fromtimestamp(now, timezone.utc))}
    with caplog.at_level(logging.INFO, LOGGER):
        watch.observe(server, now + 59, now + 59)
        assert caplog.records == []
        watch.observe(server, now - 120, now - 119)
        watch.observe(server, now - 121, now - 120)
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "120 s behind" in warnings[0].getMessage()
        watch.observe(server, now, now)
        assert caplog.records[-1].levelno == logging.INFO and "again" in caplog.records[-1].getMessage()
    watch.observe({"config_version": "c1"}, now, now)  # an answer without server_time changes nothing
    assert watch.offset_s == 0


def _frame(device_id: str, seq: int) -> PendingFrame:
    meta = {"device_id": device_id, "capture_ts": contract.format_timestamp(contract.utc_now()), "seq": seq,
            "width": 64, "height": 48, "jpeg_quality": 85}
    return PendingFrame(seq, meta, make_jpeg())


@pytest.mark.parametrize("auth", ["bearer", "hmac"])
def test_the_config_and_heartbeat_answers_reach_the_clock_watch(live_server, caplog, auth) -> None:
    device_id, token = live_server.add_device(f"watched {auth}", auth)
    watch = ClockWatch(wall=lambda: time.time() + 300)  # this camera's clock runs five minutes ahead
    moved: list[int] = []
    http = WatchedHttp(live_server.url, device_id, token, auth, clock=watch, on_last_seq=moved.append)
    try:
        with caplog.at_level(logging.WARNING, LOGGER):
            assert http.get_config().status == 200
        assert watch.offset_s == pytest.approx(300, abs=5) and "ahead of" in caplog.text
        watch.offset_s = None
        beat = {"device_id": device_id, "ts": contract.format_timestamp(contract.utc_now())}
        assert http.post_heartbeat(beat).status == 200 and watch.offset_s == pytest.approx(300, abs=5)
        assert moved == []  # no frame stored yet: last_seq is null
        assert http.post_frame(_frame(device_id, 5)).status == 201
        http.get_config()
        assert moved == [5]
    finally:
        http.close()


def test_a_camera_that_lost_its_seq_record_goes_on_above_the_appliances_last_seq(live_server, tmp_path) -> None:
    device_id, token = live_server.add_device("wiped")
    held = 10**15  # above any clock-based first seq, as a wiped card's fresh counter would start
    meta = contract.encode_meta(_frame(device_id, held).meta)
    answer = live_server.post(contract.INGEST_FRAME_PATH, headers={"Authorization": f"Bearer {token}"},
                              files={"meta": (None, meta, "application/json"),
                                     "image": ("f.jpg", make_jpeg(), "image/jpeg")})
    assert answer.status_code == 201, answer.text
    client = CameraClient(live_server.url, device_id, token, SimulatedShelf(), tmp_path / "spool", tmp_path / "state")
    assert client.seqs.fresh
    client.start()
    try:
        deadline = time.monotonic() + 30
        while client.uploader.stats.uploaded < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        client.stop(5)
    assert client.uploader.stats.uploaded >= 1 and not client.uploader.stats.rejected
    assert client.uploader.stats.last_uploaded_seq > held
