"""HMAC nonces already used inside the replay window, remembered across restarts.

Memory is the authority while the process runs (one check-and-add under a lock, so two
copies of a request racing each other cannot both pass). The app database holds them for
the next process: a replay after a restart is refused as before it.

Saving costs no write of its own (SD card wear): nonces wait in memory and go into the
next write transaction a device request makes anyway (the ingest batch, the heartbeat,
the config fetch; see `transaction`). A request whose effects committed therefore has its
nonce committed with them. The rejected alternative, refusing signatures older than the
server's start, writes nothing at all but is wrong: the contract allows a device clock
300 s behind, and such a device would get 401 (and drop its frames) for up to five minutes
after every restart.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import apsw

from storewatch.contract import HMAC_WINDOW_S
from storewatch.store import Database

MAX_NONCES = 200_000
PRUNE_EVERY_S = 60.0

Entry = tuple[str, str, float]  # device id, nonce, forget after (unix seconds)


class TooManyNonces(RuntimeError):
    """Every slot holds a live nonce; forgetting one would let it be replayed."""


class SeenNonces:
    def __init__(self, db: Database, window_s: float = HMAC_WINDOW_S, capacity: int = MAX_NONCES,
                 clock: Callable[[], float] = time.time):
        self.db = db
        self.window_s = window_s
        self.capacity = capacity
        self._clock = clock
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()  # in order of expiry
        self._unsaved: list[Entry] = []
        self._loaded = False
        self._pruned_at = float("-inf")
        self._lock = threading.Lock()

    def seen(self, device_id: str, nonce: str, now: float) -> bool:
        """True if the nonce was already used (a replay); remembers nothing."""
        with self._lock:
            self._forget_expired(now)
            return (device_id, nonce) in self._seen

    def remember(self, device_id: str, nonce: str, now: float) -> bool:
        """True if the nonce is new (and is now remembered), False for a replay."""
        with self._lock:
            self._forget_expired(now)
            key = (device_id, nonce)
            if key in self._seen:
                return False
            if len(self._seen) >= self.capacity:
                raise TooManyNonces(f"{len(self._seen)} nonces are live")
            # Both sides of the window: a timestamp up to window_s ahead stays valid that long.
            expires = now + 2 * self.window_s
            self._seen[key] = expires
            self._unsaved.append((device_id, nonce, expires))
            return True

    @contextmanager
    def transaction(self, flush: bool = True) -> Iterator[apsw.Connection]:
        """A write transaction that also saves the nonces remembered so far.

        If it rolls back they stay waiting for the next one. Use it as the outermost
        transaction: a nested one commits with (and may roll back with) its outer one.
        flush=False (Database.write) is honoured only when no nonce waits: a saved nonce
        must outlive a power cut.
        """
        with self._lock:
            pending, self._unsaved = self._unsaved, []
        try:
            unflushed = not flush and not pending
            with (self.db.write(flush=False) if unflushed else self.db.write()) as conn:
                yield conn
                self._save(conn, pending)
        except BaseException:
            with self._lock:
                self._unsaved[:0] = pending
            raise

    def _save(self, conn: apsw.Connection, pending: list[Entry]) -> None:
        if pending:
            conn.executemany("INSERT OR IGNORE INTO hmac_nonces (device_id, nonce, expires_at) VALUES (?, ?, ?)",
                             pending)
        now = self._clock()
        if now - self._pruned_at >= PRUNE_EVERY_S:
            self._pruned_at = now
            conn.execute("DELETE FROM hmac_nonces WHERE expires_at < ?", (now,))

    def _forget_expired(self, now: float) -> None:
        if not self._loaded:  # the nonces an earlier process saw, once, on first use
            self._loaded = True
            for row in self.db.query("SELECT device_id, nonce, expires_at FROM hmac_nonces"
                                     " WHERE expires_at >= ? ORDER BY expires_at", (now,)):
                self._seen[(row["device_id"], row["nonce"])] = row["expires_at"]
        while self._seen and next(iter(self._seen.values())) < now:
            self._seen.popitem(last=False)
