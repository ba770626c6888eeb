"""The spool: order, spilling, exact oldest-first drops, crash-safe leftovers."""

from __future__ import annotations

import io
import threading

import pytest
from PIL import Image

from storewatch.camera.spool import PendingFrame, Spool

JPEG = io.BytesIO()
Image.new("RGB", (32, 24), (10, 200, 30)).save(JPEG, format="JPEG")
JPEG = JPEG.getvalue()


def frame(seq: int, jpeg: bytes = JPEG) -> PendingFrame:
    meta = {"device_id": "cam-1", "capture_ts": "2026-11-24T05:47:30.120Z", "seq": seq,
            "width": 32, "height": 24, "jpeg_quality": 85, "mode": "baseline"}
    return PendingFrame(seq, meta, jpeg)


def drain(spool: Spool) -> list[int]:
    seqs = []
    while (pending := spool.next(timeout=0)) is not None:
        seqs.append(pending.seq)
        spool.done(pending.seq)
    return seqs


def frame_files(spool: Spool) -> list[str]:
    return sorted(p.name for p in spool.folder.iterdir())


def test_online_frames_stay_in_memory_and_come_out_in_order(tmp_path):
    spool = Spool(tmp_path, memory_frames=10)
    for seq in range(5):
        spool.put(frame(seq))
    assert frame_files(spool) == [] and spool.stats().frames == 5
    assert drain(spool) == [0, 1, 2, 3, 4]
    assert spool.stats().frames == spool.stats().bytes == 0


def test_next_keeps_the_frame_until_done(tmp_path):
    spool = Spool(tmp_path)
    spool.put(frame(1))
    assert spool.next(0).seq == 1 and spool.next(0).seq == 1
    spool.done(1)
    assert spool.next(timeout=0.01) is None


def test_next_waits_for_a_frame_from_another_thread(tmp_path):
    spool = Spool(tmp_path)
    threading.Timer(0.05, spool.put, args=(frame(9),)).start()
    assert spool.next(timeout=2).seq == 9


def test_going_offline_spills_to_disk_and_spooled_frames_go_first(tmp_path):
    spool = Spool(tmp_path, memory_frames=10)
    for seq in range(3):
        spool.put(frame(seq))
    spool.went_offline()
    spool.put(frame(3))
    assert len(frame_files(spool)) == 4 and spool.stats().disk_frames == 4
    spool.back_online()
    spool.put(frame(4))
    first = spool.next(0)
    spool.done(first.seq)
    spool.put(frame(5))
    assert [first.seq] + drain(spool) == [0, 1, 2, 3, 4, 5]
    assert frame_files(spool) == []


def test_memory_queue_overflow_goes_to_disk_in_order(tmp_path):
    spool = Spool(tmp_path, memory_frames=2)
    for seq in range(6):
        spool.put(frame(seq))
    assert spool.stats().disk_frames == 4
    assert drain(spool) == list(range(6))


def test_full_by_frames_drops_exactly_the_oldest_and_counts_them(tmp_path):
    spool = Spool(tmp_path, max_frames=5, memory_frames=2)
    spool.went_offline()
    for seq in range(12):
        spool.put(frame(seq))
    stats = spool.stats()
    assert stats.frames == 5 and stats.dropped == 7
    assert drain(spool) == [7, 8, 9, 10, 11]


def test_full_by_bytes_drops_exactly_the_oldest(tmp_path):
    size = frame(0).size
    spool = Spool(tmp_path, max_bytes=size * 3 + size // 2, memory_frames=100)
    for seq in range(10):
        spool.put(frame(seq))
    assert spool.stats().dropped == 7 and spool.stats().bytes == 3 * size
    assert drain(spool) == [7, 8, 9]


def test_the_frame_being_uploaded_is_not_dropped_under_the_uploader(tmp_path):
    spool = Spool(tmp_path, max_frames=3)
    for seq in range(3):
        spool.put(frame(seq))
    in_flight = spool.next(0)
    spool.put(frame(3))
    spool.put(frame(4))
    assert spool.stats().dropped == 2
    spool.done(in_flight.seq)
    assert drain(spool) == [3, 4]


def test_leftovers_survive_a_restart_and_broken_ones_are_discarded(tmp_path):
    spool = Spool(tmp_path)
    spool.went_offline()
    for seq in (10, 11, 12, 13):
        spool.put(frame(seq))
    files = sorted(tmp_path.iterdir())
    files[1].write_bytes(files[1].read_bytes()[:-40])  # torn JPEG
    files[2].write_bytes(b"SWF1\x00\x00\x00\x05{bad}")  # broken meta
    (tmp_path / ".tmp-00000000000000000014.frame").write_bytes(b"half a write")
    (tmp_path / "README").write_text("not ours")

    again = Spool(tmp_path)
    assert again.stats().frames == 2 and again.stats().discarded == 3
    assert drain(again) == [10, 13]
    assert frame_files(again) == ["README"]


def test_a_leftover_whose_jpeg_size_differs_from_its_meta_is_discarded(tmp_path):
    other = io.BytesIO()
    Image.new("RGB", (64, 48)).save(other, format="JPEG")
    spool = Spool(tmp_path)
    spool.went_offline()
    spool.put(frame(1, other.getvalue()))
    assert Spool(tmp_path).stats().discarded == 1


def test_leftovers_over_the_limit_drop_the_oldest(tmp_path):
    spool = Spool(tmp_path)
    spool.went_offline()
    for seq in range(6):
        spool.put(frame(seq))
    smaller = Spool(tmp_path, max_frames=4)
    assert smaller.stats().dropped == 2
    assert drain(smaller) == [2, 3, 4, 5]


def test_spooled_files_hold_their_meta(tmp_path):
    spool = Spool(tmp_path)
    spool.went_offline()
    spool.put(frame(42))
    reread = Spool(tmp_path).next(0)
    assert reread == frame(42)


@pytest.mark.parametrize("count", [50])
def test_concurrent_put_and_drain_loses_nothing(tmp_path, count):
    spool = Spool(tmp_path, memory_frames=4)
    received: list[int] = []

    def consume() -> None:
        while len(received) < count:
            pending = spool.next(timeout=2)
            if pending is None:
                return
            if pending.seq % 7 == 0:
                spool.went_offline()
            else:
                spool.back_online()
            received.append(pending.seq)
            spool.done(pending.seq)

    worker = threading.Thread(target=consume)
    worker.start()
    for seq in range(count):
        spool.put(frame(seq))
    worker.join(10)
    assert received == list(range(count))


def test_a_failed_disk_write_drops_that_frame_and_counts_it(tmp_path, monkeypatch):
    from storewatch.camera import spool as spool_module

    spool = Spool(tmp_path)
    spool.went_offline()

    def disk_full(path, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(spool_module, "atomic_write", disk_full)
    spool.put(frame(1))
    assert spool.stats() == spool_module.SpoolStats(frames=0, bytes=0, disk_frames=0, dropped=1, discarded=0)
