"""The entry point the CLI calls: `storewatch camera ...` and the camera thread of `storewatch run`."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from storewatch.camera.client import CameraClient
from storewatch.ops.sd_notify import Notifier
from storewatch.camera.sources import make_source

log = logging.getLogger("storewatch.camera")


def build_camera_client(server_url: str, device_id: str, token: str, source_spec: str, state_dir: Path,
                        auth: str = "bearer", spool_dir: Path | None = None,
                        notifier: Notifier | None = None, **options: Any) -> CameraClient:
    """A CameraClient whose seq state lives in `state_dir` and spool in `state_dir/spool`.

    `options` go to the frame source (seed, clock, loop, rate_hz, capture_timeout_s,
    lock_exposure, lock_white_balance, mains_hz, board_model_file, ...) and to
    CameraClient (backoff, spool_max_frames, ...).
    Raises ValueError for a bad source name, auth scheme or device id.
    """
    state_dir = Path(state_dir)
    client_names = set(CameraClient.__init__.__code__.co_varnames)
    client_options = {k: v for k, v in options.items() if k in client_names}
    source = make_source(source_spec, **{k: v for k, v in options.items() if k not in client_names})
    return CameraClient(server_url, device_id, token, source, spool_dir or state_dir / "spool", state_dir,
                        auth, notifier=notifier, **client_options)


def run_camera_client(server_url: str, device_id: str, token: str, source_spec: str, state_dir: Path,
                      auth: str = "bearer", stop_event: threading.Event | None = None,
                      notify: Notifier | None = None, spool_dir: Path | None = None,
                      **options: Any) -> None:
    """Run the camera client until `stop_event` is set (or a non-looping folder is sent).

    `notify`: a Notifier (sd_notify.Notifier.from_env() under systemd) that gets READY
    after the first frame, STATUS, WATCHDOG from the capture loop and STOPPING.
    Raises CameraError when the camera cannot be opened, CameraClientError when it fails
    while running (exit non-zero so systemd restarts), ValueError for bad arguments.
    """
    client = build_camera_client(server_url, device_id, token, source_spec, state_dir, auth,
                                 spool_dir, notify, **options)
    client.start()
    client.run_forever(stop_event)
