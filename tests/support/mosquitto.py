"""Test support for the MQTT channel: Debian's real mosquitto on 127.0.0.1 (a free port, a
password file), and a real paho subscriber that records what it receives."""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
PASSWD = shutil.which("mosquitto_passwd")
USER, PASSWORD = "shop", "s3cret-broker-pass"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Mosquitto:
    """One broker; `stop()` / `start()` take it down and bring it back on the same port."""

    def __init__(self, workdir: Path) -> None:
        assert MOSQUITTO and PASSWD
        self.port = _free_port()
        self.workdir = workdir
        passwords = workdir / "passwd"
        subprocess.run([PASSWD, "-b", "-c", str(passwords), USER, PASSWORD], check=True, capture_output=True)
        passwords.chmod(0o600)
        self.config = workdir / "mosquitto.conf"
        self.config.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous false\npassword_file {passwords}\n"
                               "persistence false\nlog_dest stderr\n"
                               # as root mosquitto would switch to its own user, who cannot read our files
                               f"user {getpass.getuser()}\n")
        self.log = workdir / "mosquitto.log"
        self._process: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"mqtt://{USER}:{PASSWORD}@127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self._process = subprocess.Popen([MOSQUITTO, "-c", str(self.config)], stdout=out, stderr=out)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self._process.poll() is not None:
                    raise RuntimeError(f"mosquitto did not start: {self.log.read_text()[-500:]}")
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not listen within 10 s")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(10)
        self._process = None


@dataclass
class Received:
    topic: str
    payload: bytes
    retain: bool


class Subscriber:
    """A real paho client subscribed to `topics` (QoS 1); keeps every message it gets."""

    def __init__(self, port: int, topics: tuple[str, ...] = ("#",)) -> None:
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"test-sub-{time.monotonic_ns()}")
        client.username_pw_set(USER, PASSWORD)
        client.on_connect = lambda c, u, f, reason, p: c.subscribe([(t, 1) for t in topics])
        client.on_subscribe = lambda c, u, mid, codes, p: self._subscribed.set()
        client.on_message = self._on_message
        client.connect("127.0.0.1", port, keepalive=10)
        client.loop_start()
        self._client = client
        assert self._subscribed.wait(10), "the test subscriber did not subscribe"

    def _on_message(self, client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(Received(message.topic, bytes(message.payload), bool(message.retain)))

    def on(self, topic: str) -> list[Received]:
        with self._lock:
            return [m for m in self.messages if m.topic == topic]

    def last(self, topic: str) -> Received | None:
        found = self.on(topic)
        return found[-1] if found else None

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
