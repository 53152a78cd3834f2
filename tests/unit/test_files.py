"""write_atomic and its background form: the whole file or none of it, errors without traces."""

from __future__ import annotations

from pathlib import Path

import pytest

from entrasync.errors import EntrasyncError
from entrasync.files import start_write_atomic


def test_a_write_on_its_own_thread_leaves_the_whole_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "plans" / "plan.json"
    text = "{}\n" * 100_000
    start_write_atomic(target, text).result()
    assert target.read_text(encoding="utf-8") == text
    assert [p.name for p in target.parent.iterdir()] == ["plan.json"]


def test_a_failed_background_write_raises_its_error_from_result(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    saving = start_write_atomic(blocker / "plan.json", "{}\n")
    with pytest.raises(EntrasyncError, match="cannot write"):
        saving.result()
    assert blocker.read_text() == "not a folder"
