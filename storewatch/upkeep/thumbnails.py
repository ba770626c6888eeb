"""Card thumbnails: each event picture cropped to what the admin card shows, 320 px wide.

A phone loading 19 cards of three 1640x1232 originals fetched 4.7 MB; a thumbnail is a few
KiB. The crop is the card's own (storewatch/static/widgets/framed-picture.js, cropLayout):
the view box of the touched ROIs, widened to the card's 4:3 and kept inside the frame,
so the thumbnail shows exactly what the card's CSS crop of the original showed. Its region
is stored with it, and the card places it where it lies in the frame.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

from PIL import Image, UnidentifiedImageError

from storewatch.store.events import EventImage

THUMB_WIDTH = 320
THUMB_QUALITY = 80
CARD_ASPECT = 4 / 3
MAX_ZOOM = 6.0  # as in framed-picture.js
MIN_SIDE = 0.02
SOURCES = ("pre", "post", "diff")


def _centred(centre: float, shown: float) -> float:
    return 0.5 if shown >= 1 else min(max(centre, shown / 2), 1 - shown / 2)


def card_region(view: list[float] | None, frame_aspect: float, box_aspect: float = CARD_ASPECT) -> list[float]:
    """The part of the frame (normalized [x0, y0, x1, y1]) a card of `box_aspect` shows for `view`."""
    x0, y0, x1, y1 = view or [0.0, 0.0, 1.0, 1.0]
    width, height = max(x1 - x0, MIN_SIDE), max(y1 - y0, MIN_SIDE)
    zoom = min(MAX_ZOOM, 1 / width, (frame_aspect / box_aspect) / height)
    shown_w, shown_h = 1 / zoom, frame_aspect / (box_aspect * zoom)
    cx, cy = _centred((x0 + x1) / 2, shown_w), _centred((y0 + y1) / 2, shown_h)
    region = [cx - shown_w / 2, cy - shown_h / 2, cx + shown_w / 2, cy + shown_h / 2]
    return [round(min(max(v, 0.0), 1.0), 6) for v in region]


def thumbnail(data: bytes, view: list[float] | None, width_px: int = THUMB_WIDTH,
              box_aspect: float | None = CARD_ASPECT) -> tuple[bytes, list[float]] | None:
    """The JPEG `data` cropped to the card's region of `view`, `width_px` wide; None if unreadable.

    With `view` and `box_aspect` None: the whole frame, scaled down."""
    try:
        image = Image.open(io.BytesIO(data))
        width, height = image.size
        region = card_region(view, width / height, box_aspect or width / height)
        crop_w = max(1.0, (region[2] - region[0]) * width)
        image.draft("RGB", (round(width * width_px / crop_w), 1))  # decode at a fraction where the crop allows
        scale = image.size[0] / width
        box = [round(region[0] * width * scale), round(region[1] * height * scale),
               round(region[2] * width * scale), round(region[3] * height * scale)]
        part = image.convert("RGB").crop(box)
        # The height from the region, not the rounded pixel box: a 4:3 region gives 320 x 240.
        out_h = max(1, round(width_px * (region[3] - region[1]) * height / crop_w))
        small = part.resize((width_px, out_h), Image.LANCZOS)
    except (UnidentifiedImageError, OSError, ValueError, ZeroDivisionError):
        return None
    out = io.BytesIO()
    small.save(out, format="JPEG", quality=THUMB_QUALITY, optimize=True)
    return out.getvalue(), region


def thumbnails(pictures: Iterable[EventImage], view: list[float] | None) -> list[EventImage]:
    """A thumbnail of each of Before, After and Difference among `pictures`."""
    made = []
    for picture in pictures:
        if picture.kind not in SOURCES:
            continue
        result = thumbnail(picture.data, view)
        if result is not None:
            made.append(EventImage(f"thumb_{picture.kind}", picture.capture_id, result[0], region=result[1]))
    return made
