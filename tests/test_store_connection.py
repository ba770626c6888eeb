"""Database connections: pragmas, the write transaction and concurrent writers."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import apsw
import pytest

from storewatch.store import Database


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    opened = Database(tmp_path / "app.db")
    with opened.write() as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT, n INTEGER)")
    yield opened
    opened.close()


def in_thread(fn):  # noqa: ANN001, ANN201
    result: list = []
    thread = threading.Thread(target=lambda: result.append(fn()))
    thread.start()
    thread.join()
    return result[0]


def test_wal_and_foreign_keys_are_on_in_every_thread(db: Database) -> None:
    for run in (lambda f: f(), in_thread):
        assert run(lambda: db.scalar("PRAGMA journal_mode")) == "wal"
        assert run(lambda: db.scalar("PRAGMA foreign_keys")) == 1
        assert run(lambda: db.scalar("PRAGMA synchronous")) == 2  # FULL: commits survive a power cut


def test_foreign_keys_are_enforced(db: Database) -> None:
    with pytest.raises(apsw.ConstraintError):
        with db.write() as conn:
            conn.execute("INSERT INTO device_settings (device_id) VALUES ('nobody')")


def test_each_thread_has_its_own_connection(db: Database) -> None:
    assert db.connection() is db.connection()
    assert in_thread(db.connection) is not db.connection()


def test_rows_are_dicts(db: Database) -> None:
    with db.write() as conn:
        conn.execute("INSERT INTO t (who, n) VALUES ('a', 1)")
    assert db.query("SELECT who, n FROM t") == [{"who": "a", "n": 1}]
    assert db.query_one("SELECT who FROM t WHERE n = 2") is None
    assert db.scalar("SELECT count(*) FROM t") == 1
    assert db.scalar("SELECT n FROM t WHERE n = 99") is None


def test_write_commits_on_success(db: Database, tmp_path: Path) -> None:
    with db.write() as conn:
        conn.execute("INSERT INTO t (who, n) VALUES ('a', 1)")
    other = apsw.Connection(str(tmp_path / "app.db"))
    assert other.execute("SELECT count(*) FROM t").fetchone()[0] == 1
    other.close()


@pytest.mark.parametrize("error", [ValueError("boom"), KeyboardInterrupt()])
def test_write_rolls_back_on_any_exception(db: Database, error: BaseException) -> None:
    with pytest.raises(type(error)):
        with db.write() as conn:
            conn.execute("INSERT INTO t (who, n) VALUES ('a', 1)")
            raise error
    assert db.scalar("SELECT count(*) FROM t") == 0
    assert not db.connection().in_transaction
    with db.write() as conn:  # and the next write works
        conn.execute("INSERT INTO t (who, n) VALUES ('b', 2)")
    assert db.scalar("SELECT count(*) FROM t") == 1


def test_nested_write_joins_the_outer_transaction(db: Database) -> None:
    with pytest.raises(RuntimeError):
        with db.write() as outer:
            outer.execute("INSERT INTO t (who, n) VALUES ('outer', 1)")
            with db.write() as inner:
                inner.execute("INSERT INTO t (who, n) VALUES ('inner', 2)")
            raise RuntimeError("outer fails")
    assert db.scalar("SELECT count(*) FROM t") == 0


def test_a_reader_does_not_see_an_uncommitted_write(db: Database) -> None:
    with db.write() as conn:
        conn.execute("INSERT INTO t (who, n) VALUES ('a', 1)")
        assert in_thread(lambda: db.scalar("SELECT count(*) FROM t")) == 0
    assert in_thread(lambda: db.scalar("SELECT count(*) FROM t")) == 1


def _hammer(db: Database, who: str, count: int, errors: list[BaseException]) -> None:
    try:
        for n in range(count):
            with db.write() as conn:
                current = conn.execute("SELECT count(*) FROM t WHERE who = ?", (who,)).fetchone()
                conn.execute("INSERT INTO t (who, n) VALUES (?, ?)", (who, n))
                assert next(iter(current.values())) == n
            db.query("SELECT * FROM t WHERE who = ? ORDER BY id DESC LIMIT 3", (who,))
    except BaseException as exc:  # collected and re-raised by the test
        errors.append(exc)


def test_concurrent_writers_in_threads_never_meet_busy(db: Database) -> None:
    errors: list[BaseException] = []
    threads = [threading.Thread(target=_hammer, args=(db, f"w{i}", 60, errors)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert db.scalar("SELECT count(*) FROM t") == 8 * 60


def test_writers_through_separate_database_objects_wait_instead_of_failing(db: Database) -> None:
    # Two Database objects on one file stand for two processes (server and CLI): no shared
    # lock, only SQLite's own, BEGIN IMMEDIATE and the busy timeout.
    second = Database(db.path)
    errors: list[BaseException] = []
    try:
        threads = [threading.Thread(target=_hammer, args=(owner, f"{name}{i}", 40, errors))
                   for name, owner in (("a", db), ("b", second)) for i in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        second.close()
    assert errors == []
    assert db.scalar("SELECT count(*) FROM t") == 6 * 40


def test_close_closes_every_threads_connection(tmp_path: Path) -> None:
    db = Database(tmp_path / "c.db")
    conns = [db.connection(), in_thread(db.connection)]
    db.close()
    for conn in conns:
        with pytest.raises(apsw.ConnectionClosedError):
            conn.execute("SELECT 1")
    assert db.scalar("SELECT 1") == 1  # a fresh connection opens on next use
    db.close()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The usual umask (022), under which SQLite alone would make the files world-readable."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_a_new_database_and_its_wal_and_shm_are_owner_only(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "app.db"
    db = Database(path)
    try:
        with db.write() as conn:
            conn.execute("CREATE TABLE t (x)")
            conn.execute("INSERT INTO t VALUES (1)")
        side_files = [tmp_path / "app.db-wal", tmp_path / "app.db-shm"]
        assert all(p.exists() for p in side_files)
        assert {p.name: _mode(p) for p in [path, *side_files]} == {
            "app.db": 0o600, "app.db-wal": 0o600, "app.db-shm": 0o600}
    finally:
        db.close()


def test_a_world_readable_database_is_made_owner_only_when_opened(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "app.db"
    db = Database(path)
    with db.write() as conn:
        conn.execute("CREATE TABLE t (x)")
    db.close()
    for leftover in [path, tmp_path / "app.db-wal", tmp_path / "app.db-shm"]:
        leftover.touch()
        os.chmod(leftover, 0o644)
    reopened = Database(path)
    try:
        assert reopened.scalar("SELECT COUNT(*) FROM t") == 0
        assert {p.name: _mode(p) for p in tmp_path.iterdir()} == {
            "app.db": 0o600, "app.db-wal": 0o600, "app.db-shm": 0o600}
    finally:
        reopened.close()
