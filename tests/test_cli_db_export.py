"""`storewatch events export` and `storewatch camera-test`: files a person can open."""

from __future__ import annotations

import csv
import io
import json
import zipfile

from click.testing import CliRunner

from storewatch.appliance import Appliance
from storewatch.camera.sources.base import CameraError
from storewatch.cli import main
from storewatch.jpeg import inspect_jpeg


def invoke(data_dir, *args: str):
    return CliRunner().invoke(main, ["--data-dir", str(data_dir), *args], catch_exceptions=False)


def test_export_writes_events_as_json_and_csv_with_their_images(data_dir, tmp_path):
    opened = Appliance(data_dir)
    try:
        opened.devices.add("cam", "cam-1")
        with opened.db.write() as conn:
            for n, start in enumerate(("2026-01-01T08:00:00.000Z", "2026-01-02T08:00:00.000Z",
                                       "2026-01-03T08:00:00.000Z")):
                conn.execute("INSERT INTO events (device_id, roi_name, type, start_ts, decision, verdict, box,"
                             " created_at) VALUES ('cam-1', 'top', 'interaction_detected', ?, 'changed', 'taken',"
                             " '[0.1,0.2,0.3,0.4]', ?)", (start, start))
                event_id = conn.last_insert_rowid()
                for kind in ("pre", "post"):
                    path = opened.images.event_path("cam-1", event_id, kind)
                    opened.images.write(path, f"{kind}-{event_id}".encode())
                    conn.execute("INSERT INTO event_images (event_id, kind, path, size_bytes) VALUES (?, ?, ?, 5)",
                                 (event_id, kind, path))
    finally:
        opened.close()
    out = tmp_path / "export.zip"

    done = invoke(data_dir, "events", "export", "--since", "2026-01-02T00:00:00Z", "--out", str(out))

    assert done.exit_code == 0 and "Exported 2 events and 4 pictures" in done.output
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        events = json.loads(archive.read("events.json"))
        rows = list(csv.DictReader(io.StringIO(archive.read("events.csv").decode())))
        assert [e["start_ts"] for e in events] == ["2026-01-02T08:00:00.000Z", "2026-01-03T08:00:00.000Z"]
        assert events[0]["box"] == [0.1, 0.2, 0.3, 0.4] and events[0]["images"]["pre"] in names
        assert archive.read(events[1]["images"]["post"]) == f"post-{events[1]['id']}".encode()
    assert len(rows) == 2 and rows[0]["decision"] == "changed" and rows[0]["verdict"] == "taken"
    assert events[0]["verdict"] == "taken" and rows[0]["images"].count("images/") == 2
    assert "Invalid value" in invoke(data_dir, "events", "export", "--since", "monday", "--out", str(out)).output


def test_camera_test_writes_one_decodable_frame(tmp_path):
    out = tmp_path / "frame.jpg"
    done = invoke(tmp_path / "data", "camera-test", "--source", "simulated", "--out", str(out),
                  "--width", "320", "--height", "240")
    assert done.exit_code == 0 and "simulated: 320x240 JPEG" in done.output
    assert inspect_jpeg(out.read_bytes()) == (320, 240)
    failed = invoke(tmp_path / "data", "camera-test", "--source", "dir:/nonexistent", "--out", str(out))
    assert failed.exit_code == 1 and "the camera test failed: /nonexistent is not a folder." in failed.output
    assert failed.output.strip().endswith(CameraError.next_step)
