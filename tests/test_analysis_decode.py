from __future__ import annotations

import io
import time

import numpy as np
import pytest
from PIL import Image

from support import jpeg_bombs
from storewatch.analysis.decode import ImageDecodeError, decode_gray, decode_rgb


def jpeg(width: int, height: int) -> bytes:
    rng = np.random.default_rng(1)
    img = Image.fromarray(rng.integers(0, 255, (height // 8, width // 8, 3), dtype=np.uint8)).resize((width, height))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


@pytest.mark.parametrize("size, max_width, expected", [
    ((1640, 1232), 320, (240, 320)),
    ((640, 480), 320, (240, 320)),
    ((480, 640), 320, (427, 320)),
    ((480, 640), 240, (320, 240)),
    ((1640, 1232), 205, (154, 205)),
    ((200, 100), 320, (100, 200)),
])
def test_decode_gray_reduces_to_at_most_max_width(size, max_width, expected) -> None:
    gray = decode_gray(jpeg(*size), max_width)
    assert gray.shape == expected and gray.dtype == np.float32
    assert 0 <= gray.min() and gray.max() <= 255


def test_decode_rgb_is_uint8_rgb() -> None:
    rgb = decode_rgb(jpeg(1640, 1232))
    assert rgb.shape == (481, 640, 3) and rgb.dtype == np.uint8


def test_reduced_decode_matches_a_full_decode_downscaled() -> None:
    data = jpeg(640, 480)
    full = Image.open(io.BytesIO(data)).convert("L").resize((320, 240), Image.BOX)
    assert np.abs(decode_gray(data) - np.asarray(full, np.float32)).mean() < 3.0


@pytest.mark.parametrize("data", [b"", b"not a jpeg", jpeg(64, 48)[:200]])
def test_undecodable_data_raises_image_decode_error(data: bytes) -> None:
    with pytest.raises(ImageDecodeError):
        decode_gray(data)


# --- bounds: a frame that reached staging without ingest's check ------------------------


def test_a_scan_bomb_is_refused_before_decoding_in_well_under_a_second() -> None:
    bomb = jpeg_bombs.issue12_bomb()  # ~110 s of libjpeg's time if it were decoded
    started = time.monotonic()
    with pytest.raises(ImageDecodeError, match="11000 scans, over the limit of 100"):
        decode_gray(bomb)
    assert time.monotonic() - started < 1.0


def test_a_huge_progressive_frame_is_refused_for_its_pixels() -> None:
    with pytest.raises(ImageDecodeError, match="progressive JPEG of 8192x8192"):
        decode_rgb(jpeg_bombs.progressive_bomb(8192, 8192, 10))


def test_the_worst_frame_within_the_bounds_still_decodes() -> None:
    gray = decode_gray(jpeg_bombs.progressive_bomb(4096, 4096, 100))
    assert gray.shape == (320, 320) and float(gray.min()) == float(gray.max()) == 128.0


def test_a_decode_over_its_time_limit_is_stopped_within_one_chunk() -> None:
    # ~0.6 s to decode on the dev machine, its work spread over ~5 KB scans
    slow = jpeg_bombs.progressive_bomb(4096, 4096, 100, max_run=64)
    started = time.monotonic()
    with pytest.raises(ImageDecodeError, match="took over 0.05 s"):
        decode_gray(slow, time_limit_s=0.05)
    assert time.monotonic() - started < 0.5


def test_an_ordinary_progressive_frame_decodes_like_a_baseline_one() -> None:
    rng = np.random.default_rng(3)
    img = Image.fromarray(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)).resize((640, 480))
    outs = []
    for progressive in (False, True):
        out = io.BytesIO()
        img.save(out, "JPEG", quality=90, progressive=progressive)
        outs.append(decode_gray(out.getvalue()))
    assert np.abs(outs[0] - outs[1]).mean() < 1.0
