"""credfile against a writer that ignores roletray's lock: the aws CLI's own.

awscli's ``ConfigFileWriter`` (what ``aws configure set`` uses) reads the file,
then opens it with "w" (truncating it) and writes it again. A roletray read that
lands between the truncation and the write sees an empty file; had roletray
trusted it, its rename would replace the file with one holding only its own
section, and ``[default]``'s long-term keys would be gone for good (issue 13).

Both writers run in their own processes, in tight loops, for a bounded time
(``ROLETRAY_RACE_SECONDS``, 20 by default). Nothing here sleeps for timing: the
loops just run, and the roletray side stops early once it sees the damage.
"""

from __future__ import annotations

import configparser
import io
import os
import subprocess
import sys
from pathlib import Path

from tray.awsfiles import inifile

REPO = Path(__file__).resolve().parents[1]
SECONDS = float(os.environ.get("ROLETRAY_RACE_SECONDS", "20"))

BASE = ("[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
        "aws_secret_access_key = longtermsecret\n\n[awscli]\nregion = us-east-1\n")

# Rewrites [awscli] with the value it already has: every pass truncates and writes the
# same bytes, so any other change to the file is the other writer's doing.
AWSCLI = r"""
import sys, time
from awscli.customizations.configure.writer import ConfigFileWriter
path, seconds = sys.argv[1], float(sys.argv[2])
writer = ConfigFileWriter()
sys.stdin.readline()
n, end = 0, time.monotonic() + seconds
while time.monotonic() < end:
    writer.update_config({"__section__": "awscli", "region": "us-east-1"}, path)
    n += 1
print(n, flush=True)
"""

# Writes [roletray] again and again. After each write it looks at the file: once the
# long-term keys are missing from a whole file (both other sections' writers are done
# with it, so [awscli] is back while [default] is not) the damage is permanent: stop.
ROLETRAY = r"""
import configparser, io, sys, time
sys.path.insert(0, sys.argv[1])
from datetime import datetime, timezone
from pathlib import Path
from tray.awsfiles import credfile
from tray.domain.errors import CredentialsFileError
from tray.domain.models import TempCredentials

path, seconds = Path(sys.argv[2]), float(sys.argv[3])
sys.stdin.readline()
writes = refused = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    creds = TempCredentials(f"ASIA{writes:016d}", f"secret-{writes}", f"token-{writes}",
                            datetime(2030, 1, 1, tzinfo=timezone.utc))
    try:
        credfile.write_credentials(path, "roletray", creds, role="platform")
        writes += 1
    except CredentialsFileError as e:
        refused += 1
        print("refused:", e, file=sys.stderr, flush=True)
    cp = configparser.RawConfigParser()
    try:
        cp.read_file(io.StringIO(path.read_text()))
    except configparser.Error:
        continue
    if cp.has_section("awscli") and not cp.has_section("default"):
        print("LOST", flush=True)
        break
print(writes, refused, flush=True)
"""


def sections(text: str) -> dict[str, dict[str, str]]:
    cp = configparser.RawConfigParser()
    cp.read_file(io.StringIO(text, newline=None))
    return {s: dict(cp.items(s)) for s in cp.sections()}


def test_awscli_writer_racing_roletray_never_loses_default(isolated_env: Path) -> None:
    path = Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"])
    path.write_text(BASE)
    os.chmod(path, 0o600)
    env = os.environ.copy()
    theirs = subprocess.Popen([sys.executable, "-c", AWSCLI, str(path), str(SECONDS)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    ours = subprocess.Popen([sys.executable, "-c", ROLETRAY, str(REPO), str(path), str(SECONDS)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        for p in (theirs, ours):
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        out, err = ours.communicate(timeout=SECONDS * 2 + 30)
        their_out, _ = theirs.communicate(timeout=SECONDS * 2 + 30)
    finally:
        for p in (theirs, ours):
            if p.poll() is None:
                p.kill()
                p.wait()
    assert "LOST" not in out, "roletray's write erased [default] (issue 13 item 1)"
    assert ours.returncode == 0 and theirs.returncode == 0, err[-2000:]
    writes, _refused = map(int, out.split())
    assert int(their_out) > 100  # the race really ran: the aws CLI rewrote the file often ...
    assert writes >= 5, err[-2000:]  # ... and roletray, which waits out a torn read
    # Every refusal is the one that names the file and says why; none is a parse error.
    for line in err.splitlines():
        if line.startswith("refused:"):
            assert "kept changing" in line or "vanished" in line, line
    text = path.read_text()
    found = sections(text)
    assert found["default"] == {"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE",
                                "aws_secret_access_key": "longtermsecret"}
    assert found["awscli"] == {"region": "us-east-1"}
    # No section but roletray's changed, not even a byte of them.
    assert inifile.replace_section(text, "roletray", None) == BASE


def test_awscli_writer_racing_roletray_assume(aws, capsys) -> None:  # type: ignore[no-untyped-def]
    """The same race through the whole command: `roletray assume` again and again."""
    import time

    from tray.cli import main

    aws.seed_world()
    path = aws.credentials_path
    with open(path, "a") as f:
        f.write("\n[awscli]\nregion = us-east-1\n")
    base = path.read_text()
    seconds = SECONDS / 2
    theirs = subprocess.Popen([sys.executable, "-c", AWSCLI, str(path), str(seconds)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    codes: list[int] = []
    try:
        assert theirs.stdin is not None
        theirs.stdin.write("go\n")
        theirs.stdin.flush()
        end = time.monotonic() + seconds
        while time.monotonic() < end:  # a loop bound, not a wait: no assertion on timing
            codes.append(main(["assume", "platform"]))
            err = capsys.readouterr().err
            # botocore's own read of the source keys can land in the torn window too
            # ("yields no credentials"): a failed assume that writes nothing. And the
            # aws CLI can write back what it read before roletray's rename, reverting
            # [roletray] ("yields key ..., not the new ..."): roletray says so.
            assert codes[-1] == 0 or any(s in err for s in (
                "kept changing", "vanished", "yields no credentials", "not the new")), err
        their_out, _ = theirs.communicate(timeout=seconds + 30)
    finally:
        if theirs.poll() is None:
            theirs.kill()
            theirs.wait()
    text = path.read_text()
    assert inifile.replace_section(text, "roletray", None) == base  # [default] and [awscli] kept
    # The race ran. (How many of these assumes get through depends on how often the
    # loop's torn window catches botocore's read; the test above measures progress.)
    assert int(their_out) > 100 and codes, (their_out, codes)
