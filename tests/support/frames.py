"""Real JPEGs and capture times for the frames a test stores or POSTs."""

from __future__ import annotations

import io
from datetime import timedelta

import numpy as np
from PIL import Image

from storewatch import contract


def make_jpeg(width: int = 64, height: int = 48, quality: int = 85, seed: int = 0) -> bytes:
    """A real JPEG with some texture, different for every seed."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, size=(max(1, height // 8), max(1, width // 8), 3), dtype=np.uint8)
    image = Image.fromarray(pixels).resize((width, height), Image.NEAREST)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def capture_ts(seconds_ago: float = 0.0) -> str:
    """An RFC 3339 capture time `seconds_ago` before now (negative: ahead of now).

    Ingest refuses a capture_ts older than 30 days, so a frame a test POSTs must carry a
    time relative to now, never a fixed date that goes stale.
    """
    return contract.format_timestamp(contract.utc_now() - timedelta(seconds=seconds_ago))
