"""The control thread: polls the config (ETag, If-None-Match) and sends heartbeats.

A poll happens every `config_poll_interval_s`, and at once when an answer showed a newer
`config_version` (ModeState.refetch). Network trouble here never touches capture.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

from storewatch.camera.modes import ModeState, clean_config
from storewatch.camera.transport import DeviceHttp

log = logging.getLogger("storewatch.camera")


class ControlLoop:
    def __init__(self, http: DeviceHttp, modes: ModeState, heartbeat: Callable[[], dict[str, Any]],
                 on_config: Callable[[], None] = lambda: None) -> None:
        self.http, self.modes, self.heartbeat = http, modes, heartbeat
        self.on_config = on_config
        self.etag: str | None = None
        self.polls = 0
        self.heartbeats = 0
        self.last_error = ""
        self._stop = threading.Event()

    def fetch_config(self) -> bool:
        """One poll; True when a new config was applied."""
        self.polls += 1
        answer = self.http.get_config(self.etag)
        if answer.status == 304:
            return False
        if not answer.ok or answer.body is None:
            self.last_error = answer.error or "config answer was not JSON"
            log.warning("config poll failed: %s", self.last_error)
            return False
        config = clean_config(answer.body, self.modes.config)
        self.etag = answer.etag or f'"{config.config_version}"'
        if config != self.modes.config:
            log.info("config %s: mode %s, every %gs/%gs, %dx%d q%d", config.config_version, config.mode,
                     config.baseline_interval_s, config.burst_interval_s, config.width, config.height,
                     config.jpeg_quality)
        self.modes.apply_config(config)
        self.on_config()
        return True

    def send_heartbeat(self) -> None:
        answer = self.http.post_heartbeat(self.heartbeat())
        self.heartbeats += 1
        if answer.ok and answer.body:
            self.modes.server_says(answer.body.get("mode"), answer.body.get("config_version"))
        elif not answer.ok:
            self.last_error = answer.error
            log.warning("heartbeat failed: %s", answer.error)

    def run(self, first_heartbeat_s: float = 2.0, first_poll_s: float = 0.0) -> None:
        next_poll = time.monotonic() + first_poll_s
        first_beat = time.monotonic() + first_heartbeat_s
        last_beat: float | None = None
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_poll or self.modes.refetch.is_set():
                self.modes.refetch.clear()
                self._guarded(self.fetch_config)
                next_poll = time.monotonic() + self.modes.config.config_poll_interval_s
            # Due by the interval in force now, so a config fetched later applies at once.
            next_beat = first_beat if last_beat is None else last_beat + self.modes.config.heartbeat_interval_s
            if now >= next_beat:
                self._guarded(self.send_heartbeat)
                last_beat = time.monotonic()
                next_beat = last_beat + self.modes.config.heartbeat_interval_s
            wait = min(next_poll, next_beat) - time.monotonic()
            if wait > 0:
                self.modes.refetch.wait(min(wait, 1.0))

    def _guarded(self, step: Callable[[], Any]) -> None:
        try:
            step()
        except Exception as exc:  # a bad answer must not end config polling for good
            log.exception("control loop error")
            self.last_error = f"control loop error: {exc}"

    def stop(self) -> None:
        self._stop.set()
        self.modes.refetch.set()
