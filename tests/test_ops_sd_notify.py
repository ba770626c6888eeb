"""sd_notify against a real unix datagram socket, path and abstract."""

from __future__ import annotations

import os
import socket
import uuid

import pytest

from storewatch.ops.sd_notify import Notifier


@pytest.fixture
def receiver(tmp_path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = str(tmp_path / "notify.sock")
    sock.bind(path)
    sock.settimeout(2)
    yield path, sock
    sock.close()


def test_ready_and_status_arrive_as_one_datagram(receiver):
    path, sock = receiver
    notifier = Notifier(path)
    assert notifier.ready("capturing from simulated")
    assert sock.recv(4096) == b"READY=1\nSTATUS=capturing from simulated"
    notifier.status("uploaded 5")
    assert sock.recv(4096) == b"STATUS=uploaded 5"
    notifier.stopping()
    assert sock.recv(4096) == b"STOPPING=1"


def test_abstract_socket_address_with_at_sign():
    name = f"storewatch-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(2)
        assert Notifier("@" + name).send("WATCHDOG=1")
        assert sock.recv(100) == b"WATCHDOG=1"


def test_watchdog_is_rate_limited_to_a_fraction_of_watchdog_sec(receiver):
    path, sock = receiver
    notifier = Notifier(path, watchdog_usec=60_000_000)
    assert notifier.watchdog() is True
    assert notifier.watchdog() is False  # 15 s have not passed
    assert sock.recv(100) == b"WATCHDOG=1"


def test_from_env_reads_notify_socket_and_watchdog(monkeypatch, receiver):
    path, _ = receiver
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    notifier = Notifier.from_env()
    assert notifier.enabled and notifier.watchdog_interval_s == 15.0
    monkeypatch.setenv("WATCHDOG_PID", "1")
    assert Notifier.from_env().watchdog_interval_s is None


def test_without_notify_socket_nothing_is_sent(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    notifier = Notifier.from_env()
    assert not notifier.enabled and notifier.ready() is False and notifier.watchdog() is False


def test_a_vanished_socket_is_not_an_error(tmp_path):
    assert Notifier(str(tmp_path / "gone.sock")).ready() is False
