"""The segment files of frames kept for replay: lossless, crash-safe on read, pruned by age."""

from __future__ import annotations

import logging
import os
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from storewatch.analysis.device_analyzer import DeviceAnalyzer, RoiSpec
from storewatch.appliance import Appliance
from storewatch.replay import segments
from storewatch.replay.keeper import FrameKeeper, as_analysed
from storewatch.replay.pruning import prune_replay
from storewatch.upkeep.retention import RetentionReport, run_retention

T0 = 1_790_000_000.0  # 2026-09-21T14:13:20Z
SPECS = '{"device": {}, "rois": []}'


def frames(count: int, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (240, 320), dtype=np.uint8)
    out = []
    for n in range(count):  # a still scene with sensor noise, and a moving block
        noisy = np.clip(base.astype(np.int16) + rng.integers(-3, 4, base.shape), 0, 255).astype(np.uint8)
        noisy[40:80, 10 * n % 300:10 * n % 300 + 20] = 255 - n
        out.append(noisy)
    return out


def write(folder: Path, pixels: list[np.ndarray], start_seq: int = 0, step: float = 0.5) -> segments.SegmentWriter:
    writer = segments.SegmentWriter(folder)
    for n, frame in enumerate(pixels):
        writer.append("cam", start_seq + n, T0 + n * step, 1000 + n, frame, SPECS, lambda: b"state")
    return writer


def read(folder: Path) -> list[segments.Frame]:
    return [frame for path in segments.segment_files(folder, "cam")
            for _, frame in segments.frames_in(segments.scan(path)) if frame is not None]


def test_kept_frames_read_back_bit_for_bit_key_frames_and_differences_alike(tmp_path: Path) -> None:
    pixels = frames(segments.KEY_EVERY + 30)
    write(tmp_path, pixels).close()
    back = read(tmp_path)
    assert [f.seq for f in back] == list(range(len(pixels)))
    assert [f.capture_id for f in back] == [1000 + n for n in range(len(pixels))]
    assert all(np.array_equal(f.pixels, p) and f.pixels.dtype == np.uint8 for f, p in zip(back, pixels))
    kinds = [r.kind for r in segments.scan(segments.segment_files(tmp_path, "cam")[0])]
    assert kinds[:3] == ["S", "A", "F"]


def test_the_decoded_float_frame_is_kept_as_the_uint8_the_analysis_feeds_on() -> None:
    gray = np.array([[0.0, 12.0], [254.0, 255.0]], dtype=np.float32)
    assert as_analysed(gray).dtype == np.uint8 and as_analysed(gray).tolist() == [[0, 12], [254, 255]]


@pytest.mark.parametrize("cut", [1, 7, 30, 5000])
def test_a_torn_tail_is_detected_and_ignored(tmp_path: Path, cut: int) -> None:
    pixels = frames(6)
    write(tmp_path, pixels).close()
    path = segments.segment_files(tmp_path, "cam")[0]
    data = path.read_bytes()
    path.write_bytes(data[:-cut])  # a power cut in the middle of the last record
    back = read(tmp_path)
    assert [f.seq for f in back] == list(range(5))
    assert all(np.array_equal(f.pixels, p) for f, p in zip(back, pixels))


def test_a_damaged_record_ends_the_segment_there(tmp_path: Path) -> None:
    write(tmp_path, frames(6)).close()
    path = segments.segment_files(tmp_path, "cam")[0]
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF  # a flipped byte in the last frame's payload: its CRC fails
    path.write_bytes(bytes(data))
    assert [f.seq for f in read(tmp_path)] == list(range(5))


def test_a_new_writer_never_appends_to_an_old_segment_and_the_hour_rolls_over(tmp_path: Path) -> None:
    write(tmp_path, frames(3)).close()
    write(tmp_path, frames(3), start_seq=3).close()  # a restarted worker: a segment of its own
    late = segments.SegmentWriter(tmp_path)
    late.append("cam", 6, T0 + 3600, 2000, frames(1)[0], SPECS, lambda: b"state")  # the next hour
    late.close()
    names = [p.name for p in segments.segment_files(tmp_path, "cam")]
    assert names == ["20260921T14-0.swr", "20260921T14-3.swr", "20260921T15-6.swr"]
    assert [f.seq for f in read(tmp_path)] == list(range(7))


def test_state_and_specs_records_come_when_due(tmp_path: Path) -> None:
    writer = segments.SegmentWriter(tmp_path)
    states = []
    count = segments.STATE_EVERY + 2
    for n, frame in enumerate(frames(8) * (count // 8 + 1)):
        if n == count:
            break
        specs = SPECS if n < 2 else '{"device": {}, "rois": [1]}'
        writer.append("cam", n, T0 + n * 0.5, n, frame, specs, lambda n=n: states.append(n) or b"s%d" % n)
    writer.close()
    records = list(segments.scan(segments.segment_files(tmp_path, "cam")[0]))
    kinds = "".join(r.kind for r in records)
    assert kinds == "SAFF" + "S" + "F" * (segments.STATE_EVERY - 2) + "AFF"
    assert states == [0, segments.STATE_EVERY] and records[-3].payload == b"s%d" % segments.STATE_EVERY


def test_the_keeper_keeps_what_the_analyzer_sees_and_nothing_at_replay_days_0(tmp_path: Path) -> None:
    appliance = Appliance(tmp_path / "data")
    try:
        keeper = FrameKeeper(appliance)
        analyzer = DeviceAnalyzer([RoiSpec(1, ((0, 0), (1, 0), (1, 1), (0, 1)))])
        gray = frames(1)[0].astype(np.float32)
        keeper.keep("cam", 0, {"capture_epoch": T0, "id": 7}, gray, analyzer, SPECS)
        appliance.settings.update({"replay_days": 0})
        keeper.keep("cam", 1, {"capture_epoch": T0 + 1, "id": 8}, gray, analyzer, SPECS)
        keeper.close()
        back = read(appliance.data_dir)
        assert [(f.seq, f.capture_id) for f in back] == [(0, 7)]
        assert np.array_equal(back[0].pixels, gray.astype(np.uint8))
    finally:
        appliance.close()


def test_a_write_error_leaves_the_frame_unkept_and_the_job_alone(tmp_path: Path, caplog) -> None:
    appliance = Appliance(tmp_path / "data")
    try:
        (appliance.data_dir / segments.FOLDER).write_text("not a folder")  # mkdir under it fails
        keeper = FrameKeeper(appliance)
        analyzer = DeviceAnalyzer([])
        keeper.keep("cam", 0, {"capture_epoch": T0, "id": 7}, frames(1)[0], analyzer, SPECS)
        assert "was not kept for replay" in caplog.text
    finally:
        appliance.close()


def test_retention_deletes_segments_older_than_replay_days_and_all_at_0(tmp_path: Path) -> None:
    appliance = Appliance(tmp_path / "data")
    try:
        now = datetime.fromtimestamp(T0 + 3 * 86400, timezone.utc)  # day 1's hour (14:00-15:00) ends after now - 2 d
        for day in range(4):  # one hour's segment at T0 + 0, 1, 2, 3 days
            writer = segments.SegmentWriter(appliance.data_dir)
            writer.append("cam", day, T0 + day * 86400, day, frames(1)[0], SPECS, lambda: b"s")
            writer.close()
        dry = RetentionReport("test", dry_run=True)
        prune_replay(appliance, dry, now, lambda line: None)
        assert dry.deleted == {"replay_segments": 1} and len(segments.segment_files(appliance.data_dir, "cam")) == 4
        report = RetentionReport("test", dry_run=False)
        prune_replay(appliance, report, now, lambda line: None)
        left = [p.name for p in segments.segment_files(appliance.data_dir, "cam")]
        assert left == ["20260922T14-1.swr", "20260923T14-2.swr", "20260924T14-3.swr"] and report.bytes_freed > 0
        appliance.settings.update({"replay_days": 0})
        ran = run_retention(appliance, reconcile=False)  # the retention run itself calls the hook
        assert ran.deleted.get("replay_segments") == 3
        assert not (appliance.data_dir / segments.FOLDER / "cam").exists()
    finally:
        appliance.close()


def test_the_last_record_of_a_segment_being_written_is_left_quietly_a_torn_one_is_reported(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pixels = frames(6)
    write(tmp_path, pixels).close()
    path = segments.segment_files(tmp_path, "cam")[0]
    path.write_bytes(path.read_bytes()[:-30])  # the worker is half way through its last record
    with caplog.at_level(logging.INFO, logger="storewatch.replay"):
        assert [f.seq for f in read(tmp_path)] == list(range(5))
    assert "torn" not in caplog.text
    old = time.time() - 2 * segments.BEING_WRITTEN_S  # nobody has written to it since: a crash tore it
    os.utime(path, (old, old))
    with caplog.at_level(logging.INFO, logger="storewatch.replay"):
        assert [f.seq for f in read(tmp_path)] == list(range(5))
    assert "ends in a torn or damaged record" in caplog.text
