"""Test support for notifications: a real HTTP receiver on 127.0.0.1, visits written the way
the worker writes them (jobs.outputs.commit, which makes their outbox rows), and the `shelf`
and `sender` fixtures of the MQTT tests (a module takes them with
`from support.notify import sender, shelf`)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from storewatch.analysis.device_analyzer import FrameResult
from storewatch.appliance import Appliance
from storewatch.jobs import outputs
from storewatch.notify.deliver import NotifySender
from storewatch.notify.outbox import RetryPolicy
from storewatch.store.events import EventImage, TouchedRoi, Visit
from support.frames import make_jpeg

T0 = 1_790_000_000.0
BASE = "http://192.168.1.5:8080"  # the appliance's address as the sender's links give it
FAST = RetryPolicy(base_s=0.1, cap_s=0.5, give_up_s=120, jitter=0.1)  # retries within a test's wait


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def delivery(self) -> str:
        return self.headers.get("x-storewatch-delivery", "")

    def signed_with(self, secret: str) -> bool:
        expected = "sha256=" + hmac.new(secret.encode(), self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.headers.get("x-storewatch-signature", ""))


class Receiver:
    """Records every POST; answers `status`. `hold()` makes the next requests wait (unanswered)
    until `release()`; `down()` / `up()` close and reopen its port for an outage."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.status = 200
        self.arrived = threading.Event()  # set when a request has come in (held or not)
        self._released = threading.Event()
        self._released.set()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.arrived.set()
                if not receiver._released.wait(30):
                    return
                with receiver._lock:
                    receiver.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                                                      body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def up(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def down(self) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    def hold(self) -> None:
        self.arrived.clear()
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    def close(self) -> None:
        self.release()
        self.down()

    def deliveries(self) -> list[str]:
        with self._lock:
            return [request.delivery for request in self.requests]


def write_visit(appliance: Appliance, device_id: str, touched: list[tuple[int, str | None]],
                start: float = T0, capture_id: int = 1, with_picture: bool = True, wants_burst: bool = False) -> int:
    """A visit of these (roi_id, verdict)s written by the worker's commit; returns its event id."""
    rois = tuple(TouchedRoi(roi_id, start, start + 2, 0.4, "changed" if verdict in ("taken", "placed")
                            else "unchanged", 0.3, [0.3, 0.3, 0.5, 0.5], verdict) for roi_id, verdict in touched)
    pictures = [EventImage("post", None, make_jpeg(320, 240, seed=capture_id))] if with_picture else []
    prepared = outputs.PreparedVisit(Visit(device_id, start, start + 2, capture_id, rois), pictures)
    frame = outputs.FrameOutputs(device_id, {"id": capture_id, "capture_epoch": start + 2},
                                 FrameResult(scores={}, lighting=False, transitions=[], wants_burst=wants_burst),
                                 [prepared], [])
    (event_id,) = outputs.commit(appliance, appliance.events, frame)
    return event_id


@pytest.fixture
def shelf(appliance: Appliance) -> tuple[int, int]:
    """The device "cam" with two ROIs, top shelf and bottom shelf: their ids."""
    appliance.devices.add("Aisle camera", "cam")
    square = [[0.2, 0.2], [0.6, 0.2], [0.6, 0.6], [0.2, 0.6]]
    return (appliance.rois.add("cam", "top shelf", square)["id"],
            appliance.rois.add("cam", "bottom shelf", square)["id"])


@pytest.fixture
def sender(appliance: Appliance) -> Iterator[NotifySender]:
    """The appliance's notification sender, not yet started (a test starts it when it is ready);
    stopped after the test."""
    made = NotifySender(appliance, BASE, policy=FAST, poll_s=0.05)
    yield made
    made.stop(5)
