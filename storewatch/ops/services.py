"""Which parts run beside the server in `storewatch run`, in start order."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storewatch.ops import camera_state
from storewatch import contract
from storewatch.appliance import Appliance
from storewatch.ops.camera_state import FAILED, FINISHED, RUNNING, STARTING, STOPPED, CameraState

if TYPE_CHECKING:
    from storewatch.backoff import Backoff

log = logging.getLogger("storewatch.run")

LOCAL_CAMERA_ID = camera_state.LOCAL_CAMERA_ID
HEALTHY_AFTER_S = 120.0  # a camera that ran this long starts its backoff from the beginning again
# The capture loop signs of life at least once a second, and each of its camera calls is
# bounded (a capture by its timeout); this much silence means a call that never returns.
STALL_LIMIT_S = 60.0


class _Life:
    """One run of the camera client, on its own thread; abandoned when it stops answering."""

    def __init__(self) -> None:
        self.client: Any = None
        self.finished = False
        self.error: BaseException | None = None
        self.last_sign = time.monotonic()
        self.uploaded = 0
        self.abandoned = threading.Event()

    def sign(self) -> None:
        self.last_sign = time.monotonic()

    def stalled(self, limit_s: float) -> float | None:
        """Seconds of silence past `limit_s`, else None; uploads going on count as life
        (a replayed folder's capture loop ends while its spool still drains)."""
        silent = time.monotonic() - self.last_sign
        if silent <= limit_s:
            return None
        uploaded = self.client.stats()["uploaded"] if self.client is not None else 0
        if uploaded != self.uploaded:
            self.uploaded = uploaded
            self.sign()
            return None
        return silent


class BuiltinCamera:
    """The camera client as a thread of the appliance, posting to its own ingest endpoint.

    It keeps the device contract like any other camera: it is a registered device whose
    token the appliance derives from its key, so nothing secret is written for it. A
    camera that fails never stops the appliance: its part is started again after a capped,
    jittered backoff while the server goes on serving the other devices, and every change
    of its state goes to DATA_DIR/camera/state.json for `status`, `doctor` and the panel.
    """

    name = "camera"

    def __init__(self, appliance: Appliance, source_spec: str, server_url: str,
                 source_options: dict[str, Any] | None = None, backoff: Backoff | None = None,
                 board_model_file: Path | None = None, stall_limit_s: float = STALL_LIMIT_S) -> None:
        from storewatch.ops.sd_notify import Notifier
        from storewatch.backoff import Backoff

        self.appliance, self.source_spec, self.server_url = appliance, source_spec, server_url
        self.source_options = dict(source_options or {})
        if board_model_file is not None:
            self.source_options["board_model_file"] = board_model_file
        self.backoff = backoff or Backoff(base_s=2.0, cap_s=300.0)
        self.stall_limit_s = stall_limit_s
        self.notifier = Notifier.from_env()  # STATUS only; the server's watchdog feeds WATCHDOG
        self.state: CameraState | None = None
        self._rois_pending = False  # a newly registered device, until its camera first runs
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        device, new = self._local_device()
        self._record(CameraState(STARTING, self.source_spec))
        self._thread = threading.Thread(target=self._supervise, args=(device, new), name="camera-supervisor",
                                        daemon=True)
        self._thread.start()

    def _local_device(self) -> tuple[dict, bool]:
        """The built-in camera's device, and whether it was registered just now."""
        devices = self.appliance.devices
        if any(d["id"] == LOCAL_CAMERA_ID for d in devices.list()):
            return devices.get(LOCAL_CAMERA_ID), False
        devices.add("Built-in camera", LOCAL_CAMERA_ID)
        log.info("registered the built-in camera as device %s", LOCAL_CAMERA_ID)
        return devices.get(LOCAL_CAMERA_ID), True

    # --- the supervisor thread -------------------------------------------------------------

    def _supervise(self, device: dict, new: bool) -> None:
        self._rois_pending = new
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                finished = self._run_once(device)
            except Exception as exc:  # the loop boundary: whatever broke, try again later
                error = _camera_error(exc)
            else:
                self._record(CameraState(FINISHED if finished else STOPPED, self.source_spec))
                return
            if time.monotonic() - started >= HEALTHY_AFTER_S:
                self.backoff.reset()
            delay = self.backoff.next_delay()
            retry_at = contract.format_timestamp(contract.utc_now() + timedelta(seconds=delay))
            log.error("camera failed (%s): %s; trying again in %.0f s", type(error).__name__, error, delay)
            self._record(CameraState(FAILED, self.source_spec, message=str(error), error_kind=type(error).__name__,
                                     next_step=error.next_step, attempt=self.backoff.attempt, retry_at=retry_at))
            if self._stop.wait(delay):
                break
        self._record(CameraState(STOPPED, self.source_spec))

    def _run_once(self, device: dict) -> bool:
        """One life of the camera client; True when a replayed folder was all sent.

        The client runs on a thread of its own so that a camera call that never returns
        (libcamera wedged) is noticed here: the life is abandoned (its threads are daemons)
        and counted as a failure, and the next attempt follows the backoff as any other.
        """
        from storewatch.camera.sources.base import CaptureTimeoutError

        life = _Life()
        worker = threading.Thread(target=self._live, args=(device, life), name="camera-client", daemon=True)
        worker.start()
        while worker.is_alive():
            worker.join(0.25)
            silent = life.stalled(self.stall_limit_s) if worker.is_alive() else None
            if silent is not None and not self._stop.is_set():
                life.abandoned.set()
                if life.client is not None:
                    threading.Thread(target=life.client.stop, args=(5.0,), name="camera-abandon", daemon=True).start()
                raise CaptureTimeoutError(f"the camera stopped responding (nothing from it for {silent:.0f} s)")
        if life.error is not None:
            raise life.error
        return life.finished

    def _live(self, device: dict, life: _Life) -> None:
        from storewatch.ops.sd_notify import Notifier
        from storewatch.camera.service import build_camera_client

        try:
            life.client = build_camera_client(
                self.server_url, device["id"], self.appliance.devices.token_of(device), self.source_spec,
                self.appliance.data_dir / "camera", auth=device["auth_scheme"], notifier=Notifier(None),
                watchdog=life.sign, **self.source_options)
            life.client.start()  # opens the camera: a CameraError here is a failed attempt
            life.sign()
            if life.abandoned.is_set():  # it came back after all, too late: a newer life owns the camera
                life.client.stop(5.0)
                return
            if self._rois_pending and life.client.source.name == "simulated":  # only a real fake shelf
                self._add_starter_rois(device["id"])
            self._rois_pending = False
            self._record(CameraState(RUNNING, running_source(self.source_spec, life.client.source.name)))
            life.client.run_forever(self._stop)  # a camera that fails raises CameraClientError
            life.finished = not self._stop.is_set()
        except BaseException as exc:  # handed to the supervisor, which reports and retries
            life.error = exc

    def _record(self, state: CameraState) -> None:
        if state.same_as(self.state):
            return
        self.state = state
        try:
            camera_state.write(self.appliance.data_dir, state)
        except OSError as exc:  # a full or read-only disk must not end the camera's retries
            log.warning("could not record the camera state: %s", exc)
        self.notifier.status(f"camera: {camera_state.describe(state)['summary']}")

    def _add_starter_rois(self, device_id: str) -> None:
        """A newcomer on the simulated shelf sees events without drawing anything first."""
        from storewatch.camera.sources.simulated import starter_rois

        store = self.appliance.rois
        with self.appliance.db.write():  # all or none: the panel never shows a shelf half set up
            for name, polygon in starter_rois():
                store.add(device_id, name, polygon)
        log.info("added %d starter ROIs for the simulated shelf; edit them in the admin panel",
                 len(starter_rois()))

    def stop(self, timeout: float) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)


def running_source(spec: str, name: str) -> str:
    """The spec, and the source it opened when the spec does not say it (`auto (simulated)`)."""
    return spec if spec == name else f"{spec} ({name})"


def _camera_error(exc: BaseException) -> Any:
    """The CameraError behind a failure; anything else (a bug) is wrapped in one, logged in full."""
    from storewatch.camera.client import camera_error
    from storewatch.camera.sources.base import CameraError

    error = camera_error(exc)
    if error is not None:
        return error
    log.error("the camera part crashed", exc_info=exc)
    wrapped = CameraError(f"the camera part crashed: {type(exc).__name__}: {exc}")
    wrapped.__cause__ = exc
    return wrapped


class ServerWatchdog:
    """Without a camera thread, feed systemd's watchdog while the server loop runs."""

    name = "watchdog"

    def __init__(self) -> None:
        from storewatch.ops.sd_notify import Notifier

        self.notifier = Notifier.from_env()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)

    def start(self) -> None:
        if self.notifier.enabled:
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            self.notifier.watchdog()

    def stop(self, timeout: float) -> None:
        self._stop.set()


def build_services(appliance: Appliance, *, camera: str, host: str, port: int, workers: int,
                   camera_options: dict[str, Any] | None = None) -> list:
    """The worker, the server's watchdog, the built-in camera unless `none`, housekeeping,
    the notification sender.

    The watchdog is fed from the server's side even with a camera: a failing camera is
    retried in-process, and must not get the whole appliance killed by systemd.
    """
    from storewatch.jobs.service import WorkerService

    services: list = [WorkerService(appliance, workers=workers), ServerWatchdog()]
    if camera != "none":
        local_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        services.append(BuiltinCamera(appliance, camera, f"http://{local_host}:{port}", camera_options))
    services += _housekeeping(appliance)
    services.append(_notifications(appliance, host, port))
    return services


def _notifications(appliance: Appliance, host: str, port: int) -> Any:
    """The notification sender (storewatch/notify/deliver.py)."""
    from storewatch.notify.deliver import sender_service

    return sender_service(appliance, host, port)


def _housekeeping(appliance: Appliance) -> list:
    """Retention (at start, then every few minutes) and the metrics history sampler."""
    from storewatch.upkeep.metrics import sampler_service
    from storewatch.notify.health import health_service
    from storewatch.upkeep.retention import retention_service

    return [retention_service(appliance), sampler_service(appliance), health_service(appliance)]
