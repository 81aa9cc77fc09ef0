"""The console sign-in URL reaches the browser through a private page, never argv."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tray.platform import signin_page

URL = "https://signin.aws.amazon.com/federation?Action=login&Issuer=roletray&SigninToken=T%22<x>"


def test_the_page_forwards_to_the_url_and_only_the_user_can_read_it(tmp_path: Path) -> None:
    page = signin_page.write(URL, tmp_path)
    assert stat.S_IMODE(page.stat().st_mode) == 0o600
    text = page.read_text()
    # Escaped for HTML: a quote or a bracket in the URL cannot end the attribute.
    assert 'content="0;url=https://signin.aws.amazon.com/federation?Action=login&amp;' in text
    assert "T%22&lt;x&gt;" in text and "<x>" not in text
    assert "SigninToken" not in page.as_uri()


def test_pages_whose_token_aws_no_longer_takes_are_swept(tmp_path: Path) -> None:
    old = signin_page.write(URL, tmp_path)
    other = tmp_path / "control.sock.txt"
    other.write_text("not ours")
    now = old.stat().st_mtime + signin_page.MAX_AGE_S + 1
    young = tmp_path / (signin_page.PREFIX + "young.html")
    young.write_text("x")
    os.utime(young, (now - 60, now - 60))
    new = signin_page.write(URL, tmp_path, now=now)
    assert not old.exists() and young.exists() and new.exists() and other.exists()
    assert signin_page.sweep(tmp_path, now=now + signin_page.MAX_AGE_S + 1) == 2
