"""The database as a file, apart from the live `Database`: opening a copy, checking it,
copying its pages (apsw's backup API) and setting its journal mode. Backup and restore
(upkeep/backup.py) are built on these."""

from __future__ import annotations

from pathlib import Path

import apsw

from storewatch.store.connection import BUSY_TIMEOUT_MS

JOURNAL_MODES = ("DELETE", "WAL")


def open_file(path: Path, read_only: bool = False) -> apsw.Connection:
    flags = apsw.SQLITE_OPEN_READONLY if read_only else apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE
    conn = apsw.Connection(str(path), flags=flags)
    conn.setbusytimeout(BUSY_TIMEOUT_MS)
    return conn


def _values(conn: apsw.Connection, sql: str) -> list:
    return [row[0] for row in conn.execute(sql)]


def check(conn: apsw.Connection, full: bool = False) -> tuple[int, list[str]]:
    """The file's schema version and its problems (none when sound): PRAGMA quick_check, or
    integrity_check with `full`, then foreign_key_check. apsw errors are the caller's."""
    version = int(_values(conn, "PRAGMA user_version")[0])
    found = _values(conn, "PRAGMA integrity_check" if full else "PRAGMA quick_check")
    problems = [] if found == ["ok"] else [str(p) for p in found[:20]]
    fk = list(conn.execute("PRAGMA foreign_key_check"))
    if fk:
        problems.append(f"{len(fk)} rows break a foreign key (first: table {fk[0][0]}, rowid {fk[0][1]})")
    return version, problems


def copy_pages(source: apsw.Connection, target: apsw.Connection) -> int:
    """Every page of `source` into `target`, in one read transaction of the source (consistent,
    and in WAL mode writers go on meanwhile); how many pages."""
    with target.backup("main", source, "main") as job:
        job.step(-1)
        return job.page_count


def set_journal_mode(conn: apsw.Connection, mode: str) -> None:
    if mode not in JOURNAL_MODES:
        raise ValueError(f"journal mode must be one of {', '.join(JOURNAL_MODES)}")
    conn.execute(f"PRAGMA journal_mode={mode}").fetchall()
