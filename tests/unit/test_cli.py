"""The program's shape: lazy commands, one table of them, and exit codes from one enum."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from entrasync import cli as cli_module
from entrasync.cli import COMMANDS, cli, main
from entrasync.errors import ExitCode


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_listed_command_loads_under_its_name(name: str) -> None:
    command = cli.get_command(click.Context(cli), name)
    assert isinstance(command, click.Command)
    assert command.name == name


def test_help_loads_no_command_module_and_no_http_code() -> None:
    code = (
        "import sys\n"
        "from entrasync.cli import main\n"
        "main(['--help'])\n"
        "print(sorted(m for m in sys.modules if m.startswith('entrasync.commands.')"
        " or m in ('httpx', 'msal', 'scim2_server')), file=sys.stderr)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert run.stderr.strip().splitlines()[-1] == "[]"
    for name, (_module, _attribute, summary) in COMMANDS.items():
        assert f"{name}  " in run.stdout
        assert summary in " ".join(run.stdout.split())  # whole, not cut mid-sentence


def test_an_unknown_command_is_a_usage_error_exiting_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plna"]) == ExitCode.ERROR
    assert "No such command 'plna'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["apply", "--auto-approve", "--audit-dir", ""], "--audit-dir: is empty: name a folder"),
        (["apply", "--audit-dir", "/dev/null"], "--audit-dir: /dev/null is not a folder"),
        (["demo", "--dir", " "], "--dir: is empty: name a folder"),
        (["sandbox", "--dir", "/dev/null"], "--dir: /dev/null is not a folder"),
        (["--config", "", "validate"], "--config: is empty: name a file"),
        (["plan", "--config", " "], "--config: is empty: name a file"),
        (["validate", "--trusted-config", ""], "--trusted-config: is empty: name a file"),
        (["plan", "--out", ""], "--out: is empty: name a file"),
        (["init", "--out", ""], "--out: is empty: name a file"),
        (["apply", ""], "PLAN_FILE: is empty: name a file"),
        (["audit", "verify", ""], "FILE: is empty: name a file"),
        (["validate", "ok.yaml", ""], "[FILE]...: is empty: name a file"),
        (["report-apply", "--audit", ""], "--audit: is empty: name the audit file or its folder"),
        (["report-apply", "--audit", "a", "--reviewed-plan", ""], "--reviewed-plan: is empty"),
        (["report-apply", "--audit", "a", "--pr", "0"], "'--pr': 0 is not in the range x>=1"),
        # A file's path ending in / wrote a file named as the folder (`--out drafts/`).
        (["init", "--out", "drafts/"], "--out: drafts/ names a folder, not a file"),
        (["init", "--out", "drafts/."], "--out: drafts/. names a folder, not a file"),
        (["plan", "--out", "plans/.."], "--out: plans/.. names a folder, not a file"),
        (["--config", "config/", "validate"], "--config: config/ names a folder, not a file"),
        (["apply", "plans/"], "PLAN_FILE: plans/ names a folder, not a file"),
    ],
)
def test_a_path_option_that_is_empty_or_the_wrong_kind_is_a_usage_error(
    args: list[str],
    said: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An unset CI variable made `--audit-dir ""`: the audit file went to the working folder,
    where the job's artifact upload of audit/ missed it. `--config ""` said "config file . is
    a directory"."""
    monkeypatch.chdir(tmp_path)
    assert main(args) == ExitCode.ERROR
    assert said in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_the_exit_codes_are_the_documented_ones() -> None:
    assert [int(c) for c in ExitCode] == [0, 1, 2, 130, 143]


def test_commands_return_exit_codes_by_name_never_a_bare_number() -> None:
    package = Path(cli_module.__file__).parent
    bare = [
        f"{path.relative_to(package)}:{node.lineno}"
        for path in [package / "cli.py", *sorted((package / "commands").glob("*.py"))]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Return)
        and isinstance(node.value, ast.Constant)
        and type(node.value.value) is int
    ]
    assert bare == []


@pytest.mark.parametrize(
    "argv",
    [["audit", "verify", "a.jsonl"], ["demo"], ["github", "find-plan"], ["github", "drift-issue"]],
    ids=["audit verify", "demo", "github find-plan", "github drift-issue"],
)
def test_config_is_not_offered_where_it_would_do_nothing(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, "--config", "other.yaml"]) == ExitCode.ERROR
    err = capsys.readouterr().err
    assert "No such option" in err
    assert "--config" in err


def test_config_before_a_command_that_reads_none_is_said_to_do_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A global option before the command (docs/commands.md: before or after it), so accepted; it
    was silently ignored: `entrasync --config mine.yaml demo` ran the demo's own mappings."""
    existing = tmp_path / "file"
    existing.write_text("", encoding="utf-8")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "mine").write_text("", encoding="utf-8")
    monkeypatch.delenv("GITHUB_SHA", raising=False)
    args = {  # each command's arguments, ones it stops on before any work
        "audit verify": [str(existing)],  # an empty audit file
        "demo": ["--dir", str(tmp_path / "folder")],  # a folder of someone else's
        "github find-plan": [],  # no commit
        "github drift-issue": ["--plan", str(existing)],  # an empty plan file
    }
    reading_none = [
        name
        for name, command in _every_command()
        if not isinstance(command, click.Group)
        and not any("--config" in p.opts for p in command.params)
    ]
    assert sorted(reading_none) == sorted(args)  # a new one: give it @reads_no_config
    for name in reading_none:
        assert main(["--config", "mine.yaml", *name.split(), *args[name]]) == ExitCode.ERROR
        err = capsys.readouterr().err
        assert err.startswith(f"warning: --config is ignored: `entrasync {name}` reads no mappings")


def _every_command() -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name in COMMANDS:
        command = cli.get_command(click.Context(cli), name)
        assert command is not None
        found.append((name, command))
        if isinstance(command, click.Group):
            found += [(f"{name} {sub}", c) for sub, c in command.commands.items()]
    return found


@pytest.mark.parametrize(("name", "command"), _every_command(), ids=lambda v: str(v))
def test_every_help_page_shows_examples_and_whole_summaries(
    name: str, command: click.Command, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*name.split(), "--help"]) == 0
    out = capsys.readouterr().out
    examples = out.split("Examples:\n", 1)[1].splitlines()
    shown = [line for line in examples if "entrasync " in line]
    assert 1 <= len(shown) <= 3 if isinstance(command, click.Group) else 2 <= len(shown) <= 3
    body = out.split("\n", 1)[1]  # past "Usage: ... [ARGS]..."
    assert "..." not in body  # no summary cut mid-sentence


def test_output_a_non_utf8_terminal_cannot_encode_is_escaped_not_a_traceback(
    tmp_path: Path,
) -> None:
    # LC_ALL=C, or a Windows agent's cp1252: a name it cannot encode must not end the command.
    config = tmp_path / "équipe.yaml"
    config.write_text("version: 1\nmappings:\n  - name: NT-Équipe\n    role: admin\n")
    done = subprocess.run(
        [sys.executable, "-m", "entrasync", "validate", str(config)],
        env={**os.environ, "PYTHONIOENCODING": "ascii"},
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert b"\\xe9quipe.yaml is valid" in done.stdout
    assert b"Traceback" not in done.stderr


def test_a_command_started_with_stdout_closed_is_an_error_not_a_silent_success(
    tmp_path: Path,
) -> None:
    """`plan --detailed-exitcode >&-` exited 2 having printed nothing: the plan was lost."""
    config = tmp_path / "mappings.yaml"
    config.write_text("version: 1\nmappings:\n  - name: NT-Admins\n    role: admin\n")
    done = subprocess.run(
        [sys.executable, "-m", "entrasync", "validate", str(config)],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: os.close(1),  # as the shell's `>&-` leaves it
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith(b"error: stdout is closed: "), done.stderr
    assert b"Traceback" not in done.stderr


def test_stderr_closed_keeps_messages_out_of_stdout(tmp_path: Path) -> None:
    """With `2>&-`, click printed every message and error to stdout: a script reading JSON or
    CSV there got "Using ..." and "error: ..." lines, with exit 0 or 2."""
    good, broken = tmp_path / "good.yaml", tmp_path / "broken.yaml"
    good.write_text("version: 1\nmappings:\n  - name: NT-Admins\n    role: admin\n")
    broken.write_text("version: 1\nmappings:\n  - name: NT-Admins\n    role: admn\n")
    runs = [
        subprocess.run(
            [sys.executable, "-m", "entrasync", "validate", str(path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            preexec_fn=lambda: os.close(2),  # as the shell's `2>&-` leaves it
            check=False,
        )
        for path in (good, broken)
    ]
    assert [run.returncode for run in runs] == [0, 1]
    assert runs[0].stdout.startswith(f"{good} is valid: 1 mapping".encode())
    assert runs[1].stdout == b""


def test_stdin_and_stderr_closed_are_opened_on_their_own_descriptors() -> None:
    """The stdin stream opened before fd 2 was filled took fd 2, read-only: writes there
    failed, and closing stdin would have freed it for the next file opened."""
    probe = (
        "import fcntl, os, sys\n"
        "from entrasync.cli import _open_closed_streams\n"
        "_open_closed_streams()\n"
        "os.write(2, b'')\n"
        "print(sys.stdin.fileno(), sys.stderr.fileno(), fcntl.fcntl(2, fcntl.F_GETFL) & 3)\n"
    )

    def close_both() -> None:
        os.close(0)
        os.close(2)

    done = subprocess.run(
        [sys.executable, "-c", probe],
        stdout=subprocess.PIPE,
        preexec_fn=close_both,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, f"0 2 {os.O_RDWR}\n")


def test_apply_with_stdin_closed_is_refused_as_with_no_terminal(tmp_path: Path) -> None:
    """`<&-` left sys.stdin None: the terminal check was an AttributeError, "a bug"."""
    done = subprocess.run(
        [sys.executable, "-m", "entrasync", "apply", "--audit-dir", str(tmp_path / "audit")],
        capture_output=True,
        preexec_fn=lambda: os.close(0),  # as the shell's `<&-` leaves it
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith(
        b"error: apply without a plan file asks for confirmation, and there is no terminal"
    ), done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["init", "NT-", "--out", "draft.yaml"],
        ["init", "NT-", "--out", "ABSOLUTE"],
        ["validate"],
        ["apply", "plan.json"],
        ["demo"],
    ],
    ids=["init, relative", "init, absolute", "validate", "apply", "demo"],
)
def test_a_command_whose_folder_was_deleted_says_so(
    args: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every relative path, and Python's Path.cwd(), fail with a bare FileNotFoundError there:
    init read Entra and NeuralTrust whole, then ended as "a bug"; validate, plan and apply said
    config/mappings.yaml was not found, with a hint to check the path."""
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    args = [str(tmp_path / "draft.yaml") if a == "ABSOLUTE" else a for a in args]
    assert main(args) == ExitCode.ERROR
    err = capsys.readouterr().err
    assert err == (
        "error: the current folder no longer exists (it was deleted or moved)\n"
        "hint: cd to an existing folder and run the command again\n"
    )
    assert not (tmp_path / "draft.yaml").exists()
    assert main(["validate", "--help"]) == ExitCode.OK  # help needs no folder
    capsys.readouterr()
    assert main([]) == ExitCode.ERROR  # nor the bare command's usage, as anywhere
    assert capsys.readouterr().err.startswith("Usage: entrasync [OPTIONS] COMMAND")
