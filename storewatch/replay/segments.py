"""The frames kept for replay: per device, append-only segment files of records.

A segment holds one device's frames of one hour of capture time (a new one also starts
whenever a worker process starts writing, so a torn tail is never appended to):
DATA_DIR/replay/<device>/<YYYYmmddTHH>-<first seq>.swr. Each record is a header
(kind, payload length, CRC-32, seq, capture time) and its payload:

- `S` specs: the ROI specs and device thresholds in force (jobs.live.specs_key JSON) and
  the ROI names, written at a segment's start and whenever they change;
- `A` analyzer state: `DeviceAnalyzer.to_state()` exactly as the live analyzer stood
  before the next frame, at a segment's start and every STATE_EVERY frames;
- `F` frame: the uint8 analysis-size frame exactly as the analysis was fed it, zlib
  compressed, either whole (a key frame) or as its wrapping difference from the record's
  previous frame (Huffman only: lossless both ways). A frame after an `A` record is always a key frame,
  so reading can start at any state.

Crash safety: every record is flushed to the OS as it is written, so a worker that dies
loses nothing; a power cut can tear the tail, which the CRC (or a short read) detects
and the reader ignores from there on. Nothing is fsynced: these frames are a convenience
re-creatable from staging while it keeps them, and an fsync per frame would cost the SD
card far more than the frames are worth.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

log = logging.getLogger("storewatch.replay")

FOLDER = "replay"
SUFFIX = ".swr"
MAGIC = b"SWREPLAY1\n"
STATE_EVERY = 600      # frames between analyzer states (where a replay can start): 5 min of burst
KEY_EVERY = 120        # frames between key frames (bounds what one damaged record spoils)
ZLIB_LEVEL = 1         # level 6 saves under 15 % more for 5x the CPU on the live path
MAX_RECORD = 64 * 1024 * 1024
BEING_WRITTEN_S = 60.0  # a record cut short in a file changed this recently is being appended

_HEAD = struct.Struct("<cIIqd")   # kind, payload length, crc32, seq, capture epoch
_FRAME = struct.Struct("<qHHB")   # capture id, height, width, key frame?
_NAME = re.compile(r"(\d{8}T\d{2})-(\d+)(?:-(\d+))?" + re.escape(SUFFIX))


class SegmentError(ValueError):
    """A record's payload does not decode (its CRC matched, so this is a bug or a foreign file)."""


@dataclass(frozen=True)
class Record:
    kind: str          # "S", "A" or "F"
    seq: int
    ts: float
    payload: bytes | None  # None when the scan skipped it


@dataclass(frozen=True)
class Frame:
    seq: int
    ts: float
    capture_id: int
    pixels: np.ndarray


def device_folder(data_dir: Path, device_id: str) -> Path:
    return Path(data_dir) / FOLDER / device_id


def segment_files(data_dir: Path, device_id: str) -> list[Path]:
    """The device's segments in the order they were written (first seq, then name)."""
    folder = device_folder(data_dir, device_id)
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _NAME.fullmatch(path.name)
        if match:
            found.append((int(match.group(2)), int(match.group(3) or 0), match.group(1), path))
    return [path for *_, path in sorted(found)]


def segment_hour(path: Path) -> float | None:
    """The start (epoch seconds) of the capture hour a segment's name says it holds."""
    match = _NAME.fullmatch(path.name)
    if not match:
        return None
    return datetime.strptime(match.group(1), "%Y%m%dT%H").replace(tzinfo=timezone.utc).timestamp()


# --- writing ---------------------------------------------------------------------------


def _record(kind: bytes, seq: int, ts: float, payload: bytes) -> bytes:
    head = _HEAD.pack(kind, len(payload), 0, seq, ts)
    crc = zlib.crc32(payload, zlib.crc32(head))
    return _HEAD.pack(kind, len(payload), crc, seq, ts) + payload


def encode_frame(capture_id: int, pixels: np.ndarray, previous: np.ndarray | None) -> bytes:
    """A frame payload: whole, or (with `previous` of the same shape) as its difference."""
    key = previous is None
    data = pixels if key else np.subtract(pixels, previous, dtype=np.uint8)  # wraps: lossless
    height, width = pixels.shape
    # A difference is mostly sensor noise around 0: entropy coding alone packs it 28 % smaller
    # than deflate's default and in two thirds of the time; a whole frame needs the matching.
    packer = zlib.compressobj(ZLIB_LEVEL, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY if key else zlib.Z_HUFFMAN_ONLY)
    return (_FRAME.pack(capture_id, height, width, int(key))
            + packer.compress(np.ascontiguousarray(data)) + packer.flush())


def decode_frame(payload: bytes, previous: np.ndarray | None) -> tuple[int, np.ndarray]:
    capture_id, height, width, key = _FRAME.unpack_from(payload)
    try:
        data = np.frombuffer(zlib.decompress(payload[_FRAME.size:]), dtype=np.uint8).reshape(height, width)
    except (zlib.error, ValueError) as exc:
        raise SegmentError(f"a kept frame does not decode: {exc}") from None
    if key:
        return capture_id, data
    if previous is None or previous.shape != data.shape:
        raise SegmentError("a difference frame without the frame it follows")
    return capture_id, np.add(previous, data, dtype=np.uint8)


class _Open:
    """One device's segment being appended to."""

    def __init__(self, path: Path, hour: int):
        self.path = path
        self.hour = hour
        self.file: BinaryIO = open(path, "xb")  # never someone else's file
        self.file.write(MAGIC)
        self.key: str | None = None
        self.previous: np.ndarray | None = None
        self.since_key = 0
        self.since_state: int | None = None

    def write(self, kind: bytes, seq: int, ts: float, payload: bytes) -> None:
        self.file.write(_record(kind, seq, ts, payload))

    def close(self) -> None:
        self.file.close()


class SegmentWriter:
    """Appends kept frames; one open segment per device (callers hold the device's turn)."""

    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)
        self._open: dict[str, _Open] = {}
        self._lock = threading.Lock()

    def append(self, device_id: str, seq: int, ts: float, capture_id: int, pixels: np.ndarray,
               specs: str, state: Any) -> None:
        """Keep one frame. `specs` is the specs JSON in force; `state()` gives the analyzer's
        state before this frame (called only when a state record is due)."""
        hour = int(ts // 3600)
        with self._lock:
            seg = self._open.get(device_id)
        if seg is None or seg.hour != hour:
            if seg is not None:
                seg.close()
            seg = self._start(device_id, seq, hour)
        if seg.key != specs:
            seg.write(b"S", seq, ts, specs.encode())
            seg.key = specs
        if seg.since_state is None or seg.since_state >= STATE_EVERY:
            seg.write(b"A", seq, ts, state())
            seg.since_state, seg.previous = 0, None
        seg.since_state += 1
        if seg.previous is not None and (seg.previous.shape != pixels.shape or seg.since_key >= KEY_EVERY):
            seg.previous = None
        seg.write(b"F", seq, ts, encode_frame(capture_id, pixels, seg.previous))
        seg.since_key = 0 if seg.previous is None else seg.since_key + 1
        seg.previous = pixels.copy()
        seg.file.flush()  # into the OS: a worker that dies loses nothing (see the module doc)

    def _start(self, device_id: str, seq: int, hour: int) -> _Open:
        folder = device_folder(self.data_dir, device_id)
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.fromtimestamp(hour * 3600, timezone.utc).strftime("%Y%m%dT%H")
        for n in range(1000):
            path = folder / (f"{stamp}-{seq}" + (f"-{n}" if n else "") + SUFFIX)
            try:
                seg = _Open(path, hour)
                break
            except FileExistsError:
                continue
        else:
            raise OSError(f"no free segment name in {folder}")
        with self._lock:
            self._open[device_id] = seg
        return seg

    def close(self, device_id: str | None = None) -> None:
        with self._lock:
            ids = [device_id] if device_id is not None else list(self._open)
            closing = [self._open.pop(d) for d in ids if d in self._open]
        for seg in closing:
            seg.close()

    def forget_file(self, path: Path) -> None:
        """Close a segment that retention is about to delete."""
        with self._lock:
            gone = [d for d, seg in self._open.items() if seg.path == path]
            closing = [self._open.pop(d) for d in gone]
        for seg in closing:
            seg.close()


# --- reading ---------------------------------------------------------------------------


def scan(path: Path, payloads: str = "SAF", skip: int = 0) -> Iterator[Record]:
    """The valid records of one segment, in order; a torn or damaged tail ends it.

    Payloads of kinds not in `payloads`, and (but for specs) of the first `skip` records,
    are passed over unread (and unchecked). What is appended while it reads is left for the
    next scan: it reads up to the size the file had when opened."""
    try:
        file = open(path, "rb")
    except FileNotFoundError:
        return
    with file:
        if file.read(len(MAGIC)) != MAGIC:
            log.warning("%s is not a replay segment; skipped", path)
            return
        size = os.fstat(file.fileno()).st_size
        offset = len(MAGIC)
        for index in itertools.count():
            if offset + _HEAD.size > size:
                if offset < size:
                    _cut(path, offset, size)
                return
            kind, length, crc, seq, ts = _HEAD.unpack(file.read(_HEAD.size))
            if kind not in (b"S", b"A", b"F") or length > MAX_RECORD:
                _torn(path, offset)
                return
            if offset + _HEAD.size + length > size:
                _cut(path, offset, size)
                return
            payload = None
            if (index >= skip or kind == b"S") and kind.decode() in payloads:
                payload = file.read(length)
                if zlib.crc32(payload, zlib.crc32(_HEAD.pack(kind, length, 0, seq, ts))) != crc:
                    _torn(path, offset)
                    return
            else:
                file.seek(length, os.SEEK_CUR)
            offset += _HEAD.size + length
            yield Record(kind.decode(), seq, ts, payload)


def _torn(path: Path, offset: int) -> None:
    log.info("%s ends in a torn or damaged record at byte %d; the rest is ignored", path, offset)


def _cut(path: Path, offset: int, size: int) -> None:
    """The last record stops short at the end of the file: being written now, or torn."""
    try:
        writing = time.time() - path.stat().st_mtime < BEING_WRITTEN_S
    except OSError:
        writing = False
    if writing:  # the worker is appending to it (the hour being kept): nothing is wrong
        log.debug("%s: its last record (at byte %d of %d) is still being written", path, offset, size)
    else:
        _torn(path, offset)


def frames_in(records: Iterator[Record]) -> Iterator[tuple[Record, Frame | None]]:
    """Each record with its decoded frame (None for S and A records)."""
    previous: np.ndarray | None = None
    for record in records:
        if record.kind != "F":
            yield record, None
            continue
        capture_id, pixels = decode_frame(record.payload, previous)
        previous = pixels
        yield record, Frame(record.seq, record.ts, capture_id, pixels)
