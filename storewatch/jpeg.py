"""Checking that uploaded bytes are a well-formed JPEG, cheaply and safely, at ingest.

Ingest must refuse what is not a JPEG without paying for a decode on the hot path (even
a 1/8-scale decode reads every entropy-coded block: ~5 ms a frame on the dev machine,
five times the cost of the whole HTTP request). So the check walks the file's marker
structure: SOI, well-formed segments, a frame header (SOF) with sane dimensions before
the first scan, and the image data running to an EOI marker at the end. That refuses
truncated uploads, other formats, garbage and 'JPEG bombs' before any pixel is touched:
huge declared dimensions in a tiny file, and progressive files whose thousands of scans
each make the decoder walk every block of the image (issue 12: 11,000 scans in 1.2 MB took
~100 s of CPU per decode). The analysis worker applies the same check before it decodes
(it calls `inspect_jpeg` too), and records a frame that fails as dead with the reason.
"""

from __future__ import annotations

from storewatch.contract import MAX_DIMENSION

SOI, EOI, SOS = 0xD8, 0xD9, 0xDA
# SOF0-3, 5-7, 9-11, 13-15 (C4 is DHT, C8 is reserved, CC is DAC).
SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
PROGRESSIVE_SOF = frozenset({0xC2, 0xC6, 0xCA, 0xCE})

# Scans a JPEG may have. libjpeg's standard progressive script has 10 (6 for grey), a
# baseline file 1 (up to 4 when its components are not interleaved), and encoders that
# search for better scripts (mozjpeg) stay in the tens. libjpeg-turbo itself has no
# default limit (TJPARAM_SCANLIMIT / djpeg -maxscans are off unless asked for); its own
# fuzz targets use 500 but only on images of at most 1 megapixel, while a scan's cost
# grows with the image: one all-zero scan is ~80 bytes yet costs ~10 ms at 8192x8192 on the
# dev machine. 100 is ten times any real camera's file; with the pixel bound below the
# worst file we accept decodes in 0.7 s there (4096x4096, 100 scans).
MAX_SCANS = 100
# A progressive JPEG keeps every DCT coefficient of the image in memory until its last
# scan (2 bytes each: ~100 MB for 16.8 megapixels in colour, 400 MB at 8192x8192), where a
# baseline one decodes in a stream. Every camera we know (Pi HQ 12.3 MP, Camera Module 3
# 11.9 MP, ESP32 2 MP) fits; only progressive files are held to this.
MAX_PROGRESSIVE_PIXELS = 4096 * 4096
STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM and RST0-7 carry no length


class NotAJpeg(ValueError):
    pass


def inspect_jpeg(data: bytes) -> tuple[int, int]:
    """(width, height) of a well-formed JPEG; raises NotAJpeg saying what is wrong."""
    if not data.startswith(b"\xff\xd8"):
        raise NotAJpeg("the image is not a JPEG (no SOI marker)")
    size: tuple[int, int] | None = None
    progressive = False
    pos = 2
    end = len(data)
    while True:
        marker, pos = _next_marker(data, pos, end)
        if marker == EOI:
            break
        if marker in STANDALONE:
            continue
        if marker == SOI:
            raise NotAJpeg("a second SOI marker inside the image")
        if pos + 2 > end:
            raise NotAJpeg("the JPEG is truncated inside a segment header")
        length = int.from_bytes(data[pos:pos + 2], "big")
        if length < 2 or pos + length > end:
            raise NotAJpeg("a JPEG segment runs past the end of the data (truncated?)")
        if marker in SOF_MARKERS:
            size = _frame_size(data[pos + 2:pos + length])
            progressive = marker in PROGRESSIVE_SOF
        pos += length
        if marker == SOS:
            if size is None:
                raise NotAJpeg("a scan starts before the frame header (no SOF)")
            _check_ends_with_eoi(data, pos)
            _check_cost(data, pos, size, progressive)
            return size
    raise NotAJpeg("the JPEG has no frame header or no image data")


def _check_ends_with_eoi(data: bytes, scan_start: int) -> None:
    """The image data runs from the first scan to an EOI marker at the very end.

    Inside entropy-coded data 0xFF is always followed by 0x00 or a restart marker, so a
    cut anywhere in the file cannot end in FF D9: checking the end catches truncation
    without scanning the megabytes between (later scans of a progressive JPEG included).
    """
    end = len(data)
    while end > scan_start and data[end - 1] == 0:  # some encoders pad after EOI
        end -= 1
    if end - scan_start < 2 or data[end - 2:end] != b"\xff\xd9":
        raise NotAJpeg("the JPEG is truncated (no end of image after its scan data)")


def _check_cost(data: bytes, scan_start: int, size: tuple[int, int], progressive: bool) -> None:
    """Refuse files whose decode would cost minutes or hundreds of MB (see MAX_SCANS).

    Every scan header is the pair FF DA, and entropy-coded data never holds one (an FF
    there is followed by 00 or a restart marker), so counting the pairs after the first
    scan bounds the number of scans from above without walking the data byte by byte.
    """
    scans = 1 + data.count(b"\xff\xda", scan_start)
    if scans > MAX_SCANS:
        raise NotAJpeg(f"it has {scans} scans, over the limit of {MAX_SCANS} (an ordinary JPEG has at most "
                       "about 10); decoding it would take the analysis minutes")
    width, height = size
    if progressive and width * height > MAX_PROGRESSIVE_PIXELS:
        raise NotAJpeg(f"it is a progressive JPEG of {width}x{height}, over the limit of "
                       f"{MAX_PROGRESSIVE_PIXELS // 1_000_000} megapixels for progressive files (too many pixels "
                       "to hold in memory while decoding); send baseline JPEGs")


def _next_marker(data: bytes, pos: int, end: int) -> tuple[int, int]:
    if pos >= end or data[pos] != 0xFF:
        raise NotAJpeg("the JPEG is truncated or has garbage where a marker should be")
    while pos < end and data[pos] == 0xFF:  # fill bytes may pad a marker
        pos += 1
    if pos >= end:
        raise NotAJpeg("the JPEG is truncated (it ends inside a marker)")
    return data[pos], pos + 1


def _frame_size(header: bytes) -> tuple[int, int]:
    if len(header) < 6:
        raise NotAJpeg("the JPEG's frame header is too short")
    height = int.from_bytes(header[1:3], "big")
    width = int.from_bytes(header[3:5], "big")
    components = header[5]
    if width == 0 or height == 0:
        raise NotAJpeg("the JPEG declares a zero width or height")
    if width > MAX_DIMENSION or height > MAX_DIMENSION:
        raise NotAJpeg(f"the JPEG is {width}x{height}, over {MAX_DIMENSION} pixels a side")
    if components not in (1, 3, 4) or len(header) < 6 + 3 * components:
        raise NotAJpeg("the JPEG's frame header has a bad component count")
    return width, height
