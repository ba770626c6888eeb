"""`storewatch captures list`: the stored frames of a device, newest last."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from storewatch.appliance import Appliance
from storewatch.cli import main
from support.frames import make_jpeg


def sw(data_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--data-dir", str(data_dir), *args])


def store_frames(data_dir: Path, device_id: str, seqs: list[int]) -> None:
    app = Appliance(data_dir)
    try:
        if device_id not in {d["id"] for d in app.devices.list()}:
            app.devices.add(device_id, device_id)
        for seq in seqs:
            app.captures.store({"device_id": device_id, "seq": seq, "width": 64, "height": 48,
                                "jpeg_quality": 85, "capture_ts": f"2026-11-24T05:47:{seq:02d}.000Z"},
                               make_jpeg(seed=seq))
    finally:
        app.close()


def test_list_shows_frames_newest_last(data_dir: Path) -> None:
    store_frames(data_dir, "cam", [3, 1, 2])  # arrival order is not seq order
    store_frames(data_dir, "other", [9])
    result = sw(data_dir, "captures", "list", "--device", "cam")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["SEQ", "CAPTURE_TS", "RECEIVED_AT", "BYTES"]
    assert [int(line.split()[0]) for line in lines[1:]] == [1, 2, 3]
    assert lines[1].split()[1] == "2026-11-24T05:47:01.000Z"


def test_list_json_has_one_object_per_frame_with_its_file(data_dir: Path) -> None:
    store_frames(data_dir, "cam", [1, 2])
    result = sw(data_dir, "captures", "list", "--device", "cam", "--json")
    rows = json.loads(result.stdout)
    assert [r["seq"] for r in rows] == [1, 2]
    for row in rows:
        assert {"id", "seq", "capture_ts", "received_at", "width", "height", "size_bytes", "path"} <= set(row)
        assert (data_dir / row["path"]).stat().st_size == row["size_bytes"]
        assert row["path"].startswith("staging/cam/")


def test_limit_keeps_the_newest(data_dir: Path) -> None:
    store_frames(data_dir, "cam", list(range(1, 8)))
    rows = json.loads(sw(data_dir, "captures", "list", "--device", "cam", "--limit", "3", "--json").stdout)
    assert [r["seq"] for r in rows] == [5, 6, 7]


def test_no_frames_is_said_plainly(data_dir: Path) -> None:
    result = sw(data_dir, "captures", "list", "--device", "cam")
    assert result.exit_code == 0 and "No frames stored for cam." in result.stdout
    assert json.loads(sw(data_dir, "captures", "list", "--device", "cam", "--json").stdout) == []


def test_device_is_required(data_dir: Path) -> None:
    result = sw(data_dir, "captures", "list")
    assert result.exit_code == 2 and "--device" in result.stderr


def test_the_device_may_be_given_as_every_other_command_takes_it(data_dir: Path) -> None:
    # `storewatch captures list cam-1` (as `roi list cam-1`, `device set cam-1 ...`) said
    # "Missing option '--device'".
    store_frames(data_dir, "cam-1", [1, 2])
    given = sw(data_dir, "captures", "list", "cam-1", "--json")
    assert given.exit_code == 0, given.output
    assert json.loads(given.output) == json.loads(sw(data_dir, "captures", "list", "--device", "cam-1", "--json").output)
    assert [row["seq"] for row in json.loads(given.output)] == [1, 2]
    neither = sw(data_dir, "captures", "list")
    assert neither.exit_code == 2 and "give the device: storewatch captures list DEVICE_ID" in neither.output
    both = sw(data_dir, "captures", "list", "cam-1", "--device", "cam-2")
    assert both.exit_code == 2 and "cam-1 or --device cam-2, not both" in both.output, both.output


def test_the_limit_is_bounded(data_dir: Path) -> None:
    # --limit -5 listed every stored frame (SQLite reads LIMIT -5 as none); --limit 0 said
    # "No frames stored" of a device that has some.
    store_frames(data_dir, "cam-1", [1, 2, 3])
    for limit in ("-5", "0", "100001"):
        refused = sw(data_dir, "captures", "list", "cam-1", "--limit", limit)
        assert refused.exit_code == 2 and "Invalid value for '--limit'" in refused.output, (limit, refused.output)
    assert [row["seq"] for row in json.loads(sw(data_dir, "captures", "list", "cam-1", "--limit", "2",
                                                 "--json").output)] == [2, 3]
