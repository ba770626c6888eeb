"""CaptureStore.store_batch: several frames in one transaction, each with its own outcome."""

from __future__ import annotations

import errno
import os

import apsw
import pytest

from support.frames import make_jpeg
from storewatch import contract
from storewatch.store import images
from storewatch.appliance import Appliance
from storewatch.store.captures import FrameConflict, NewFrame, StoredFrame
from storewatch.durable import DiskFull


def meta(device_id: str, seq: int) -> dict:
    return {"device_id": device_id, "seq": seq, "capture_ts": contract.format_timestamp(contract.utc_now()),
            "width": 64, "height": 48, "jpeg_quality": 85}


@pytest.fixture
def cam(appliance: Appliance) -> str:
    appliance.devices.add("cam", "cam")
    return "cam"


def staged_files(appliance: Appliance) -> list[str]:
    return sorted(appliance.images.staging_files())


def rows(appliance: Appliance) -> list[tuple[int, str]]:
    return [(r["seq"], r["path"]) for r in appliance.db.query("SELECT seq, path FROM captures ORDER BY seq")]


def test_a_batch_stores_every_frame_with_its_job_in_order(appliance: Appliance, cam: str) -> None:
    handed_over: list[list[int]] = []
    appliance.enqueue.connect(handed_over.append)
    frames = [NewFrame.of(meta(cam, seq), make_jpeg(seed=seq)) for seq in range(1, 6)]
    outcomes = appliance.captures.store_batch(frames)
    assert all(isinstance(o, StoredFrame) and not o.duplicate for o in outcomes)
    assert [r[0] for r in rows(appliance)] == [1, 2, 3, 4, 5]
    assert staged_files(appliance) == sorted(r[1] for r in rows(appliance))
    jobs = appliance.db.query("SELECT id, seq, state FROM jobs ORDER BY id")
    assert [(j["seq"], j["state"]) for j in jobs] == [(s, "queued") for s in range(1, 6)]
    assert handed_over == [[o.job_id for o in outcomes]]  # once for the batch
    assert handed_over[0] == [j["id"] for j in jobs]
    for frame, (_, path) in zip(frames, rows(appliance)):
        assert appliance.images.read(path) == frame.jpeg
    assert appliance.devices.get(cam)["last_seq"] == 5


def test_twins_inside_one_batch_store_once(appliance: Appliance, cam: str) -> None:
    jpeg = make_jpeg(seed=1)
    first, twin = appliance.captures.store_batch([NewFrame.of(meta(cam, 7), jpeg), NewFrame.of(meta(cam, 7), jpeg)])
    assert isinstance(first, StoredFrame) and isinstance(twin, StoredFrame)
    assert (first.duplicate, twin.duplicate) == (False, True)
    assert twin.capture_id == first.capture_id and twin.job_id is None
    assert len(rows(appliance)) == 1 and staged_files(appliance) == [rows(appliance)[0][1]]
    assert appliance.db.scalar("SELECT count(*) FROM jobs") == 1


def test_a_conflicting_twin_is_refused_and_leaves_no_file(appliance: Appliance, cam: str) -> None:
    first, other = appliance.captures.store_batch([NewFrame.of(meta(cam, 7), make_jpeg(seed=1)),
                                                          NewFrame.of(meta(cam, 7), make_jpeg(seed=2))])
    assert isinstance(first, StoredFrame) and isinstance(other, FrameConflict)
    assert staged_files(appliance) == [rows(appliance)[0][1]]


def test_a_frame_stored_before_is_a_duplicate_or_a_conflict_without_writing(appliance: Appliance, cam: str) -> None:
    jpeg = make_jpeg(seed=1)
    stored = appliance.captures.store(meta(cam, 1), jpeg)
    again, conflict = appliance.captures.store_batch([NewFrame.of(meta(cam, 1), jpeg),
                                                          NewFrame.of(meta(cam, 1), make_jpeg(seed=9))])
    assert again == StoredFrame(capture_id=stored.capture_id, job_id=None, duplicate=True)
    assert isinstance(conflict, FrameConflict)
    assert len(staged_files(appliance)) == 1


def test_before_write_sees_the_batchs_running_total_and_may_refuse_one(appliance: Appliance, cam: str) -> None:
    frames = [NewFrame.of(meta(cam, seq), make_jpeg(seed=seq)) for seq in (1, 2, 3)]
    seen: list[int] = []

    def reserve(incoming: int) -> None:
        seen.append(incoming)
        if len(seen) == 2:
            raise DiskFull(errno.ENOSPC, "below the reserve")

    outcomes = appliance.captures.store_batch(frames, before_write=reserve)
    sizes = [len(frame.jpeg) for frame in frames]
    assert seen == [sizes[0], sizes[0] + sizes[1], sizes[0] + sizes[2]]  # the refused one is not counted
    assert [type(o).__name__ for o in outcomes] == ["StoredFrame", "DiskFull", "StoredFrame"]
    assert [r[0] for r in rows(appliance)] == [1, 3]
    assert staged_files(appliance) == sorted(r[1] for r in rows(appliance))


def test_one_file_that_does_not_fit_does_not_stop_the_others(
        appliance: Appliance, cam: str, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = images.os.write

    def fill_up_on_seq_2(fd: int, data: bytes) -> int:
        if "000000000002-" in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(images.os, "write", fill_up_on_seq_2)
    outcomes = appliance.captures.store_batch([NewFrame.of(meta(cam, seq), make_jpeg(seed=seq)) for seq in (1, 2, 3)])
    monkeypatch.undo()
    assert [type(o).__name__ for o in outcomes] == ["StoredFrame", "DiskFull", "StoredFrame"]
    assert [r[0] for r in rows(appliance)] == [1, 3]
    assert staged_files(appliance) == sorted(r[1] for r in rows(appliance))


def test_a_row_that_fails_rolls_back_alone(appliance: Appliance, cam: str) -> None:
    # No device "ghost": its capture row breaks the foreign key inside its own savepoint.
    outcomes = appliance.captures.store_batch([NewFrame.of(meta(cam, 1), make_jpeg(seed=1)),
                                               NewFrame.of(meta("ghost", 1), make_jpeg(seed=2)),
                                               NewFrame.of(meta(cam, 2), make_jpeg(seed=3))])
    assert isinstance(outcomes[1], apsw.ConstraintError)
    assert [type(o).__name__ for o in (outcomes[0], outcomes[2])] == ["StoredFrame", "StoredFrame"]
    assert [r[0] for r in rows(appliance)] == [1, 2]
    assert appliance.db.scalar("SELECT count(*) FROM jobs") == 2
    assert staged_files(appliance) == sorted(r[1] for r in rows(appliance))


def test_a_failed_commit_refuses_the_whole_batch_and_leaves_nothing(
        appliance: Appliance, cam: str, monkeypatch: pytest.MonkeyPatch) -> None:
    queued: list[int] = []
    appliance.enqueue.connect(queued.extend)
    real_write = appliance.db.write

    class FailingCommit:
        def __enter__(self) -> apsw.Connection:
            self.inner = real_write()
            return self.inner.__enter__()

        def __exit__(self, *exc: object) -> None:
            self.inner.__exit__(apsw.FullError, apsw.FullError("database or disk is full"), None)
            raise apsw.FullError("database or disk is full")

    monkeypatch.setattr(appliance.db, "write", FailingCommit)
    outcomes = appliance.captures.store_batch([NewFrame.of(meta(cam, seq), make_jpeg(seed=seq)) for seq in (1, 2)])
    assert all(isinstance(o, apsw.FullError) for o in outcomes)
    monkeypatch.undo()
    assert rows(appliance) == [] and staged_files(appliance) == [] and queued == []
    assert appliance.db.scalar("SELECT count(*) FROM jobs") == 0


def test_store_raises_what_refused_its_frame(appliance: Appliance, cam: str) -> None:
    appliance.captures.store(meta(cam, 1), make_jpeg(seed=1))
    with pytest.raises(FrameConflict):
        appliance.captures.store(meta(cam, 1), make_jpeg(seed=2))


# --- seq going backwards (issue 12 B6) -------------------------------------------------------------


def test_a_seq_retention_took_is_refused_as_too_old_and_stores_nothing(appliance: Appliance, cam: str) -> None:
    from datetime import timedelta

    from storewatch.store.captures import SeqTooOld
    from storewatch.jobs.state import AnalysisStates
    from storewatch.upkeep.retention import Retention

    ids = [appliance.captures.store(meta(cam, seq), make_jpeg(seed=seq)).capture_id for seq in range(1, 5)]
    with appliance.db.write() as conn:  # the worker's marks: every job done, seq 4 applied
        conn.execute("UPDATE jobs SET state = 'done', finished_at = updated_at")
    AnalysisStates(appliance.db).save(cam, None, 4, ids[-1], 0.0, None)
    Retention(appliance, now=lambda: contract.utc_now() + timedelta(days=2)).run()
    assert [seq for seq, _ in rows(appliance)] == [4]  # the worker's last frame is kept
    files = staged_files(appliance)
    for seq in (1, 3):
        with pytest.raises(SeqTooOld) as refused:
            appliance.captures.store(meta(cam, seq), make_jpeg(seed=100 + seq))
        assert refused.value.last_seq == 4
    assert [seq for seq, _ in rows(appliance)] == [4] and staged_files(appliance) == files
    assert appliance.captures.store(meta(cam, 4), make_jpeg(seed=4)).duplicate  # a stored frame re-sent
    assert not appliance.captures.store(meta(cam, 5), make_jpeg(seed=5)).duplicate
