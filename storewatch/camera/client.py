"""CameraClient: capture, spool, upload, follow the server's config, report health.

Threads, so that no network wait ever delays a capture:
  capture  - frames at the current mode's interval, motion looks between them, watchdog;
  upload   - the spool's oldest frame to POST /ingest/frame, retried with backoff;
  control  - config polls (ETag) and heartbeats.
A camera that fails mid-run is fatal: `run_forever` raises CameraClientError so the
process exits non-zero and systemd restarts it.
"""

from __future__ import annotations

import logging
import threading
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

from storewatch.backoff import Backoff
from storewatch.camera.clock import ClockWatch, WatchedHttp
from storewatch.camera.control import ControlLoop
from storewatch.camera.health import cpu_temp_c, disk_free_bytes
from storewatch.camera.modes import DEFAULT_CONFIG, CaptureParams, ModeState
from storewatch.camera.motion import MotionTrigger
from storewatch.ops.sd_notify import Notifier
from storewatch.camera.seq import SeqAllocator
from storewatch.camera.sources.base import CameraError, CaptureTimeoutError, FrameSource, SourceExhaustedError
from storewatch.camera.spool import PendingFrame, Spool
from storewatch.camera.transport import DeviceHttp
from storewatch.camera.uploader import Uploader
from storewatch.contract import ContractError, DeviceConfig, format_timestamp, utc_now, validate_frame_meta

log = logging.getLogger("storewatch.camera")


def _fw_version() -> str:
    try:
        return f"storewatch {metadata.version('storewatch')}"[:64]
    except metadata.PackageNotFoundError:
        return "storewatch dev"


class CameraClientError(RuntimeError):
    """The client cannot go on (the camera failed); the process should exit non-zero."""


def camera_error(exc: BaseException) -> CameraError | None:
    """The CameraError behind a failure, with its next_step hint: the error itself, or the one a
    CameraClientError was raised from; None for anything else."""
    if isinstance(exc, CameraClientError) and isinstance(exc.__cause__, CameraError):
        return exc.__cause__
    return exc if isinstance(exc, CameraError) else None


def next_step_hint(exc: BaseException) -> str:
    """" <next step>" to put after a failure's message, or "" when no CameraError with one is behind it."""
    error = camera_error(exc)
    return f" {error.next_step}" if error is not None and error.next_step else ""


class CameraClient:
    name = "camera"

    def __init__(self, server_url: str, device_id: str, token: str, source: FrameSource,
                 spool_dir: Path, state_dir: Path, auth: str = "bearer", *,
                 notifier: Notifier | None = None, watchdog: Callable[[], Any] | None = None,
                 config: DeviceConfig = DEFAULT_CONFIG, backoff: Backoff | None = None,
                 spool_max_frames: int = 20_000, spool_max_bytes: int = 512 * 1024**2,
                 motion_check_interval_s: float = 1.0, max_capture_failures: int = 3,
                 http_timeout_s: float = 15.0) -> None:
        self.device_id, self.source = device_id, source
        self.state_dir = Path(state_dir)
        self.notifier = notifier or Notifier(None)
        self.watchdog = watchdog
        self.modes = ModeState(config)
        self.modes.with_device(device_id)
        self.seqs = SeqAllocator(self.state_dir)
        self.spool = Spool(Path(spool_dir), spool_max_frames, spool_max_bytes)
        self.motion = MotionTrigger()
        self.motion_check_interval_s = motion_check_interval_s
        self.max_capture_failures = max_capture_failures
        self._upload_http = DeviceHttp(server_url, device_id, token, auth, http_timeout_s)
        self.clock = ClockWatch()
        self._control_http = WatchedHttp(server_url, device_id, token, auth, min(http_timeout_s, 10.0),
                                         clock=self.clock, on_last_seq=self.seqs.resume_after)
        self.uploader = Uploader(self._upload_http, self.spool, self.modes, backoff)
        self.control = ControlLoop(self._control_http, self.modes, self.heartbeat_payload,
                                   on_config=lambda: self.motion.configure(self.modes.config.motion_trigger))
        self.fw_version = _fw_version()
        self.captured = self.invalid_frames = self.capture_failures = 0
        self.last_error = ""
        self._params: CaptureParams | None = None
        self._started_at = time.monotonic()
        self._stop = threading.Event()
        self._capture_done = threading.Event()
        self._fatal: BaseException | None = None
        self._threads: list[threading.Thread] = []
        self._last_status = 0.0
        self._streak = 0

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Fetch the config once (best effort), open the camera, start the threads.

        Raises CameraError when the camera cannot be opened.
        """
        fetched = self.control.fetch_config()
        params = self.modes.capture_params()
        try:
            self.source.open(params.width, params.height, params.jpeg_quality)
        except Exception:
            self._upload_http.close()
            self._control_http.close()
            raise
        self._params = params
        log.info("camera client for %s: source %s at %dx%d, spool %d frames waiting", self.device_id,
                 self.source.name, params.width, params.height, self.spool.stats().frames)
        first_poll = self.modes.config.config_poll_interval_s if fetched else 0.0
        for name, target, args in (("capture", self._capture_loop, ()), ("upload", self.uploader.run, ()),
                                   ("control", self.control.run, (2.0, first_poll))):
            thread = threading.Thread(target=target, args=args, name=f"storewatch-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the threads; frames not yet uploaded stay on disk for the next start."""
        self._stop.set()
        self.uploader.stop()
        self.control.stop()
        self.modes.changed.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.spool.persist()
        self.source.close()
        self._upload_http.close()
        self._control_http.close()

    def run_forever(self, stop_event: threading.Event | None = None) -> None:
        """Run until `stop_event` is set, or a replayed folder is done and uploaded.

        Raises CameraClientError when the camera failed.
        """
        stop_event = stop_event or threading.Event()
        while not stop_event.is_set() and not self._stop.is_set():
            if self._capture_done.is_set() and self.spool.stats().frames == 0:
                break
            stop_event.wait(0.2)
        self.notifier.stopping()
        self.stop()
        if self._fatal is not None:
            raise CameraClientError(f"camera failed: {self._fatal}") from self._fatal

    # --- capture thread ----------------------------------------------------------------

    def _capture_loop(self) -> None:
        try:
            self._capture_until_stopped()
        except SourceExhaustedError as exc:
            log.info("%s", exc)
        except CameraError as exc:
            log.error("camera failed: %s", exc)
            self._fatal = exc
            self._stop.set()
        except Exception as exc:  # a bug must not leave a silent, frameless client behind
            log.exception("capture loop crashed")
            self._fatal = exc
            self._stop.set()
        finally:
            self._capture_done.set()

    def _capture_until_stopped(self) -> None:
        next_due = next_look = time.monotonic()
        last_start = float("-inf")
        while not self._stop.is_set():
            self._pet()
            now = time.monotonic()
            if now >= next_due:
                last_start = now
                self._capture_one()
                next_due = last_start + self.modes.interval_s()
                continue
            # Between uploads only baseline needs a motion look; burst frames are checked as taken.
            looking = self.motion.enabled and self.modes.mode == "baseline"
            if looking and now >= next_look:
                next_look = now + self.motion_check_interval_s
                if self.motion.moved(self._look()):
                    log.info("motion in the ROIs: burst for %gs", self.modes.config.burst_hold_s)
                    self.modes.motion_seen()
            if self.modes.changed.is_set():
                self.modes.changed.clear()
                next_due = last_start + self.modes.interval_s()
                continue
            until = min(next_due, next_look if looking else next_due, now + 1.0)
            self.modes.changed.wait(max(0.0, until - time.monotonic()))

    def _capture_one(self) -> None:
        params = self.modes.capture_params()
        if params != self._params:
            log.info("reconfiguring the camera to %dx%d q%d", params.width, params.height, params.jpeg_quality)
            self.source.reconfigure(params.width, params.height, params.jpeg_quality)
            self._params = params
        frame = self._with_retries(self.source.capture)
        mode = self.modes.mode
        seq = self.seqs.next()
        meta = {"device_id": self.device_id, "capture_ts": format_timestamp(frame.captured_at), "seq": seq,
                "width": frame.width, "height": frame.height, "jpeg_quality": params.jpeg_quality,
                "mode": mode, "fw_version": self.fw_version}
        try:
            validate_frame_meta(meta)
        except ContractError as exc:
            self.invalid_frames += 1
            self.last_error = f"frame {seq} not sent: {exc}"
            log.error("%s", self.last_error)
            return
        self.spool.put(PendingFrame(seq, meta, frame.jpeg))
        self.captured += 1
        if self.motion.moved(frame.lores_gray):
            if mode == "baseline":
                log.info("motion in the ROIs: burst for %gs", self.modes.config.burst_hold_s)
            self.modes.motion_seen()  # during a burst, motion keeps extending it
        if self.captured == 1:
            self.notifier.ready(f"capturing from {self.source.name}")

    def _look(self) -> Any:
        return self._with_retries(self.source.capture_lores)

    def _with_retries(self, call: Callable[[], Any]) -> Any:
        """A capture call, tolerating a few passing errors; a timeout or a streak is fatal."""
        while True:
            try:
                result = call()
            except SourceExhaustedError:
                raise
            except CameraError as exc:
                self.capture_failures += 1
                self.last_error = f"capture failed: {exc}"
                self._streak += 1
                streak = self._streak
                if streak >= self.max_capture_failures or isinstance(exc, CaptureTimeoutError):
                    raise
                log.warning("%s (attempt %d of %d)", self.last_error, streak, self.max_capture_failures)
                if self._stop.wait(0.5):
                    raise
                continue
            self._streak = 0
            return result

    def _pet(self) -> None:
        self.notifier.watchdog()
        if self.watchdog is not None:
            self.watchdog()
        now = time.monotonic()
        if self.captured and now - self._last_status >= 10.0:
            self._last_status = now
            stats = self.stats()
            self.notifier.status(f"{stats['mode']}: {stats['captured']} captured, {stats['uploaded']} uploaded, "
                                 f"{stats['spool_frames']} spooled, {stats['dropped_frames']} dropped")

    # --- reporting ---------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        spool, upload = self.spool.stats(), self.uploader.stats
        return {"source": self.source.name, "mode": self.modes.mode,
                "config_version": self.modes.config.config_version, "captured": self.captured,
                "uploaded": upload.uploaded, "duplicates": upload.duplicates, "retries": upload.retries,
                "rejected": sum(upload.rejected.values()), "rejected_by_status": dict(upload.rejected),
                "last_seq": self.seqs.last_issued, "last_uploaded_seq": upload.last_uploaded_seq,
                "spool_frames": spool.frames, "spool_bytes": spool.bytes, "spool_disk_frames": spool.disk_frames,
                "dropped_frames": spool.dropped, "discarded_leftovers": spool.discarded,
                "capture_failures": self.capture_failures, "invalid_frames": self.invalid_frames,
                "config_polls": self.control.polls, "heartbeats": self.control.heartbeats,
                "last_error": self.last_error or upload.last_error or self.control.last_error,
                "uptime_s": round(time.monotonic() - self._started_at, 1)}

    def heartbeat_payload(self) -> dict[str, Any]:
        stats = self.stats()
        payload: dict[str, Any] = {
            "device_id": self.device_id, "ts": format_timestamp(utc_now()), "uptime_s": stats["uptime_s"],
            "last_seq": stats["last_seq"], "mode": stats["mode"], "spool_frames": stats["spool_frames"],
            "spool_bytes": stats["spool_bytes"], "dropped_frames": stats["dropped_frames"],
            "cpu_temp_c": cpu_temp_c(), "disk_free_bytes": disk_free_bytes(self.spool.folder),
            "fw_version": self.fw_version, "last_error": stats["last_error"][:512] or None}
        return {key: value for key, value in payload.items() if value is not None}
