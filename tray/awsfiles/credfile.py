"""The credentials-file section editor: lossless, validated, locked, atomic, owned sections only.

The only module that opens ``~/.aws/credentials``, and the one writer of the AWS files:
its ``locked_edit`` (the lock, the settled read, the atomic write below) also carries
``configedit``'s edits of ``~/.aws/config``. roletray's section looks like::

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
(``tray.awsfiles.inifile``), write a temporary file in the same folder, fsync, check
that the file still holds the bytes the edit started from, rename the temporary file
over it, fsync the folder. Symlinks are followed to the real file.

Other programs write the file without roletray's lock, some by truncating it and
writing it again (the aws CLI). So no read is trusted that looks torn: fewer bytes
than ``fstat`` reports, a file that changed while it was read, an empty or
unparsable file that was modified a moment ago, or one that lacks a section an
earlier read of the same write had. Such a read is repeated until the file settles
(``sharedfile.Patience``); a file that will not settle is refused, never written.
Only regular files of at most ``sharedfile.MAX_SIZE`` bytes are read at all.
"""

from __future__ import annotations

import configparser
import io
import os
import re
import shlex
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NoReturn

from tray import paths
from tray.awsfiles import filelock_lite, inifile, sharedfile
from tray.awsfiles.sharedfile import Fingerprint, Patience, Snapshot
from tray.domain.errors import CredentialsFileError
from tray.domain.models import TempCredentials, iso_utc, parse_iso_utc
from tray.domain.text import N_, Text

MARKER = "x_roletray_managed"
ROLE_KEY = "x_roletray_role"
EXPIRATION_KEY = "x_roletray_expiration"
ACCESS_KEY, SECRET_KEY, TOKEN_KEY = "aws_access_key_id", "aws_secret_access_key", "aws_session_token"
LEGACY_TOKEN_KEY = "aws_security_token"  # botocore prefers it to aws_session_token
PROCESS_KEY = "credential_process"

LOCK_TIMEOUT = 30.0  # seconds; a write takes milliseconds, so this means a stuck peer
STALE_TEMP_AGE = 60.0  # seconds after which a temp file of a live pid counts as abandoned
NEW_FILE_MODE = 0o600
NEW_FOLDER_MODE = 0o700
# How long to wait for a file another program is writing; tests swap in a fake clock.
PATIENCE = Patience()

SectionState = Literal["absent", "owned", "foreign"]
# The caller's home folder: messages name files under it as ``~/...`` (as given without one).
Home = paths.Home

_TARGET_RE = re.compile(r"^[^\s\[\]'\"\\]+$")
_SPACE_RE = re.compile(r"\s")


# --- reading and validating ---------------------------------------------------------------


def validate_text(text: str, path: Path, *, home: Home = None) -> None:
    """Refuse what botocore could not parse, with a one-line message naming file and line.

    botocore parses with ``configparser.RawConfigParser()`` (strict) after
    ``open()`` in universal-newline mode; so does this, and it is the judge.
    """
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as e:  # text decoded with surrogateescape, say
            lineno = len(inifile.split_lines(text[: e.start] + "x"))
            _refuse(_shown(path, home), lineno, "bytes that are not UTF-8 text")
    _parse(text, path, home)


def _parse(text: str, path: Path, home: Home) -> inifile.Layout:
    """The file's layout; ``CredentialsFileError`` where botocore's parser would fail.

    ``inifile`` reads lines exactly as ``configparser.RawConfigParser`` (strict)
    does, and raises where it raises (tests/test_inifile.py holds it to that), in
    one pass. So a file it accepts is parsed once, by it alone. configparser
    itself still judges (and words the refusal) whenever the scanner refuses a
    file, and double-checks files with whitespace or line breaks other than
    space, tab, CR and LF, the corner where two readers could most easily part.
    """
    shown = _shown(path, home)
    if text.startswith("\ufeff"):
        raise CredentialsFileError(
            N_("{path} line 1: the file starts with a UTF-8 byte-order mark (BOM), which "
               "botocore and the AWS CLI reject; save it as UTF-8 without BOM"),
            path=shown)
    try:
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
        cp.read_file(io.StringIO(text, newline=None), source=str(path))
    except configparser.DuplicateSectionError as e:
        _refuse(shown, e.lineno, Text(N_("section [{section}] appears twice"),
                                      section=e.section))
    except configparser.DuplicateOptionError as e:
        _refuse(shown, e.lineno, Text(N_("key '{key}' appears twice in section [{section}]"),
                                      key=e.option, section=e.section))
    except configparser.MissingSectionHeaderError as e:
        _refuse(shown, e.lineno, Text(N_("text before the first [section] header")))
    except configparser.ParsingError as e:
        lineno = e.errors[0][0] if e.errors else None
        name = inifile.section_at(text, lineno) if lineno else None
        _refuse(shown, lineno, Text(
            N_("not a 'key = value' line, a [section] header or a comment")) if name is None
            else Text(N_("not a 'key = value' line, a [section] header or a comment (in "
                         "section [{section}])"), section=name))
    except configparser.Error as e:  # pragma: no cover - none other is raised by _read
        raise CredentialsFileError(N_("{path}: botocore cannot parse this file ({error_type})"),
                                   path=shown, error_type=type(e).__name__) from None


def _refuse(shown: str, lineno: int | None, problem: str) -> NoReturn:
    where = Text(N_("{path} line {line}"), path=shown, line=lineno) if lineno else shown
    raise CredentialsFileError(N_("{where}: {problem}; botocore and the AWS CLI cannot parse this "
                                  "file (roletray does not repair it: fix it by hand)"),
                               where=where, problem=problem)


def _decode(data: bytes, path: Path, home: Home) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        before = data[: e.start].decode("utf-8")
        lineno = len(inifile.split_lines(before + "x"))
        _refuse(_shown(path, home), lineno, "bytes that are not UTF-8 text")


Read = tuple[Snapshot, str, inifile.Layout]


def _read(real: Path, path: Path, home: Home, keep: frozenset[str] = frozenset(),
          settler: sharedfile.Settler | None = None) -> Read:
    """The file's bytes, text and layout, from a read that does not look torn.

    ``keep``: the sections an earlier read of this same write found. A read
    missing one of them is the file mid-rewrite, never a base to write from.
    ``settler``: the write's own, so that one deadline bounds all its waits.
    """
    shown = _shown(path, home)
    settler = settler or sharedfile.Settler(PATIENCE)
    while True:
        snap = sharedfile.read_once(real, shown)
        quiet = settler.observe(snap)
        problem: CredentialsFileError | None = None
        if not snap.torn:
            try:
                text = _decode(snap.data, path, home)
                layout = _parse(text, path, home)
            except CredentialsFileError as e:
                problem = e
            else:
                lost = keep - layout.by_name.keys()
                if lost:
                    sections = ", ".join(f"[{n}]" for n in sorted(lost))
                    problem = CredentialsFileError(
                        N_("{path}: sections {sections} vanished while roletray was writing "
                           "it (another program is rewriting the file); roletray did not "
                           "change the file") if len(lost) > 1 else
                        N_("{path}: section {sections} vanished while roletray was writing it "
                           "(another program is rewriting the file); roletray did not change "
                           "the file"), path=shown, sections=sections)
                    quiet = False  # only the deadline ends this wait: never write it
                elif snap.data or snap.st is None or quiet:
                    return snap, text, layout
                # An empty file modified a moment ago: maybe truncated by a writer
                # that is about to write it again.
        if problem is not None and quiet:
            raise problem  # the same unparsable bytes for a while: the file is so
        if settler.expired():
            raise problem or _kept_changing(shown)
        settler.wait()


def _kept_changing(shown: str) -> CredentialsFileError:
    # Another program (not roletray: it would wait for the lock) keeps writing it.
    return CredentialsFileError(N_("{path}: the file kept changing while roletray read it "
                                   "(another program is writing it); try again"),
                                path=shown)


def fingerprint(path: Path) -> Fingerprint | None:
    """The credentials file's stat fingerprint (None: no file), for "unchanged?" checks.

    A periodic check compares it with the fingerprint it saw with its last read
    and reads (and parses) the file again only when they differ.
    """
    return sharedfile.fingerprint(_resolve(path))


def _section_items_of(path: Path, target: str, home: Home) -> dict[str, str] | None:
    _, _, layout = _read(_resolve(path), path, home)
    return _section_items(layout, target)


def _load(path: Path, home: Home) -> inifile.Layout:
    return _read(_resolve(path), path, home)[2]


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


def section_state(path: Path, target: str, *, home: Home = None) -> SectionState:
    """Whether ``[target]`` is missing (or an empty header), roletray's own, or someone else's.

    Raises ``CredentialsFileError`` when the file cannot be parsed.
    """
    return _classify(_section_items_of(path, target, home))[0]


def read_owned(path: Path, target: str, *, home: Home = None) -> TempCredentials | None:
    """The keys in roletray's own ``[target]``; None when absent, not ours, or incomplete.

    Raises ``CredentialsFileError`` when the file cannot be parsed.
    """
    items = _section_items_of(path, target, home)
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


def owned_role(path: Path, target: str, *, home: Home = None) -> str | None:
    """The role profile named in roletray's own ``[target]``, if any."""
    items = _section_items_of(path, target, home)
    if _classify(items)[0] != "owned" or items is None:
        return None
    return items.get(ROLE_KEY) or None


def key_names(path: Path, target: str, *, home: Home = None) -> frozenset[str]:
    """The names of the keys ``[target]`` sets to a value (empty: no such section or file).

    Never the values: for checks such as "a key pair without a session token?".
    Raises ``CredentialsFileError`` when the file cannot be parsed.
    """
    items = _section_items_of(path, target, home) or {}
    return frozenset(k for k, v in items.items() if v)


def section_names(path: Path, *, home: Home = None) -> list[str]:
    """The section names of an AWS INI file, in file order; [] when it does not exist."""
    return [s.name for s in _load(path, home).sections]


# --- writing ---------------------------------------------------------------------------------


def write_credentials(path: Path, target: str, creds: TempCredentials, *, role: str,
                      force: bool = False, home: Home = None) -> None:
    """Put ``creds`` into ``[target]``, replacing roletray's own section or creating it.

    A section that roletray did not write is refused (``CredentialsFileError``)
    unless it is empty, or ``force`` is given and it holds no long-term keys.
    """
    shown = _shown(path, home)
    _check_target(target, shown)
    if not role or role != role.strip() or "\n" in role or "\r" in role:
        raise CredentialsFileError(N_("{path}: role name {role!r} cannot be written"),
                                   path=shown, role=role)
    secrets = (creds.access_key_id, creds.secret_access_key, creds.session_token)
    if any(not v or _SPACE_RE.search(v) for v in secrets):
        # Never echo the values: they are secrets.
        raise CredentialsFileError(N_("{path}: the temporary keys for [{target}] contain "
                                      "whitespace or are empty; not writing them"),
                                   path=shown, target=target)
    items = ((ACCESS_KEY, creds.access_key_id), (SECRET_KEY, creds.secret_access_key),
             (TOKEN_KEY, creds.session_token), (MARKER, "true"), (ROLE_KEY, role),
             (EXPIRATION_KEY, iso_utc(creds.expiration)))

    def edit(text: str, layout: inifile.Layout) -> str:
        state, why = _classify(_section_items(layout, target))
        if state == "foreign":
            _refuse_foreign(shown, layout, target, why, force)
        return inifile.replace_section(text, target, items, layout=layout)

    _update(path, edit, create=True, home=home)


def check_writable(path: Path, target: str, *, force: bool = False,
                   home: Home = None) -> None:
    """Raise now what ``write_credentials`` would raise for this file, and write nothing.

    For callers that want to refuse before asking AWS for keys: a file botocore
    cannot parse, a bad target name, a section roletray may not replace.
    """
    shown = _shown(path, home)
    _check_target(target, shown)
    layout = _load(path, home)
    state, why = _classify(_section_items(layout, target))
    if state == "foreign":
        _refuse_foreign(shown, layout, target, why, force)


def remove_credentials(path: Path, target: str, *, home: Home = None) -> bool:
    """Remove roletray's own ``[target]``. False when there is none (or just an empty header).

    A section roletray did not write is refused with ``CredentialsFileError``.
    """
    shown = _shown(path, home)
    _check_target(target, shown)

    def edit(text: str, layout: inifile.Layout) -> str | None:
        state, _ = _classify(_section_items(layout, target))
        if state == "absent":
            return None
        if state == "foreign":
            raise CredentialsFileError(
                N_("{path} line {lineno}: section [{target}] was not written by roletray; not "
                   "removing it"),
                path=shown, lineno=layout.by_name[target].lineno, target=target)
        return inifile.replace_section(text, target, None, layout=layout)

    return _update(path, edit, create=False, home=home)


def settled_layout(path: Path, *, home: Home = None) -> inifile.Layout:
    """An AWS INI file's lines and sections, read as a write would read it (validated,
    never a torn read); an empty layout when the file does not exist. (The config
    file's edits, ``configedit``, read it this way too.)"""
    return _load(path, home)


def locked_edit(path: Path, edit: Edit, *, create: bool, home: Home = None) -> bool:
    """Apply ``edit`` to an AWS INI file's fresh text under the lock beside it and write
    the result atomically; True when it changed. ``create``: the file and its folder are
    created when missing (else a missing file is left alone).

    ``edit(text, layout)`` returns the new text, or None for "nothing to do"; it runs
    again if another program rewrote the file meanwhile.
    """
    return _update(path, edit, create=create, home=home)


def check_section_name(target: str, path: Path, *, home: Home = None) -> None:
    """Refuse a section name roletray does not write (spaces, brackets, quotes, DEFAULT)."""
    _check_target(target, _shown(path, home))


# --- a source's long-term keys (`roletray keys`) -----------------------------------------

SourceState = Literal["absent", "owned", "temporary", "long-term", "partial", "other"]


@dataclass(frozen=True)
class SourceKeys:
    """What ``[source]`` of the credentials file holds, for ``roletray keys``.

    ``state``: "absent" (no section, or no keys), "owned" (roletray's kept section),
    "temporary" (keys with a session token), "long-term" (a key pair, nothing
    else secret), "partial" (one of the two lines only), "other" (no keys, but
    other lines). ``lineno``: the section's header line. ``repr`` hides the secret.
    """

    state: SourceState
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    lineno: int | None = None


def read_source_keys(path: Path, source: str, *, home: Home = None) -> SourceKeys:
    """``[source]``'s access key pair and what kind of section it is (see ``SourceKeys``).

    Raises ``CredentialsFileError`` when the file cannot be parsed.
    """
    _check_target(source, _shown(path, home))
    layout = _load(path, home)
    sec = layout.by_name.get(source)
    if sec is None:
        return SourceKeys("absent")
    return _source_keys(layout.items(sec), sec.lineno)


def _source_keys(items: dict[str, str], lineno: int) -> SourceKeys:
    key_id, secret = items.get(ACCESS_KEY) or None, items.get(SECRET_KEY) or None
    state, why = _classify(items)
    kind: SourceState
    if state != "foreign":
        kind = state
    elif why == "temporary":
        kind = "temporary"
    elif key_id and secret:
        kind = "long-term"
    elif key_id or secret:
        kind = "partial"
    else:
        kind = "other"
    return SourceKeys(kind, key_id, secret, lineno)


def remove_source_keys(path: Path, source: str, access_key_id: str, *,
                       home: Home = None) -> bool:
    """Remove the two key lines of ``[source]`` when it holds ``access_key_id`` as
    long-term keys; a section left without keys is removed (its header; comments
    stay). False when there was nothing to remove (already done, or other keys now)."""
    shown = _shown(path, home)
    _check_target(source, shown)

    def edit(text: str, layout: inifile.Layout) -> str | None:
        sec = layout.by_name.get(source)
        if sec is None:
            return None
        found = _source_keys(layout.items(sec), sec.lineno)
        if found.state != "long-term" or found.access_key_id != access_key_id:
            return None
        text = inifile.set_keys(text, source, {ACCESS_KEY: None, SECRET_KEY: None},
                                layout=layout)
        layout = inifile.parse(text)
        if layout.items(layout.by_name[source]):
            return text
        return inifile.replace_section(text, source, None, layout=layout)

    return _update(path, edit, create=False, home=home)


def put_source_keys(path: Path, source: str, access_key_id: str,
                    secret_access_key: str, *, home: Home = None) -> bool:
    """Give ``[source]`` the key pair (created when missing; other lines stay).

    False when it holds them already. Refused (``CredentialsFileError``) when the
    section holds other keys, temporary keys or is roletray's kept section.
    """
    shown = _shown(path, home)
    _check_target(source, shown)
    if any(not v or _SPACE_RE.search(v) for v in (access_key_id, secret_access_key)):
        raise CredentialsFileError(N_("{path}: the keys for [{source}] contain whitespace or "
                                      "are empty; not writing them"),
                                   path=shown, source=source)

    def edit(text: str, layout: inifile.Layout) -> str | None:
        sec = layout.by_name.get(source)
        if sec is not None:
            found = _source_keys(layout.items(sec), sec.lineno)
            if found.state == "long-term" and found.access_key_id == access_key_id \
                    and found.secret_access_key == secret_access_key:
                return None
            if found.state not in ("absent", "other"):
                raise CredentialsFileError(
                    N_("{path} line {lineno}: section [{source}] already holds {held}; "
                       "roletray does not overwrite them"),
                    path=shown, lineno=sec.lineno, source=source,
                    held=_KIND_SHOWN[found.state])
        return inifile.set_keys(text, source, {ACCESS_KEY: access_key_id,
                                               SECRET_KEY: secret_access_key}, layout=layout)

    return _update(path, edit, create=True, home=home)


_KIND_SHOWN = {"owned": Text(N_("roletray's own temporary keys")),
               "temporary": Text(N_("temporary keys")),
               "long-term": Text(N_("other long-term keys")), "partial": Text(N_("a key line"))}


@dataclass(frozen=True)
class Previous:
    """What a write is about to replace, kept to put it back if the switch fails later.

    ``items``: ``[target]`` of the credentials file (None: no such section).
    ``region``: the ``region`` of ``[profile <target>]`` in the config file, and
    ``had_section``: whether that section existed. Never logged: ``items`` may hold keys.
    """

    target: str
    items: tuple[tuple[str, str], ...] | None
    region: str | None = None
    had_section: bool = True

    def __repr__(self) -> str:  # the items are secrets
        return f"Previous(target={self.target!r})"


def previous(path: Path, config_path: Path, target: str, *, home: Home = None) -> Previous:
    """``[target]`` and its config region as they are now (see ``Previous``)."""
    items = _section_items_of(path, target, home)
    region: str | None = None
    had_section = False
    with suppress(CredentialsFileError):
        layout = _load(config_path, home)
        sec = layout.by_name.get(inifile.profile_section(layout, target))
        if sec is not None:
            had_section = True
            region = layout.items(sec).get("region")
    return Previous(target, None if items is None else tuple(items.items()), region,
                    had_section)


def restore(path: Path, config_path: Path, before: Previous, written_key: str, *,
            home: Home = None) -> None:
    """Put back what ``before`` recorded, undoing a write of ``written_key``.

    A section that no longer holds ``written_key`` was written again since (by
    another roletray, under the lock): that newer write stays.
    """
    target = before.target

    def edit(text: str, layout: inifile.Layout) -> str | None:
        items = _section_items(layout, target)
        if not items or items.get(ACCESS_KEY) != written_key:
            return None
        return inifile.replace_section(text, target, before.items, layout=layout)

    _update(path, edit, create=False, home=home)

    def edit_config(text: str, layout: inifile.Layout) -> str | None:
        name = inifile.profile_section(layout, target)
        sec = layout.by_name.get(name)
        if sec is None or layout.items(sec).get("region") == before.region:
            return None
        if not before.had_section and set(layout.items(sec)) <= {"region"}:
            return inifile.replace_section(text, name, None, layout=layout)
        return inifile.set_keys(text, name, {"region": before.region}, layout=layout)

    _update(config_path, edit_config, create=False, home=home)


def check_can_write(path: Path, *, home: Home = None) -> None:
    """Refuse now, before AWS is asked for keys, a file roletray could not rewrite.

    A write needs the real file (behind a symlink) writable, its folder
    writable (the temporary file and the rename; the lock file on first use),
    and a lock file that is a regular file if there is one. ``os.access``
    judges as the kernel would, a read-only mount included (even for root).
    """
    shown = _shown(path, home)
    real = _resolve(path)
    if real.exists() and not os.access(real, os.W_OK):
        if real != path:
            raise CredentialsFileError(N_("{path}: the file is read-only (a link to {target}); "
                                          "roletray changed nothing"),
                                       path=shown, target=_shown(real, home))
        raise CredentialsFileError(N_("{path}: the file is read-only; roletray changed nothing"),
                                   path=shown)
    folder = real.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # created on write: its nearest existing parent decides
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CredentialsFileError(N_("{shown}: its folder {path} is not writable; roletray "
                                      "changed nothing"),
                                   shown=shown, path=_shown(folder, home))
    lock = lock_path(path)
    with suppress(FileNotFoundError):
        if not stat.S_ISREG(os.lstat(lock).st_mode):
            raise CredentialsFileError(N_("{shown}: its lock file {path} is not a regular file; "
                                          "roletray changed nothing"),
                                       shown=shown, path=_shown(lock, home))


def file_warnings(path: Path, *, home: Home = None) -> list[Text]:
    """Warnings about who else may read or change the credentials file roletray just wrote."""
    real = _resolve(path)
    try:
        st = os.stat(real)
    except OSError:
        return []
    shown = _shown(path, home)
    warnings = []
    readable, writable = bool(st.st_mode & 0o044), bool(st.st_mode & 0o022)
    if readable or writable:  # the secrets just written are theirs to read, or to replace
        template = (N_("{path} is readable and writable by other users (mode {mode}); run: "
                       "chmod 600 {quoted}") if readable and writable
                    else N_("{path} is readable by other users (mode {mode}); run: chmod 600 "
                            "{quoted}") if readable
                    else N_("{path} is writable by other users (mode {mode}); run: chmod 600 "
                            "{quoted}"))
        warnings.append(Text(template, path=shown, mode=f"{stat.S_IMODE(st.st_mode):o}",
                             quoted=shlex.quote(str(path))))
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        warnings.append(Text(N_("{path} belongs to another user (uid {uid}), who can read and "
                                "change the keys roletray writes into it"),
                             path=shown, uid=st.st_uid))
    return warnings


def _check_target(target: str, shown: str) -> None:
    if not _TARGET_RE.match(target) or target == configparser.DEFAULTSECT:
        raise CredentialsFileError(N_("{path}: '{target}' cannot be a section name here (no "
                                      "spaces, brackets, quotes; not DEFAULT)"),
                                   path=shown, target=target)


def _refuse_foreign(shown: str, layout: inifile.Layout, target: str, why: str,
                    force: bool) -> None:
    where = Text(N_("{path} line {line}: section [{section}]"), path=shown,
                 line=layout.by_name[target].lineno, section=target)
    if why == "long-term":
        raise CredentialsFileError(
            N_("{where} holds long-term keys (an access key without a session token) that "
               "roletray did not write; roletray never overwrites them: choose another target "
               "section"),
            where=where)
    if force:
        return
    if why == "temporary":
        raise CredentialsFileError(
            N_("{where} holds temporary keys that roletray did not write (no {marker} line); use "
               "--force to let roletray take it over, or choose another target section"),
            where=where, marker=MARKER)
    raise CredentialsFileError(N_("{where} was not written by roletray; use --force to let "
                                  "roletray take it over, or choose another target section"),
                               where=where)


def _resolve(path: Path) -> Path:
    # Write through a symlink to the file it names, in that file's folder:
    # renaming over the link would replace the link with a plain file. (Linked
    # folders above it need nothing: the rename happens in the real folder anyway.)
    return Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)


# An edit gets the fresh text and its layout, and gives the new text, or None for
# "nothing to do".
Edit = Callable[[str, inifile.Layout], "str | None"]


def _update(path: Path, edit: Edit, *, create: bool, home: Home) -> bool:
    """Lock, read afresh, validate, edit, write atomically. True when the file changed."""
    shown = _shown(path, home)
    real = _resolve(path)
    if not real.parent.is_dir():
        if not create:
            return False
        _make_folder(real.parent, shown)
    sharedfile.check_regular(real, shown)  # a device's folder would refuse the lock file
    with _locked(real, shown):
        _remove_stale_temps(real)
        settler = sharedfile.Settler(PATIENCE)
        seen: frozenset[str] = frozenset()  # every section any read of this write found
        while True:
            snap, text, layout = _read(real, path, home, keep=seen, settler=settler)
            seen = seen | frozenset(layout.by_name)
            try:
                new_text = edit(text, layout)
            except (inifile.IniEditError, ValueError) as e:
                where = Text(N_("{path} line {line}"), path=shown, line=e.lineno) \
                    if isinstance(e, inifile.IniEditError) else shown
                raise CredentialsFileError(N_("{where}: {problem}; roletray did not change the "
                                              "file"),
                                           where=where,
                                           problem=getattr(e, "problem", e)) from None
            if new_text is None or new_text == text:
                return False
            data = new_text.encode("utf-8")
            if len(data) > sharedfile.MAX_SIZE:  # it could not be read back
                raise CredentialsFileError(
                    N_("{path}: the edit would make it larger than {value} MiB, more than "
                       "roletray reads; roletray did not change the file"),
                    path=shown, value=sharedfile.MAX_SIZE // (1024 * 1024))
            if sharedfile.replace(real, data, snap, shown):
                return True
            # Another program wrote the file since it was read: start over from its bytes.
            if settler.expired():
                raise _kept_changing(shown)
            settler.wait()


def _make_folder(folder: Path, shown: str) -> None:
    try:
        folder.mkdir(mode=NEW_FOLDER_MODE, parents=True)
    except FileExistsError:
        return
    except OSError as e:
        raise CredentialsFileError(N_("{path}: cannot create its folder ({reason})"),
                                   path=shown, reason=e.strerror) from None
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
        raise CredentialsFileError(N_("{path}: another roletray process has held its lock for "
                                      "{seconds:.0f} s; try again"),
                                   path=shown, seconds=LOCK_TIMEOUT) from None
    except OSError as e:
        raise CredentialsFileError(N_("{path}: cannot lock it ({reason})"),
                                   path=shown, reason=e.strerror) from None
    _give_lock_to_folder_owner(fd, real.parent)
    try:
        yield
    finally:
        filelock_lite.release(fd)


def _give_lock_to_folder_owner(fd: int, folder: Path) -> None:
    """A root run must not leave a lock file only root can open in a user's folder."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return
    with suppress(OSError):
        st = os.fstat(fd)
        owner = os.stat(folder)
        if st.st_uid == 0 and owner.st_uid != 0:
            os.fchown(fd, owner.st_uid, owner.st_gid)


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


def _shown(path: Path, home: Home) -> str:
    """``path`` for a message: ``~/...`` under the caller's ``home``, else as given."""
    return paths.display_in(path, home)
