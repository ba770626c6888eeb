"""`storewatch doctor`'s checks: each says OK, WARN, FAIL (or SKIP) and the next step to take.

Every check is a small function returning a `Check`; the ones that run commands or open
sockets take them as arguments, so tests can drive every outcome.
"""

from __future__ import annotations

import errno
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from storewatch import contract
from storewatch.ops import server_address
from storewatch.upkeep import metrics
from storewatch.upkeep.backup import check as check_db_file
from storewatch.store import retention_runs
from storewatch.store.images import EVENTS, STAGING
from storewatch.store.jobs import DEAD
from storewatch.durable import TEMP_PREFIX, atomic_write
from storewatch.timezone import shop_time

if TYPE_CHECKING:
    from storewatch.appliance import Appliance

OK, WARN, FAIL, SKIP = "OK", "WARN", "FAIL", "SKIP"
SEVERITY = {FAIL: 0, WARN: 1, OK: 2, SKIP: 3}
LAG_WARN_S, LAG_FAIL_S = 300.0, 1800.0
Runner = Callable[[list[str]], subprocess.CompletedProcess]


@dataclass
class Check:
    name: str
    status: str
    message: str
    next_step: str = ""

    def to_json(self) -> dict[str, str]:
        return asdict(self)


def _run(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)


# --- camera ----------------------------------------------------------------------------------


@dataclass
class TestFrame:
    jpeg: bytes
    width: int
    height: int
    source: str
    seconds: float


def capture_one(spec: str, width: int = contract.CONFIG_FIELD["width"].default,
                height: int = contract.CONFIG_FIELD["height"].default,
                quality: int = contract.CONFIG_FIELD["jpeg_quality"].default) -> TestFrame:
    """One frame from the named source, checked to be a decodable JPEG of the asked size
    (by default the device config's)."""
    from storewatch.camera.sources import open_source
    from storewatch.jpeg import inspect_jpeg

    started = time.monotonic()
    source = open_source(spec, width, height, quality)
    try:
        frame = source.capture()
    finally:
        source.close()
    real_width, real_height = inspect_jpeg(frame.jpeg)
    return TestFrame(frame.jpeg, real_width, real_height, source.name, time.monotonic() - started)


def check_camera(spec: str = "auto", board_model_file: Path | None = None) -> Check:
    """A test capture from `spec`; `auto` as the camera would take it (board_model_file: for tests,
    where the board's device-tree model is read)."""
    from storewatch.camera.sources import make_source
    from storewatch.camera.sources.pi_camera import detect_camera

    if spec == "none":
        return Check("camera", SKIP, "not checked (--camera none)")
    if spec == "auto":
        spec = make_source("auto", board_model_file).name  # the registry's rule, not opened
        if spec != "picamera2":  # not a Pi, no Pi camera: the simulated shelf is auto's choice
            return _test_capture(spec, f"auto uses the simulated shelf here (not a Raspberry Pi; {detect_camera()[1]})")
    if spec == "picamera2":
        found, why = detect_camera()
        if not found:
            return Check("camera", FAIL, f"no Pi camera detected ({why})",
                         "If this Pi has a camera: check the ribbon cable, then `rpicam-hello --list-cameras`. "
                         "Cameras on other devices are checked with `storewatch status` (last seen).")
    return _test_capture(spec)


def _test_capture(spec: str, said: str | None = None) -> Check:
    from storewatch.camera.sources.base import CameraBusyError, CameraError
    from storewatch.jpeg import NotAJpeg

    try:
        frame = capture_one(spec, 640, 480)
    except CameraBusyError as exc:
        return Check("camera", WARN, f"camera busy: {exc}",
                     "Normal while storewatch runs its camera thread. To test it alone: "
                     "`sudo systemctl stop storewatch`, `storewatch camera-test --out /tmp/frame.jpg`, start again.")
    except (CameraError, NotAJpeg, ValueError) as exc:
        return Check("camera", FAIL, f"test capture failed: {exc}",
                     "Run `storewatch camera-test --out /tmp/frame.jpg -v` for details; reseat the cable; "
                     "`journalctl -u storewatch` for libcamera errors.")
    return Check("camera", OK, f"{said or frame.source}: one {frame.width}x{frame.height} JPEG "
                 f"({len(frame.jpeg)} bytes) in {frame.seconds:.1f} s")


def check_builtin_camera(appliance: Appliance) -> Check:
    """The built-in camera as `storewatch run` last recorded it (DATA_DIR/camera/state.json)."""
    from storewatch.ops import camera_state

    state = camera_state.report(appliance.data_dir)
    if state is None:
        return Check("built-in camera", SKIP, "storewatch run has not run a camera with this data directory")
    if state["state"] == camera_state.FAILED:
        return Check("built-in camera", FAIL, state["summary"],
                     f"{state['next_step']} storewatch keeps trying by itself; the other cameras' "
                     f"frames are taken meanwhile.".strip())
    if state["state"] == camera_state.STOPPED:
        return Check("built-in camera", SKIP, state["summary"])
    return Check("built-in camera", OK, state["summary"])


# --- database and disk --------------------------------------------------------------------------


def check_database(appliance: Appliance, full: bool = False) -> Check:
    result = check_db_file(Path(appliance.db.path), full=full)
    kind = "integrity_check" if full else "quick_check"
    if result.ok:
        return Check("database", OK, f"{kind} ok, schema {result.schema_version}")
    return Check("database", FAIL, f"{kind} found problems: {'; '.join(result.problems[:3])}",
                 "Stop the services, take a copy (`storewatch db backup damaged.db`), then restore the last good "
                 "backup (`storewatch db restore BACKUP.db --yes`); see docs/RUNBOOK.md, 'Back up and restore'.")


DATA_DIR_STEP = ("A card the kernel made read-only after errors, or a failing one: look for I/O errors in "
                 "`journalctl -k`, check `mount` for ro; stop the services, run fsck on the card and reboot. "
                 "If it keeps failing, restore the last backup to a new card (docs/RUNBOOK.md, 'Back up and "
                 "restore'). A permission error: `sudo chown -R storewatch: DATA_DIR`.")


def check_data_dir(appliance: Appliance) -> Check:
    """Can the appliance write where it writes (the data directory, staging/, events/)? Without
    it every frame gets 503 storage_unavailable. Each folder gets a probe file, then loses it."""
    root = appliance.data_dir
    for folder in (root, root / STAGING, root / EVENTS):
        if not folder.is_dir():
            continue  # made at the first frame or event, in a folder checked above
        probe = folder / f"{TEMP_PREFIX}doctor-probe"  # a name start-up sweeps, should we die here
        try:
            atomic_write(probe, b"storewatch doctor")
            probe.unlink()
        except OSError as exc:
            kind = "read-only" if exc.errno == errno.EROFS else (exc.strerror or type(exc).__name__)
            return Check("data directory", FAIL, f"cannot write to {folder} ({kind}): ingest answers 503",
                         DATA_DIR_STEP.replace("DATA_DIR", str(root)))
    return Check("data directory", OK, f"{root} is writable")


def check_disk(appliance: Appliance) -> Check:
    disk = metrics.disk(appliance)
    free, reserve = disk["free_bytes"], disk["reserve_bytes"]
    figures = (f"{_gb(free)} free of {_gb(disk['total_bytes'])}, reserve {_gb(reserve)}; staging "
               f"{_gb(disk['staging_bytes'])}, events {_gb(disk['events_bytes'])}, databases "
               f"{_gb(disk['database_bytes'])}")
    step = ("`storewatch retention run --dry-run` shows what can go; lower staging_max_bytes or "
            "event_image_retention_days with `storewatch retention settings`; see docs/RUNBOOK.md, 'Disk'.")
    if free < reserve:
        return Check("disk", FAIL, f"below the reserve, ingest answers 507: {figures}", step)
    if free < 2 * reserve:
        return Check("disk", WARN, f"close to the reserve: {figures}", step)
    return Check("disk", OK, figures)


def _gb(size: int) -> str:
    return f"{size / 1e9:.2f} GB"


# --- system ------------------------------------------------------------------------------------


def systemd_present() -> bool:
    return Path("/run/systemd/system").is_dir() and shutil.which("systemctl") is not None


def check_clock(run: Runner = _run, which: Callable[[str], str | None] = shutil.which,
                present: Callable[[], bool] = systemd_present) -> Check:
    step = ("Frames carry their capture time: enable NTP with `sudo timedatectl set-ntp true` and check "
            "`timedatectl timesync-status` (the Pi has no real-time clock).")
    if not present():  # timedatectl asks systemd: in a container or on a dev box it cannot say
        return Check("clock", SKIP, "systemd is not running here; clock sync not checked",
                     "On the appliance: `timedatectl timesync-status`.")
    if which("timedatectl") is None:
        return Check("clock", WARN, "cannot tell whether the clock is synchronised (no timedatectl)", step)
    try:
        answer = run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"])
    except (OSError, subprocess.SubprocessError) as exc:
        return Check("clock", WARN, f"timedatectl failed: {exc}", step)
    value = answer.stdout.strip()
    if answer.returncode == 0 and value == "yes":
        return Check("clock", OK, "synchronised (NTP)")
    if answer.returncode == 0 and value == "no":
        return Check("clock", WARN, "not synchronised yet", step)
    said = " ".join((answer.stderr or value).split())[:160]
    return Check("clock", WARN, f"timedatectl could not say ({said})", step)


def check_server(url: str, get: Callable[..., httpx.Response] = httpx.get) -> Check:
    target = url.rstrip("/") + contract.DEVICE_CONFIG_PATH
    try:
        answer = get(target, timeout=5.0)
    except httpx.HTTPError as exc:
        return Check("server", FAIL, f"no answer from {url} ({type(exc).__name__})",
                     "`sudo systemctl status storewatch`, then `journalctl -u storewatch -n 100`; "
                     "or give the right address with --url.")
    if answer.status_code in (401, 422):  # the API answering as it should to a stranger
        return Check("server", OK, f"{url} answers")
    port = httpx.URL(url).port or 80
    return Check("server", WARN, f"{url} answered HTTP {answer.status_code}, not the appliance's 401",
                 f"Is something else on this port? `sudo ss -ltnp | grep :{port}`")


START_STEP = ("Start it: `sudo systemctl start storewatch` on an installed appliance, else `storewatch run` "
              "(scripts/run in a checkout).")


def check_server_of(data_dir: Path, url: str | None, get: Callable[..., httpx.Response] = httpx.get) -> Check:
    """The server at `url`, else the one `storewatch run` recorded in the data directory while
    it serves: none recorded, or a process gone, is a run that is not running (nothing to ask)."""
    if url:
        return check_server(url, get)
    found = server_address.read(data_dir)
    if found is None:
        return Check("server", FAIL, f"storewatch run is not running on {data_dir} (it records its address "
                     "while it serves)", f"{START_STEP} If it runs on another data directory, give doctor that "
                     "one (`storewatch --data-dir DIR doctor`) or its address (--url).")
    if not found.running:
        return Check("server", FAIL, f"storewatch run is not running on {data_dir}: process {found.pid}, "
                     f"which served on {found.url}, is gone", f"{START_STEP} `journalctl -u storewatch -n 100` "
                     "says why it stopped.")
    return check_server(found.url, get)


def check_services(units: tuple[str, ...] = ("storewatch", "storewatch-camera"), run: Runner = _run,
                   present: Callable[[], bool] = systemd_present) -> list[Check]:
    if not present():
        return [Check("services", SKIP, "systemd is not running here; services not checked",
                      "On the appliance: `systemctl status storewatch`.")]
    checks = []
    for unit in units:
        loaded = run(["systemctl", "show", "-p", "LoadState", "--value", unit]).stdout.strip()
        if loaded == "not-found":
            continue
        state = run(["systemctl", "is-active", unit]).stdout.strip() or "unknown"
        if state == "active":
            checks.append(Check(f"service {unit}", OK, "active"))
        else:
            checks.append(Check(f"service {unit}", FAIL, f"{state}",
                                f"`sudo systemctl restart {unit}`, then `journalctl -u {unit} -n 100` for why."))
    return checks or [Check("services", SKIP, "no storewatch units installed", "`sudo scripts/install-pi`")]


# --- the appliance's own state -------------------------------------------------------------------


def check_worker(appliance: Appliance, now: datetime | None = None) -> Check:
    queue = metrics.queue(appliance, now or contract.utc_now())
    age, dead = queue["oldest_queued_age_s"], queue["by_state"][DEAD]
    summary = f"{queue['depth']} waiting, oldest {_age(age)}, {dead} dead"
    if age is not None and age > LAG_FAIL_S:
        return Check("worker", FAIL, f"falling behind: {summary}",
                     "Is the worker running (`storewatch status`, `journalctl -u storewatch`)? A backlog "
                     "that only grows means frames come faster than they are analysed: raise "
                     "baseline_interval_s (`storewatch device set ID baseline_interval_s=60`).")
    if age is not None and age > LAG_WARN_S:
        return Check("worker", WARN, f"lagging: {summary}", "Watch `storewatch queue list`; see the runbook.")
    if dead:
        return Check("worker", WARN, summary,
                     "Look at why with `storewatch queue list --state dead`, then `storewatch queue retry --all-dead`.")
    return Check("worker", OK, summary)


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "none"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def stale_after_s(heartbeat_interval_s: float) -> float:
    """How long a device may be silent before it counts as stale (doctor, status, health alerts)."""
    return 5 * max(heartbeat_interval_s, 60)


def check_devices(appliance: Appliance, now: datetime | None = None) -> list[Check]:
    now = now or contract.utc_now()
    checks = []
    for device in metrics.devices(appliance, now):
        if not device["enabled"]:
            continue
        interval = appliance.devices.settings_of(device["id"])["heartbeat_interval_s"]
        age = device["last_seen_age_s"]
        name = f"device {device['id']}"
        if age is None:
            checks.append(Check(name, WARN, "never seen", _never_seen_step(device["id"])))
        elif age > stale_after_s(interval):
            checks.append(Check(name, WARN, f"last seen {_age(age)} ago",
                                "Is it powered and on the Wi-Fi? `journalctl -u storewatch-camera` on it."))
        elif device["dropped_frames"]:
            checks.append(Check(name, WARN, f"dropped {device['dropped_frames']} frames from its spool",
                                "It was offline longer than its spool holds; check the network."))
        else:
            checks.append(Check(name, OK, f"seen {_age(age)} ago, {device['mode']}"))
    return checks


def _never_seen_step(device_id: str) -> str:
    from storewatch.ops.camera_state import LOCAL_CAMERA_ID

    if device_id == LOCAL_CAMERA_ID:
        return "Its frames come from the camera of `storewatch run`: see the built-in camera check."
    return ("Set the device up with its token and this appliance's address: docs/RUNBOOK.md, 'Add an ESP32-CAM "
            "(or any HTTP camera)'. A lost token: rotate it on the admin panel's Devices page, which shows "
            "the new one with the lines to try it.")


def check_watched(appliance: Appliance) -> list[Check]:
    """Every enabled camera watches at least one enabled shelf area (ROI).

    Only the simulated shelf comes with starter ROIs; any other camera detects nothing until
    the owner draws some, and no other check would say so."""
    return [Check(f"shelf areas {device['id']}", WARN,
                  "no shelf area (ROI) is watched on this camera: nothing is detected on it",
                  "Draw them in the admin panel (Devices, then the camera), or "
                  f"`storewatch roi add {device['id']} --name \"top shelf\" --polygon \"x,y x,y x,y\"`.")
            for device in appliance.devices.list() if device["enabled"]
            and not any(roi["enabled"] for roi in appliance.rois.list(device["id"]))]


def check_retention(appliance: Appliance) -> Check:
    last = retention_runs.last_real(appliance.db)
    if last is None:
        return Check("retention", WARN, "has never run", "It runs with `storewatch run`; or `storewatch retention run`.")
    if last["error"]:
        return Check("retention", FAIL, f"last run failed: {last['error']}",
                     "`storewatch retention run` to see it again; see the log.")
    if "refused" in (last["deleted"] or ""):
        return Check("retention", WARN, "the last run refused to reconcile disk and database",
                     "See docs/RUNBOOK.md, 'Disk and database disagree'.")
    return Check("retention", OK, f"last run {shop_time(appliance, last['started_at'])} ({last['trigger']})")


def run_all(appliance: Appliance, url: str | None, camera: str = "auto", full_db_check: bool = False,
            run: Runner = _run) -> list[Check]:
    """Every check; the server is asked at `url`, else where `storewatch run` recorded it."""
    return [check_camera(camera), check_builtin_camera(appliance), check_database(appliance, full_db_check),
            check_data_dir(appliance), check_disk(appliance), check_clock(run),
            check_server_of(appliance.data_dir, url), *check_services(run=run), check_worker(appliance),
            *check_devices(appliance), *check_watched(appliance), check_retention(appliance)]


def worst(checks: list[Check]) -> str:
    return min((c.status for c in checks), key=SEVERITY.__getitem__, default=OK)


def problems_first(checks: list[Check]) -> list[Check]:
    return sorted(checks, key=lambda c: SEVERITY[c.status])


def summary(checks: list[Check]) -> dict[str, Any]:
    return {"status": worst(checks), "checks": [c.to_json() for c in checks]}
