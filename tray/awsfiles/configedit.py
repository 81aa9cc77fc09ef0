"""roletray's edits of the AWS config file: a profile's ``region``, the ``credential_process``
line of a source whose keys ``roletray keys import`` moved into the OS keyring, and (through
``edit_file``) the block of profiles ``roletray sso populate`` owns, or what setup adds.

Each edit is lossless (``tray.awsfiles.inifile``) and goes through the same lock, settled
read and atomic write as the credentials file's (``credfile.locked_edit``): one writer of
the AWS files, two modules of what is written.
"""

from __future__ import annotations

import re
import shlex
from contextlib import suppress
from pathlib import Path

from tray import paths
from tray.awsfiles import credfile, inifile
from tray.domain.errors import CredentialsFileError
from tray.domain.source_line import FILE_FLAG, parse_source_line
from tray.i18n import N_

Home = paths.Home
_REGION_RE = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")


def set_profile_region(config_path: Path, target: str, region: str, *,
                       home: Home = None) -> None:
    """Give ``[profile <target>]`` of the AWS config file ``region = <region>``.

    Other keys of the section stay; the section (and the file, 0600, and its
    folder, 0700) is created when missing. Nothing is written, not even the
    file's mtime, when the region is already set.
    """
    shown = paths.display_in(config_path, home)
    name_checked(config_path, target, home=home)
    if not _REGION_RE.match(region):
        raise CredentialsFileError(N_("{path}: '{region}' is not a region name"),
                                   path=shown, region=region)

    def edit(text: str, layout: inifile.Layout) -> str:
        name = inifile.profile_section(layout, target)
        return inifile.set_keys(text, name, {"region": region}, layout=layout)

    # Lock-free first look: the common case (already set) creates no lock file either.
    with suppress(CredentialsFileError):
        layout = credfile.settled_layout(config_path, home=home)
        sec = layout.by_name.get(inifile.profile_section(layout, target))
        if sec is not None and layout.items(sec).get("region") == region:
            return
    credfile.locked_edit(config_path, edit, create=True, home=home)


def set_source_line(config_path: Path, source: str, line: str, *,
                    home: Home = None) -> bool:
    """``credential_process = LINE`` in the config profile ``source`` (``[default]`` or
    ``[profile SOURCE]``, created when missing; other lines and comments stay).

    Refused when the profile has a ``credential_process`` that is not roletray's line
    for ``source``, or is roletray's line for another credentials file (its
    ``--file-id``). roletray's line from before file ids gets LINE's ``--file-id``
    added (other words, changed by hand, stay). False when roletray's line for
    ``source`` and LINE's file is in place already (as written, or changed by hand:
    another program path, ``--no-session``).
    """
    shown = paths.display_in(config_path, home)
    name_checked(config_path, source, home=home)
    wanted = parse_source_line(line)
    assert wanted is not None and wanted.source == source

    def edit(text: str, layout: inifile.Layout) -> str | None:
        name = inifile.profile_section(layout, source)
        sec = layout.by_name.get(name)
        current = None if sec is None else layout.items(sec).get(credfile.PROCESS_KEY)
        found = parse_source_line(current)
        if current is not None and (found is None or found.source != source):
            raise CredentialsFileError(
                N_("{path} line {lineno}: profile '{source}' already has a credential_process "
                   "that is not roletray's; roletray does not replace it"),
                path=shown, lineno=layout.by_name[name].lineno, source=source)
        if current is not None and found is not None:
            if found.file_id == wanted.file_id:
                return None
            if found.file_id is not None:
                raise CredentialsFileError(
                    N_("{path} line {lineno}: profile '{source}' hands out the keys of another "
                       "credentials file (--file-id={file_id}); roletray does not replace it"),
                    path=shown, lineno=layout.by_name[name].lineno, source=source,
                    file_id=found.file_id)
            if wanted.file_id is not None:
                line_now = shlex.join([*shlex.split(current), f"{FILE_FLAG}={wanted.file_id}"])
                return inifile.set_keys(text, name, {credfile.PROCESS_KEY: line_now}, layout=layout)
            return None
        return inifile.set_keys(text, name, {credfile.PROCESS_KEY: line}, layout=layout)

    return credfile.locked_edit(config_path, edit, create=True, home=home)


def remove_source_line(config_path: Path, source: str, *, file_id: str | None,
                       home: Home = None) -> bool:
    """Remove roletray's ``credential_process`` line for ``source`` and the credentials
    file ``file_id`` (or the line from before file ids) from the config profile
    ``source``: only that line (another program's, or the line of another credentials
    file, stays); a section left empty is removed. False when there was none."""
    name_checked(config_path, source, home=home)

    def edit(text: str, layout: inifile.Layout) -> str | None:
        name = inifile.profile_section(layout, source)
        sec = layout.by_name.get(name)
        found = None if sec is None else parse_source_line(layout.items(sec).get(credfile.PROCESS_KEY))
        if found is None or found.source != source or found.file_id not in (None, file_id):
            return None
        text = inifile.set_keys(text, name, {credfile.PROCESS_KEY: None}, layout=layout)
        layout = inifile.parse(text)
        if layout.items(layout.by_name[name]):
            return text
        return inifile.replace_section(text, name, None, layout=layout)

    return credfile.locked_edit(config_path, edit, create=False, home=home)


def source_line_of(config_path: Path, source: str, *, home: Home = None) -> str | None:
    """The ``credential_process`` value of the config profile ``source``, if any."""
    layout = credfile.settled_layout(config_path, home=home)
    sec = layout.by_name.get(inifile.profile_section(layout, source))
    return None if sec is None else layout.items(sec).get(credfile.PROCESS_KEY)


def name_checked(config_path: Path, profile: str, *, home: Home = None) -> None:
    """Refuse a profile name roletray cannot write as a config section botocore reads."""
    shown = paths.display_in(config_path, home)
    credfile.check_section_name(profile, config_path, home=home)
    if profile != "default" and shlex.split(f"profile {profile}") != ["profile", profile]:
        raise CredentialsFileError(N_("{path}: [profile {profile_name}] is not a name botocore "
                                      "reads"),
                                   path=shown, profile_name=profile)


def read_layout(path: Path, *, home: Home = None) -> inifile.Layout:
    """An AWS INI file's lines and sections, read as a write would read it (validated,
    never a torn read); an empty layout when the file does not exist."""
    return credfile.settled_layout(path, home=home)


def edit_file(path: Path, edit: credfile.Edit, *, home: Home = None) -> bool:
    """Apply ``edit`` to the file's fresh text under the lock and write the result
    atomically (the file and its folder are created when missing). True when it changed.

    ``edit(text, layout)`` returns the new text, or None for "nothing to do"; it runs
    again if another program rewrote the file meanwhile.
    """
    return credfile.locked_edit(path, edit, create=True, home=home)
