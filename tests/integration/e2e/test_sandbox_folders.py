"""`demo` and `sandbox` given a folder that cannot be made: an error and a hint, before any
server starts, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from entrasync.cli import main


@pytest.mark.parametrize(
    ("args", "said"),
    [
        pytest.param(["demo", "--dir", "{f}/sub"], "{f}/sub: Not a directory", id="demo --dir"),
        pytest.param(
            ["sandbox", "--dir", "{f}/sub"], "{f}/sub: Not a directory", id="sandbox --dir"
        ),
        pytest.param(
            ["sandbox", "--dir", "{t}/ws", "--config", "{f}/m.yaml"],
            "{f}: a file of that name is there",
            id="sandbox --config in a folder that is a file",
        ),
        pytest.param(
            ["demo", "--dir", "{t}/new/" + "b" * 300 + "/x"],
            "{t}/new/" + "b" * 300 + "/x: File name too long",
            id="demo --dir with a name longer than the file system takes",
        ),
    ],
)
def test_a_folder_that_cannot_be_made_is_an_error_with_a_hint(
    args: list[str], said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("")
    names = {"f": a_file.as_posix(), "t": tmp_path.as_posix()}
    assert main([arg.format(**names) for arg in args]) == 1
    err = capsys.readouterr().err
    assert f"error: cannot make the folder {said.format(**names)}" in err
    assert "hint: choose a folder that exists or can be created" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "command", [["demo", "--dir"], ["sandbox", "--dir"], ["apply", "x.json", "--audit-dir"]]
)
def test_a_folder_whose_name_is_too_long_to_look_up_is_a_usage_error(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*command, (tmp_path / ("b" * 300)).as_posix()]) == 1
    err = capsys.readouterr().err
    assert ": File name too long" in err
    assert "Traceback" not in err
