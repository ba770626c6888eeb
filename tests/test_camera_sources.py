"""Frame sources: open_source's names, the simulated shelf, the folder replay."""

from __future__ import annotations

import io
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from storewatch.camera.sources import base as source_module
from storewatch.camera.sources.directory import DirectorySource
from storewatch.camera.sources.simulated import SimulatedShelf, slot_box
from storewatch.camera.sources.base import CameraError, FrameSource, SourceExhaustedError
from storewatch.camera.sources import make_source, open_source

T0 = datetime(2026, 11, 24, 5, 0, tzinfo=timezone.utc)


class FakeClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def at(self, seconds: float) -> None:
        self.now = T0 + timedelta(seconds=seconds)


def _jpeg_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG"
        return image.size


def test_open_source_rejects_an_unknown_name():
    with pytest.raises(ValueError, match="auto, picamera2, simulated, dir:PATH"):
        make_source("webcam")


def test_auto_off_a_pi_falls_back_to_the_simulated_shelf_and_says_why(monkeypatch, caplog, tmp_path):
    monkeypatch.setitem(sys.modules, "picamera2", None)  # import fails as if not installed
    caplog.set_level("INFO", logger="storewatch.camera")
    chosen = open_source("auto", 320, 240, 80, seed=3, clock=FakeClock(), board_model_file=tmp_path / "none")
    assert chosen.name == "simulated"
    assert "picamera2 not installed" in caplog.text and "simulated shelf" in caplog.text
    assert _jpeg_size(chosen.capture().jpeg) == (320, 240)


def test_dir_spec_names_a_directory_source(tmp_path):
    chosen = make_source(f"dir:{tmp_path}", loop=False, seed=4)
    assert isinstance(chosen, DirectorySource) and chosen.folder == tmp_path and chosen.loop is False


def test_every_source_implements_the_interface():
    for name in ("simulated", "picamera2"):
        assert isinstance(make_source(name), FrameSource)
    assert source_module.FrameSource.__abstractmethods__ == {"open", "capture", "close"}


def test_simulated_frame_has_the_requested_size_and_a_lores_grey_image():
    clock = FakeClock()
    shelf = open_source("simulated", 1640, 1232, 85, clock=clock)
    frame = shelf.capture()
    assert _jpeg_size(frame.jpeg) == (1640, 1232) == (frame.width, frame.height)
    assert frame.captured_at == T0
    assert frame.lores_gray.dtype == np.uint8 and frame.lores_gray.shape == (240, 320)


def test_simulated_is_deterministic_for_a_seed_and_clock():
    frames = []
    for _ in range(2):
        clock = FakeClock()
        shelf = open_source("simulated", 320, 240, 90, seed=7, clock=clock)
        clock.at(33.3)
        frames.append(shelf.capture().jpeg)
    assert frames[0] == frames[1]
    seeds = [SimulatedShelf(seed=seed, clock=FakeClock()) for seed in (7, 8)]
    for shelf in seeds:
        shelf.open(320, 240, 90)
    assert [e.start for e in seeds[0].events(300)] != [e.start for e in seeds[1].events(300)]


def test_simulated_events_come_every_20_to_60_s_and_last_2_to_6_s():
    shelf = SimulatedShelf(seed=5, clock=FakeClock())
    shelf.open(160, 120, 80)
    events = shelf.events(900)
    assert 8 <= events[0].start <= 20
    assert len(events) >= 10
    for before, after in zip(events, events[1:]):
        assert 20 <= after.start - (before.start + before.duration) <= 60
    assert all(2 <= e.duration <= 6 for e in events)
    assert {e.kind for e in events} >= {"take", "touch"}


def test_an_arm_enters_the_scene_and_a_taken_item_is_gone_afterwards():
    clock = FakeClock()
    shelf = SimulatedShelf(seed=2, clock=clock, noise=False)
    shelf.open(640, 480, 95)
    take = next(e for e in shelf.events(900) if e.kind == "take")
    left, top, right, bottom = slot_box((640, 480), take.slot, take.item.height)

    def grab(seconds: float) -> np.ndarray:
        clock.at(seconds)
        return np.asarray(shelf.render(seconds), dtype=np.int16)

    before, during, after = grab(take.start - 1), grab(take.start + take.duration / 2), grab(take.start + take.duration + 1)
    changed_during = np.abs(during - before).max(axis=2) > 40
    assert changed_during.mean() > 0.01  # the arm covers a visible part of the frame
    item_area = np.abs(after - before)[top:bottom, left:right].max(axis=2) > 40
    assert item_area.mean() > 0.5  # the slot is empty now
    elsewhere = np.abs(after - before).max(axis=2) > 40
    elsewhere[top:bottom, left:right] = False
    assert elsewhere.mean() < 0.001


def test_simulated_scene_follows_the_capture_clock():
    clock = FakeClock()
    shelf = SimulatedShelf(seed=2, clock=clock, noise=False)
    shelf.open(320, 240, 90)
    first = shelf.capture()
    clock.at(5000)
    later = shelf.capture()
    assert later.captured_at - first.captured_at == timedelta(seconds=5000)
    assert shelf.scene_time(later.captured_at) == 5000


def _write_jpegs(folder: Path, sizes: list[tuple[int, int]]) -> list[bytes]:
    blobs = []
    for n, size in enumerate(sizes):
        buffer = io.BytesIO()
        Image.new("RGB", size, (n * 40, 100, 100)).save(buffer, format="JPEG")
        (folder / f"frame-{n:03d}.jpg").write_bytes(buffer.getvalue())
        blobs.append(buffer.getvalue())
    (folder / "notes.txt").write_text("not a frame")
    return blobs


def test_directory_replays_in_name_order_with_each_files_size(tmp_path):
    blobs = _write_jpegs(tmp_path, [(64, 48), (80, 60), (32, 32)])
    replay = open_source(f"dir:{tmp_path}", 1640, 1232, 85, loop=False)
    frames = [replay.capture() for _ in range(3)]
    assert [f.jpeg for f in frames] == blobs
    assert [(f.width, f.height) for f in frames] == [(64, 48), (80, 60), (32, 32)]
    assert frames[0].lores_gray.shape == (240, 320)
    with pytest.raises(SourceExhaustedError):
        replay.capture()


def test_directory_loops_when_asked(tmp_path):
    blobs = _write_jpegs(tmp_path, [(40, 30), (40, 30)])
    replay = open_source(f"dir:{tmp_path}", loop=True)
    assert [replay.capture().jpeg for _ in range(5)] == [blobs[0], blobs[1], blobs[0], blobs[1], blobs[0]]


def test_directory_paces_at_its_rate(tmp_path):
    import time

    _write_jpegs(tmp_path, [(40, 30)] * 4)
    replay = open_source(f"dir:{tmp_path}", rate_hz=20.0)
    started = time.monotonic()
    for _ in range(4):
        replay.capture()
    assert time.monotonic() - started >= 3 / 20 - 0.01


def test_directory_errors_are_camera_errors(tmp_path):
    with pytest.raises(CameraError, match="no .jpg files"):
        open_source(f"dir:{tmp_path}")
    with pytest.raises(CameraError, match="not a folder"):
        open_source(f"dir:{tmp_path / 'missing'}")
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8garbage")
    replay = open_source(f"dir:{tmp_path}")
    with pytest.raises(CameraError, match="cannot be read"):
        replay.capture()


def test_the_board_is_a_raspberry_pi_by_its_device_tree_model(tmp_path):
    from storewatch.camera.board import raspberry_pi_model

    model = tmp_path / "model"
    model.write_bytes(b"Raspberry Pi 5 Model B Rev 1.0\0")
    assert raspberry_pi_model(model) == "Raspberry Pi 5 Model B Rev 1.0"
    model.write_bytes(b"Radxa ROCK 5B\0")
    assert raspberry_pi_model(model) is None
    assert raspberry_pi_model(tmp_path / "missing") is None


def test_auto_on_a_raspberry_pi_never_falls_back_to_the_simulated_shelf(tmp_path, monkeypatch, caplog):
    from storewatch.camera.sources.pi_camera import Picamera2Source
    from storewatch.camera.sources.base import CameraNotInstalledError

    model = tmp_path / "model"
    model.write_bytes(b"Raspberry Pi 4 Model B Rev 1.5\0")
    monkeypatch.setitem(sys.modules, "picamera2", None)
    caplog.set_level("INFO", logger="storewatch.camera")
    chosen = make_source("auto", board_model_file=model, lock_exposure=True, mains_hz=50, seed=3)
    assert isinstance(chosen, Picamera2Source) and chosen.lock_exposure and chosen.mains_hz == 50
    assert "on a Raspberry Pi 4 Model B Rev 1.5" in caplog.text and "simulated" not in caplog.text
    with pytest.raises(CameraNotInstalledError, match=r"picamera2 \(the Pi camera library\) is not installed"):
        chosen.open(640, 480, 80)


def test_check_spec_names_the_sources():
    from storewatch.camera.sources import check_spec

    assert [check_spec(s) for s in ("auto", "picamera2", "simulated", "dir:x")] == ["auto", "picamera2",
                                                                                   "simulated", "dir:x"]
    for bad in ("webcam", "dir:", "none"):
        with pytest.raises(ValueError, match="use one of: auto, picamera2, simulated, dir:PATH"):
            check_spec(bad)
