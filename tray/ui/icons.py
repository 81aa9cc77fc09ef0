"""The tray icon: a white key on a disc in the state's colour, with a dark contrast ring.

One drawing serves the tray (at run time) and ``icons/make_icons.py`` (the files
shipped). Geometry is on a 64-unit grid, shared with :func:`svg_icon`.
In the last hour a badge shows the minutes left, in a pixel font drawn at the
final size so the digits stay sharp at 16 px.
"""

from __future__ import annotations

from importlib.resources import files

from PIL import Image, ImageDraw

from tray.ui.png_icon import (  # noqa: F401 - BADGE*, GUARD: re-exported
    BADGE,
    BADGE_TEXT,
    GUARD,
    guard_ring,
    paint_badge,
)

STATES = ("fresh", "warning", "error", "idle")
SIZES = (16, 22, 24, 32, 48, 64, 128, 256)

COLOURS: dict[str, tuple[int, int, int]] = {
    "fresh": (0x2E, 0x9E, 0x44),  # green
    "warning": (0xF0, 0xA3, 0x0A),  # amber
    "error": (0xD9, 0x30, 0x25),  # red
    "idle": (0x8A, 0x8F, 0x98),  # grey
}
RING = (0x1B, 0x1F, 0x24)  # dark outline: the disc stays visible on light panels
GLYPH = (0xFF, 0xFF, 0xFF)

# The mark, in units of a 64-unit square.
_DISC_R = 31.0
_BOW_C = (20.0, 32.0)
_BOW_R = 10.0
_HOLE_R = 4.5
_SHAFT = (28.0, 28.5, 52.0, 35.5)
_TEETH = ((40.0, 35.5, 45.0, 43.0), (47.0, 35.5, 52.0, 41.0))

_SUPERSAMPLE = 4


def _check(state: str, size: int) -> None:
    if state not in COLOURS:
        raise ValueError(f"unknown icon state {state!r}; expected one of {', '.join(STATES)}")
    if size < 8:
        raise ValueError(f"icon size {size} is too small (at least 8)")


def draw_icon(state: str, size: int, minutes_left: int | None = None,
              guarded: bool = False) -> Image.Image:
    """An RGBA ``size``x``size`` icon; a minutes badge when ``minutes_left <= 60``; the
    guard's ring when ``guarded``."""
    _check(state, size)
    big = size * _SUPERSAMPLE
    u = big / 64.0  # one grid unit in supersampled pixels
    img = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)

    def box(x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
        return (x0 * u, y0 * u, x1 * u - 1, y1 * u - 1)

    def circle(cx: float, cy: float, r: float) -> tuple[float, float, float, float]:
        return box(cx - r, cy - r, cx + r, cy + r)

    # The ring is at least one final pixel wide, else it vanishes at 16 px.
    ring = max(float(_SUPERSAMPLE), 3.0 * u)
    d.ellipse(circle(32, 32, _DISC_R), fill=RING + (255,))
    r_in = _DISC_R - ring / u
    d.ellipse(circle(32, 32, r_in), fill=COLOURS[state] + (255,))
    d.ellipse(circle(*_BOW_C, _BOW_R), fill=GLYPH + (255,))
    d.ellipse(circle(*_BOW_C, _HOLE_R), fill=COLOURS[state] + (255,))
    d.rectangle(box(*_SHAFT), fill=GLYPH + (255,))
    for tooth in _TEETH:
        d.rectangle(box(*tooth), fill=GLYPH + (255,))
    out = img.resize((size, size), Image.Resampling.LANCZOS)
    if guarded:
        _ring(out)
    if minutes_left is not None and minutes_left <= 60:
        _badge(out, max(0, minutes_left))
    return out


def _badge(img: Image.Image, minutes: int) -> None:
    """Draw ``minutes`` in the bottom-right corner at final resolution (the tray's own
    painter, ``png_icon.paint_badge``, on this image's pixels)."""
    pixels = bytearray(img.tobytes())
    paint_badge(pixels, img.width, minutes)
    img.frombytes(bytes(pixels))


def _ring(img: Image.Image) -> None:
    """The guard's ring (``png_icon.guard_ring``, the tray's own painter) on this image."""
    pixels = bytearray(img.tobytes())
    guard_ring(pixels, img.width)
    img.frombytes(bytes(pixels))


def packaged_icon_name(state: str, size: int) -> str:
    return f"roletray-{state}-{size}.png"


def load_icon(state: str, size: int = 64, minutes_left: int | None = None,
              guarded: bool = False) -> Image.Image:
    """The shipped PNG when there is one for this state and size, else a fresh drawing."""
    _check(state, size)
    if guarded:
        return draw_icon(state, size, minutes_left, guarded=True)
    if (minutes_left is None or minutes_left > 60) and size in SIZES:
        resource = files("tray") / "icons" / packaged_icon_name(state, size)
        try:
            with resource.open("rb") as f:
                img = Image.open(f)
                img.load()
            return img.convert("RGBA")
        except (FileNotFoundError, OSError):
            pass  # not shipped (a source checkout before make_icons): draw it
    return draw_icon(state, size, minutes_left)


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def svg_icon(state: str) -> str:
    """The same mark as scalable artwork (64-unit viewBox), without the badge."""
    _check(state, 64)
    colour, ring, glyph = _hex(COLOURS[state]), _hex(RING), _hex(GLYPH)
    x0, y0, x1, y1 = _SHAFT
    teeth = "\n".join(
        f'  <rect x="{a:g}" y="{b:g}" width="{c - a:g}" height="{e - b:g}" fill="{glyph}"/>'
        for a, b, c, e in _TEETH
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">
  <title>roletray ({state})</title>
  <circle cx="32" cy="32" r="{_DISC_R - 1.5:g}" fill="{colour}" stroke="{ring}" stroke-width="3"/>
  <circle cx="{_BOW_C[0]:g}" cy="{_BOW_C[1]:g}" r="{_BOW_R:g}" fill="{glyph}"/>
  <circle cx="{_BOW_C[0]:g}" cy="{_BOW_C[1]:g}" r="{_HOLE_R:g}" fill="{colour}"/>
  <rect x="{x0:g}" y="{y0:g}" width="{x1 - x0:g}" height="{y1 - y0:g}" fill="{glyph}"/>
{teeth}
</svg>
"""
