from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

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
