"""The credentials-file section editor: lossless, validated, locked, atomic, owned sections only.

The only module that writes ``~/.aws/credentials`` (and the ``region`` line of
``[profile <target>]`` in ``~/.aws/config``). roletray's section looks like::

    [roletray]
    aws_access_key_id = ASIA...
    aws_secret_access_key = ...
    aws_session_token = ...
    x_roletray_managed = true
    x_roletray_role = platform
    x_roletray_expiration = 2026-11-28T14:26:50Z

botocore and the AWS CLI ignore keys they do not know, so the ``x_roletray_*``
lines (never secret) let roletray recognise its own section later.

Every write: lock ``.<name>.roletray.lock`` beside the real file, read the file
afresh, refuse it if botocore could not parse it, edit the lines of one section
(``tray.awsfiles.inifile``), write a temporary file in the same folder, fsync, rename it
over the file, fsync the folder. Symlinks are followed to the real file.
"""

from __future__ import annotations

import configparser
import gc
import io
import os
import re
import shlex
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NoReturn

from tray.awsfiles import filelock_lite, inifile
from tray.domain.errors import CredentialsFileError
from tray.domain.models import TempCredentials, iso_utc, parse_iso_utc
from tray.paths import display_path

MARKER = "x_roletray_managed"
ROLE_KEY = "x_roletray_role"
EXPIRATION_KEY = "x_roletray_expiration"
ACCESS_KEY, SECRET_KEY, TOKEN_KEY = "aws_access_key_id", "aws_secret_access_key", "aws_session_token"
LEGACY_TOKEN_KEY = "aws_security_token"  # botocore prefers it to aws_session_token

LOCK_TIMEOUT = 30.0  # seconds; a write takes milliseconds, so this means a stuck peer
STALE_TEMP_AGE = 60.0  # seconds after which a temp file of a live pid counts as abandoned
NEW_FILE_MODE = 0o600
NEW_FOLDER_MODE = 0o700

SectionState = Literal["absent", "owned", "foreign"]

_REGION_RE = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")
_TARGET_RE = re.compile(r"^[^\s\[\]'\"\\]+$")
_SPACE_RE = re.compile(r"\s")


# --- reading and validating ---------------------------------------------------------------


def validate_text(text: str, path: Path) -> None:
    """Refuse what botocore could not parse, with a one-line message naming file and line.

    botocore parses with ``configparser.RawConfigParser()`` (strict) after
    ``open()`` in universal-newline mode; so does this, and it is the judge.
    """
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as e:  # text decoded with surrogateescape, say
            lineno = len(inifile.split_lines(text[: e.start] + "x"))
            _refuse(display_path(path), lineno, "bytes that are not UTF-8 text")
    _parse(text, path)


def _parse(text: str, path: Path) -> inifile.Layout:
    """The file's layout; ``CredentialsFileError`` where botocore's parser would fail.

    ``inifile`` reads lines exactly as ``configparser.RawConfigParser`` (strict)
    does, and raises where it raises (tests/test_inifile.py holds it to that), in
    one pass. So a file it accepts is parsed once, by it alone. configparser
    itself still judges (and words the refusal) whenever the scanner refuses a
    file, and double-checks files with whitespace or line breaks other than
    space, tab, CR and LF, the corner where two readers could most easily part.
    """
    shown = display_path(path)
    if text.startswith("\ufeff"):
        raise CredentialsFileError(
            f"{shown} line 1: the file starts with a UTF-8 byte-order mark (BOM), which botocore "
            "and the AWS CLI reject; save it as UTF-8 without BOM")
    try:
        with _gc_paused():
            layout = inifile.parse(text)
    except inifile.IniSyntaxError as e:
        _judge(text, path, shown)
        _refuse(shown, e.lineno, e.problem)  # pragma: no cover - the scanner mirrors configparser
    if not inifile.is_plain(text):
        _judge(text, path, shown)
    return layout


def _judge(text: str, path: Path, shown: str) -> None:
    """Parse as botocore does; refuse (naming the line, never its text) what it rejects."""
    cp = configparser.RawConfigParser()
    try:
        with _gc_paused():
            cp.read_file(io.StringIO(text, newline=None), source=str(path))
    except configparser.DuplicateSectionError as e:
        _refuse(shown, e.lineno, f"section [{e.section}] appears twice")
    except configparser.DuplicateOptionError as e:
        _refuse(shown, e.lineno, f"key '{e.option}' appears twice in section [{e.section}]")
    except configparser.MissingSectionHeaderError as e:
        _refuse(shown, e.lineno, "text before the first [section] header")
    except configparser.ParsingError as e:
        lineno = e.errors[0][0] if e.errors else None
        _refuse(shown, lineno, "not a 'key = value' line, a [section] header or a comment"
                + _section_at(text, lineno))
    except configparser.Error as e:  # pragma: no cover - none other is raised by _read
        raise CredentialsFileError(f"{shown}: botocore cannot parse this file "
                                   f"({type(e).__name__})") from None


@contextmanager
def _gc_paused() -> Iterator[None]:
    # Parsing allocates an object or more per line; the cyclic GC would walk the
    # growing heap again and again and make a 20,000-section file quadratic.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _refuse(shown: str, lineno: int | None, problem: str) -> NoReturn:
    where = f" line {lineno}" if lineno else ""
    raise CredentialsFileError(f"{shown}{where}: {problem}; botocore and the AWS CLI cannot "
                               "parse this file (roletray does not repair it: fix it by hand)")


def _section_at(text: str, lineno: int | None) -> str:
    name = inifile.section_at(text, lineno) if lineno else None
    return "" if name is None else f" (in section [{name}])"


def _decode(data: bytes, path: Path) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        before = data[: e.start].decode("utf-8")
        lineno = len(inifile.split_lines(before + "x"))
        _refuse(display_path(path), lineno, "bytes that are not UTF-8 text")


def _read_bytes(real: Path, path: Path) -> tuple[bytes, os.stat_result | None]:
    """The file's bytes and stat; (b"", None) when it does not exist."""
    try:
        with open(real, "rb") as f:
            st = os.fstat(f.fileno())
            return f.read(), st
    except FileNotFoundError:
        return b"", None
    except OSError as e:
        raise CredentialsFileError(f"{display_path(path)}: cannot read it ({e.strerror})") from None


@dataclass(frozen=True)
class _Known:
    """A file exactly as this process last wrote it, and where ``[target]`` sits in it.

    Bytes equal to ``data`` were validated before the write and edited in a
    way proven to keep them valid, so they need no new parse: a rewrite of a
    20,000-section file then costs about what copying it costs.
    """

    data: bytes
    target: str
    start: int  # byte offset of the header line
    body: int  # byte offset after the header line
    stop: int  # byte offset after the last key line
    items: tuple[tuple[str, str], ...]


_known: dict[Path, _Known] = {}


def _known_items(real: Path, data: bytes, target: str) -> dict[str, str] | None:
    known = _known.get(real)
    if known is not None and known.target == target and known.data == data:
        return dict(known.items)
    return None


def _section_items_of(path: Path, target: str) -> dict[str, str] | None:
    real = _resolve(path)
    data, _ = _read_bytes(real, path)
    items = _known_items(real, data, target)
    if items is not None:
        return items
    layout = _parse(_decode(data, path), path)
    return _section_items(layout, target)


def _load(path: Path) -> inifile.Layout:
    data, _ = _read_bytes(_resolve(path), path)
    return _parse(_decode(data, path), path)


def _classify(items: dict[str, str] | None) -> tuple[SectionState, str]:
    """("absent"|"owned"|"foreign", why foreign). A header without keys counts as absent."""
    if not items:
        return "absent", ""
    if items.get(MARKER, "").lower() == "true":
        return "owned", ""
    if ACCESS_KEY in items:
        if TOKEN_KEY in items or LEGACY_TOKEN_KEY in items:
            return "foreign", "temporary"
        return "foreign", "long-term"
    return "foreign", "other"


def _section_items(layout: inifile.Layout, target: str) -> dict[str, str] | None:
    sec = layout.by_name.get(target)
    return None if sec is None else layout.items(sec)


def section_state(path: Path, target: str) -> SectionState:
    """Whether ``[target]`` is missing (or an empty header), roletray's own, or someone else's.

    Raises ``CredentialsFileError`` when the file cannot be parsed.
    """
    return _classify(_section_items_of(path, target))[0]


def read_owned(path: Path, target: str) -> TempCredentials | None:
    """The keys in roletray's own ``[target]``; None when absent, not ours, or incomplete.

    Raises ``CredentialsFileError`` when the file cannot be parsed.
    """
    items = _section_items_of(path, target)
    if _classify(items)[0] != "owned":
        return None
    assert items is not None
    try:
        return TempCredentials(access_key_id=items[ACCESS_KEY],
                               secret_access_key=items[SECRET_KEY],
                               session_token=items[TOKEN_KEY],
                               expiration=parse_iso_utc(items[EXPIRATION_KEY]))
    except (KeyError, ValueError):
        return None  # edited by hand: the next write makes it whole again


def owned_role(path: Path, target: str) -> str | None:
    """The role profile named in roletray's own ``[target]``, if any."""
    items = _section_items_of(path, target)
    if _classify(items)[0] != "owned" or items is None:
        return None
    return items.get(ROLE_KEY) or None


def section_names(path: Path) -> list[str]:
    """The section names of an AWS INI file, in file order; [] when it does not exist."""
    return [s.name for s in _load(path).sections]


# --- writing ---------------------------------------------------------------------------------


def write_credentials(path: Path, target: str, creds: TempCredentials, *, role: str,
                      force: bool = False) -> None:
    """Put ``creds`` into ``[target]``, replacing roletray's own section or creating it.

    A section that roletray did not write is refused (``CredentialsFileError``)
    unless it is empty, or ``force`` is given and it holds no long-term keys.
    """
    shown = display_path(path)
    _check_target(target, shown)
    if not role or role != role.strip() or "\n" in role or "\r" in role:
        raise CredentialsFileError(f"{shown}: role name {role!r} cannot be written")
    secrets = (creds.access_key_id, creds.secret_access_key, creds.session_token)
    if any(not v or _SPACE_RE.search(v) for v in secrets):
        # Never echo the values: they are secrets.
        raise CredentialsFileError(f"{shown}: the temporary keys for [{target}] contain "
                                   "whitespace or are empty; not writing them")
    items = ((ACCESS_KEY, creds.access_key_id), (SECRET_KEY, creds.secret_access_key),
             (TOKEN_KEY, creds.session_token), (MARKER, "true"), (ROLE_KEY, role),
             (EXPIRATION_KEY, iso_utc(creds.expiration)))

    def edit(text: str, layout: inifile.Layout) -> tuple[str, tuple[int, int] | None]:
        state, why = _classify(_section_items(layout, target))
        if state == "foreign":
            _refuse_foreign(shown, layout, target, why, force)
        return inifile.replace_section_span(text, target, items, layout=layout)

    _update(path, edit, create=True, target=target, items=items)


def check_writable(path: Path, target: str, *, force: bool = False) -> None:
    """Raise now what ``write_credentials`` would raise for this file, and write nothing.

    For callers that want to refuse before asking AWS for keys: a file botocore
    cannot parse, a bad target name, a section roletray may not replace.
    """
    shown = display_path(path)
    _check_target(target, shown)
    real = _resolve(path)
    data, _ = _read_bytes(real, path)
    if _known_items(real, data, target) is not None:
        return  # exactly as this process wrote it: ours
    layout = _parse(_decode(data, path), path)
    state, why = _classify(_section_items(layout, target))
    if state == "foreign":
        _refuse_foreign(shown, layout, target, why, force)


def remove_credentials(path: Path, target: str) -> bool:
    """Remove roletray's own ``[target]``. False when there is none (or just an empty header).

    A section roletray did not write is refused with ``CredentialsFileError``.
    """
    shown = display_path(path)
    _check_target(target, shown)

    def edit(text: str, layout: inifile.Layout) -> tuple[str, None] | None:
        state, _ = _classify(_section_items(layout, target))
        if state == "absent":
            return None
        if state == "foreign":
            raise CredentialsFileError(
                f"{shown} line {layout.by_name[target].lineno}: section [{target}] was not "
                "written by roletray; not removing it")
        return inifile.replace_section(text, target, None, layout=layout), None

    return _update(path, edit, create=False)


def set_profile_region(config_path: Path, target: str, region: str) -> None:
    """Give ``[profile <target>]`` of the AWS config file ``region = <region>``.

    Other keys of the section stay; the section (and the file, 0600, and its
    folder, 0700) is created when missing. Nothing is written, not even the
    file's mtime, when the region is already set.
    """
    shown = display_path(config_path)
    _check_target(target, shown)
    if target != "default" and shlex.split(f"profile {target}") != ["profile", target]:
        raise CredentialsFileError(f"{shown}: [profile {target}] is not a name botocore reads")
    if not _REGION_RE.match(region):
        raise CredentialsFileError(f"{shown}: '{region}' is not a region name")

    def edit(text: str, layout: inifile.Layout) -> tuple[str, None]:
        name = _profile_section(layout, target)
        return inifile.set_keys(text, name, {"region": region}, layout=layout), None

    # Lock-free first look: the common case (already set) creates no lock file either.
    with suppress(CredentialsFileError):
        layout = _load(config_path)
        sec = layout.by_name.get(_profile_section(layout, target))
        if sec is not None and layout.items(sec).get("region") == region:
            return
    _update(config_path, edit, create=True)


def _profile_section(layout: inifile.Layout, target: str) -> str:
    """The config-file section botocore reads as profile ``target`` (the last one wins)."""
    found = [s.name for s in layout.sections if _config_profile_name(s.name) == target]
    if found:
        return found[-1]
    return "default" if target == "default" else f"profile {target}"


def _config_profile_name(section: str) -> str | None:
    # botocore's configloader.build_profile_map / _parse_section, exactly.
    if section.startswith("profile"):
        try:
            parts = shlex.split(section)
        except ValueError:
            return None
        return parts[1] if len(parts) == 2 else None
    return "default" if section == "default" else None


def _check_target(target: str, shown: str) -> None:
    if not _TARGET_RE.match(target) or target == configparser.DEFAULTSECT:
        raise CredentialsFileError(f"{shown}: '{target}' cannot be a section name here "
                                   "(no spaces, brackets, quotes; not DEFAULT)")


def _refuse_foreign(shown: str, layout: inifile.Layout, target: str, why: str,
                    force: bool) -> None:
    where = f"{shown} line {layout.by_name[target].lineno}: section [{target}]"
    if why == "long-term":
        raise CredentialsFileError(
            f"{where} holds long-term keys (an access key without a session token) that roletray "
            "did not write; roletray never overwrites them: choose another target section")
    if force:
        return
    if why == "temporary":
        raise CredentialsFileError(
            f"{where} holds temporary keys that roletray did not write (no {MARKER} line); "
            "use --force to let roletray take it over, or choose another target section")
    raise CredentialsFileError(f"{where} was not written by roletray; use --force to let "
                               "roletray take it over, or choose another target section")


def _resolve(path: Path) -> Path:
    # Write through a symlink to the file it names, in that file's folder:
    # renaming over the link would replace the link with a plain file. (Linked
    # folders above it need nothing: the rename happens in the real folder anyway.)
    return Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)


Items = tuple[tuple[str, str], ...]
# An edit gets the fresh text and its layout, and gives the new text (with the
# target's character span when it has one), or None for "nothing to do".
Edit = Callable[[str, inifile.Layout], "tuple[str, tuple[int, int] | None] | None"]


def _update(path: Path, edit: Edit, *, create: bool, target: str | None = None,
            items: Items | None = None) -> bool:
    """Lock, read afresh, validate, edit, write atomically. True when the file changed.

    With ``target`` and ``items`` (a credentials write), a file still exactly
    as this process left it is edited by splicing bytes (see ``_Known``).
    """
    shown = display_path(path)
    real = _resolve(path)
    if not real.parent.is_dir():
        if not create:
            return False
        _make_folder(real.parent, shown)
    with _locked(real, shown):
        _remove_stale_temps(real)
        for _ in range(5):
            data, st = _read_bytes(real, path)
            known = _known.get(real)
            new_known: _Known | None
            if (known is not None and items is not None and known.target == target
                    and known.data == data):
                new_data, new_known = _splice_known(known, items)
            else:
                text = _decode(data, path)
                layout = _parse(text, path)
                try:
                    result = edit(text, layout)
                except (inifile.IniEditError, ValueError) as e:
                    line = f" line {e.lineno}" if isinstance(e, inifile.IniEditError) else ""
                    raise CredentialsFileError(f"{shown}{line}: {getattr(e, 'problem', e)}; "
                                               "roletray did not change the file") from None
                if result is None or result[0] == text:
                    return False
                new_text, span = result
                new_data = new_text.encode("utf-8")
                new_known = (None if span is None or target is None or items is None
                             else _know(new_text, new_data, span, target, items))
            _known.pop(real, None)  # whatever happens next, the old picture is stale
            if _write_atomic(real, new_data, st, shown):
                if new_known is not None:
                    _known[real] = new_known
                return True
        # Another program (not roletray: it would wait for the lock) keeps writing it.
        raise CredentialsFileError(f"{shown}: the file kept changing while roletray wrote it; "
                                   "try again")


def _know(text: str, data: bytes, span: tuple[int, int], target: str, items: Items) -> _Known:
    start, stop = span
    if not text.isascii():  # character offsets to byte offsets
        start, stop = len(text[:start].encode("utf-8")), len(text[:stop].encode("utf-8"))
    ends = [i for i in (data.find(b"\n", start, stop), data.find(b"\r", start, stop)) if i >= 0]
    body = min(ends) + 1
    if data[body - 1:body + 1] == b"\r\n":
        body += 1
    return _Known(data, target, start, body, stop, items)


def _splice_known(known: _Known, items: Items) -> tuple[bytes, _Known]:
    """What ``inifile.replace_section`` gives for this file, without parsing it again."""
    data = known.data
    header = data[known.start:known.body]
    nl = "\r\n" if header.endswith(b"\r\n") else header[-1:].decode()
    block = header + "".join(inifile.render_items(items, nl)).encode("utf-8")
    if known.stop == len(data) and not data.endswith((b"\n", b"\r")):
        block = block[: len(block) - len(nl)]  # the file had no final line break, and still has none
    new = data[:known.start] + block + data[known.stop:]
    return new, _Known(new, known.target, known.start, known.body, known.start + len(block), items)


def _make_folder(folder: Path, shown: str) -> None:
    try:
        folder.mkdir(mode=NEW_FOLDER_MODE, parents=True)
    except FileExistsError:
        return
    except OSError as e:
        raise CredentialsFileError(f"{shown}: cannot create its folder ({e.strerror})") from None
    os.chmod(folder, NEW_FOLDER_MODE)  # mkdir's mode is filtered by the umask


def lock_path(path: Path) -> Path:
    """The lock file roletray holds while it rewrites ``path`` (beside the real file)."""
    real = _resolve(path)
    return real.with_name(f".{real.name}.roletray.lock")


@contextmanager
def _locked(real: Path, shown: str) -> Iterator[None]:
    # The same kernel lock filelock.FileLock takes on this file (see tray.awsfiles.filelock_lite),
    # at a few microseconds instead of ~0.15 ms, and without filelock's ~30 ms import.
    name = str(real.with_name(f".{real.name}.roletray.lock"))
    try:
        fd = filelock_lite.acquire(name, timeout=LOCK_TIMEOUT, mode=NEW_FILE_MODE)
    except filelock_lite.LockTimeout:
        raise CredentialsFileError(f"{shown}: another roletray process has held its lock for "
                                   f"{LOCK_TIMEOUT:.0f} s; try again") from None
    except OSError as e:
        raise CredentialsFileError(f"{shown}: cannot lock it ({e.strerror})") from None
    try:
        yield
    finally:
        filelock_lite.release(fd)


def _temp_re(real: Path) -> re.Pattern[str]:
    return re.compile(rf"^\.{re.escape(real.name)}\.roletray-(\d+)-[^/]*\.tmp$")


def _remove_stale_temps(real: Path, now: Callable[[], float] = time.time) -> None:
    """Delete temp files a killed roletray left beside ``real`` (called under the lock)."""
    prefix = f".{real.name}.roletray-"
    try:
        with os.scandir(real.parent) as it:
            entries = [e for e in it if e.name.startswith(prefix)]
    except OSError:
        return
    if not entries:
        return
    pattern = _temp_re(real)
    for entry in entries:
        m = pattern.match(entry.name)
        if not m:
            continue
        with suppress(OSError):
            if not _pid_alive(int(m.group(1))) or now() - entry.stat().st_mtime > STALE_TEMP_AGE:
                os.unlink(entry.path)


def _pid_alive(pid: int) -> bool:
    if os.name == "nt":
        return True  # os.kill(pid, 0) would terminate it there; the age rule decides
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    except OverflowError:
        return False
    return True


def _same_file(real: Path, st: os.stat_result | None) -> bool:
    try:
        now = os.stat(real)
    except FileNotFoundError:
        return st is None
    return st is not None and (now.st_ino, now.st_dev, now.st_size, now.st_mtime_ns) == (
        st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns)


def _write_atomic(real: Path, data: bytes, st: os.stat_result | None, shown: str) -> bool:
    """Replace ``real`` with ``data`` all at once; False if the file changed since ``st``."""
    folder = real.parent
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{real.name}.roletray-{os.getpid()}-",
                                   suffix=".tmp", dir=folder)
    except OSError as e:
        raise CredentialsFileError(f"{shown}: cannot write in its folder ({e.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            _copy_owner_and_mode(f.fileno(), st)
            os.fsync(f.fileno())
        if not _same_file(real, st):
            os.unlink(tmp)  # a program that ignores our lock wrote meanwhile: read again
            return False
        os.replace(tmp, real)
    except BaseException as e:
        with suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise CredentialsFileError(f"{shown}: cannot write it ({e.strerror})") from None
        raise
    _fsync_folder(folder)
    return True


def _copy_owner_and_mode(fd: int, st: os.stat_result | None) -> None:
    """Give the new file the old one's mode (and owner, as far as allowed); else 0600."""
    if not hasattr(os, "fchmod"):  # Windows: modes are not ours to keep
        return
    if st is None:
        os.fchmod(fd, NEW_FILE_MODE)  # mkstemp's 0600 may have met an odd umask
        return
    if (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
        with suppress(OSError):  # best effort: only root may give a file away
            os.fchown(fd, st.st_uid, st.st_gid)
    os.fchmod(fd, stat.S_IMODE(st.st_mode))


def _fsync_folder(folder: Path) -> None:
    # The rename is durable only once the folder's entry is on disk.
    with suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
