"""The tray's icon as PNG bytes, without PIL: the shipped PNG, with the minutes badge
painted in.

pystray's GTK backends only ever call ``icon.save(file, "PNG")``; handing them a
``PngIcon`` keeps PIL (and its plugins, ~5 MiB resident) out of the long-running
tray. The shipped icons (``tray/icons``, written by ``icons/make_icons.py``) are
8-bit RGBA PNGs; the badge is the same 3x5 pixel font as ``tray.ui.icons``
draws (the tests compare the two pixel for pixel). Other formats (pystray's
macOS and Windows backends) go through PIL, imported only then.
"""

from __future__ import annotations

import struct
import zlib
from functools import lru_cache
from importlib.resources import files
from typing import IO

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_RGBA = 4  # bytes per pixel

BADGE = (0x11, 0x11, 0x11)
GUARD = (0x9C, 0x27, 0xB0)  # purple: a guarded profile is active (no state uses it)
# The ring, in units of the icon's 64-unit grid: over the disc's edge (radius 31).
GUARD_RING = (24.5, 31.0)
BADGE_TEXT = (0xFF, 0xFF, 0xFF)
# 3x5 digits, one string of rows each.
DIGITS = {
    "0": ("111", "101", "101", "101", "111"),
    "1": ("010", "110", "010", "010", "111"),
    "2": ("111", "001", "111", "100", "111"),
    "3": ("111", "001", "111", "001", "111"),
    "4": ("101", "101", "111", "001", "001"),
    "5": ("111", "100", "111", "001", "111"),
    "6": ("111", "100", "111", "101", "111"),
    "7": ("111", "001", "001", "001", "001"),
    "8": ("111", "101", "111", "101", "111"),
    "9": ("111", "101", "111", "001", "111"),
}


class PngFormatError(ValueError):
    """Not an 8-bit RGBA, non-interlaced PNG (what make_icons.py writes)."""


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    if not data.startswith(_SIGNATURE):
        raise PngFormatError("not a PNG file")
    out, pos = [], len(_SIGNATURE)
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        out.append((kind, data[pos + 8:pos + 8 + length]))
        pos += 12 + length
    return out


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def decode_rgba(data: bytes) -> tuple[int, int, bytearray]:
    """(width, height, RGBA rows without filter bytes) of an 8-bit RGBA PNG."""
    chunks = _chunks(data)
    if not chunks or chunks[0][0] != b"IHDR":
        raise PngFormatError("no IHDR chunk")
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    if (depth, colour, interlace) != (8, 6, 0):
        raise PngFormatError(f"unsupported PNG: depth {depth}, colour type {colour}, "
                             f"interlace {interlace} (expected 8-bit RGBA, not interlaced)")
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = width * _RGBA
    out = bytearray(stride * height)
    prev = bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if kind == 1:
            for i in range(_RGBA, stride):
                line[i] = (line[i] + line[i - _RGBA]) & 0xFF
        elif kind == 2:
            for i in range(stride):
                line[i] = (line[i] + prev[i]) & 0xFF
        elif kind == 3:
            for i in range(stride):
                left = line[i - _RGBA] if i >= _RGBA else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                left = line[i - _RGBA] if i >= _RGBA else 0
                upleft = prev[i - _RGBA] if i >= _RGBA else 0
                line[i] = (line[i] + _paeth(left, prev[i], upleft)) & 0xFF
        elif kind != 0:
            raise PngFormatError(f"unknown PNG filter {kind}")
        out[y * stride:(y + 1) * stride] = line
        prev = line
    return width, height, out


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(
        ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def encode_rgba(width: int, height: int, pixels: bytes | bytearray) -> bytes:
    """An 8-bit RGBA PNG (no filters: the icons are small)."""
    stride = width * _RGBA
    raw = b"".join(b"\x00" + bytes(pixels[y * stride:(y + 1) * stride]) for y in range(height))
    return (_SIGNATURE
            + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b""))


def _fill(pixels: bytearray, width: int, box: tuple[int, int, int, int],
          rgb: tuple[int, int, int]) -> None:
    x0, y0, x1, y1 = box  # inclusive, as ImageDraw.rectangle
    colour = bytes((*rgb, 255)) * (x1 - x0 + 1)
    for y in range(y0, y1 + 1):
        start = (y * width + x0) * _RGBA
        pixels[start:start + len(colour)] = colour


def paint_badge(pixels: bytearray, size: int, minutes: int) -> None:
    """``minutes`` in the bottom-right corner of a ``size`` x ``size`` RGBA image."""
    k = max(1, size // 16)  # pixel scale of the 3x5 font
    text = str(max(0, minutes))
    w = (len(text) * 4 - 1 + 2) * k  # 3 px per digit, 1 px between, 1 px padding each side
    h = (5 + 2) * k
    x0, y0 = size - w, size - h
    _fill(pixels, size, (x0, y0, size - 1, size - 1), BADGE)
    for i, ch in enumerate(text):
        for row, bits in enumerate(DIGITS[ch]):
            for col, bit in enumerate(bits):
                if bit == "1":
                    px = x0 + k + (i * 4 + col) * k
                    py = y0 + k + row * k
                    _fill(pixels, size, (px, py, px + k - 1, py + k - 1), BADGE_TEXT)


def guard_ring(pixels: bytearray, size: int) -> None:
    """A ring in ``GUARD``'s colour over the disc's edge of a ``size`` x ``size`` RGBA
    image: the active role is a guarded one. Each pixel keeps its alpha (the disc's
    anti-aliased outline); the ring's inner edge is blended over one pixel."""
    u = size / 64.0
    r_in, r_out = GUARD_RING[0] * u, GUARD_RING[1] * u
    c = size / 2.0
    for y in range(size):
        dy = y + 0.5 - c
        for x in range(size):
            dx = x + 0.5 - c
            d = (dx * dx + dy * dy) ** 0.5
            if d < r_in - 0.5 or d > r_out + 1.0:
                continue
            i = (y * size + x) * _RGBA
            if pixels[i + 3] == 0:
                continue
            k = min(1.0, d - (r_in - 0.5))
            for j in range(3):
                pixels[i + j] = round(pixels[i + j] * (1 - k) + GUARD[j] * k)


@lru_cache(maxsize=8)
def shipped_png(state: str, size: int) -> bytes:
    """The packaged icon's bytes (FileNotFoundError in a checkout without them)."""
    return (files("tray") / "icons" / f"roletray-{state}-{size}.png").read_bytes()


@lru_cache(maxsize=8)
def _guarded_rgba(state: str, size: int) -> tuple[int, bytes]:
    width, _, pixels = decode_rgba(shipped_png(state, size))
    guard_ring(pixels, width)
    return width, bytes(pixels)


def icon_png(state: str, size: int, minutes_left: int | None = None,
             guarded: bool = False) -> bytes:
    """The shipped icon for ``state``, with a badge when ``minutes_left <= 60`` and the
    guard's ring when ``guarded`` (drawn once per state and size, then kept)."""
    data = shipped_png(state, size)
    badge = minutes_left is not None and minutes_left <= 60
    if not badge and not guarded:
        return data
    if guarded:
        width, ringed = _guarded_rgba(state, size)
        pixels = bytearray(ringed)
    else:
        width, _, pixels = decode_rgba(data)
    if badge:
        assert minutes_left is not None
        paint_badge(pixels, width, minutes_left)
    return encode_rgba(width, width, pixels)


def icon_name(state: str, size: int, minutes_left: int | None = None,
              guarded: bool = False) -> str:
    """The themed name of ``icon_png(state, size, minutes_left, guarded)``'s picture."""
    badge = "" if minutes_left is None or minutes_left > 60 else f"-{max(0, minutes_left)}"
    return f"roletray-{state}-{size}{badge}" + ("-guarded" if guarded else "")


class PngIcon:
    """An image as pystray's backends use it: ``save(file, format)``, and ``size``."""

    def __init__(self, png: bytes, name: str = "") -> None:
        self.png = png
        self.name = name  # a themed icon name for these pixels ("" : none)
        self.size = struct.unpack(">II", png[16:24])

    def save(self, fp: IO[bytes], format: str = "PNG") -> None:
        if format.upper() == "PNG":
            fp.write(self.png)
            return
        self.to_pil().save(fp, format)

    def to_pil(self):  # type: ignore[no-untyped-def]
        """The PIL image (for backends that need more than PNG bytes)."""
        import io

        from PIL import Image

        img = Image.open(io.BytesIO(self.png))
        img.load()
        return img
