"""Frame sequence numbers that only go up, across restarts, crashes and power cuts.

Writing the last seq after every frame would wear the SD card, so a block of numbers is
reserved ahead instead: the file holds a high-water mark that no issued seq reaches. On
start the counter continues at the stored mark, skipping whatever the last run reserved
and did not use. A missing or unreadable file (first start, wiped card) starts at the
wall clock in milliseconds, which is above anything an earlier install could have sent
as long as the clock is right and fewer than 1000 frames a second were taken. Whatever
the clock says, the config answer's `last_seq` moves the counter past the seqs the
appliance already holds (`resume_after`), as the contract asks of a device that lost its
record.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from storewatch.durable import atomic_write
from storewatch.contract import MAX_SEQ

log = logging.getLogger("storewatch.camera")

SEQ_FILE = "seq.reserved"
DEFAULT_BLOCK = 1000


class SeqAllocator:
    def __init__(self, state_dir: Path, block: int = DEFAULT_BLOCK, initial: int | None = None) -> None:
        if block < 1:
            raise ValueError("block must be at least 1")
        self.path = Path(state_dir) / SEQ_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.block = block
        self._lock = threading.Lock()
        stored = self._read()
        self.fresh = stored is None  # no record of an earlier run
        if stored is None:
            stored = int(time.time() * 1000) if initial is None else initial
            log.info("no seq state in %s; starting at %d", self.path, stored)
        self._next = stored
        self._reserved = stored
        self._last: int | None = None
        self._reserve()

    def _read(self) -> int | None:
        try:
            text = self.path.read_text().strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("cannot read %s (%s); starting from the clock", self.path, exc)
            return None
        if not text.isdigit():
            log.warning("%s is damaged (%r); starting from the clock", self.path, text[:40])
            return None
        return int(text)

    def _reserve(self) -> None:
        reserved = self._next + self.block
        if reserved >= MAX_SEQ:
            raise OverflowError("seq would pass 2^63")
        atomic_write(self.path, f"{reserved}\n".encode())
        self._reserved = reserved

    def resume_after(self, last_seq: int) -> bool:
        """Go on above `last_seq`, the highest seq the appliance holds; True if that moved the counter."""
        with self._lock:
            if last_seq < self._next:
                return False
            log.log(logging.INFO if self.fresh else logging.WARNING,
                    "the appliance already holds seq %d; going on from %d", last_seq, last_seq + 1)
            self._next = last_seq + 1
            self._reserve()
            return True

    def next(self) -> int:
        """The next seq; it is never handed out again, also after a crash."""
        with self._lock:
            if self._next >= self._reserved:
                self._reserve()
            seq = self._last = self._next
            self._next += 1
            return seq

    @property
    def last_issued(self) -> int | None:
        return self._last
