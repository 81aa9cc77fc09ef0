"""The ``roletray`` command line. ``main(argv=None) -> int`` runs in-process for tests.

Errors are one line on stderr, never a traceback; ``--json`` prints exactly one
JSON document on stdout. Exit status: 0 done, 1 AWS refused or unreachable,
2 bad usage, bad input files or a refused write.

A module per command group: ``roles`` (profiles, assume, status, refresh, clear),
``serving`` (credential-process, serve), ``keys_cmd``, ``doctor_cmd``, ``console_cmd``,
``app_cmd`` (run, daemon, demo, autostart), ``shell_cmd`` (exec, env, prompt),
``sso_cmd``, ``setup_cmd``; ``parser`` builds the argument parser and ``commands``
names the function of each command. What they share: ``common`` (``Root``, the error
line and ``--json``), ``asking`` (the terminal's questions: MFA codes, a guarded
profile), ``handover`` (a command given to the running instance) and
``snapshot_text`` (the status table, importable without the rest).

This module stays light (no argparse, no logging at import): ``main`` loads the rest.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["main"]


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """``env``: the environment to run in (default: the process's, read here only)."""
    from tray import i18n
    from tray.cli.commands import handler
    from tray.cli.common import Root, fail
    from tray.domain.errors import RoletrayError
    from tray.paths import Paths

    e = os.environ if env is None else env
    i18n.setup(e)  # before the parser: its help and its errors are read by a person too
    given = sys.argv[1:] if argv is None else list(argv)
    if given in ([], ["run"]):  # the tray, which takes no options: no parser held for its life
        from types import SimpleNamespace

        args: Any = SimpleNamespace(command="run", json=False)
    else:
        from tray.cli.parser import build_parser

        args = build_parser().parse_args(argv)
    command = args.command or "run"
    run = handler(command)
    try:
        code = int(run(args, Root(env=e, paths=Paths.from_env(e),
                                      one_shot=argv is None and env is None)))
        sys.stdout.flush()  # a reader that left (`| head -1`) shows here, not at exit
        return code
    except RoletrayError as e:
        fail(args, str(e), e.exit_code, shown_as=e.localized)
        return e.exit_code
    except KeyboardInterrupt:
        print(i18n._("roletray: interrupted"), file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `roletray profiles | head -1`: the reader left, as is its right. Point stdout
        # at /dev/null so the interpreter's final flush does not fail again.
        drop_stdout()
        return 141  # as a shell reports a command ended by SIGPIPE


def drop_stdout() -> None:
    """Point stdout at /dev/null: its reader left (``| head -1``), and the interpreter's
    final flush must not fail again. Also ``tray.launch``'s, for the lean paths."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout is not a real file (tests capture it)
        pass
