"""The queue between capture and upload: in memory while online, on disk while not.

Frames wait in a small in-memory queue while uploads succeed. When an upload fails the
queue is spilled to the spool folder and new frames go there too, until an upload
succeeds again. Memory frames always have higher seqs than disk frames, so taking the
disk's oldest first uploads in seq order with spooled frames before new ones.

The spool is bounded in frames and bytes (memory and disk together); when full, the
oldest frames are dropped and counted. Each disk frame is one file written crash-safely
(temp, fsync, rename, fsync folder) holding its meta and its JPEG; on start, leftovers
are checked and kept, while broken ones and temp files are discarded.
"""

from __future__ import annotations

import collections
import io
import json
import logging
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from storewatch.durable import TEMP_PREFIX, atomic_write
from storewatch.contract import ContractError, encode_meta, validate_frame_meta

log = logging.getLogger("storewatch.camera")

MAGIC = b"SWF1"
SUFFIX = ".frame"
_HEADER = struct.Struct(">4sI")


@dataclass(frozen=True)
class PendingFrame:
    seq: int
    meta: dict[str, Any]
    jpeg: bytes

    def encode(self) -> bytes:
        meta = encode_meta(self.meta)
        return _HEADER.pack(MAGIC, len(meta)) + meta + self.jpeg

    @property
    def size(self) -> int:
        return _HEADER.size + len(encode_meta(self.meta)) + len(self.jpeg)


@dataclass(frozen=True)
class SpoolStats:
    frames: int
    bytes: int
    disk_frames: int
    dropped: int
    discarded: int  # broken leftovers removed at start


class Spool:
    def __init__(self, folder: Path, max_frames: int = 20_000, max_bytes: int = 512 * 1024**2,
                 memory_frames: int = 30) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.max_frames, self.max_bytes, self.memory_frames = max_frames, max_bytes, memory_frames
        self._cond = threading.Condition()
        self._disk: collections.deque[tuple[int, int]] = collections.deque()  # (seq, size), seq order
        self._memory: collections.deque[PendingFrame] = collections.deque()
        self._bytes = 0
        self._offline = False
        self._in_flight: int | None = None
        self.dropped = 0
        self.discarded = 0
        self._load_leftovers()

    # --- start-up ----------------------------------------------------------------------

    def _load_leftovers(self) -> None:
        found: list[tuple[int, int]] = []
        for path in self.folder.iterdir():
            if path.name.startswith(TEMP_PREFIX):
                self._discard(path, "an unfinished write")
            elif path.suffix == SUFFIX:
                problem = _check_file(path)
                if problem:
                    self._discard(path, problem)
                else:
                    found.append((int(path.stem), path.stat().st_size))
        for seq, size in sorted(found):
            self._disk.append((seq, size))
            self._bytes += size
        if found:
            log.info("spool: %d frames (%d bytes) left from the last run", len(found), self._bytes)
        with self._cond:
            self._make_room(0)

    def _discard(self, path: Path, why: str) -> None:
        log.warning("spool: discarding %s (%s)", path.name, why)
        path.unlink(missing_ok=True)
        self.discarded += 1

    # --- producer side -----------------------------------------------------------------

    def put(self, frame: PendingFrame) -> None:
        """Queue a frame; never waits on the network. Drops the oldest when full."""
        with self._cond:
            self._make_room(frame.size)
            self._bytes += frame.size
            if self._offline:
                self._write(frame)
            else:
                self._memory.append(frame)
                while len(self._memory) > self.memory_frames:
                    self._write(self._memory.popleft())
            self._cond.notify_all()

    def _make_room(self, incoming: int) -> None:
        extra = 1 if incoming else 0
        while self._count() + extra > self.max_frames or self._bytes + incoming > self.max_bytes:
            if not self._drop_oldest():
                break

    def _drop_oldest(self) -> bool:
        for seq, size in self._disk:
            if seq != self._in_flight:
                self._disk.remove((seq, size))
                self._path(seq).unlink(missing_ok=True)
                break
        else:
            victim = next((f for f in self._memory if f.seq != self._in_flight), None)
            if victim is None:
                return False
            self._memory.remove(victim)
            seq, size = victim.seq, victim.size
        self._bytes -= size
        self.dropped += 1
        log.warning("spool full: dropped frame seq %d (%d dropped so far)", seq, self.dropped)
        return True

    def _write(self, frame: PendingFrame) -> None:
        try:
            atomic_write(self._path(frame.seq), frame.encode())
        except OSError as exc:  # disk full or gone: lose this frame, not the whole client
            self._bytes -= frame.size
            self.dropped += 1
            log.error("spool: cannot write seq %d (%s); dropped", frame.seq, exc)
            return
        self._disk.append((frame.seq, frame.size))

    def _path(self, seq: int) -> Path:
        return self.folder / f"{seq:020d}{SUFFIX}"

    def _count(self) -> int:
        return len(self._disk) + len(self._memory)

    # --- uploader side -----------------------------------------------------------------

    def next(self, timeout: float | None = None) -> PendingFrame | None:
        """The oldest waiting frame (it stays queued until `done`), or None after `timeout`."""
        with self._cond:
            if not self._cond.wait_for(self._count, timeout):
                return None
            while self._disk:
                seq, size = self._disk[0]
                frame = _read_file(self._path(seq))
                if frame is not None:
                    self._in_flight = seq
                    return frame
                self._disk.popleft()  # vanished or damaged under us: count it as dropped
                self._bytes -= size
                self.dropped += 1
            self._in_flight = self._memory[0].seq
            return self._memory[0]

    def done(self, seq: int) -> None:
        """The frame was delivered, or refused for good: forget it."""
        with self._cond:
            if self._in_flight == seq:
                self._in_flight = None
            for entry in self._disk:
                if entry[0] == seq:
                    self._disk.remove(entry)
                    self._bytes -= entry[1]
                    self._path(seq).unlink(missing_ok=True)
                    return
            for frame in self._memory:
                if frame.seq == seq:
                    self._memory.remove(frame)
                    self._bytes -= frame.size
                    return

    def went_offline(self) -> None:
        """Uploads are failing: move the memory queue to disk and spool new frames there."""
        with self._cond:
            if not self._offline:
                log.info("spool: uploads failing; spooling %d queued frames to disk", len(self._memory))
            self._offline = True
            self._spill()

    def persist(self) -> None:
        """Write the memory queue to disk (at stop), so a restart still sends it."""
        with self._cond:
            self._spill()

    def _spill(self) -> None:
        while self._memory:
            self._write(self._memory.popleft())

    def back_online(self) -> None:
        with self._cond:
            self._offline = False

    def stats(self) -> SpoolStats:
        with self._cond:
            return SpoolStats(self._count(), self._bytes, len(self._disk), self.dropped, self.discarded)


def _read_file(path: Path) -> PendingFrame | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return _decode(data)


def _decode(data: bytes) -> PendingFrame | None:
    if len(data) < _HEADER.size:
        return None
    magic, meta_length = _HEADER.unpack_from(data)
    if magic != MAGIC or len(data) < _HEADER.size + meta_length:
        return None
    try:
        meta = json.loads(data[_HEADER.size:_HEADER.size + meta_length])
    except ValueError:
        return None
    return PendingFrame(meta.get("seq") if isinstance(meta, dict) else -1, meta,
                        data[_HEADER.size + meta_length:])


def _check_file(path: Path) -> str | None:
    """Why a leftover cannot be sent, or None when it is a whole frame."""
    frame = _read_file(path)
    if frame is None:
        return "not a spool frame"
    try:
        validate_frame_meta(frame.meta)
    except ContractError as exc:
        return f"bad meta: {exc}"
    if str(frame.seq).zfill(20) != path.stem:
        return "seq differs from its name"
    jpeg = frame.jpeg
    if not jpeg.startswith(b"\xff\xd8") or b"\xff\xd9" not in jpeg[-64:]:
        return "truncated JPEG"
    try:
        with Image.open(io.BytesIO(jpeg)) as image:
            if image.format != "JPEG" or image.size != (frame.meta["width"], frame.meta["height"]):
                return "JPEG size differs from its meta"
    except (OSError, SyntaxError):
        return "not a JPEG"
    return None

