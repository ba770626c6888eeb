"""The ingest writer's group commit: frames waiting together share one transaction."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from support.frames import make_jpeg
from storewatch import contract
from storewatch.appliance import Appliance
from storewatch.store.captures import FrameConflict, NewFrame
from storewatch.server.ingest_writer import IngestWriter, WriterStopped


def meta(seq: int) -> dict:
    return {"device_id": "cam", "seq": seq, "capture_ts": contract.format_timestamp(contract.utc_now()),
            "width": 64, "height": 48, "jpeg_quality": 85}


@pytest.fixture
def writer(appliance: Appliance):
    appliance.devices.add("cam", "cam")
    writer = IngestWriter(appliance)
    yield writer
    writer.stop()


class FirstBatchHeld:
    """Holds the writer inside its first batch, so the frames sent meanwhile queue behind it."""

    def __init__(self, appliance: Appliance, monkeypatch: pytest.MonkeyPatch):
        self.sizes: list[int] = []
        self.entered, self.release = threading.Event(), threading.Event()
        real = appliance.captures.store_batch

        def store_batch(frames, before_write=None):  # noqa: ANN001, ANN202
            if not self.sizes:
                self.entered.set()
                self.release.wait(10)
            self.sizes.append(len(frames))
            return real(frames, before_write=before_write)

        monkeypatch.setattr(appliance.captures, "store_batch", store_batch)

    async def send(self, writer: IngestWriter, frames: list[NewFrame]) -> list:
        """The first frame alone, the others while it is held; every outcome, in order."""
        first = asyncio.ensure_future(writer.store(frames[0].meta, frames[0].jpeg))
        await asyncio.get_running_loop().run_in_executor(None, self.entered.wait, 10)
        rest = [asyncio.ensure_future(writer.store(frame.meta, frame.jpeg)) for frame in frames[1:]]
        await asyncio.sleep(0)  # each has queued its frame
        self.release.set()
        return await asyncio.gather(first, *rest, return_exceptions=True)


def frames(*seqs: int) -> list[NewFrame]:
    return [NewFrame.of(meta(seq), make_jpeg(seed=seq)) for seq in seqs]


def test_frames_that_wait_together_commit_together(appliance: Appliance, writer: IngestWriter,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    held = FirstBatchHeld(appliance, monkeypatch)
    results = asyncio.run(held.send(writer, frames(*range(1, 11))))
    assert held.sizes == [1, 9] and (writer.batches, writer.frames) == (2, 10)
    assert [r.frame.duplicate for r in results] == [False] * 10
    assert {r.mode for r in results} == {"baseline"}
    assert {r.config_version for r in results} == {appliance.devices.current_mode("cam", contract.utc_now())[1]}
    assert appliance.db.scalar("SELECT count(*) FROM captures") == 10
    assert appliance.db.scalar("SELECT count(*) FROM jobs WHERE state = 'queued'") == 10


def test_a_batch_splits_at_max_batch(appliance: Appliance, writer: IngestWriter,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    writer.max_batch = 4
    held = FirstBatchHeld(appliance, monkeypatch)
    asyncio.run(held.send(writer, frames(*range(1, 11))))
    assert held.sizes == [1, 4, 4, 1]


def test_each_request_gets_its_own_outcome(appliance: Appliance, writer: IngestWriter,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    held = FirstBatchHeld(appliance, monkeypatch)
    twins = [NewFrame.of(meta(2), make_jpeg(seed=seed)) for seed in (2, 2, 3)]
    first, second, twin, conflict = asyncio.run(held.send(writer, frames(1) + twins))
    assert held.sizes == [1, 3]
    assert not first.frame.duplicate and not second.frame.duplicate
    assert twin.frame.duplicate and twin.frame.capture_id == second.frame.capture_id
    assert isinstance(conflict, FrameConflict)
    assert appliance.db.scalar("SELECT count(*) FROM captures") == 2


def test_a_cancelled_request_still_stores_its_frame(appliance: Appliance, writer: IngestWriter,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    real = appliance.captures.store_batch

    def slow_store_batch(frames, before_write=None):  # noqa: ANN001, ANN202
        release.wait(10)
        return real(frames, before_write=before_write)

    monkeypatch.setattr(appliance.captures, "store_batch", slow_store_batch)

    async def main() -> None:
        task = asyncio.ensure_future(writer.store(meta(1), make_jpeg(seed=1)))
        await asyncio.sleep(0.05)
        task.cancel()  # the client went away mid-request
        with pytest.raises(asyncio.CancelledError):
            await task
        release.set()

    asyncio.run(main())
    writer.stop()
    assert appliance.db.scalar("SELECT count(*) FROM captures") == 1


def test_stop_stores_what_is_queued_and_refuses_the_rest(appliance: Appliance, writer: IngestWriter,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    held = FirstBatchHeld(appliance, monkeypatch)

    async def main() -> list:
        first = asyncio.ensure_future(writer.store(meta(1), make_jpeg(seed=1)))
        await asyncio.get_running_loop().run_in_executor(None, held.entered.wait, 10)
        rest = [asyncio.ensure_future(writer.store(frame.meta, frame.jpeg)) for frame in frames(2, 3, 4, 5)]
        await asyncio.sleep(0)
        stopping = asyncio.get_running_loop().run_in_executor(None, writer.stop)
        await asyncio.sleep(0.05)  # stop() has queued its end mark behind the four
        held.release.set()
        results = await asyncio.gather(first, *rest)
        await stopping
        with pytest.raises(WriterStopped):
            await writer.store(meta(6), make_jpeg(seed=6))
        return results

    results = asyncio.run(main())
    assert len(results) == 5 and held.sizes == [1, 4]
    assert appliance.db.scalar("SELECT count(*) FROM captures") == 5


def test_a_failing_batch_answers_its_requests_and_the_writer_goes_on(
        appliance: Appliance, writer: IngestWriter, monkeypatch: pytest.MonkeyPatch) -> None:
    real = appliance.captures.store_batch
    calls: list[int] = []

    def fail_once(frames, before_write=None):  # noqa: ANN001, ANN202
        calls.append(len(frames))
        if len(calls) == 1:
            raise RuntimeError("the database went away")
        return real(frames, before_write=before_write)

    monkeypatch.setattr(appliance.captures, "store_batch", fail_once)

    async def main() -> tuple:
        with pytest.raises(RuntimeError, match="went away"):
            await writer.store(meta(1), make_jpeg(seed=1))
        return await writer.store(meta(1), make_jpeg(seed=1))

    stored = asyncio.run(main())
    assert not stored.frame.duplicate and calls == [1, 1]
    assert appliance.db.scalar("SELECT count(*) FROM captures") == 1
