"""The tray's PIL-free icon: the same pixels as PIL's drawing, as PNG bytes."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tray.ui import png_icon
from tray.ui.icons import SIZES, STATES, draw_icon, load_icon

REPO = Path(__file__).resolve().parent.parent


def pil(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img.convert("RGBA")


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("size", SIZES)
def test_decoding_a_shipped_icon_gives_pils_pixels(state: str, size: int) -> None:
    data = png_icon.shipped_png(state, size)
    width, height, pixels = png_icon.decode_rgba(data)
    assert (width, height) == (size, size)
    assert bytes(pixels) == pil(data).tobytes()


@pytest.mark.parametrize("minutes", [0, 7, 42, 60])
@pytest.mark.parametrize("size", [16, 22, 64])
def test_the_badge_is_the_one_pil_draws(minutes: int, size: int) -> None:
    data = png_icon.icon_png("warning", size, minutes)
    assert pil(data).tobytes() == load_icon("warning", size, minutes).tobytes()
    # and the drawing make_icons.py starts from carries the same badge
    assert pil(data).crop((size // 2, size // 2, size, size)).tobytes() == \
        draw_icon("warning", size, minutes).crop((size // 2, size // 2, size, size)).tobytes()


def test_no_badge_above_an_hour_is_the_shipped_file_itself() -> None:
    assert png_icon.icon_png("fresh", 64, 61) == png_icon.shipped_png("fresh", 64)
    assert png_icon.icon_png("fresh", 64) == png_icon.shipped_png("fresh", 64)


def test_png_icon_saves_png_bytes_and_other_formats_through_pil() -> None:
    icon = png_icon.PngIcon(png_icon.icon_png("error", 64, 5))
    assert icon.size == (64, 64)
    out = io.BytesIO()
    icon.save(out, "PNG")
    assert out.getvalue() == icon.png
    ico = io.BytesIO()
    icon.save(ico, "ICO")  # pystray's Windows backend
    assert ico.getvalue()[:4] == b"\x00\x00\x01\x00"


def test_other_pngs_are_refused_with_a_reason() -> None:
    grey = io.BytesIO()
    Image.new("L", (4, 4)).save(grey, "PNG")
    with pytest.raises(png_icon.PngFormatError, match="colour type 0"):
        png_icon.decode_rgba(grey.getvalue())
    with pytest.raises(png_icon.PngFormatError, match="not a PNG"):
        png_icon.decode_rgba(b"GIF89a")


def test_every_png_filter_is_undone() -> None:
    # PIL picks filters per row; an image with gradients and noise makes it use them all.
    img = Image.new("RGBA", (32, 32))
    img.putdata([((x * 8) % 256, (y * 8) % 256, (x * y) % 256, (x ^ y) * 8 % 256)
                 for y in range(32) for x in range(32)])
    for optimize in (False, True):
        out = io.BytesIO()
        img.save(out, "PNG", optimize=optimize)
        assert bytes(png_icon.decode_rgba(out.getvalue())[2]) == img.tobytes()
    assert pil(png_icon.encode_rgba(32, 32, img.tobytes())).tobytes() == img.tobytes()


def test_the_tray_icon_with_a_badge_loads_no_pil() -> None:
    code = ("import sys\n"
            "from tray.ui.png_icon import PngIcon, icon_png\n"
            "PngIcon(icon_png('warning', 64, 12)).save(open('/dev/null', 'wb'), 'PNG')\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'PIL'))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": str(REPO)}, check=True)
    assert out.stdout.strip() == "[]"
