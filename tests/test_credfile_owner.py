"""ARCHITECTURE rule 2: the credentials file is opened by one module alone, readers included.

``tray.awsfiles.credfile`` reads it through ``sharedfile`` (torn reads repeated, a size cap,
no FIFO). Any other module that opens it (``raw_config_parse`` on it, ``read_text``,
``open``) skips those checks, as ``console.py`` and the doctor did.
"""

from __future__ import annotations

import re
from pathlib import Path

TRAY = Path(__file__).resolve().parent.parent / "tray"
OWNERS = {"awsfiles/credfile.py", "awsfiles/sharedfile.py"}

# A read whose argument names the credentials file: `raw_config_parse(...credentials...)`,
# `creds_path.read_text(`, `open(cred_path`, `credentials_path.open(`...
_READS = [re.compile(r, re.IGNORECASE) for r in (
    r"raw_config_parse\([^)]*cred",
    r"\bcred\w*\.(read_text|read_bytes|open)\(",
    r"aws_credentials\w*(\([^)]*\))?\.(read_text|read_bytes|open)\(",
    r"\bopen\(\s*\w*cred",
)]


def readers() -> list[str]:
    found = []
    for py in sorted(TRAY.rglob("*.py")):
        rel = py.relative_to(TRAY).as_posix()
        if rel in OWNERS:
            continue
        for n, line in enumerate(py.read_text(encoding="utf-8").splitlines(), 1):
            if any(r.search(line) for r in _READS):
                found.append(f"tray/{rel}:{n}: {line.strip()}")
    return found


def test_only_credfile_opens_the_credentials_file():
    assert readers() == []


def test_the_scan_sees_the_shapes_it_forbids(tmp_path, monkeypatch):
    # The reads console.py and doctor/local.py made before they asked credfile.
    (tmp_path / "console.py").write_text(
        "x = awsconfig.raw_config_parse(paths.aws_credentials_file(env)).get(s, {})\n"
        "text = creds_path.read_text(encoding='utf-8')\n")
    monkeypatch.setattr(f"{__name__}.TRAY", tmp_path)
    assert len(readers()) == 2
