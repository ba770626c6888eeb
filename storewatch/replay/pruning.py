"""Retention of the kept frames: segments older than `replay_days` go, whole files at a time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from storewatch.replay import segments

HOUR_S = 3600.0


def old_segments(data_dir: Path, cutoff: float) -> list[Path]:
    """Every device's segments whose hour ended before `cutoff` (epoch seconds)."""
    root = Path(data_dir) / segments.FOLDER
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in segments.segment_files(data_dir, folder.name):
            hour = segments.segment_hour(path)
            if hour is not None and hour + HOUR_S <= cutoff:
                found.append(path)
    return found


def prune_replay(appliance: Any, report: Any, now: datetime, progress: Callable[[str], None]) -> None:
    """Delete the segments older than replay_days (all of them at 0); counted in the report."""
    days = appliance.settings.get("replay_days")
    cutoff = now.timestamp() - days * 86400 if days else float("inf")
    count = freed = 0
    for path in old_segments(appliance.data_dir, cutoff):
        try:
            size = path.stat().st_size
            if not report.dry_run:
                path.unlink()
        except FileNotFoundError:
            continue
        count, freed = count + 1, freed + size
    if not report.dry_run:
        _remove_empty(Path(appliance.data_dir) / segments.FOLDER)
    report.add("replay_segments", count, freed)
    verb = "would delete" if report.dry_run else "deleted"
    progress(f"frames kept for replay older than {days:g} days: {verb} {count} segment files"
             f" ({freed / 1e6:.1f} MB)")


def _remove_empty(root: Path) -> None:
    if not root.is_dir():
        return
    for folder in root.iterdir():
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
