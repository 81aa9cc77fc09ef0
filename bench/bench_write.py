"""Rewriting the target section in credentials files of 10 .. 20,000 sections.

Peers, measured in the same run on the same files, their runs interleaved with ours:
- awscli's own writer (``aws configure set`` uses ConfigFileWriter), in-process. It
  rewrites the file in place: no lock, no temporary file, no fsync, so a crash or a
  concurrent writer can leave it half-written. Faster on small files for that reason;
- the I/O floor of what roletray promises (SPEC: atomic and durable): read the
  bytes, write them to a temporary file, fsync it, rename it over, and fsync the
  folder, without which the rename itself may not survive a crash;
- the same floor without the folder fsync (this benchmark's floor before
  2026-05; shown too, so that the two can be compared).

Every roletray write is cold: it reads, parses and validates the whole file, edits
it, and checks the bytes once more just before the rename (it keeps no memory of
files between writes). The bar (issue 11) replaces the old "≤ 2× the floor" target,
which only a per-process byte-splice cache met: under 50 ms for 2,000 sections, and
linear in size; the last row shows both.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import tmpdir

SIZES = (10, 200, 2_000, 20_000)


def make_file(path: Path, sections: int) -> None:
    lines = []
    for i in range(sections):
        lines.append(f"# profile number {i}\n[profile-{i}]\n"
                     f"aws_access_key_id = AKIA{i:016d}\n"
                     f"aws_secret_access_key = {'s' * 40}\n\n")
    path.write_text("".join(lines))
    os.chmod(path, 0o600)


def floor_rewrite(path: Path, *, durable: bool = True) -> None:
    data = path.read_bytes()
    fd, tmp = tempfile.mkstemp(dir=path.parent)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    if durable:  # the rename is on disk only once the folder's entry is
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def medians(fns: dict[str, Callable[[], object]], runs: int) -> dict[str, float]:
    """Median seconds of each, their runs interleaved (same machine load for each)."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def run(runs: int = 9) -> list[tuple[str, str, str, str]]:
    from awscli.customizations.configure.writer import ConfigFileWriter

    from tray.awsfiles import credfile
    from tray.domain.models import TempCredentials

    folder = tmpdir("roletray-bench-write-")
    rows = []
    per_size: dict[int, float] = {}
    try:
        for n in SIZES:
            ours_path, theirs_path, floor_path, floor2_path = (
                folder / f"{k}-{n}" for k in ("o", "a", "f", "g"))
            for p in (ours_path, theirs_path, floor_path, floor2_path):
                make_file(p, n)
            counter = iter(range(10**9))

            def creds() -> TempCredentials:
                i = next(counter)
                return TempCredentials(f"ASIA{i:016d}", "x" * 40, "t" * 300,
                                       datetime.now(UTC) + timedelta(hours=1))

            def ours() -> None:
                credfile.write_credentials(ours_path, "roletray", creds(), role="platform")

            writer = ConfigFileWriter()

            def theirs() -> None:
                c = creds()
                writer.update_config({"__section__": "roletray",
                                      "aws_access_key_id": c.access_key_id,
                                      "aws_secret_access_key": c.secret_access_key,
                                      "aws_session_token": c.session_token}, str(theirs_path))

            r = runs if n < 20_000 else max(3, runs // 3)
            ours()  # the first write adds the section; the timed ones replace it
            t = medians({"ours": ours, "aws": theirs,
                         "floor": lambda: floor_rewrite(floor_path),
                         "floor2": lambda: floor_rewrite(floor2_path, durable=False)}, r)
            per_size[n] = t["ours"]
            rows.append(((f"rewrite target, {n:,} sections: roletray vs awscli writer / "
                          "I/O floor (durable: + folder fsync) / without the folder fsync"),
                         f"{t['ours'] * 1000:.2f} ms",
                         (f"{t['aws'] * 1000:.2f} ms / {t['floor'] * 1000:.2f} ms / "
                          f"{t['floor2'] * 1000:.2f} ms"),
                         (f"{t['ours'] / t['aws']:.2f}× awscli, {t['ours'] / t['floor']:.2f}× "
                          f"floor, {t['ours'] / t['floor2']:.2f}× floor without "
                          "folder fsync")))
        small, big = per_size[2_000], per_size[20_000]
        rows.append((("cold rewrite bar: 2,000 sections; and 20,000 vs 2,000 sections "
                     "(10× the size)"),
                     f"{small * 1000:.2f} ms",
                     "50 ms (the bar)",
                     (f"{small / 0.050:.2f} of the bar; {big / small:.1f}× the time for 10× the "
                     "size (linear: ≈ 10×)")))
        return rows
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    for row in run():
        print(" | ".join(row))
