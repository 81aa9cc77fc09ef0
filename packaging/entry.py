"""PyInstaller's entry script: the bundle runs ``tray.cli.main`` as ``roletray`` does.

A bundle has no interpreter of its own, so it is also its own ``python -m``: the
children ``tray.child.runner`` starts (``<bundle> -m tray.worker_main``) run the
module named, as ``python -m`` would. ``roletray`` itself takes no ``-m``.
"""

import runpy
import sys


def main() -> int:
    if len(sys.argv) >= 3 and sys.argv[1] == "-m":
        module = sys.argv[2]
        sys.argv = [sys.argv[0], *sys.argv[3:]]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        return 0  # a module's main ends with sys.exit(code)
    from tray.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
