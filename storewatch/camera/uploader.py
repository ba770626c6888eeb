"""The upload thread: oldest spooled frame first, retried until it lands or is refused.

Network errors, timeouts, 5xx, 429 and 507 keep the frame and back off (storewatch.backoff:
capped exponential with jitter, never shorter than Retry-After); while that lasts the
spool keeps new frames on disk. Any other 4xx is logged, counted and the frame dropped.
"""

from __future__ import annotations

import collections
import logging
import threading
from dataclasses import dataclass, field

from storewatch.backoff import Backoff
from storewatch.camera.modes import ModeState
from storewatch.camera.spool import PendingFrame, Spool
from storewatch.camera.transport import Answer, DeviceHttp

log = logging.getLogger("storewatch.camera")


@dataclass
class UploadStats:
    uploaded: int = 0
    duplicates: int = 0
    retries: int = 0
    rejected: collections.Counter = field(default_factory=collections.Counter)
    last_uploaded_seq: int | None = None
    last_error: str = ""


class Uploader:
    def __init__(self, http: DeviceHttp, spool: Spool, modes: ModeState, backoff: Backoff | None = None) -> None:
        self.http, self.spool, self.modes = http, spool, modes
        self.backoff = backoff or Backoff()
        self.stats = UploadStats()
        self._stop = threading.Event()

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                frame = self.spool.next(timeout=0.5)
                if frame is not None:
                    self._deliver(frame)
            except Exception as exc:  # keep uploading whatever one frame did
                log.exception("upload loop error")
                self.stats.last_error = f"upload loop error: {exc}"
                self._stop.wait(1.0)

    def stop(self) -> None:
        self._stop.set()

    def _deliver(self, frame: PendingFrame) -> None:
        answer = self.http.post_frame(frame)
        if answer.ok:
            self._delivered(frame, answer)
        elif answer.retryable:
            self.stats.retries += 1
            self.stats.last_error = answer.error
            self.spool.went_offline()
            delay = self.backoff.next_delay(answer.retry_after_s)
            log.warning("upload of seq %d failed (%s); retrying in %.1f s", frame.seq, answer.error, delay)
            self._stop.wait(delay)
        else:
            self.stats.rejected[answer.status] += 1
            self.stats.last_error = answer.error
            log.error("server refused seq %d (%s); dropping it", frame.seq, answer.error)
            self.spool.done(frame.seq)
            self.backoff.reset()

    def _delivered(self, frame: PendingFrame, answer: Answer) -> None:
        self.spool.done(frame.seq)
        self.spool.back_online()
        self.backoff.reset()
        self.stats.uploaded += 1
        self.stats.last_uploaded_seq = frame.seq
        body = answer.body or {}
        if body.get("duplicate"):
            self.stats.duplicates += 1
        self.modes.server_says(body.get("mode"), body.get("config_version"))
