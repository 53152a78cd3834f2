"""Commands written for the user to paste into this system's shell (in a hint)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys


def command_line(*words: str, system: str = os.name) -> str:
    """``words`` as one command to paste in this system's shell: POSIX quoting, or the
    Windows command line's."""
    if system == "nt":
        return subprocess.list2cmdline(words)
    return shlex.join(words)


def pip_install(*requirements: str) -> str:
    """The pip command that installs ``requirements`` into the environment entrasync runs in,
    however it was installed (a clone, pip, pipx) or run (a checkout)."""
    return command_line(sys.executable, "-m", "pip", "install", *requirements)


def schema_command() -> str:
    """The command that writes ``schemas/mappings.schema.json`` here, with the Python entrasync
    runs in (a pipx install's own, say, which a plain ``python`` is not)."""
    return command_line(sys.executable, "-m", "entrasync.config.schema")
