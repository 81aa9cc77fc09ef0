"""``roletray prompt [--format F]``: one short line for a shell prompt, on a lean path.

A prompt runs it before every command line, so its start-up is the cost: like
``tray.serve.fastpath`` it imports what a Unix socket and JSON need and nothing of the
command line (no argparse, no logging, no botocore). ``tray.launch`` runs it first;
``--help`` and anything else it does not know go to the full command line.

Where it looks: the running tray or daemon (a ``status`` request over its socket, for
the caller's AWS files), else the state file (the active role and its expiry, as the
last assume left them). The first kept section is shown: the active role's.

    $ roletray prompt
    platform 42m
    $ roletray prompt --format '[{role} {minutes}m{mark}]'
    [platform 3m!]

Fields: ``{role}``, ``{target}``, ``{minutes}`` (left, rounded down), ``{state}`` (fresh,
retrying, expired, needs-input, error; ``kept`` from the state file) and ``{mark}``
(``!`` when refreshing is failing or the keys have expired, else empty). Nothing is
printed when no role is kept (the prompt shows nothing).
"""

import json
import os
import string
import sys
import time

from tray.serve import fastpath

DEFAULT_FORMAT = "{role} {minutes}m{mark}"
FIELDS = ("role", "target", "minutes", "state", "mark")
FAILING = ("retrying", "expired", "needs-input", "error")
MARK = "!"


class PromptError(Exception):
    """A bad ``--format`` or state file: one line on stderr, exit 2."""


def parse(argv: "list[str]") -> "str | None":
    """The format of ``prompt``, ``prompt --format F`` or ``prompt --format=F``; None
    for anything else (the full command line parses it, or says what is wrong)."""
    if not argv or argv[0] != "prompt":
        return None
    rest = argv[1:]
    if not rest:
        return DEFAULT_FORMAT
    if len(rest) == 1 and rest[0].startswith("--format="):
        return rest[0][len("--format="):]
    if len(rest) == 2 and rest[0] == "--format":
        return rest[1]
    return None


def check_format(fmt: str) -> None:
    """Only plain ``{field}`` names of ``FIELDS`` (no attributes, indexes or specs)."""
    try:
        for _text, name, spec, conv in string.Formatter().parse(fmt):
            if name is not None and (name not in FIELDS or spec or conv):
                raise PromptError(f"--format {fmt!r}: {{{name}}} is not a field; "
                                  f"use {', '.join('{' + f + '}' for f in FIELDS)}")
    except ValueError as e:
        raise PromptError(f"--format {fmt!r}: {e}") from None


def line(env: "dict[str, str] | os._Environ[str]", fmt: str = DEFAULT_FORMAT,
         now: "float | None" = None) -> str:
    """The prompt line for ``env``'s AWS files ('' with no role). ``now``: epoch seconds."""
    check_format(fmt)
    now = time.time() if now is None else now
    files = fastpath.aws_files(env)
    answered, section = _from_instance(env, files)
    if not answered:
        section = _from_state_file(env, files, now)
    if section is None:
        return ""
    role, target, seconds, state = section
    mark = MARK if state in FAILING or seconds <= 0 else ""
    return fmt.format(role=_shown(role), target=_shown(target), minutes=max(0, seconds) // 60,
                      state=state, mark=mark)


def _from_instance(env: "dict[str, str] | os._Environ[str]", files: "dict[str, str]"
                   ) -> "tuple[bool, tuple[str, str, int, str] | None]":
    """(whether a running instance answered, its active role's section or None)."""
    reply = fastpath.request(fastpath.instance_socket(env, files), files, {"cmd": "status"})
    if reply is None or reply.get("ok") is not True or \
            not isinstance(reply.get("snapshot"), dict):
        return False, None
    snap: dict[str, object] = reply["snapshot"]  # type: ignore[assignment]
    role, left = snap.get("role"), snap.get("seconds_left")
    if not isinstance(role, str) or not role or not isinstance(left, int):
        return True, None  # it keeps no role (or no keys yet): nothing to show
    return True, (role, str(snap.get("target") or ""), left, str(snap.get("state") or ""))


def _state_file(env: "dict[str, str] | os._Environ[str]") -> str:
    """``tray.paths.Paths.state_file`` without importing it on Linux (the XDG layout)."""
    if sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        base = env.get("XDG_STATE_HOME", "")
        if not os.path.isabs(base):
            base = os.path.join(env.get("HOME") or os.path.expanduser("~"), ".local", "state")
        return os.path.join(base, "roletray", "state.json")
    from tray.paths import Paths

    return str(Paths.from_env(env).state_file)


def _from_state_file(env: "dict[str, str] | os._Environ[str]", files: "dict[str, str]",
                     now: float) -> "tuple[str, str, int, str] | None":
    path = _state_file(env)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise PromptError(f"{path}: not a readable roletray state file ({type(e).__name__}); "
                          "`roletray status` says more") from None
    entries = [data, *(data.get("also_kept") or [])] if isinstance(data, dict) else []
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("files") not in (None, files):
            continue
        role, expiration = entry.get("active_role"), entry.get("expiration")
        if not isinstance(role, str) or not isinstance(expiration, str):
            continue
        try:
            from datetime import datetime

            end = datetime.fromisoformat(expiration).timestamp()
        except ValueError:
            continue
        seconds = int(end - now)
        return role, str(entry.get("target") or ""), seconds, "kept" if seconds > 0 \
            else "expired"
    return None


def _shown(text: str) -> str:
    """A name from a config file, safe in a prompt: control characters escaped."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def main(argv: "list[str]") -> "int | None":
    """Run for ``argv`` (without the program name); None: not ours to parse."""
    fmt = parse(argv)
    if fmt is None:
        return None
    return run(fmt, os.environ)


def run(fmt: str, env: "dict[str, str] | os._Environ[str]") -> int:
    try:
        text = line(env, fmt)
    except PromptError as e:
        print(f"roletray: {e}", file=sys.stderr)
        return 2
    if text:
        sys.stdout.write(text + "\n")
    sys.stdout.flush()
    return 0
