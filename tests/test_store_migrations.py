"""Schema migrations: a fresh file, every older version and a too-new file."""

from __future__ import annotations

from pathlib import Path

import apsw
import pytest

from storewatch.store import Database
from storewatch.store import migrations
from storewatch.store.migrations import MIGRATIONS, SCHEMA_VERSION, SchemaTooNew
from support.schema import database_at


def user_version(path: Path) -> int:
    conn = apsw.Connection(str(path))
    try:
        return conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()


def tables(path: Path) -> set[str]:
    conn = apsw.Connection(str(path))
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()


def make_old_database(path: Path, version: int) -> None:
    """A file as storewatch at schema `version` left it, using only the migrations it knew."""
    conn = database_at(path, version)
    with conn:
        conn.execute(
            "INSERT INTO devices (id, name, token_hash, token_salt, created_at)"
            " VALUES ('cam', 'Cam', 'h', 's', '2026-01-01T00:00:00.000Z')")
        conn.execute("INSERT INTO device_settings (device_id, values_json) VALUES ('cam', '{\"jpeg_quality\": 70}')")
        conn.execute(
            "INSERT INTO captures (device_id, seq, capture_ts, capture_epoch, received_at, width, height,"
            " jpeg_quality, size_bytes, sha256, path) VALUES ('cam', 1, '2026-01-01T00:00:00Z', 0,"
            " '2026-01-01T00:00:00.000Z', 64, 48, 85, 10, 'abc', 'staging/cam/x.jpg')")
        conn.execute("INSERT INTO settings (key, value) VALUES ('disk_reserve_percent', '7.5')")
    conn.close()


def test_a_fresh_file_reaches_the_current_version(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    Database(path).close()
    assert user_version(path) == SCHEMA_VERSION
    assert {"devices", "captures", "jobs", "settings", "admin_sessions", "retention_runs",
            "metrics_samples"} <= tables(path)


def test_opening_a_current_file_again_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "again.db"
    Database(path).close()
    before = tables(path)
    Database(path).close()
    assert user_version(path) == SCHEMA_VERSION and tables(path) == before


def test_there_is_an_older_version_to_migrate_from() -> None:
    # Migration 1 must stay what it was when first released; new tables go in new migrations.
    assert SCHEMA_VERSION >= 2
    assert "retention_runs" not in MIGRATIONS[0]


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION))
def test_an_older_version_migrates_and_keeps_its_data(tmp_path: Path, version: int) -> None:
    path = tmp_path / f"v{version}.db"
    make_old_database(path, version)
    assert user_version(path) == version
    db = Database(path)
    try:
        assert user_version(path) == SCHEMA_VERSION
        assert db.query_one("SELECT name FROM devices WHERE id = 'cam'") == {"name": "Cam"}
        assert db.scalar("SELECT values_json FROM device_settings") == '{"jpeg_quality": 70}'
        assert db.scalar("SELECT path FROM captures WHERE device_id = 'cam' AND seq = 1") == "staging/cam/x.jpg"
        assert db.scalar("SELECT value FROM settings WHERE key = 'disk_reserve_percent'") == "7.5"
        assert db.scalar("SELECT count(*) FROM retention_runs") == 0
    finally:
        db.close()


def test_a_file_made_when_migration_1_held_every_table_still_opens(tmp_path: Path) -> None:
    # For a while retention_runs and metrics_samples were created by migration 1 itself.
    path = tmp_path / "early.db"
    conn = apsw.Connection(str(path))
    with conn:
        conn.execute(MIGRATIONS[0] + MIGRATIONS[1])
        conn.execute("PRAGMA user_version = 1")
        conn.execute("INSERT INTO metrics_samples (ts, values_json) VALUES ('t', '{}')")
    conn.close()
    db = Database(path)
    try:
        assert user_version(path) == SCHEMA_VERSION
        assert db.scalar("SELECT count(*) FROM metrics_samples") == 1
    finally:
        db.close()


def test_a_newer_version_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    conn = apsw.Connection(str(path))
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(SchemaTooNew) as caught:
        Database(path)
    message = str(caught.value)
    assert f"schema {SCHEMA_VERSION + 1}" in message and "newer than this storewatch" in message
    assert "upgrade storewatch or restore a backup" in message
    assert user_version(path) == SCHEMA_VERSION + 1


def test_a_failing_migration_leaves_the_previous_version_intact(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "broken.db"
    Database(path).close()
    broken = "CREATE TABLE half_done (a); INSERT INTO no_such_table VALUES (1);"
    monkeypatch.setattr(migrations, "MIGRATIONS", [*MIGRATIONS, broken])
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(apsw.SQLError):
        Database(path)
    assert user_version(path) == SCHEMA_VERSION
    assert "half_done" not in tables(path)


def test_migrate_without_migrating_opens_as_is(tmp_path: Path) -> None:
    path = tmp_path / "raw.db"
    db = Database(path, migrate_schema=False)
    try:
        assert db.scalar("PRAGMA user_version") == 0
    finally:
        db.close()
