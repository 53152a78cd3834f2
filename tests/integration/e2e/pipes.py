"""A pipe as ``/dev/stdout`` is one when a command's output goes to another program."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def proc_pipe(folder: Path) -> Iterator[tuple[Path, list[bytes]]]:
    """A link in ``folder`` to ``/proc/self/fd/N``, the write end of a pipe (``/dev/stdout`` on a
    pipe leads there, and on to a ``pipe:[N]`` that is no path), and the list that holds what
    the pipe's reader got once the block ends."""
    read_end, write_end = os.pipe()
    link = folder / "stdout"
    link.symlink_to(f"/proc/self/fd/{write_end}")
    received: list[bytes] = []

    def read_all() -> None:
        with os.fdopen(read_end, "rb") as pipe:
            received.append(pipe.read())

    reader = threading.Thread(target=read_all, daemon=True)
    reader.start()
    try:
        yield link, received
    finally:
        os.close(write_end)
        reader.join(timeout=30)
