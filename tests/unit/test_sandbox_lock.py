"""One sandbox or demo per folder: the second is told which one runs there, and what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from entrasync.errors import EntrasyncError
from entrasync.sandbox.runner import sandbox_lock


@pytest.mark.parametrize(
    ("running", "second", "hint"),
    [
        # A sandbox starting has no sandbox.env yet: it is still the one to use.
        ("sandbox", "sandbox", "use it (`source "),
        ("sandbox", "demo", "use it (`source "),
        ("demo", "sandbox", "wait for it to end, or pass --dir to run a second sandbox"),
        ("demo", "demo", "wait for it to end, or pass --dir to run a second demo"),
    ],
)
def test_the_second_is_told_what_runs_there(
    running: str, second: str, hint: str, tmp_path: Path
) -> None:
    with (
        sandbox_lock(tmp_path, running),
        pytest.raises(EntrasyncError) as caught,
        sandbox_lock(tmp_path, second),
    ):
        pytest.fail("two held the folder")
    assert caught.value.message.startswith(
        f"another entrasync {running} is running in {tmp_path} (pid "
    )
    assert (caught.value.hint or "").startswith(hint), caught.value.hint


def test_a_holder_that_does_not_say_what_it_runs_is_either(tmp_path: Path) -> None:
    """A lock file written by an earlier version names no command."""
    with sandbox_lock(tmp_path, "demo"):
        lock = next(tmp_path.glob(".entrasync-*.lock"))
        lock.write_text('{"pid": 1, "host": "elsewhere", "since": "2026-12-06T00:00:00Z"}\n')
        with pytest.raises(EntrasyncError) as caught, sandbox_lock(tmp_path):
            pytest.fail("two held the folder")
    assert caught.value.message == (
        f"another entrasync sandbox or demo is running in {tmp_path} (pid 1 on elsewhere since "
        "2026-12-06T00:00:00Z)"
    )
