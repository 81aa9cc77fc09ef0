"""Rewriting the target section in credentials files of 10 .. 20,000 sections.

Peers, measured in the same run on the same files:
- awscli's own writer (``aws configure set`` uses ConfigFileWriter), in-process;
- the I/O floor: read the bytes, write them to a temporary file, fsync, rename.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from common import median_seconds, tmpdir

SIZES = (10, 200, 2_000, 20_000)


def make_file(path: Path, sections: int) -> None:
    lines = []
    for i in range(sections):
        lines.append(f"# profile number {i}\n[profile-{i}]\n"
                     f"aws_access_key_id = AKIA{i:016d}\n"
                     f"aws_secret_access_key = {'s' * 40}\n\n")
    path.write_text("".join(lines))
    os.chmod(path, 0o600)


def floor_rewrite(path: Path) -> None:
    data = path.read_bytes()
    fd, tmp = tempfile.mkstemp(dir=path.parent)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def run(runs: int = 9) -> list[tuple[str, str, str, str]]:
    from awscli.customizations.configure.writer import ConfigFileWriter

    from tray import credfile
    from tray.models import TempCredentials

    folder = tmpdir("roletray-bench-write-")
    rows = []
    try:
        for n in SIZES:
            ours_path, theirs_path, floor_path = (folder / f"{k}-{n}" for k in ("o", "a", "f"))
            for p in (ours_path, theirs_path, floor_path):
                make_file(p, n)
            counter = iter(range(10**9))

            def creds() -> TempCredentials:
                i = next(counter)
                return TempCredentials(f"ASIA{i:016d}", "x" * 40, "t" * 300,
                                       datetime.now(timezone.utc) + timedelta(hours=1))

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
            t_ours = median_seconds(ours, r)
            t_aws = median_seconds(theirs, r)
            t_floor = median_seconds(lambda: floor_rewrite(floor_path), r)
            rows.append((f"rewrite target, {n:,} sections: roletray vs awscli writer / I/O floor",
                         f"{t_ours * 1000:.2f} ms", f"{t_aws * 1000:.2f} ms / "
                         f"{t_floor * 1000:.2f} ms",
                         f"{t_ours / t_aws:.2f}× awscli, {t_ours / t_floor:.2f}× floor "
                         "(target ≤ 2× floor)"))
        return rows
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    for row in run():
        print(" | ".join(row))
