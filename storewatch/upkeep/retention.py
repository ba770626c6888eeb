"""Retention: keep the SD card from filling up, without ever losing a frame still needed.

One run, in order:

1. event images older than `event_image_retention_days`: files and event_images rows go,
   the event row stays with `images_expired = 1`.
2. staging frames older than `staging_retention_hours`, then, oldest first, whatever keeps
   staging above `staging_max_bytes`. A frame is deletable when no event uses it
   (event_images.capture_id, events.start_capture_id of an event whose images are kept),
   the worker's state does not point at it, and its job is done or dead (never queued,
   running or failed-awaiting-retry). Its row goes first, with its job row (ON DELETE
   CASCADE), in one transaction; then its file. (A dry run cannot see frames that step 1
   would free, so it may report fewer than the real run deletes.)
3. per-ROI score history older than `score_history_days`.
4. reconcile disk and database (`disk_audit.py`).

Every run is recorded in `retention_runs` and counted in the `retention_deleted` and
`retention_bytes_freed` counters. `emergency_free` is the cheap hook ingest calls once
before answering 507.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storewatch import contract
from storewatch.store import retention_runs
from storewatch.store.images import EVENTS, DiskUsage

if TYPE_CHECKING:
    from storewatch.appliance import Appliance

log = logging.getLogger("storewatch.upkeep.retention")

BATCH = 200  # rows per write transaction: keeps the writer lock short for ingest
EMERGENCY_COOLDOWN_S = 30.0

Progress = Callable[[str], None]


@dataclass
class RetentionReport:
    trigger: str
    dry_run: bool
    deleted: dict[str, int] = field(default_factory=dict)  # what -> count
    bytes_freed: int = 0
    refused: list[str] = field(default_factory=list)
    error: str | None = None
    duration_s: float = 0.0
    run_id: int | None = None

    def add(self, what: str, count: int, freed: int = 0) -> None:
        if count:
            self.deleted[what] = self.deleted.get(what, 0) + count
        self.bytes_freed += freed

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "trigger": self.trigger, "dry_run": self.dry_run,
                "deleted": dict(self.deleted), "bytes_freed": self.bytes_freed,
                "refused": list(self.refused), "error": self.error,
                "duration_s": round(self.duration_s, 3)}


@dataclass
class _Frame:
    id: int
    path: str
    size_bytes: int
    received_at: str


class Retention:
    def __init__(self, appliance: Appliance, progress: Progress | None = None,
                 now: Callable[[], datetime] = contract.utc_now):
        self.appliance = appliance
        self.db = appliance.db
        self.images = appliance.images
        self.settings = appliance.settings
        self.captures = appliance.captures
        self.events = appliance.events
        self.progress = progress or (lambda message: None)
        self.now = now

    # --- the run -------------------------------------------------------------------------

    def run(self, trigger: str = "manual", dry_run: bool = False, reconcile: bool = True) -> RetentionReport:
        from storewatch.upkeep.disk_audit import reconcile as reconcile_disk

        report = RetentionReport(trigger=trigger, dry_run=dry_run)
        started = time.monotonic()
        report.run_id = self._record_start(report)
        planned: set[int] = set()
        try:
            self._event_images(report)  # first: frames its events used become deletable
            self._staging_by_age(report, planned)
            self._staging_by_size(report, planned)
            self._score_history(report)
            from storewatch.replay.pruning import prune_replay  # the frames kept for replay (replay_days)
            prune_replay(self.appliance, report, self.now(), self.progress)
            if reconcile:
                reconcile_disk(self.appliance, report, self.progress)
        except Exception as exc:  # recorded with the run, then raised for the caller's log
            report.error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            report.duration_s = time.monotonic() - started
            self._record_finish(report)
        return report

    def _staging_by_age(self, report: RetentionReport, planned: set[int]) -> None:
        hours = self.settings.get("staging_retention_hours")
        cutoff = contract.format_timestamp(self.now() - timedelta(hours=hours))
        count = freed = 0
        for frame in self._deletable_frames(before=cutoff):
            done, size = self._take([frame], report.dry_run, planned)
            count, freed = count + done, freed + size
            if count and count % BATCH == 0:
                self.progress(f"staging older than {hours:g} h: {count} frames so far")
        report.add("staging_expired", count, freed)
        self.progress(f"staging older than {hours:g} h: {_verb(report)} {count} frames, {_mb(freed)}")

    def _staging_by_size(self, report: RetentionReport, planned: set[int]) -> None:
        limit = self.settings.get("staging_max_bytes")
        total = self.staging_bytes() - (report.bytes_freed if report.dry_run else 0)
        count = freed = rows_bytes = 0  # rows_bytes: what the rows said; freed: what the disk got back
        if total > limit:
            for frame in self._deletable_frames():
                if total - rows_bytes <= limit:
                    break
                if frame.id in planned:
                    continue
                done, size = self._take([frame], report.dry_run, planned)
                count, freed, rows_bytes = count + done, freed + size, rows_bytes + frame.size_bytes * done
        report.add("staging_over_size", count, freed)
        self.progress(f"staging over {_mb(limit)} (was {_mb(total)}): {_verb(report)} {count} frames, "
                      f"{_mb(freed)}")

    def free_staging(self, needed: int, dry_run: bool = False) -> tuple[int, int]:
        """Delete deletable staging frames, oldest first, until `needed` bytes are freed."""
        count = freed = 0
        for frame in self._deletable_frames():
            if freed >= needed:
                break
            done, size = self._take([frame], dry_run, set())
            count, freed = count + done, freed + size
        return count, freed

    def staging_bytes(self) -> int:
        return self.captures.total_bytes()

    def _deletable_frames(self, before: str | None = None) -> Iterator[_Frame]:
        """Candidates oldest first (keyset pages); `_take` re-checks each inside its transaction."""
        last = ("", 0)
        while True:
            rows = self.captures.settled_page(last, before, BATCH)
            if not rows:
                return
            protected = self.captures.needed_ids()
            for row in rows:
                if row["id"] not in protected:
                    yield _Frame(**row)
            last = (rows[-1]["received_at"], rows[-1]["id"])

    def _take(self, frames: list[_Frame], dry_run: bool, planned: set[int]) -> tuple[int, int]:
        """Delete frames (rows, then files); returns (frames deleted, bytes freed)."""
        if dry_run:
            fresh = [f for f in frames if f.id not in planned]
            planned.update(f.id for f in fresh)
            return len(fresh), sum(f.size_bytes for f in fresh)
        gone: list[_Frame] = []
        with self.db.write() as conn:
            protected = self.captures.needed_ids()
            for frame in frames:
                if frame.id in protected:
                    continue
                if self.captures.delete_settled(conn, frame.id):
                    gone.append(frame)
        freed = sum(self.images.delete(frame.path) for frame in gone)
        return len(gone), freed

    # --- event images and score history ----------------------------------------------------

    def _event_images(self, report: RetentionReport) -> None:
        days = self.settings.get("event_image_retention_days")
        cutoff = contract.format_timestamp(self.now() - timedelta(days=days))
        events = files = freed = 0
        last_id = 0
        while True:
            ids = self.events.with_pictures_before(cutoff, last_id, BATCH)
            if not ids:
                break
            last_id = ids[-1]
            paths = self.events.expire_pictures(ids, report.dry_run)
            events += len(ids)
            files += len(paths)
            freed += self._delete_event_files(paths, report.dry_run)
        report.add("event_images", files, freed)
        report.add("events_expired", events)
        self.progress(f"event images older than {days:g} days: {_verb(report)} {files} images of "
                      f"{events} events, {_mb(freed)}")

    def _delete_event_files(self, paths: list[str], dry_run: bool) -> int:
        """Files under events/ only: an image that is a staging frame belongs to its capture row."""
        freed = 0
        for path in paths:
            if not path.startswith(f"{EVENTS}/"):
                continue
            if dry_run:
                freed += _size(self.images.root / path)
                continue
            freed += self.images.delete(path)
            folder = self.images.absolute(path).parent  # events/<device>/<event id>/: only that one goes,
            _remove_empty_dirs(folder, folder.parent)   # the device's folder may be written to right now
        return freed

    def _score_history(self, report: RetentionReport) -> None:
        days = self.settings.get("score_history_days")
        cutoff = (self.now() - timedelta(days=days)).timestamp()
        scores = self.appliance.scores
        count = scores.count_older(cutoff) if report.dry_run else scores.prune_older(cutoff)
        report.add("roi_scores", count)
        self.progress(f"score history older than {days:g} days: {_verb(report)} {count} rows")

    # --- the record of runs ----------------------------------------------------------------

    def _record_start(self, report: RetentionReport) -> int:
        return retention_runs.start(self.db, contract.format_timestamp(self.now()), report.trigger,
                                    report.dry_run)

    def _record_finish(self, report: RetentionReport) -> None:
        details = {**report.deleted, **({"refused": report.refused} if report.refused else {})}
        retention_runs.finish(self.db, report.run_id, contract.format_timestamp(self.now()), details,
                              report.bytes_freed, round(report.duration_s, 3), report.error)
        if not report.dry_run:
            counters = self.appliance.counters
            for what, count in report.deleted.items():
                counters.add("retention_deleted", what, count)
            counters.add("retention_bytes_freed", "", report.bytes_freed)
            counters.flush()


def run_retention(appliance: Appliance, trigger: str = "manual", dry_run: bool = False,
                  reconcile: bool = True, progress: Progress | None = None) -> RetentionReport:
    return Retention(appliance, progress).run(trigger, dry_run, reconcile)


def last_runs(appliance: Appliance, limit: int = 20) -> list[dict[str, Any]]:
    return retention_runs.last(appliance.db, limit)


# --- below the disk reserve ------------------------------------------------------------------


class _Emergency:
    """Per data directory: one emergency at a time, and no rescan right after a fruitless one."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.fruitless_at = -EMERGENCY_COOLDOWN_S


_EMERGENCIES: dict[str, _Emergency] = {}
_EMERGENCIES_LOCK = threading.Lock()


def emergency_free(appliance: Appliance, needed_bytes: int) -> bool:
    """Free staging (oldest first) until `needed_bytes` fit above the disk reserve.

    Ingest calls this once before answering 507. Returns True when the bytes now fit.
    Cheap when nothing can be done: after a run that could not free enough, callers get
    False at once for EMERGENCY_COOLDOWN_S instead of rescanning on every request.
    """
    with _EMERGENCIES_LOCK:
        state = _EMERGENCIES.setdefault(str(appliance.data_dir), _Emergency())
    if time.monotonic() - state.fruitless_at < EMERGENCY_COOLDOWN_S:
        return False
    if not state.lock.acquire(timeout=30):
        return False
    try:
        if _shortfall(appliance, needed_bytes) <= 0:  # another request just freed enough
            return True
        retention = Retention(appliance)
        report = RetentionReport(trigger="emergency", dry_run=False)
        started = time.monotonic()
        report.run_id = retention._record_start(report)
        try:
            shortfall = _shortfall(appliance, needed_bytes, headroom=True)
            count, freed = retention.free_staging(shortfall)
            report.add("staging_emergency", count, freed)
        finally:
            report.duration_s = time.monotonic() - started
            retention._record_finish(report)
        fits = _shortfall(appliance, needed_bytes) <= 0
        log.warning("below the disk reserve: deleted %d staging frames (%s); %s", count, _mb(freed),
                    "ingest continues" if fits else "still below the reserve, ingest answers 507")
        if not fits:
            state.fruitless_at = time.monotonic()
        return fits
    finally:
        state.lock.release()


def disk_reserve(appliance: Appliance, usage: DiskUsage) -> int:
    """The free space ingest keeps on the data disk, from the reserve settings."""
    return usage.reserve(appliance.settings.get("disk_reserve_bytes"),
                         appliance.settings.get("disk_reserve_percent"))


def _shortfall(appliance: Appliance, needed_bytes: int, headroom: bool = False) -> int:
    """Bytes to free so `needed_bytes` fit above the reserve (plus, if asked, some room to breathe)."""
    usage = appliance.images.usage()
    reserve = disk_reserve(appliance, usage)
    extra = min(64 * 1024 * 1024, usage.total // 50) if headroom else 0
    return reserve + needed_bytes + extra - usage.free


def below_reserve(appliance: Appliance) -> bool:
    return _shortfall(appliance, 0) > 0


# --- the service ------------------------------------------------------------------------------


def retention_service(appliance: Appliance, interval_s: float = 300.0, reconcile_every: int = 12):
    """Runs at start (with a reconcile), then every `interval_s` (reconciling every Nth round)."""
    from storewatch.ops.periodic import PeriodicService

    def tick(round_no: int) -> None:
        trigger = "start" if round_no == 0 else "periodic"
        report = run_retention(appliance, trigger, reconcile=round_no % reconcile_every == 0)
        if report.deleted or report.refused:
            log.info("retention (%s): %s", trigger, report.to_json())
        if below_reserve(appliance):
            emergency_free(appliance, 0)

    return PeriodicService("retention", interval_s, tick)


# --- small helpers ----------------------------------------------------------------------------


def _verb(report: RetentionReport) -> str:
    return "would delete" if report.dry_run else "deleted"


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _remove_empty_dirs(folder: Path, stop: Path) -> None:
    """rmdir `folder` and its parents while empty, up to (not including) `stop`."""
    folder, stop = folder.resolve(), stop.resolve()
    while folder != stop and folder.is_relative_to(stop):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent
