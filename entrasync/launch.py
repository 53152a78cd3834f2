"""The ``entrasync`` program: the console script and ``python -m entrasync`` start here.

The CLI's modules take a quarter of a second to load, before its signal handlers are in
place; a Ctrl-C then, or a second one while the first is being reported, ends the program as
any interrupt does (exit 130, "interrupted") instead of with a traceback.
"""

from __future__ import annotations

import sys
from typing import NoReturn

from entrasync.errors import ExitCode


def run() -> NoReturn:
    try:
        from entrasync.cli import main  # here, so that a Ctrl-C while it loads is caught

        code = main()
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        code = ExitCode.INTERRUPTED
    sys.exit(code)
