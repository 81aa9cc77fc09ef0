"""Run every benchmark, print one table, and write it to ``bench/results.md``.

    python bench/run.py            # all
    python bench/run.py write      # only some: assume, write, daemon, tray, menu, credproc,
                                   # sso, prompt

Figures are ratios against a peer measured in the same run on this machine.
"""

from __future__ import annotations

import importlib
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

BENCHES = {
    "assume": "bench_assume",
    "write": "bench_write",
    "daemon": "daemon_idle",
    "tray": "tray_idle",
    "menu": "menu_build",
    "finder": "finder_filter",
    "credproc": "bench_credential_process",
    "sso": "bench_sso_populate",
    "prompt": "bench_prompt",
}


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = subprocess.run(["nproc"], capture_output=True, text=True, check=False).stdout.strip() or "?"
    return (f"{platform.system()} {platform.release()}, {cpu}, {cores} cores, "
            f"Python {platform.python_version()}")


def main(argv: list[str]) -> int:
    chosen = argv or list(BENCHES)
    rows: list[tuple[str, ...]] = []
    for name in chosen:
        module = importlib.import_module(BENCHES[name])
        try:
            rows.extend(module.run())
        except Exception as e:  # noqa: BLE001  (one broken bench must not hide the others' figures)
            rows.append((name, "failed", "-", f"{e.__class__.__name__}: {e}"))
    header = ("benchmark", "roletray", "peer", "ratio / target")
    lines = [f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine()}.", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    if not argv:
        (HERE / "results.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
