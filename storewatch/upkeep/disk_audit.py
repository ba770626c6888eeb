"""Make disk and database agree: files with no row go, rows whose file vanished go.

A wholesale mismatch means something else is wrong (the SD card mounted elsewhere, a
restored database beside newer images), so when more than half of the files, or more
than half of the rows, would go, that side is left alone and the refusal reported.
Anything younger than FRESH_S is left alone too: ingest writes the file before its row
commits, and the worker may write an event image just before its row.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from storewatch import contract
from storewatch.store import image_rows
from storewatch.store.images import EVENTS, STAGING
from storewatch.durable import TEMP_PREFIX

if TYPE_CHECKING:
    from storewatch.appliance import Appliance
    from storewatch.upkeep.retention import RetentionReport

log = logging.getLogger("storewatch.upkeep.retention")

FRESH_S = 600.0


def reconcile(appliance: Appliance, report: RetentionReport,
              progress: Callable[[str], None] = lambda message: None) -> None:
    root = appliance.images.root
    old_enough = time.time() - FRESH_S
    files = _files(root)
    known = image_rows.known_paths(appliance.db)
    orphans = [(path, size) for path, (size, mtime) in files.items()
               if path not in known and mtime < old_enough]
    temps = _stale_temp_files(root, old_enough)
    _orphan_files(appliance, report, orphans, len(files), temps)
    _missing_rows(appliance, report, set(files))
    if not report.dry_run:
        _remove_empty_day_dirs(root / STAGING)
    progress(f"reconcile: {len(files)} files, {len(orphans)} without a row, "
             f"{report.deleted.get('rows_without_file', 0)} rows without a file"
             + (f"; REFUSED: {'; '.join(report.refused)}" if report.refused else ""))


def _files(root: Path) -> dict[str, tuple[int, float]]:
    """Every image file under staging/ and events/: relative path -> (size, mtime)."""
    found: dict[str, tuple[int, float]] = {}
    for top in (STAGING, EVENTS):
        base = root / top
        if not base.exists():
            continue
        for folder, _, names in os.walk(base):
            for name in names:
                if name.startswith(TEMP_PREFIX):
                    continue
                path = Path(folder) / name
                try:
                    stat = path.stat()
                except FileNotFoundError:  # deleted meanwhile
                    continue
                found[str(path.relative_to(root))] = (stat.st_size, stat.st_mtime)
    return found


def _stale_temp_files(root: Path, old_enough: float) -> list[Path]:
    stale = []
    for top in (STAGING, EVENTS):
        base = root / top
        if base.exists():
            for path in base.rglob(f"{TEMP_PREFIX}*"):
                try:
                    if path.stat().st_mtime < old_enough:
                        stale.append(path)
                except FileNotFoundError:
                    continue
    return stale


def _orphan_files(appliance: Appliance, report: RetentionReport, orphans: list[tuple[str, int]],
                  total: int, temps: list[Path]) -> None:
    if orphans and len(orphans) > total / 2:
        report.refused.append(
            f"{len(orphans)} of {total} image files have no database row; not deleting them "
            "(a restored or wrong database?). See docs/RUNBOOK.md, 'Disk and database disagree'.")
        log.error("retention: %s", report.refused[-1])
        orphans = []
    freed = 0
    for path, size in orphans:
        freed += size if report.dry_run else appliance.images.delete(path)
    for temp in temps:
        if not report.dry_run:
            try:
                size = temp.stat().st_size
                temp.unlink()
                freed += size
            except FileNotFoundError:
                continue
    report.add("files_without_row", len(orphans) + len(temps), freed)


def _missing_rows(appliance: Appliance, report: RetentionReport, present: set[str]) -> None:
    db = appliance.db
    cutoff = contract.format_timestamp(datetime.now(timezone.utc) - timedelta(seconds=FRESH_S))
    captures = appliance.captures.settled_before(cutoff)
    images = appliance.events.picture_rows()
    total = image_rows.count(db)
    lost_captures = [r["id"] for r in captures if r["path"] not in present and not _exists(appliance, r["path"])]
    lost_images = [r["id"] for r in images if r["path"] not in present and not _exists(appliance, r["path"])]
    lost = len(lost_captures) + len(lost_images)
    if lost and lost > total / 2:
        report.refused.append(
            f"{lost} of {total} database rows point at missing image files; not deleting them "
            "(is the data disk mounted?). See docs/RUNBOOK.md, 'Disk and database disagree'.")
        log.error("retention: %s", report.refused[-1])
        return
    if not report.dry_run and lost:
        with db.write() as conn:
            for capture_id in lost_captures:
                appliance.captures.delete_settled(conn, capture_id)
            for image_id in lost_images:
                appliance.events.delete_picture_row(conn, image_id)
    report.add("rows_without_file", lost)


def _exists(appliance: Appliance, relative: str) -> bool:
    try:
        return appliance.images.absolute(relative).exists()
    except ValueError:  # a path leaving the data directory is as good as missing
        return False


def _remove_empty_day_dirs(staging: Path) -> None:
    """staging/<device>/<day>/ folders of days before yesterday, once empty (ingest writes today's)."""
    if not staging.exists():
        return
    yesterday = (datetime.now(timezone.utc) - timedelta(days=1)).strftime("%Y%m%d")
    for device in staging.iterdir():
        if not device.is_dir():
            continue
        for day in device.iterdir():
            if day.is_dir() and day.name < yesterday:
                try:
                    day.rmdir()
                except OSError:
                    continue
