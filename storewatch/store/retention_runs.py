"""The retention_runs table: one row per retention run, its trigger, what it deleted and how it ended."""

from __future__ import annotations

import json
from typing import Any

from storewatch.store import Database, Row

RUNS_KEPT = 1000


def start(db: Database, started_at: str, trigger: str, dry_run: bool) -> int:
    """Record a run's start (and forget the runs older than the last RUNS_KEPT); its id."""
    with db.write() as conn:
        conn.execute("INSERT INTO retention_runs (started_at, trigger, dry_run) VALUES (?, ?, ?)",
                     (started_at, trigger, int(dry_run)))
        run_id = conn.last_insert_rowid()
        conn.execute("DELETE FROM retention_runs WHERE id <= ?", (run_id - RUNS_KEPT,))
    return run_id


def finish(db: Database, run_id: int | None, finished_at: str, details: dict[str, Any], bytes_freed: int,
           duration_s: float, error: str | None) -> None:
    with db.write() as conn:
        conn.execute(
            "UPDATE retention_runs SET finished_at = ?, deleted = ?, bytes_freed = ?, duration_s = ?,"
            " error = ? WHERE id = ?",
            (finished_at, json.dumps(details), bytes_freed, duration_s, error, run_id))


def last(db: Database, limit: int = 20) -> list[Row]:
    """The newest runs first, `deleted` read from its JSON and `dry_run` as a bool."""
    rows = db.query("SELECT * FROM retention_runs ORDER BY id DESC LIMIT ?", (limit,))
    for row in rows:
        row["deleted"] = json.loads(row["deleted"] or "{}")
        row["dry_run"] = bool(row["dry_run"])
    return rows


def last_real(db: Database) -> Row | None:
    """The newest run that was not a dry run, as stored (finished or not)."""
    return db.query_one("SELECT * FROM retention_runs WHERE dry_run = 0 ORDER BY id DESC LIMIT 1")


def last_finished(db: Database) -> Row | None:
    """The newest finished run that was not a dry run, `deleted` read from its JSON."""
    row = db.query_one("SELECT * FROM retention_runs WHERE dry_run = 0 AND finished_at IS NOT NULL"
                       " ORDER BY id DESC LIMIT 1")
    return {**row, "deleted": json.loads(row["deleted"] or "{}")} if row else row
