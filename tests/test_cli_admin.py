"""`storewatch admin …`: the password (asked twice on a terminal, or piped) and API tokens."""

from __future__ import annotations

import fcntl
import os
import select
import subprocess
import sys
import termios
import time
from pathlib import Path

import apsw
import click.testing
import pytest
from click.testing import CliRunner, Result

from storewatch.appliance import Appliance
from storewatch.cli import main
from storewatch.db.migrations import SCHEMA_VERSION
from tests.conftest import REPO


def sw(data_dir: Path, *args: str, input: str | None = None) -> Result:  # noqa: A002
    return CliRunner().invoke(main, ["--data-dir", str(data_dir), *args], input=input)


def password_is(data_dir: Path, password: str) -> bool:
    app = Appliance(data_dir)
    try:
        return app.admins.check_password(password)
    finally:
        app.close()


@pytest.fixture
def tty(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make CliRunner's stdin claim to be a terminal, as an interactive shell's is."""
    monkeypatch.setattr(click.testing._NamedTextIOWrapper, "isatty", lambda self: True)


def test_set_password_on_a_terminal_asks_twice(data_dir: Path, tty: None) -> None:
    result = sw(data_dir, "admin", "set-password", input="long enough pw\nlong enough pw\n")
    assert result.exit_code == 0, result.output
    assert result.output.count("New admin password") == 1
    assert "Repeat for confirmation" in result.output
    assert "long enough pw" not in result.output  # hidden input is not echoed
    assert "logged out" in result.stdout
    assert password_is(data_dir, "long enough pw")


def test_set_password_on_a_terminal_asks_again_when_the_two_differ(data_dir: Path, tty: None) -> None:
    result = sw(data_dir, "admin", "set-password",
                input="first password\nsecond password\nthird password\nthird password\n")
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output
    assert password_is(data_dir, "third password")
    assert not password_is(data_dir, "first password")


def test_set_password_reads_one_line_from_piped_stdin(data_dir: Path) -> None:
    result = sw(data_dir, "admin", "set-password", input="piped password\r\nignored\n")
    assert result.exit_code == 0, result.output
    assert "New admin password" not in result.output
    assert password_is(data_dir, "piped password")


@pytest.mark.parametrize("given", ["short\n", "\n", ""])
def test_set_password_refuses_a_short_password(data_dir: Path, given: str) -> None:
    result = sw(data_dir, "admin", "set-password", input=given)
    assert result.exit_code == 1
    assert "at least 8 characters" in result.stderr
    app = Appliance(data_dir)
    try:
        assert not app.admins.has_password()
    finally:
        app.close()


def test_set_password_keeps_spaces_inside_and_around(data_dir: Path) -> None:
    assert sw(data_dir, "admin", "set-password", input="  spaced out  \n").exit_code == 0
    assert password_is(data_dir, "  spaced out  ")


def _read_until(fd: int, wanted: bytes, seen: bytearray, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while wanted not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"never saw {wanted!r} in {bytes(seen)!r}"
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                chunk = b""
            assert chunk, f"the process closed its terminal before {wanted!r}: {bytes(seen)!r}"
            seen += chunk


def test_set_password_on_a_real_terminal(data_dir: Path) -> None:
    """A real pseudo-terminal as the controlling terminal, as when a person types it."""
    master, slave = os.openpty()

    def become_session_leader_with_this_tty() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(
        [sys.executable, "-m", "storewatch", "--data-dir", str(data_dir), "admin", "set-password"],
        stdin=slave, stdout=slave, stderr=slave, cwd=REPO, close_fds=True,
        preexec_fn=become_session_leader_with_this_tty)
    os.close(slave)
    seen = bytearray()
    try:
        _read_until(master, b"New admin password", seen)
        os.write(master, b"typed password\n")
        _read_until(master, b"Repeat for confirmation", seen)
        os.write(master, b"typed password\n")
        _read_until(master, b"logged out", seen)
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
    assert b"typed password" not in seen  # not echoed
    assert password_is(data_dir, "typed password")


def test_admin_token_prints_the_token_on_the_last_line(data_dir: Path) -> None:
    result = sw(data_dir, "admin", "token")
    assert result.exit_code == 0
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("swa_")
    assert "shown only now" in result.stderr
    app = Appliance(data_dir)
    try:
        assert app.admins.check_token(token)
        assert not app.admins.check_token(token[:-1] + ("A" if token[-1] != "A" else "B"))
    finally:
        app.close()


def test_each_admin_token_is_new(data_dir: Path) -> None:
    tokens = {sw(data_dir, "admin", "token").stdout.strip() for _ in range(3)}
    assert len(tokens) == 3


def test_a_database_from_a_newer_storewatch_is_a_message_not_a_traceback(data_dir: Path) -> None:
    conn = apsw.Connection(str(data_dir / "storewatch.db"))
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    result = sw(data_dir, "admin", "token")
    assert result.exit_code == 1
    assert "newer than this storewatch" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
