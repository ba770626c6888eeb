"""systemd's notify protocol in a few lines: one datagram to $NOTIFY_SOCKET per message.

READY=1 once the first frame is captured, WATCHDOG=1 from the capture loop (so a stuck
camera gets the service restarted), STATUS=... for `systemctl status`. Without
NOTIFY_SOCKET (not under systemd) every call does nothing.
"""

from __future__ import annotations

import os
import socket
import threading
import time


class Notifier:
    def __init__(self, address: str | None, watchdog_usec: int | None = None) -> None:
        self.address = address
        self.watchdog_interval_s = watchdog_usec / 2e6 if watchdog_usec else None
        self._last_watchdog = float("-inf")
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls) -> "Notifier":
        usec = os.environ.get("WATCHDOG_USEC", "")
        pid = os.environ.get("WATCHDOG_PID", "")
        if pid and pid != str(os.getpid()):
            usec = ""  # the watchdog is meant for another process
        return cls(os.environ.get("NOTIFY_SOCKET") or None, int(usec) if usec.isdigit() else None)

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def send(self, *assignments: str) -> bool:
        """Send `KEY=value` lines as one datagram; False when there is nowhere to send."""
        if not self.address:
            return False
        address = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        message = "\n".join(assignments).encode()
        with self._lock, socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            try:
                sock.sendto(message, address)
            except OSError:
                return False  # systemd gone or socket vanished: nothing useful to do
        return True

    def ready(self, status: str = "") -> bool:
        return self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={text}")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def watchdog(self) -> bool:
        """Pet the watchdog, at most twice per WatchdogSec (callers may call it often)."""
        now = time.monotonic()
        interval = self.watchdog_interval_s if self.watchdog_interval_s else 1.0
        if now - self._last_watchdog < interval / 2:
            return False
        self._last_watchdog = now
        return self.send("WATCHDOG=1")
