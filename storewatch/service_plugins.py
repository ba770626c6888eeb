"""Which parts run beside the server in `storewatch run`, in start order."""

from __future__ import annotations

import logging
import threading

from storewatch.appliance import Appliance
from storewatch.runner import Supervisor

log = logging.getLogger("storewatch.run")

LOCAL_CAMERA_ID = "local-camera"


class BuiltinCamera:
    """The camera client as a thread of the appliance, posting to its own ingest endpoint.

    It keeps the device contract like any other camera: it is a registered device whose
    token the appliance derives from its key, so nothing secret is written for it.
    """

    name = "camera"

    def __init__(self, appliance: Appliance, source_spec: str, server_url: str, supervisor: Supervisor):
        self.appliance, self.source_spec, self.server_url = appliance, source_spec, server_url
        self.supervisor = supervisor
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    def start(self) -> None:
        from storewatch.camera.sd_notify import Notifier
        from storewatch.camera.service import build_camera_client

        device, new = self._local_device()
        client = build_camera_client(
            self.server_url, device["id"], self.appliance.devices.token_of(device), self.source_spec,
            self.appliance.data_dir / "camera", auth=device["auth_scheme"], notifier=Notifier.from_env())
        if new and client.source.name == "simulated":
            self._add_starter_rois(device["id"])
        client.start()
        self._watcher = threading.Thread(target=self._watch, args=(client,), name="camera-watch", daemon=True)
        self._watcher.start()

    def _local_device(self) -> tuple[dict, bool]:
        """The built-in camera's device, and whether it was registered just now."""
        devices = self.appliance.devices
        if any(d["id"] == LOCAL_CAMERA_ID for d in devices.list()):
            return devices.get(LOCAL_CAMERA_ID), False
        devices.add("Built-in camera", LOCAL_CAMERA_ID)
        log.info("registered the built-in camera as device %s", LOCAL_CAMERA_ID)
        return devices.get(LOCAL_CAMERA_ID), True

    def _add_starter_rois(self, device_id: str) -> None:
        """A newcomer on the simulated shelf sees events without drawing anything first."""
        from storewatch.camera.simulated import starter_rois
        from storewatch.rois import RoiStore

        store = RoiStore(self.appliance.db, self.appliance.devices)
        for name, polygon in starter_rois():
            store.add(device_id, name, polygon)
        log.info("added %d starter ROIs for the simulated shelf; edit them in the admin panel",
                 len(starter_rois()))

    def _watch(self, client) -> None:  # noqa: ANN001
        try:
            client.run_forever(self._stop)
        except Exception as exc:  # the camera died: stop the appliance so systemd restarts it
            self.supervisor.fail(exc)

    def stop(self, timeout: float) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout)


class ServerWatchdog:
    """Without a camera thread, feed systemd's watchdog while the server loop runs."""

    name = "watchdog"

    def __init__(self) -> None:
        from storewatch.camera.sd_notify import Notifier

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
                   supervisor: Supervisor) -> list:
    from storewatch.jobs.service import WorkerService

    services: list = [WorkerService(appliance, workers=workers)]
    if camera != "none":
        local_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        services.append(BuiltinCamera(appliance, camera, f"http://{local_host}:{port}", supervisor))
    else:
        services.append(ServerWatchdog())
    services += _housekeeping(appliance)
    return services


def _housekeeping(appliance: Appliance) -> list:
    """Retention (at start, then every few minutes) and the metrics history sampler."""
    from storewatch.metrics import sampler_service
    from storewatch.retention import retention_service

    return [retention_service(appliance), sampler_service(appliance)]
