"""The ``entrasync`` program: the console script and ``python -m entrasync`` start here.

The CLI's modules take a quarter of a second to load, before its signal handlers are in
place; a Ctrl-C then, or a second one while the first is being reported, ends the program as
any interrupt does (exit 130, "interrupted") instead of with a traceback. So this module
imports nothing of its own before it is ready to catch one.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import NoReturn

INTERRUPTED = 130  # entrasync.errors.ExitCode.INTERRUPTED, known before anything is loaded


def run() -> NoReturn:
    try:
        from entrasync.cli import main  # here, so that a Ctrl-C while it loads is caught

        code = main()
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        code = INTERRUPTED
    # Under `python -m entrasync`, CPython marks a KeyboardInterrupt that left an exec() of a
    # string (a dataclass made while a command's module loads) as unhandled, caught or not,
    # and then ends the process by SIGINT instead of with this code; an exec() that completes
    # clears the mark (run_eval_code_obj in Python/pythonrun.c).
    exec("")
    sys.exit(code)
