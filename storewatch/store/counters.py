"""Counters that survive restarts, cheap on the hot path.

Increments land in memory and are flushed to the `counters` table in one transaction
(periodically and at shutdown), so a flood of bad requests cannot turn into a flood of
SD-card writes. That transaction commits without a flush of its own (a power cut loses
the last minute's increments anyway, those still in memory): the next flushed commit, or
the checkpoint at a clean stop, makes it durable.
"""

from __future__ import annotations

import threading
from collections import Counter

from storewatch.store import Database


class Counters:
    def __init__(self, db: Database):
        self.db = db
        self._pending: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def add(self, name: str, label: str = "", amount: int = 1) -> None:
        with self._lock:
            self._pending[(name, label)] += amount

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, Counter()
        if not pending:
            return
        try:
            with self.db.write(flush=False) as conn:
                for (name, label), amount in pending.items():
                    conn.execute(
                        "INSERT INTO counters (name, label, value) VALUES (?, ?, ?)"
                        " ON CONFLICT (name, label) DO UPDATE SET value = value + excluded.value",
                        (name, label, amount))
        except BaseException:
            with self._lock:
                self._pending.update(pending)
            raise

    def snapshot(self) -> dict[str, dict[str, int]]:
        """Stored plus pending values: {name: {label: value}}."""
        totals: dict[str, dict[str, int]] = {}
        for row in self.db.query("SELECT name, label, value FROM counters"):
            totals.setdefault(row["name"], {})[row["label"]] = row["value"]
        with self._lock:
            for (name, label), amount in self._pending.items():
                bucket = totals.setdefault(name, {})
                bucket[label] = bucket.get(label, 0) + amount
        return totals
