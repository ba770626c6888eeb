"""Checking that uploaded bytes are a JPEG that really decodes, cheaply and safely."""

from __future__ import annotations

import io
import warnings

from PIL import Image

from storewatch.contract import MAX_DIMENSION


class NotAJpeg(ValueError):
    pass


def inspect_jpeg(data: bytes) -> tuple[int, int]:
    """(width, height) of a decodable JPEG; raises NotAJpeg otherwise.

    The header is checked before any pixel is decoded (a 'JPEG bomb' declares huge
    dimensions in a tiny file), then the image is decoded at 1/8 scale with DCT scaling,
    which reads every entropy-coded block at a fraction of the cost of a full decode.
    """
    if not data.startswith(b"\xff\xd8"):
        raise NotAJpeg("the image is not a JPEG (no SOI marker)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=["JPEG"]) as image:
                width, height = image.size
                if width > MAX_DIMENSION or height > MAX_DIMENSION:
                    raise NotAJpeg(f"the JPEG is {width}x{height}, over {MAX_DIMENSION} pixels a side")
                image.draft(image.mode, (max(1, width // 8), max(1, height // 8)))
                image.load()
    except NotAJpeg:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning,
            Image.DecompressionBombError) as exc:
        raise NotAJpeg(f"the JPEG does not decode ({exc})") from None
    return width, height
