"""`storewatch status`: devices, queue, disk and last events on one screen, problems first."""

from __future__ import annotations

import json

from click.testing import CliRunner

from storewatch.appliance import Appliance
from storewatch.cli import main
from support.notify import shelf, write_visit  # noqa: F401 (shelf: a fixture)


def status(data_dir, *args: str):
    return CliRunner().invoke(main, ["--data-dir", str(data_dir), "status", *args], catch_exceptions=False)


def prepare(data_dir) -> None:
    opened = Appliance(data_dir)
    try:
        opened.devices.add("Shelf one", "cam-1")
        opened.devices.add("Shelf two", "cam-2")
        opened.devices.record_heartbeat("cam-1", {"ts": "2026-01-01T00:00:00Z", "spool_frames": 4,
                                                  "dropped_frames": 0, "mode": "baseline"})
        opened.devices.record_config_fetch("cam-1")
        for seq in range(3):
            meta = {"device_id": "cam-1", "capture_ts": "2026-01-01T00:00:00Z", "seq": seq, "width": 16,
                    "height": 16, "jpeg_quality": 80}
            opened.captures.store(meta, bytes([seq]) * 100)
        with opened.db.write() as conn:
            conn.execute("UPDATE jobs SET state = 'dead' WHERE seq = 0")
            conn.execute("INSERT INTO events (device_id, roi_name, type, start_ts, decision, created_at)"
                         " VALUES ('cam-1', 'top shelf', 'interaction_detected', '2026-01-01T00:00:05.000Z',"
                         " 'changed', 'x')")
        opened.counters.add("ingest_frames", "accepted", 3)
    finally:
        opened.close()


def test_status_json_has_every_section_and_the_problems(data_dir):
    prepare(data_dir)
    shown = json.loads(status(data_dir, "--json").output)
    assert set(shown) >= {"status", "problems", "devices", "queue", "disk", "ingest", "last_events"}
    assert [d["id"] for d in shown["devices"]] == ["cam-1", "cam-2"]
    cam1 = shown["devices"][0]
    assert cam1["spool_frames"] == 4 and cam1["last_config_fetch"] and cam1["mode"] == "baseline"
    assert shown["queue"]["by_state"]["queued"] == 2 and shown["queue"]["by_state"]["dead"] == 1
    assert shown["disk"]["staging_frames"] == 3 and shown["disk"]["staging_bytes"] == 300
    assert shown["ingest"]["accepted"] == 3
    assert shown["last_events"][0]["roi_name"] == "top shelf"
    names = [p["name"] for p in shown["problems"]]
    assert "device cam-2" in names and "worker" in names  # never seen; a dead job
    assert shown["status"] == "WARN"


def test_status_text_puts_problems_before_everything_else(data_dir):
    prepare(data_dir)
    out = status(data_dir).output
    lines = out.splitlines()
    assert lines[0].startswith("WARN")
    assert out.index("WARN") < out.index("Devices (2):") < out.index("Queue:") < out.index("Disk:") \
        < out.index("Last events (1):")
    assert "cam-1" in out and "spool 4 queued" in out and "top shelf: changed" in out
    assert "next: " in out


def test_status_of_a_fresh_appliance_says_what_to_do(data_dir):
    out = status(data_dir).output
    assert "none yet: `storewatch device add NAME`" in out


def test_status_says_the_built_in_camera_is_not_working_and_why(data_dir):
    from storewatch.ops import camera_state

    prepare(data_dir)
    camera_state.write(data_dir, camera_state.CameraState(
        "failed", "picamera2", message="the camera is in use by another process", error_kind="CameraBusyError",
        next_step="Another program holds the camera.", retry_at="2099-01-01T00:00:00.000Z", attempt=1))
    shown = json.loads(status(data_dir, "--json").output)
    assert shown["status"] == "FAIL" and shown["problems"][0]["name"] == "built-in camera"
    assert shown["camera"]["state"] == "failed" and shown["camera"]["error_kind"] == "CameraBusyError"
    out = status(data_dir).output
    assert out.splitlines()[0].startswith("FAIL  built-in camera: not working: the camera is in use")
    assert "Built-in camera: not working: the camera is in use by another process" in out
    assert out.index("Built-in camera:") < out.index("Devices (2):")


def test_status_says_first_when_storewatch_run_is_not_running(data_dir):
    # Stopped, status listed devices and queue with "No problems found." (or only old warnings):
    # nothing said that nothing was being captured, analysed or sent.
    from storewatch.ops import server_address

    prepare(data_dir)
    shown = json.loads(status(data_dir, "--json").output)
    stopped = [p for p in shown["problems"] if p["name"] == "storewatch run"]
    assert stopped and stopped[0]["status"] == "WARN", shown["problems"]
    assert "not running" in stopped[0]["message"] and "systemctl start storewatch" in stopped[0]["next_step"]

    server_address.write(data_dir, "0.0.0.0", 8091)  # as a running `storewatch run` (this process) does
    shown = json.loads(status(data_dir, "--json").output)
    assert not [p for p in shown["problems"] if p["name"] == "storewatch run"], shown["problems"]


def test_a_dead_runs_address_left_behind_reads_as_not_running(data_dir):
    from storewatch.ops import server_address

    server_address.write(data_dir, "127.0.0.1", 8091, pid=2**22 + 1)  # above Linux's pid_max: no such process
    out = status(data_dir).output
    assert out.splitlines()[0].startswith("WARN  storewatch run: not running"), out


def test_status_warns_of_a_camera_that_watches_no_shelf_area(data_dir):
    # A camera without ROIs detects nothing, ever (only the simulated shelf comes with starter
    # ROIs: `--camera dir:FOOTAGE` ran silently under "No problems found.").
    prepare(data_dir)
    opened = Appliance(data_dir)
    try:
        opened.rois.add("cam-1", "top shelf", [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]])
        off = opened.rois.add("cam-2", "door", [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]])
        opened.rois.update("cam-2", off["id"], enabled=False)
    finally:
        opened.close()
    problems = {p["name"]: p for p in json.loads(status(data_dir, "--json").output)["problems"]}
    assert "shelf areas cam-1" not in problems
    unwatched = problems["shelf areas cam-2"]
    assert unwatched["status"] == "WARN" and "no shelf area" in unwatched["message"], unwatched
    assert "storewatch roi add cam-2" in unwatched["next_step"] and "admin panel" in unwatched["next_step"]


def test_status_shows_the_last_events_on_the_shops_clock(data_dir):
    prepare(data_dir)  # an event at 2026-01-01T00:00:05.000Z
    assert CliRunner().invoke(main, ["--data-dir", str(data_dir), "settings", "time_zone=Europe/Berlin"]).exit_code == 0
    out = status(data_dir).output
    assert "2026-01-01 01:00:05 CET" in out and "2026-01-01T00:00:05" not in out, out


def test_status_last_events_say_what_happened_per_shelf_area_like_events_list(appliance, shelf, data_dir):
    # It showed the first area's decision ("top shelf: changed") where events list says
    # "top shelf: taken, bottom shelf: unchanged".
    write_visit(appliance, "cam", [(shelf[0], "taken"), (shelf[1], "unchanged")])
    listed = CliRunner().invoke(main, ["--data-dir", str(data_dir), "events", "list"]).output
    what = listed.splitlines()[1].split("  ")[-1].strip()
    assert what == "top shelf: taken, bottom shelf: unchanged", listed
    line = next(line for line in status(data_dir).output.splitlines() if line.startswith("  #"))
    assert line.endswith(f"cam{' ' * 18}{what}"), line
