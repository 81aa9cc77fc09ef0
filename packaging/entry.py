"""PyInstaller's entry script: the bundle runs ``tray.cli.main`` as ``roletray`` does."""

import sys

from tray.cli import main

if __name__ == "__main__":
    sys.exit(main())
