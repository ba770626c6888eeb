"""The ingest's JPEG check: every well-formed JPEG passes, anything else says why it fails."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import apsw
import numpy as np
import pytest
from PIL import Image

from support import jpeg_bombs
from storewatch import contract
from storewatch.jpeg import MAX_SCANS, NotAJpeg, inspect_jpeg


def encode(mode: str = "RGB", size: tuple[int, int] = (320, 240), **options) -> bytes:
    rng = np.random.default_rng(1)
    image = Image.fromarray(rng.integers(0, 255, (size[1] // 8, size[0] // 8, 3), dtype=np.uint8))
    out = io.BytesIO()
    image.resize(size).convert(mode).save(out, format="JPEG", quality=85, **options)
    return out.getvalue()


@pytest.mark.parametrize("mode,options", [
    ("RGB", {}), ("RGB", {"progressive": True}), ("RGB", {"optimize": True}),
    ("RGB", {"subsampling": 0}), ("L", {}), ("CMYK", {}), ("RGB", {"restart_marker_blocks": 1}),
])
def test_well_formed_jpegs_pass_with_their_size(mode, options):
    assert inspect_jpeg(encode(mode, **options)) == (320, 240)


def test_fill_bytes_before_a_marker_are_allowed():
    data = encode()
    assert inspect_jpeg(data[:2] + b"\xff\xff" + data[2:]) == (320, 240)


def test_every_truncation_is_refused():
    data = encode(progressive=True)
    for cut in range(0, len(data) - 1, 37):
        with pytest.raises(NotAJpeg):
            inspect_jpeg(data[:cut])


@pytest.mark.parametrize("data,reason", [
    (b"", "no SOI"),
    (b"GIF89a....", "no SOI"),
    (b"\xff\xd8\xff\xe0garbage", "past the end"),
    (b"\xff\xd8\xff\xd9", "no frame header"),
    (b"\xff\xd8\x00\x00", "garbage where a marker"),
])
def test_garbage_is_refused_with_a_reason(data, reason):
    with pytest.raises(NotAJpeg, match=reason):
        inspect_jpeg(data)


def test_a_scan_before_the_frame_header_is_refused():
    data = encode()
    sof = data.find(b"\xff\xc0")
    length = int.from_bytes(data[sof + 2:sof + 4], "big")
    with pytest.raises(NotAJpeg, match="before the frame header|no frame header"):
        inspect_jpeg(data[:sof] + data[sof + 2 + length:])


@pytest.mark.parametrize("width,height,reason", [(60000, 60000, "over 8192"), (0, 240, "zero")])
def test_declared_dimensions_are_checked_before_any_decoding(width, height, reason):
    data = bytearray(encode())
    sof = data.find(b"\xff\xc0")
    data[sof + 5:sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    with pytest.raises(NotAJpeg, match=reason):
        inspect_jpeg(bytes(data))


def test_a_png_is_not_a_jpeg():
    out = io.BytesIO()
    Image.new("RGB", (16, 16)).save(out, format="PNG")
    with pytest.raises(NotAJpeg, match="no SOI"):
        inspect_jpeg(out.getvalue())


# --- decode bombs (issue 12) -------------------------------------------------------------


def test_a_progressive_file_with_thousands_of_scans_is_refused_cheaply():
    bomb = jpeg_bombs.issue12_bomb()  # 8192x8192, 11,000 scans: ~110 s of decoding
    started = time.perf_counter()
    with pytest.raises(NotAJpeg, match="11000 scans, over the limit of 100"):
        inspect_jpeg(bomb)
    assert time.perf_counter() - started < 0.1


def test_the_scan_limit_is_exact():
    assert inspect_jpeg(jpeg_bombs.progressive_bomb(640, 480, MAX_SCANS)) == (640, 480)
    with pytest.raises(NotAJpeg, match=f"{MAX_SCANS + 1} scans"):
        inspect_jpeg(jpeg_bombs.progressive_bomb(640, 480, MAX_SCANS + 1))


def test_a_progressive_file_over_the_pixel_limit_is_refused_a_baseline_one_is_not():
    with pytest.raises(NotAJpeg, match="progressive JPEG of 8192x4096, over the limit of 16 megapixels"):
        inspect_jpeg(jpeg_bombs.progressive_bomb(8192, 4096, 6))
    assert inspect_jpeg(jpeg_bombs.progressive_bomb(4096, 4096, 6)) == (4096, 4096)
    data = bytearray(encode())  # baseline files decode in a stream: the contract's 8192 a side holds
    sof = data.find(b"\xff\xc0")
    data[sof + 5:sof + 9] = (8192).to_bytes(2, "big") + (8192).to_bytes(2, "big")
    assert inspect_jpeg(bytes(data)) == (8192, 8192)


def test_ordinary_progressive_files_are_far_below_the_scan_limit():
    for mode in ("RGB", "L"):
        data = encode(mode, progressive=True)
        scans = data.count(b"\xff\xda")
        assert 2 <= scans <= 10 and inspect_jpeg(data) == (320, 240)


def _stored(data_dir: Path) -> tuple[int, list[Path]]:
    conn = apsw.Connection(str(data_dir / "storewatch.db"), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        rows = conn.execute("SELECT (SELECT COUNT(*) FROM captures) + (SELECT COUNT(*) FROM jobs)").fetchone()[0]
    finally:
        conn.close()
    staging = data_dir / "staging"
    return rows, sorted(p for p in staging.rglob("*") if p.is_file()) if staging.exists() else []


def test_ingest_refuses_the_bomb_with_415_and_the_reason_storing_nothing(app, app_device):
    device_id, token = app_device
    meta = {"device_id": device_id, "capture_ts": contract.format_timestamp(contract.utc_now()), "seq": 1,
            "width": 8192, "height": 8192, "jpeg_quality": 85}
    started = time.monotonic()
    answer = app.post(contract.INGEST_FRAME_PATH, timeout=30,
                      headers={"Authorization": f"Bearer {token}"},
                      files={"meta": (None, json.dumps(meta), "application/json"),
                             "image": ("frame.jpg", jpeg_bombs.issue12_bomb(), "image/jpeg")})
    assert answer.status_code == 415, answer.text
    error = answer.json()["error"]
    assert error["code"] == "not_a_jpeg" and "11000 scans, over the limit of 100" in error["message"]
    assert time.monotonic() - started < 5
    assert _stored(app.data_dir) == (0, [])
