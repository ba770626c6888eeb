"""Huey's own file (huey.db) when it is damaged: move it aside, start a new one, go on.

The file carries nothing but job ids; the jobs table in storewatch.db is the truth, and
the reconciler hands every due job to Huey again from it. So a damaged huey.db (a power
cut on a bad SD card, a truncated copy) is never a reason to stop: it is checked when it
is opened and whenever SQLite reports it corrupt, renamed to huey.db.corrupt-<time> for
a post-mortem, and replaced by an empty one.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from pathlib import Path

log = logging.getLogger("storewatch.jobs")

SQLITE_CORRUPT, SQLITE_NOTADB = 11, 26
SIDE_FILES = ("-wal", "-shm")


def is_corrupt(exc: BaseException) -> bool:
    """True for SQLite's 'malformed' and 'not a database', not for busy or locked."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return code & 0xFF in (SQLITE_CORRUPT, SQLITE_NOTADB)
    text = str(exc)
    return "malformed" in text or "not a database" in text


def problem(path: Path) -> str | None:
    """What is wrong with the task file, or None when it is sound (or not made yet)."""
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(str(path), timeout=15)
    except sqlite3.DatabaseError as exc:
        return str(exc) if is_corrupt(exc) else None
    try:
        rows = [row[0] for row in conn.execute("PRAGMA quick_check").fetchall()]
    except sqlite3.DatabaseError as exc:
        if is_corrupt(exc):
            return str(exc)
        raise
    finally:
        conn.close()
    return None if rows == ["ok"] else "; ".join(str(row) for row in rows[:5])


def inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except FileNotFoundError:
        return None


def move_aside(path: Path, reason: str, expected_inode: int | None = None) -> Path | None:
    """Rename a damaged task file (and its WAL) out of the way; None if another process did.

    `expected_inode` is the file found damaged: if the path now names another file, a
    process beside us has already replaced it, and the new one must be left alone.
    """
    if expected_inode is not None and inode(path) != expected_inode:
        return None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    try:
        os.replace(path, target)
    except FileNotFoundError:
        return None
    for suffix in SIDE_FILES:
        try:
            os.replace(f"{path}{suffix}", f"{target}{suffix}")
        except FileNotFoundError:
            pass
    log.error("the task queue file %s was damaged (%s); moved it to %s and started a new one. Nothing is "
              "lost: every job is in the jobs table, and the worker hands them to the new file.",
              path, reason, target.name)
    return target


def ensure_sound(path: Path) -> Path | None:
    """At open: move a damaged task file aside; returns where it went, or None."""
    found = inode(path)
    reason = problem(path)
    return move_aside(path, reason, found) if reason else None
