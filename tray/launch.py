"""The ``roletray`` command's entry point (and ``python -m tray``'s).

``roletray credential-process PROFILE`` runs before every SDK process that uses the
profile: when a running instance answers it, ``tray.serve.fastpath`` prints the
document without loading the full command line. Everything else is ``tray.cli``.
"""

from __future__ import annotations

from tray.serve import fastpath


def entry() -> int:
    import os
    import sys

    from tray.domain import chain

    refused = chain.refusal(sys.argv[1:], os.environ)
    if refused is not None:  # a loop of credential_process helpers: stop it here
        sys.stderr.write(refused + "\n")
        return 2
    code = fastpath.main()
    if code is not None:
        return code
    from tray.cli import main

    return main()
