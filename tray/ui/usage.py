"""Which roles a person uses, most recently and most often: the finder's order, and the
"Recently used" rows at the top of a long menu.

A small, non-secret record in the state folder (``usage.json``, 0600): for each AWS
config file (its real path), each profile's score and when it was last made active.
Profiles are keyed by config file + name, never by name alone: ``prod`` of one config
is not ``prod`` of another. A score halves every ``HALF_LIFE`` seconds and each use
adds one (frecency), so a role used often lately outranks one used once, and the role
just chosen comes first. Only the tray writes it, on a successful switch.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

log = logging.getLogger(__name__)

FILE = "usage.json"
VERSION = 1
HALF_LIFE = 7 * 24 * 3600.0  # seconds for a score to halve
KEEP = 500  # profiles remembered per config file (the lowest scores go first)


def _decayed(score: float, last: float, now: float) -> float:
    return score * math.pow(0.5, max(0.0, now - last) / HALF_LIFE)


class Usage:
    """The record for one config file. Thread-safe; reads the file once, writes on use."""

    def __init__(self, state_dir: Path, config_path: Path, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = state_dir / FILE
        self.config = os.path.realpath(config_path)
        self._clock = clock
        self._lock = threading.Lock()
        self._doc: dict[str, dict[str, dict[str, float]]] | None = None

    def _load(self) -> dict[str, dict[str, dict[str, float]]]:
        if self._doc is not None:
            return self._doc
        doc: dict[str, dict[str, dict[str, float]]] = {}
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raw = None
        if isinstance(raw, dict) and raw.get("version") == VERSION \
                and isinstance(raw.get("configs"), dict):
            for config, profiles in raw["configs"].items():
                if not isinstance(config, str) or not isinstance(profiles, dict):
                    continue
                doc[config] = {
                    name: {"score": float(v["score"]), "last": float(v["last"])}
                    for name, v in profiles.items()
                    if isinstance(name, str) and isinstance(v, dict)
                    and isinstance(v.get("score"), int | float)
                    and isinstance(v.get("last"), int | float)}
        self._doc = doc
        return doc

    def ranks(self) -> dict[str, float]:
        """profile -> its score now (only the profiles used); higher comes first."""
        now = self._clock()
        with self._lock:
            mine = self._load().get(self.config, {})
            return {name: _decayed(v["score"], v["last"], now) for name, v in mine.items()}

    def top(self, names: Iterable[str], n: int) -> list[str]:
        """The ``n`` best-ranked of ``names`` that were used, best first."""
        ranks = self.ranks()
        used = [name for name in names if name in ranks]
        return sorted(used, key=lambda name: (-ranks[name], name))[:n]

    def used(self, profile: str) -> None:
        """``profile`` was made active now: its score goes up by one, and the file is
        written (a failure to write is logged, never raised)."""
        from tray.state import write_private

        now = self._clock()
        with self._lock:
            doc = self._load()
            mine = doc.setdefault(self.config, {})
            old = mine.get(profile)
            score = 1.0 + (_decayed(old["score"], old["last"], now) if old else 0.0)
            mine[profile] = {"score": round(score, 6), "last": now}
            if len(mine) > KEEP:
                for name in sorted(mine, key=lambda k: _decayed(mine[k]["score"],
                                                                 mine[k]["last"], now))[
                        :len(mine) - KEEP]:
                    del mine[name]
            text = json.dumps({"version": VERSION, "configs": doc}, sort_keys=True) + "\n"
            try:
                write_private(self.path, text)
            except OSError as e:
                log.info("could not record the use of %s: %s", profile, e.__class__.__name__)
