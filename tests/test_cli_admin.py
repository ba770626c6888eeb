"""`storewatch admin …`: the password (asked twice on a terminal, or piped) and API tokens."""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import subprocess
import sys
import termios
import time
from pathlib import Path

import apsw
import httpx
import click.testing
import pytest
from click.testing import CliRunner, Result

from storewatch import contract
from storewatch.appliance import Appliance
from storewatch.cli import main
from storewatch.store.migrations import SCHEMA_VERSION
from support import REPO
from support.servers import LiveServer


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


# --- listing, revoking and expiring API tokens -------------------------------------------------


def _token_id(token: str) -> str:
    return token.split("_", 2)[1]


def test_token_list_shows_id_name_created_expiry_and_last_use_never_the_secret(data_dir: Path) -> None:
    assert sw(data_dir, "settings", "time_zone=Europe/Berlin").exit_code == 0
    first = sw(data_dir, "admin", "token", "--name", "backup script").stdout.strip().splitlines()[-1]
    second = sw(data_dir, "admin", "token", "--expires", "30d").stdout.strip().splitlines()[-1]
    app = Appliance(data_dir)
    try:
        assert app.admins.check_token(first)
    finally:
        app.close()
    listed = sw(data_dir, "admin", "token", "--list")
    assert listed.exit_code == 0, listed.output
    header, *rows = listed.stdout.strip().splitlines()
    assert header.split() == ["ID", "NAME", "CREATED", "EXPIRES", "LAST", "USED"]
    assert len(rows) == 2
    by_id = {row.split()[0]: row for row in rows}
    assert "backup script" in by_id[_token_id(first)] and "never" in by_id[_token_id(first)]
    # created and last used, on the shop's clock (it showed the stored UTC text, "...T14:30:57.432Z")
    shop_times = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d CES?T"
    assert len(re.findall(shop_times, by_id[_token_id(first)])) == 2, by_id
    assert len(re.findall(shop_times, by_id[_token_id(second)])) == 2, by_id  # created, expires
    assert "never" in by_id[_token_id(second)] and "Z" not in by_id[_token_id(second)]
    for token in (first, second):
        assert token.split("_", 2)[2] not in listed.output
    as_json = json.loads(sw(data_dir, "admin", "token", "--list", "--json").stdout)
    assert {t["id"] for t in as_json} == {_token_id(first), _token_id(second)}
    assert set(as_json[0]) == {"id", "name", "created_at", "expires_at", "last_used"}
    expires = {t["id"]: t["expires_at"] for t in as_json}[_token_id(second)]
    days = (contract.parse_timestamp(expires) - contract.utc_now()).total_seconds() / 86400
    assert 29.9 < days <= 30


def test_token_list_without_tokens_says_how_to_make_one(data_dir: Path) -> None:
    result = sw(data_dir, "admin", "token", "--list")
    assert result.exit_code == 0 and "storewatch admin token" in result.stdout


@pytest.mark.parametrize("expires", ["0d", "30", "-1d", "30x", "100000d", "d"])
def test_a_bad_expiry_is_refused_and_makes_no_token(data_dir: Path, expires: str) -> None:
    result = sw(data_dir, "admin", "token", "--expires", expires)
    assert result.exit_code == 2, result.output
    assert "--expires" in result.stderr and "Traceback" not in result.output
    assert "swa_" not in result.stdout
    assert "No admin API tokens" in sw(data_dir, "admin", "token", "--list").stdout


def test_revoking_an_unknown_token_id_is_an_error(data_dir: Path) -> None:
    sw(data_dir, "admin", "token")
    result = sw(data_dir, "admin", "token", "--revoke", "0123456789ab")
    assert result.exit_code == 1
    assert "0123456789ab" in result.stderr and "--list" in result.stderr
    assert len(json.loads(sw(data_dir, "admin", "token", "--list", "--json").stdout)) == 1


def test_list_and_revoke_do_not_mix_with_each_other_or_with_creation(data_dir: Path) -> None:
    for args in (["--list", "--revoke", "x"], ["--list", "--expires", "1d"], ["--revoke", "x", "--name", "n"]):
        result = sw(data_dir, "admin", "token", *args)
        assert result.exit_code == 2, (args, result.output)
        assert "swa_" not in result.stdout


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "storewatch", "--data-dir", str(data_dir), *args],
                          capture_output=True, text=True, cwd=REPO, timeout=60)


def test_a_token_revoked_from_the_cli_stops_working_at_once_in_the_running_server(live_server: LiveServer) -> None:
    made = _cli(live_server.data_dir, "admin", "token", "--name", "to revoke")
    token = made.stdout.strip().splitlines()[-1]
    kept = _cli(live_server.data_dir, "admin", "token").stdout.strip().splitlines()[-1]
    url = f"{live_server.url}/api/v1/admin/devices"
    for _ in range(2):  # used, so any cache of good tokens would now hold it
        assert httpx.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    revoked = _cli(live_server.data_dir, "admin", "token", "--revoke", _token_id(token))
    assert revoked.returncode == 0, revoked.stderr
    assert _token_id(token) in revoked.stdout
    answer = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "unauthorized"
    assert httpx.get(url, headers={"Authorization": f"Bearer {kept}"}).status_code == 200
    listed = json.loads(_cli(live_server.data_dir, "admin", "token", "--list", "--json").stdout)
    assert [t["id"] for t in listed] == [_token_id(kept)]
    assert listed[0]["last_used"] is not None  # its use was recorded


def test_a_token_stored_as_scrypt_by_an_older_storewatch_still_works_and_is_upgraded(data_dir: Path) -> None:
    from storewatch.store.admins import TokenState
    from storewatch.credentials import SLOW_HASHES, hash_secret

    app = Appliance(data_dir)
    try:
        with app.db.write() as conn:
            conn.execute("INSERT INTO admin_tokens (id, secret_hash, created_at) VALUES (?, ?, ?)",
                         ("0123456789ab", hash_secret("old-secret"), "2026-01-01T00:00:00.000Z"))
        assert not app.admins.check_token("swa_0123456789ab_wrong")
        while SLOW_HASHES.try_acquire():  # every slow-hash slot busy: told so, not refused as invalid
            pass
        try:
            assert app.admins.token_state("swa_0123456789ab_old-secret") is TokenState.BUSY
        finally:
            for _ in range(SLOW_HASHES.slots):
                SLOW_HASHES.release()
        assert app.admins.check_token("swa_0123456789ab_old-secret")
        stored = app.db.scalar("SELECT secret_hash FROM admin_tokens WHERE id = '0123456789ab'")
        assert stored.startswith("sha256$")
        assert app.admins.check_token("swa_0123456789ab_old-secret")
        assert not app.admins.check_token("swa_0123456789ab_wrong")
    finally:
        app.close()


def test_a_token_still_works_when_its_use_cannot_be_recorded(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from storewatch.durable import StorageUnavailable

    app = Appliance(data_dir)
    try:
        token = app.admins.create_token()

        def refuse() -> None:
            raise StorageUnavailable(errno.EROFS, "read-only file system", "read_only")

        monkeypatch.setattr(app.db, "write", refuse)
        assert app.admins.check_token(token)
        monkeypatch.undo()
        assert app.admins.list_tokens()[0]["last_used"] is None
    finally:
        app.close()
