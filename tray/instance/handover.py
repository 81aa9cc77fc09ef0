"""``roletray assume PROFILE [--json]`` handed over to a running instance, on a lean path.

With a tray or daemon running, the switch itself is the instance's (its warm worker does
the one AssumeRole): what the command costs is its own start. The full command line
brings argparse, logging, the settings, the config file's parse for the guard, and the
control module; this path imports what ``tray.serve.fastpath`` does (a Unix socket,
JSON, the keeper record) and sends the same request as ``tray.cli``'s ``assume``, marked
``unattended``: nobody was asked anything. So the instance declines a guarded profile
(``needs_person``) before any AssumeRole, and the full command line asks (or refuses).

Only the plain forms come here: ``assume PROFILE`` and ``assume PROFILE --json``;
anything else (a target, a duration, a code, ``--force``, ``--yes``) is the full command
line's. No instance, a decline, a reply of another protocol: None, and the full command
line does what it always did. A switch is printed here as the full command line prints
it (``tray.launch`` passes its words: ``tray.cli.snapshot_text``). Any other reply (an error: a denied role, a code
needed) is handed to it: its
``tray.instance.control.send`` of the same request for the same files takes it from
``handed_over`` rather than asking again (one request, never a second AssumeRole).
"""

import json
import os
import sys

TYPE_CHECKING = False  # typing's own costs an import on this path
if TYPE_CHECKING:
    from collections.abc import Callable

from tray.serve import fastpath

NEEDS_PERSON = "needs_person"  # tray.domain.wire.NEEDS_PERSON
# As long as the full command line waits (tray.domain.wire.HANDOVER_TIMEOUT): a switch
# may wait for a refresh in flight, or for a role's mfa_process.
TIMEOUT = 135.0

# The reply this process got, for the full command line: ((call, files), reply)
_handed: "tuple[tuple[dict[str, object], dict[str, str]], dict[str, object]] | None" = None


def call_of(profile: str) -> "dict[str, object]":
    """The request ``tray.cli``'s ``assume PROFILE`` sends (``cmd`` and payload)."""
    return {"cmd": "assume", "profile": profile, "target": None, "duration": None,
            "mfa_code": None, "force": False}


def parse(argv: "list[str]") -> "tuple[str, bool] | None":
    """(profile, --json) of ``assume PROFILE`` or ``assume PROFILE --json`` (either
    order); None for anything else."""
    if not argv or argv[0] != "assume" or len(argv) > 3:
        return None
    rest = argv[1:]
    as_json = rest.count("--json") == 1
    names = [a for a in rest if a != "--json"]
    if len(names) != 1 or len(rest) != len(names) + as_json:
        return None
    name = names[0]
    if not name or name.startswith("-"):
        return None
    return name, as_json


def handed_over(cmd: str, payload: "dict[str, object]", files: "dict[str, str]"
                ) -> "dict[str, object] | None":
    """The reply the lean path got in this process for exactly this request for these
    AWS files (once), as ``tray.instance.control.send`` gives it (without ``proto`` and
    ``version``); None when it got none. ``control.send`` asks here first."""
    global _handed
    kept, _handed = _handed, None
    if kept is None or kept[0] != ({**payload, "cmd": cmd}, files):
        return None
    return kept[1]


def ask(profile: str, env: "dict[str, str] | os._Environ[str]", files: "dict[str, str]"
        ) -> "dict[str, object] | None":
    """The instance's ok reply to ``assume PROFILE`` (unattended), or None. Any other
    reply of this protocol but a decline is kept for ``handed_over``. ``files``: the
    caller's AWS files (``fastpath.aws_files(env)``)."""
    global _handed
    _handed = None
    call = call_of(profile)
    lost: list[OSError | ValueError] = []
    reply = fastpath.request(fastpath.instance_socket(env, files), files,
                             {**call, "unattended": True}, timeout=TIMEOUT, lost=lost)
    if lost:  # sent, and no answer: the instance may still switch; never send it again
        from tray.instance import control

        _handed = ((call, files), control.no_answer(lost[0], TIMEOUT))
        return None
    if reply is None:
        return None
    if reply.get("ok") is not True and reply.get("code") in (*fastpath.DECLINES, NEEDS_PERSON):
        return None
    kept = {k: v for k, v in reply.items() if k not in ("proto", "version")}
    if kept.get("ok") is True and isinstance(kept.get("snapshot"), dict):
        return kept
    _handed = ((call, files), kept)
    return None


def main(argv: "list[str]", env: "dict[str, str] | os._Environ[str]",
         said: "Callable[[str, dict[str, object]], str]") -> "int | None":
    """Switched and said so: 0. Otherwise None (the full command line runs; it finds a
    reply this path got in ``handed_over``). ``tray.launch`` (a composition root) gives
    the arguments, the environment, and ``said(profile, reply)``: the lines the full
    command line prints for a switch (the instance layer does not know its words)."""
    parsed = parse(argv)
    if parsed is None:
        return None
    profile, as_json = parsed
    files = fastpath.aws_files(env)
    reply = ask(profile, env, files)
    if reply is None:
        return None
    # A reader that left (BrokenPipeError) is tray.launch's to handle, as tray.cli.main's.
    if as_json:
        sys.stdout.write(json.dumps(reply["snapshot"], indent=2) + "\n")  # cli's emit
    else:
        sys.stdout.write(said(profile, reply) + "\n")
    sys.stdout.flush()
    return 0
