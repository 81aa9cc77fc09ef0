"""The console sign-in URL reaches the browser through a one-shot page, never argv."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

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


# --- the one-shot loopback page (issue 25, item 6): Ubuntu's snap Firefox reads no /run/user

LINUX = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/net/tcp")


def _get(address: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(address, timeout=10) as answer:
        return answer.status, answer.read()


@LINUX
def test_a_client_of_the_same_user_gets_the_page_once() -> None:
    shot = signin_page.OneShotPage(URL)
    try:
        assert shot.address.startswith("http://127.0.0.1:") and "SigninToken" not in shot.address
        status, body = _get(shot.address)
        assert status == 200 and b"T%22&lt;x&gt;" in body
        assert shot.wait(10) is True
        with pytest.raises(OSError):  # refused, reset or closed: nothing a second time
            _get(shot.address)
    finally:
        shot.close()


@LINUX
def test_a_wrong_path_gets_404_and_does_not_spend_the_page() -> None:
    shot = signin_page.OneShotPage(URL)
    try:
        base = shot.address.rsplit("/", 1)[0]
        with pytest.raises(urllib.error.HTTPError) as e:
            _get(base + "/guess")
        assert e.value.code == 404 and shot.refused == 1
        assert _get(shot.address)[0] == 200
    finally:
        shot.close()


@LINUX
def test_a_connection_of_another_user_is_refused_and_does_not_spend_the_page() -> None:
    # The page expects another uid: this process is then "another user" to it.
    shot = signin_page.OneShotPage(URL, uid=os.getuid() + 1)
    try:
        with pytest.raises(OSError):
            _get(shot.address)
        assert shot.refused == 1 and not shot.wait(0)
    finally:
        shot.close()


@LINUX
@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")
def test_a_real_other_user_is_refused() -> None:
    python = "/usr/bin/python3"  # the test's own may be in a folder nobody cannot enter
    if not os.access(python, os.X_OK):
        pytest.skip("no /usr/bin/python3 for the other user")
    shot = signin_page.OneShotPage(URL)
    try:
        other = subprocess.run(
            [python, "-c", ("import sys, urllib.request\n"
                            "try:\n    urllib.request.urlopen(sys.argv[1], timeout=10).read()\n"
                            "    print('page')\nexcept OSError:\n    print('refused')"),
             shot.address],
            user=65534, capture_output=True, text=True, timeout=60, check=False, cwd="/")
        assert other.stdout.strip() == "refused", other.stderr
        assert _get(shot.address)[0] == 200  # the user's own browser still gets it
    finally:
        shot.close()


def test_the_peer_uid_is_read_from_the_table(tmp_path: Path) -> None:
    table = tmp_path / "tcp"
    # peer 127.0.0.1:40000 connected to 127.0.0.1:8080, owned by uid 1234
    peer = signin_page._hex_address(("127.0.0.1", 40000))
    local = signin_page._hex_address(("127.0.0.1", 8080))
    table.write_text(
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n"
        f"   0: {local} 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0\n"
        f"   1: {peer} {local} 01 00000000:00000000 00:00000000 00000000  1234\n")
    assert signin_page.uid_of_peer(("127.0.0.1", 8080), ("127.0.0.1", 40000),
                                   table=str(table)) == 1234
    assert signin_page.uid_of_peer(("127.0.0.1", 8080), ("127.0.0.1", 40001),
                                   table=str(table)) is None
    if sys.byteorder == "little":
        assert local == "0100007F:1F90"


@LINUX
def test_an_unfetched_page_ends_by_itself() -> None:
    shot = signin_page.OneShotPage(URL, lifetime=0)
    assert shot.wait(10) is False
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", int(shot.address.split(":")[2].split("/")[0])),
                                 timeout=5).recv(1)
    shot.close()
