#!/usr/bin/env python3
"""Regenerate roletray's icons from the one drawing in ``tray/ui/icons.py``.

    python icons/make_icons.py                 # writes icons/ and tray/icons/
    python icons/make_icons.py --out DIR --runtime DIR

Writes, for each state (fresh, warning, error, idle):
``roletray-<state>.svg`` and ``roletray-<state>-<size>.png`` for every size in
``SIZES`` into ``--out``, and the same PNGs (the tray's package data) into
``--runtime``; plus the application icon (the "fresh" mark) as ``roletray.svg``,
``roletray.png`` (256), ``roletray.ico`` (16-256) and ``roletray.icns`` into ``--out``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from tray.ui.icons import SIZES, STATES, draw_icon, packaged_icon_name, svg_icon

APP_STATE = "fresh"
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICNS_SIZES = (16, 32, 64, 128, 256, 512, 1024)


def _save_png(img, path: Path) -> None:  # type: ignore[no-untyped-def]
    # optimize and no timestamps: the same drawing gives the same bytes.
    img.save(path, format="PNG", optimize=True)


def make(out: Path, runtime: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    runtime.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for state in STATES:
        svg = out / f"roletray-{state}.svg"
        svg.write_text(svg_icon(state), encoding="utf-8")
        written.append(svg)
        for size in SIZES:
            img = draw_icon(state, size)
            for folder in (out, runtime):
                path = folder / packaged_icon_name(state, size)
                _save_png(img, path)
                written.append(path)

    (out / "roletray.svg").write_text(svg_icon(APP_STATE), encoding="utf-8")
    _save_png(draw_icon(APP_STATE, 256), out / "roletray.png")
    # Each size drawn by us (ring at least 1 px), not downscaled by the writer.
    ico = [draw_icon(APP_STATE, s) for s in ICO_SIZES]
    ico[-1].save(out / "roletray.ico", format="ICO", sizes=[(s, s) for s in ICO_SIZES],
                 append_images=ico[:-1])
    icns = [draw_icon(APP_STATE, s) for s in ICNS_SIZES]
    icns[-1].save(out / "roletray.icns", format="ICNS", append_images=icns[:-1])
    written += [out / n for n in ("roletray.svg", "roletray.png", "roletray.ico", "roletray.icns")]
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "icons")
    parser.add_argument("--runtime", type=Path, default=ROOT / "tray" / "icons")
    args = parser.parse_args(argv)
    written = make(args.out, args.runtime)
    print(f"wrote {len(written)} files into {args.out} and {args.runtime}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
