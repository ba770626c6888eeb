"""The ingest's JPEG check: every well-formed JPEG passes, anything else says why it fails."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from storewatch.jpeg import NotAJpeg, inspect_jpeg


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
