"""The built-in camera's state as `storewatch run` last recorded it.

`storewatch run` owns the camera; `storewatch status`, `storewatch doctor` and the admin
API read its state from a small JSON file, DATA_DIR/camera/state.json. The file is
written (temp, fsync, rename) only when the state changes, so a camera that just runs
costs no writes at all. A state left behind by a process that is gone reads as stopped.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from storewatch import contract
from storewatch.durable import atomic_write

log = logging.getLogger("storewatch.camera")

LOCAL_CAMERA_ID = "local-camera"
STATE_FILE = Path("camera") / "state.json"
STARTING, RUNNING, FAILED, STOPPED, FINISHED = "starting", "running", "failed", "stopped", "finished"


@dataclass
class CameraState:
    state: str
    source: str
    since: str = field(default_factory=lambda: contract.format_timestamp(contract.utc_now()))
    message: str = ""  # for FAILED: the cause, in plain words
    error_kind: str = ""  # the CameraError subclass, e.g. CameraNotInstalledError
    next_step: str = ""
    retry_at: str | None = None
    attempt: int = 0
    pid: int = field(default_factory=os.getpid)

    def same_as(self, other: "CameraState | None") -> bool:
        """Equal but for `since`: nothing worth a write."""
        return other is not None and {**asdict(self), "since": ""} == {**asdict(other), "since": ""}


def path(data_dir: Path) -> Path:
    return Path(data_dir) / STATE_FILE


def write(data_dir: Path, state: CameraState) -> None:
    atomic_write(path(data_dir), json.dumps(asdict(state), sort_keys=True).encode())


def read(data_dir: Path) -> CameraState | None:
    try:
        raw = json.loads(path(data_dir).read_text())
        known = {f.name for f in fields(CameraState)}
        return CameraState(**{k: v for k, v in raw.items() if k in known})
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError) as exc:
        log.warning("cannot read the camera state %s: %s", path(data_dir), exc)
        return None


def report(data_dir: Path, now: datetime | None = None) -> dict[str, Any] | None:
    """The recorded state for people and the admin API (see `describe`), None if none is."""
    state = read(data_dir)
    return None if state is None else describe(state, now)


def describe(state: CameraState, now: datetime | None = None) -> dict[str, Any]:
    """A state's fields with `retry_in_s` and `summary`; a state whose process is gone reads as stopped."""
    now = now or contract.utc_now()
    shown: dict[str, Any] = asdict(state)
    if state.state not in (STOPPED, FINISHED) and not _alive(state.pid):
        shown["state"] = STOPPED
        shown["message"] = "storewatch run is not running"
    retry_in = None
    if shown["state"] == FAILED and state.retry_at:
        retry_in = max(0.0, round((contract.parse_timestamp(state.retry_at) - now).total_seconds(), 1))
    shown["retry_in_s"] = retry_in
    shown["summary"] = _summary(shown)
    return shown


def _summary(shown: dict[str, Any]) -> str:
    kind, source = shown["state"], shown["source"]
    if kind == RUNNING:
        return f"capturing ({source})"
    if kind == STARTING:
        return f"starting ({source})"
    if kind == FAILED:
        when = "shortly" if not shown["retry_in_s"] else f"in {shown['retry_in_s']:.0f} s"
        return f"not working: {shown['message']}; trying again {when} (attempt {shown['attempt'] + 1})"
    if kind == FINISHED:
        return f"finished: {source} has no more frames"
    return f"stopped ({shown['message'] or 'storewatch run stopped it'})"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, run by another user (the service's)
        return True
    except OSError:
        return False
    return True
