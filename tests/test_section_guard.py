"""The section guard on real files: what a section holds, and writing ours back."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakests import write_world

from tray import compose
from tray.awsfiles import credfile
from tray.domain.errors import CredentialsFileError
from tray.domain.models import TempCredentials
from tray.engine.section_guard import SectionGuard

T0 = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


def keys(key_id: str) -> TempCredentials:
    return TempCredentials(key_id, "s" * 40, "t" * 60, T0 + timedelta(hours=1))


@pytest.fixture
def world(isolated_env: Path) -> Path:
    return write_world(isolated_env)[1]


def test_inspect_tells_ours_absent_changed_and_foreign(world: Path) -> None:
    guard = SectionGuard(compose.in_process(os.environ))
    ours = keys("ASIAOURS000000000001")
    assert guard.inspect("roletray", ours) == "absent"
    credfile.write_credentials(world, "roletray", ours, role="platform")
    assert guard.inspect("roletray", ours) == "ours"
    assert guard.inspect("roletray", None) == "ours"  # nothing to compare: roletray's is ours
    credfile.write_credentials(world, "roletray", keys("ASIAOTHER00000000001"), role="platform")
    assert guard.inspect("roletray", ours) == "changed"
    head = world.read_text().split("[roletray]")[0]
    world.write_text(head + "[roletray]\naws_access_key_id = ASIAFOREIGN00000001\n"
                     "aws_secret_access_key = abc\naws_session_token = def\n")
    assert guard.inspect("roletray", ours) == "foreign"


def test_restore_writes_ours_back_and_never_over_long_term_keys(
        world: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tray")
    guard = SectionGuard(compose.in_process(os.environ))
    ours = keys("ASIAOURS000000000001")
    guard.restore("roletray", ours, role="platform", kind="absent")
    owned = credfile.read_owned(world, "roletray")
    assert owned is not None and owned.access_key_id == ours.access_key_id
    assert "restored [roletray] in ~/.aws/credentials: another program removed it" in caplog.text

    head = world.read_text().split("[roletray]")[0]
    world.write_text(head + "[roletray]\naws_access_key_id = AKIASOMEONESKEYS001\n"
                     "aws_secret_access_key = theirsecret\n")
    before = world.read_bytes()
    with pytest.raises(CredentialsFileError, match="long-term keys"):
        guard.restore("roletray", ours, role="platform", kind="foreign")
    assert world.read_bytes() == before
    assert "s" * 40 not in caplog.text
