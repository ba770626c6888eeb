"""The rows that point at image files, over both tables that do (captures, event_images):
what the disk audit compares with the files on disk."""

from __future__ import annotations

from storewatch.store import Database


def known_paths(db: Database) -> set[str]:
    """Every relative path a capture or an event picture row points at."""
    return {row["path"] for row in db.query("SELECT path FROM captures UNION ALL SELECT path FROM event_images")}


def count(db: Database) -> int:
    """How many rows point at a file (captures plus event pictures)."""
    return int(db.scalar("SELECT (SELECT COUNT(*) FROM captures) + (SELECT COUNT(*) FROM event_images)"))
