"""The tray icon drawing, the shipped icon files and their generator."""

from __future__ import annotations

import importlib.util
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from tray.ui import icons
from tray.ui.icons import COLOURS, SIZES, STATES, draw_icon, load_icon, svg_icon

ROOT = Path(__file__).resolve().parent.parent


def luma(rgb: tuple[int, ...]) -> float:
    r, g, b = rgb[:3]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def nearest(rgb: tuple[int, ...], palette: dict[str, tuple[int, int, int]]) -> str:
    return min(palette, key=lambda k: sum((a - b) ** 2 for a, b in zip(rgb[:3], palette[k])))


def pixels(img: Image.Image) -> list[tuple[int, ...]]:
    # getdata() is deprecated from pillow 12.1 on; CI may have an older pillow.
    flat = getattr(img, "get_flattened_data", None)
    return list(flat() if flat else img.getdata())


def px(img: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    value = img.getpixel(xy)
    assert isinstance(value, tuple)
    return value


def opaque_pixels(img: Image.Image) -> list[tuple[int, ...]]:
    return [p for p in pixels(img) if p[3] == 255]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("state", STATES)
def test_dominant_colour_is_the_states(state: str, size: int) -> None:
    img = draw_icon(state, size)
    assert img.mode == "RGBA" and img.size == (size, size)
    palette = {**COLOURS, "ring": icons.RING, "glyph": icons.GLYPH}
    counts = Counter(nearest(p, palette) for p in opaque_pixels(img))
    colour_counts = {k: v for k, v in counts.items() if k in COLOURS}
    assert max(colour_counts, key=colour_counts.__getitem__) == state
    # The state's colour is the bulk of the mark, not a trace.
    assert counts[state] > 0.3 * sum(counts.values())


@pytest.mark.parametrize("size", SIZES)
def test_transparent_outside_the_disc(size: int) -> None:
    img = draw_icon("fresh", size)
    for corner in ((0, 0), (size - 1, 0), (0, size - 1), (size - 1, size - 1)):
        assert px(img, corner)[3] == 0
    # The disc is opaque; a quarter of the way in from the left edge is inside it.
    assert px(img, (size // 4, size // 2))[3] == 255


@pytest.mark.parametrize("size", [16, 22, 24])
@pytest.mark.parametrize("state", STATES)
def test_legible_on_light_and_dark_panels(state: str, size: int) -> None:
    img = draw_icon(state, size)
    light = Image.new("RGBA", img.size, (255, 255, 255, 255))
    light.alpha_composite(img)
    # On a white panel, the dark contrast ring outlines the mark (even the grey one).
    edge = [px(light, (x, size // 2)) for x in range(size // 3)]
    assert min(luma(p) for p in edge) < 80
    dark = Image.new("RGBA", img.size, (0x20, 0x20, 0x20, 255))
    dark.alpha_composite(img)
    # On a dark panel, the coloured disc stands out of the background.
    disc = px(dark, (size // 2, size // 5))
    assert sum((a - 0x20) ** 2 for a in disc[:3]) ** 0.5 > 120
    # The white key is there: some pixel inside is near white.
    assert max(luma(p) for p in opaque_pixels(img)) > 230


@pytest.mark.parametrize("minutes", [None, 61, 600])
def test_no_badge_before_the_last_hour(minutes: int | None) -> None:
    base = draw_icon("warning", 32)
    assert ImageChops.difference(draw_icon("warning", 32, minutes), base).getbbox() is None


@pytest.mark.parametrize("size", [16, 22, 32, 64])
@pytest.mark.parametrize("minutes", [60, 9, 0])
def test_badge_in_the_last_hour(size: int, minutes: int) -> None:
    base = draw_icon("warning", size)
    img = draw_icon("warning", size, minutes)
    bbox = ImageChops.difference(img, base).getbbox()
    assert bbox is not None
    x0, _y0, x1, y1 = bbox
    assert x1 == size and y1 == size and x0 >= size // 3  # bottom-right corner only
    badge = img.crop(bbox)
    colours = {p[:3] for p in pixels(badge)}
    assert icons.BADGE in colours and icons.BADGE_TEXT in colours


def test_badge_shows_the_number() -> None:
    drawn = {m: draw_icon("fresh", 32, m).tobytes() for m in (1, 7, 10, 45, 60)}
    assert len(set(drawn.values())) == len(drawn)
    assert draw_icon("fresh", 32, -5).tobytes() == draw_icon("fresh", 32, 0).tobytes()


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown icon state 'green'"):
        draw_icon("green", 16)
    with pytest.raises(ValueError, match="too small"):
        draw_icon("fresh", 4)


def test_svg_artwork() -> None:
    for state in STATES:
        root = ET.fromstring(svg_icon(state).split("?>", 1)[1])
        assert root.get("viewBox") == "0 0 64 64"
        fills = {el.get("fill") for el in root.iter() if el.get("fill")}
        assert icons._hex(COLOURS[state]) in fills and "#ffffff" in fills


def close(a: Image.Image, b: Image.Image) -> bool:
    """Equal up to resampling differences between pillow versions."""
    diff = ImageChops.difference(a.convert("RGBA"), b.convert("RGBA"))
    hist = diff.convert("L").histogram()
    return sum(hist[24:]) <= a.width * a.height // 50


@pytest.mark.parametrize("state", STATES)
def test_shipped_runtime_icons_are_current(state: str) -> None:
    for size in SIZES:
        path = ROOT / "tray" / "icons" / f"roletray-{state}-{size}.png"
        with Image.open(path) as shipped:
            assert shipped.size == (size, size) and shipped.mode == "RGBA"
            assert close(shipped, draw_icon(state, size)), f"{path} is stale: run make_icons.py"
        assert (ROOT / "icons" / path.name).read_bytes() == path.read_bytes()


def test_load_icon_uses_shipped_files_and_draws_badges() -> None:
    assert close(load_icon("error", 22), draw_icon("error", 22))
    with_badge = load_icon("error", 22, minutes_left=12)
    assert with_badge.tobytes() == draw_icon("error", 22, 12).tobytes()
    assert load_icon("idle", 40).size == (40, 40)  # not shipped: drawn


def test_make_icons(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("make_icons", ROOT / "icons" / "make_icons.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out, runtime = tmp_path / "out", tmp_path / "runtime"
    assert mod.main(["--out", str(out), "--runtime", str(runtime)]) == 0
    assert len(list(runtime.glob("*.png"))) == len(STATES) * len(SIZES)
    for state in STATES:
        assert (out / f"roletray-{state}.svg").is_file()
        for size in SIZES:
            name = f"roletray-{state}-{size}.png"
            assert (out / name).read_bytes() == (runtime / name).read_bytes()
    with Image.open(out / "roletray.ico") as ico:
        assert {(16, 16), (24, 24), (32, 32), (48, 48), (256, 256)} <= set(ico.info["sizes"])
        ico.size = (16, 16)  # type: ignore[misc]  # how pillow picks an ICO entry
        # The 16 px entry is our own drawing (ring >= 1 px), not a downscale of 256.
        assert close(ico.convert("RGBA"), draw_icon("fresh", 16))
    with Image.open(out / "roletray.icns") as icns:
        assert (512, 512, 2) in icns.info["sizes"] and icns.size == (1024, 1024)
    with Image.open(out / "roletray.png") as png:
        assert png.size == (256, 256)
