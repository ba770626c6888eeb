"""Doctor's checks: every outcome with its next step, and `storewatch doctor`'s exit code."""

from __future__ import annotations

import subprocess
import sys

import pytest

from storewatch import contract
from storewatch.ops import doctor
from storewatch.ops.doctor import FAIL, OK, SEVERITY, SKIP, WARN
from support import REPO
from support.servers import free_port
from support.mounts import read_only


def runner(answers: dict[str, tuple[int, str]]):
    def run(command: list[str]) -> subprocess.CompletedProcess:
        key = " ".join(command)
        for prefix, (code, out) in answers.items():
            if key.startswith(prefix):
                return subprocess.CompletedProcess(command, code, out, "")
        raise AssertionError(f"unexpected command {key}")
    return run


@pytest.mark.parametrize("answer, status", [((0, "yes\n"), OK), ((0, "no\n"), WARN), ((1, ""), WARN)])
def test_clock(answer, status):
    check = doctor.check_clock(runner({"timedatectl": answer}), which=lambda name: "/usr/bin/" + name,
                               present=lambda: True)
    assert check.status == status
    assert status == OK or "timedatectl set-ntp true" in check.next_step


def test_clock_without_timedatectl_warns_with_a_next_step():
    check = doctor.check_clock(runner({}), which=lambda name: None, present=lambda: True)
    assert check.status == WARN and "no timedatectl" in check.message and check.next_step


def test_clock_is_skipped_where_systemd_is_not_running():
    # In a container or on a dev box timedatectl answered 'System has not been booted with systemd
    # as init system (PID 1)' and doctor said WARN, next `sudo timedatectl set-ntp true`, which fails too.
    bus_error = "System has not been booted with systemd as init system (PID 1). Can't operate."
    run = lambda command: subprocess.CompletedProcess(command, 1, "", bus_error)  # noqa: E731
    check = doctor.check_clock(run, which=lambda name: "/usr/bin/" + name, present=lambda: False)
    assert (check.status, check.message) == (SKIP, "systemd is not running here; clock sync not checked")


def test_services_are_skipped_without_systemd():
    [check] = doctor.check_services(run=runner({}), present=lambda: False)
    assert check.status == SKIP and "systemd" in check.message


def test_services_active_failed_and_not_installed():
    run = runner({"systemctl show -p LoadState --value storewatch-camera": (0, "not-found\n"),
                  "systemctl show -p LoadState --value storewatch": (0, "loaded\n"),
                  "systemctl is-active storewatch": (0, "active\n")})
    assert [(c.name, c.status) for c in doctor.check_services(run=run, present=lambda: True)] == [
        ("service storewatch", OK)]
    run = runner({"systemctl show": (0, "loaded\n"), "systemctl is-active": (3, "failed\n")})
    checks = doctor.check_services(run=run, present=lambda: True)
    assert [c.status for c in checks] == [FAIL, FAIL]
    assert "systemctl restart storewatch" in checks[0].next_step


def test_server_answering_and_not(live_server):
    assert doctor.check_server(live_server.url).status == OK
    down = doctor.check_server(f"http://127.0.0.1:{free_port()}")
    assert down.status == FAIL and "journalctl -u storewatch" in down.next_step


def test_database_ok_and_damaged(appliance, tmp_path):
    assert doctor.check_database(appliance).status == OK
    assert doctor.check_database(appliance, full=True).status == OK
    from storewatch.upkeep.backup import backup, check

    damaged = tmp_path / "damaged.db"
    backup(appliance.db.path, damaged)
    data = bytearray(damaged.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    for n in range(2, len(data) // page):  # trash the b-tree pages, keep the header page
        data[n * page: n * page + 64] = b"\xff" * 64
    damaged.write_bytes(bytes(data))
    result = check(damaged, full=True)
    assert not result.ok and result.problems
    assert not check(tmp_path / "missing.db").ok


def test_disk_below_and_near_the_reserve(appliance):
    assert doctor.check_disk(appliance).status in (OK, WARN, FAIL)
    appliance.settings.update({"disk_reserve_bytes": 0, "disk_reserve_percent": 90})
    below = doctor.check_disk(appliance)
    assert below.status == FAIL and "507" in below.message and "retention run --dry-run" in below.next_step
    appliance.settings.update({"disk_reserve_percent": 0})
    assert doctor.check_disk(appliance).status == OK


def test_worker_lag_and_dead_jobs(appliance):
    appliance.devices.add("cam", "cam-1")
    meta = {"device_id": "cam-1", "capture_ts": "2026-01-01T00:00:00Z", "seq": 1, "width": 16, "height": 16,
            "jpeg_quality": 80}
    appliance.captures.store(meta, b"frame")
    assert doctor.check_worker(appliance).status == OK
    with appliance.db.write() as conn:
        conn.execute("UPDATE jobs SET created_at = '2020-01-01T00:00:00.000Z'")
    lagging = doctor.check_worker(appliance)
    assert lagging.status == FAIL and "falling behind" in lagging.message
    with appliance.db.write() as conn:
        conn.execute("UPDATE jobs SET state = 'dead'")
    dead = doctor.check_worker(appliance)
    assert dead.status == WARN and "storewatch queue retry --all-dead" in dead.next_step


def test_camera_sources():
    assert doctor.check_camera("none").status == SKIP
    assert doctor.check_camera("simulated").status == OK
    missing = doctor.check_camera("dir:/nonexistent/frames")
    assert missing.status == FAIL and "camera-test" in missing.next_step
    try:
        import picamera2  # noqa: F401
    except ImportError:
        assert doctor.check_camera("picamera2").status == FAIL


def _no_pi_camera_here() -> None:
    from storewatch.camera.sources.pi_camera import detect_camera

    if detect_camera()[0]:
        pytest.skip("a Pi camera is attached here: auto takes it whatever the board")


def test_auto_on_a_machine_that_is_not_a_pi_uses_the_simulated_shelf(tmp_path):
    # It said 'WARN camera no Pi camera detected' on every laptop, where auto's choice is the simulated shelf.
    _no_pi_camera_here()
    model = tmp_path / "model"
    model.write_bytes(b"QEMU Virtual Machine\0")
    check = doctor.check_camera("auto", board_model_file=model)
    assert check.status == OK, check
    assert check.message.startswith("auto uses the simulated shelf here (not a Raspberry Pi; "), check
    assert "): one 640x480 JPEG" in check.message, check
    assert doctor.check_camera("auto", board_model_file=tmp_path / "absent").status == OK


def test_auto_on_a_pi_without_a_camera_fails(tmp_path):
    _no_pi_camera_here()
    model = tmp_path / "model"
    model.write_bytes(b"Raspberry Pi 4 Model B Rev 1.5\0")
    check = doctor.check_camera("auto", board_model_file=model)
    assert check.status == FAIL and check.message.startswith("no Pi camera detected ("), check
    assert "ribbon cable" in check.next_step


def test_devices_never_seen_and_stale(appliance):
    appliance.devices.add("cam", "cam-1")
    [check] = doctor.check_devices(appliance)
    assert check.status == WARN and check.message == "never seen"
    appliance.devices.record_heartbeat("cam-1", {"ts": "2026-01-01T00:00:00Z", "dropped_frames": 0})
    assert doctor.check_devices(appliance)[0].status == OK
    with appliance.db.write() as conn:
        conn.execute("UPDATE devices SET last_seen = ?", (contract.format_timestamp(
            contract.utc_now().replace(year=2020)),))
    assert doctor.check_devices(appliance)[0].status == WARN


def run_doctor(data_dir, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "storewatch", "--data-dir", str(data_dir), "doctor", *args],
                          capture_output=True, text=True, cwd=REPO, timeout=60)


def test_doctor_exits_non_zero_on_a_failure_and_zero_otherwise(live_server):
    down = run_doctor(live_server.data_dir, "--camera", "none", "--url", f"http://127.0.0.1:{free_port()}")
    assert down.returncode == 1, down.stdout + down.stderr
    assert "FAIL  server" in down.stdout and "next: " in down.stdout and "Overall: FAIL" in down.stdout
    fine = run_doctor(live_server.data_dir, "--camera", "simulated", "--url", live_server.url, "--full")
    assert fine.returncode == 0, fine.stdout + fine.stderr
    assert "OK    server" in fine.stdout and "OK    camera" in fine.stdout and "OK    database" in fine.stdout


def test_data_directory_writable_ok_and_read_only(appliance):
    fine = doctor.check_data_dir(appliance)
    assert fine.status == OK and str(appliance.data_dir) in fine.message
    with read_only(appliance.data_dir / "staging"):
        broken = doctor.check_data_dir(appliance)
        assert broken.status == FAIL, broken
        assert "staging" in broken.message and "read-only" in broken.message
        assert "fsck" in broken.next_step and "RUNBOOK" in broken.next_step
    assert doctor.check_data_dir(appliance).status == OK
    assert not [p for p in appliance.data_dir.rglob("*doctor*")]  # the probe files are gone


def test_doctor_fails_on_a_read_only_data_directory(data_dir):
    from storewatch.appliance import Appliance

    Appliance(data_dir).close()
    with read_only(data_dir / "events"):
        answer = run_doctor(data_dir, "--camera", "none", "--url", f"http://127.0.0.1:{free_port()}")
    assert answer.returncode == 1, answer.stdout + answer.stderr
    line = next(line for line in answer.stdout.splitlines() if line[6:].startswith("data directory"))
    assert line.startswith("FAIL") and "events" in line and "read-only" in line, answer.stdout


def test_server_not_recorded_says_storewatch_run_is_not_running_here(data_dir):
    # With no --url doctor asked the default port and said only 'no answer from
    # http://127.0.0.1:8080', though it was `storewatch run` not running on this data directory.
    from storewatch.ops import server_address

    check = doctor.check_server_of(data_dir, None)
    assert check.status == FAIL, check
    assert check.message == f"storewatch run is not running on {data_dir} (it records its address while it serves)"
    assert "sudo systemctl start storewatch" in check.next_step and "storewatch run" in check.next_step
    server_address.write(data_dir, "127.0.0.1", 8091, pid=2**22 + 1)  # left by a killed run: no such process
    gone = doctor.check_server_of(data_dir, None)
    assert gone.status == FAIL and gone.message == (f"storewatch run is not running on {data_dir}: process "
                                                    f"{2**22 + 1}, which served on http://127.0.0.1:8091, is gone")


def test_doctor_without_url_on_a_stopped_appliance_says_so(data_dir):
    answer = run_doctor(data_dir, "--camera", "none")
    assert answer.returncode == 1, answer.stdout + answer.stderr
    line = next(line for line in answer.stdout.splitlines() if line[6:].startswith("server"))
    assert line.startswith("FAIL") and f"storewatch run is not running on {data_dir}" in line, answer.stdout
    assert "8080" not in answer.stdout


def test_a_device_never_seen_is_told_where_to_read_how_to_set_it_up(appliance):
    appliance.devices.add("Door cam", "esp32-door")
    [check] = doctor.check_devices(appliance)
    assert check.status == WARN and check.message == "never seen"
    assert "docs/RUNBOOK.md, 'Add an ESP32-CAM (or any HTTP camera)'" in check.next_step, check
    assert "admin panel's Devices page" in check.next_step, check
    assert "see the runbook" not in check.next_step


def test_a_camera_that_watches_no_shelf_area_is_a_warning(appliance):
    # Only the simulated shelf comes with starter ROIs: `--camera dir:FOOTAGE` detected nothing
    # for good while every doctor check said OK.
    for device_id in ("cam-1", "cam-2", "cam-3"):
        appliance.devices.add(device_id, device_id)
    polygon = [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]]
    appliance.rois.add("cam-1", "top shelf", polygon)
    off = appliance.rois.add("cam-2", "door", polygon)
    appliance.rois.update("cam-2", off["id"], enabled=False)
    appliance.devices.set_enabled("cam-3", False)  # a camera switched off is not asked to watch
    [check] = doctor.check_watched(appliance)
    assert (check.name, check.status) == ("shelf areas cam-2", WARN)
    assert check.message == "no shelf area (ROI) is watched on this camera: nothing is detected on it"
    assert "admin panel" in check.next_step and "storewatch roi add cam-2" in check.next_step
    assert "shelf areas cam-2" in [c.name for c in doctor.run_all(appliance, None, camera="none")]


def test_retention_shows_its_last_run_on_the_shops_clock(appliance):
    # It showed the stored UTC text ('last run 2026-12-02T14:44:01.868Z (start)'), where the CLI's
    # listings show the shop's clock.
    from storewatch.store import retention_runs

    appliance.settings.update({"time_zone": "Europe/Berlin"})
    run_id = retention_runs.start(appliance.db, "2026-12-02T14:44:01.868Z", "start", dry_run=False)
    retention_runs.finish(appliance.db, run_id, "2026-12-02T14:44:02.001Z", {}, 0, 0.1, None)
    check = doctor.check_retention(appliance)
    assert (check.status, check.message) == (OK, "last run 2026-12-02 15:44:01 CET (start)")


def test_doctor_on_a_machine_without_systemd_or_a_pi_warns_of_nothing_that_does_not_apply(data_dir):
    # A new owner's first `storewatch doctor` on a laptop: WARN clock (timedatectl cannot talk to
    # systemd) and WARN camera (no Pi camera), though neither applies there.
    from storewatch.camera.board import raspberry_pi_model

    if doctor.systemd_present() or raspberry_pi_model():
        pytest.skip("this machine runs systemd or is a Raspberry Pi: the clock and Pi camera are checked")
    _no_pi_camera_here()
    answer = run_doctor(data_dir)
    lines = {line[6:28].strip(): line for line in answer.stdout.splitlines() if line[:5].strip() in SEVERITY}
    assert lines["camera"].startswith("OK    camera") and "simulated shelf" in lines["camera"], answer.stdout
    assert lines["clock"].startswith("SKIP  clock"), answer.stdout
    assert lines["services"].startswith("SKIP  services"), answer.stdout
