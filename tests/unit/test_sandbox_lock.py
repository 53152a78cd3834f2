"""One sandbox or demo per folder: the second is told which one runs there, and what to do."""

from __future__ import annotations

import json
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


@pytest.mark.parametrize("environment_file", [True, False])
@pytest.mark.parametrize("command", [None, "apply"])
def test_a_holder_that_does_not_say_what_it_runs_is_either(
    command: str | None, environment_file: bool, tmp_path: Path
) -> None:
    """A lock file written by an earlier version names no command; one others may write can
    name any: a sandbox's environment file then says whether a sandbox is the one to use."""
    said = {"pid": 1, "host": "elsewhere", "since": "2026-12-06T00:00:00Z"}
    if command is not None:
        said["command"] = command
    if environment_file:
        (tmp_path / "sandbox.env").write_text("")
    with sandbox_lock(tmp_path, "demo"):
        lock = next(tmp_path.glob(".entrasync-*.lock"))
        lock.write_text(json.dumps(said) + "\n")
        with pytest.raises(EntrasyncError) as caught, sandbox_lock(tmp_path):
            pytest.fail("two held the folder")
    assert caught.value.message == (
        f"another entrasync sandbox or demo is running in {tmp_path} (pid 1 on elsewhere since "
        "2026-12-06T00:00:00Z)"
    )
    hint = "use it (`source " if environment_file else "wait for it to end, or pass --dir"
    assert (caught.value.hint or "").startswith(hint), caught.value.hint
