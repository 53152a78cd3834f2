"""`entrasync init` through the real entry point, against the Graph emulator and the real SCIM
server on loopback; the file it writes is then checked by the real `validate` and `plan`."""

from __future__ import annotations

import json
import logging
import os
import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import yaml

from entrasync.cli import main
from entrasync.operations.bootstrap import bootstrap
from entrasync.sandbox.tenant import SandboxTenant, SeedScimUser, demo_tenant
from entrasync.sandbox.tenant_adoption import aligned_tenant, misfit_tenant
from tests.integration.e2e.loopback import SECRET, TOKEN, Served, serve_both
from tests.integration.e2e.pipes import proc_pipe

SCHEMA_LINE = "# yaml-language-server: $schema=schemas/mappings.schema.json"
EXISTING = "version: 1\n"


Serve = Callable[[SandboxTenant, tuple[SeedScimUser, ...]], Served]


@pytest.fixture
def serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Serve]:
    """Serves a tenant on loopback with a minimal mappings file as the config, in tmp_path."""
    with ExitStack() as stack:

        def start(tenant: SandboxTenant, users: tuple[SeedScimUser, ...]) -> Served:
            return stack.enter_context(serve_both(tenant, users, EXISTING, tmp_path, monkeypatch))

        yield start


def init(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["init", *args])
    out, err = capsys.readouterr()
    return code, out, err


def plan_json(capsys: pytest.CaptureFixture[str], config: str) -> dict[str, Any]:
    code = main(["--config", config, "plan", "--out", "plan.json"])
    _, err = capsys.readouterr()
    assert code == 0, err
    plan: dict[str, Any] = json.loads(Path("plan.json").read_text(encoding="utf-8"))
    return plan


def is_adoption(change: dict[str, Any]) -> bool:
    return bool(change["action"] == "update" and change["before"] == change["after"])


def test_an_aligned_tenant_gives_a_file_whose_plan_only_adopts(
    serve: Serve, capsys: pytest.CaptureFixture[str]
) -> None:
    served = serve(*aligned_tenant())
    code, out, err = init(capsys, "APP-", "--out", "draft.yaml")
    assert code == 0, err
    text = Path("draft.yaml").read_text(encoding="utf-8")
    assert text.splitlines()[0] == SCHEMA_LINE
    data = yaml.safe_load(text)
    assert [(m["name"], m["role"], m.get("products")) for m in data["mappings"]] == [
        ("APP-Owners", "owner", None),
        ("APP-Admins", "admin", None),
        ("APP-Analysts", "member", ["trustlens"]),
        ("APP-Engineers", "member", ["trustgate", "trusttest"]),
        ("APP-Interns", "member", ["trustgate", "trusttest"]),
    ]
    assert all("id" in m for m in data["mappings"])
    assert data["protected"] == ["breakglass@fabrikam.com"]
    assert data["on_removed"] == "keep"
    assert "scim_url" not in data["neuraltrust"]  # it came from the environment, and stays there
    assert "tenant_id" not in data["entra"]
    assert "Finance" not in text
    assert "Residue: none" in out
    assert "3 users made by hand in NeuralTrust are adopted" in out

    assert main(["--config", "draft.yaml", "validate"]) == 0
    # An onboarding pull request (the base branch has no mappings yet): plan.yml trusts an
    # empty config, and the draft changes nothing about where credentials go.
    Path("empty.yaml").write_text("version: 1\n", encoding="utf-8")
    assert main(["validate", "--trusted-config", "empty.yaml", "draft.yaml"]) == 0
    capsys.readouterr()
    plan = plan_json(capsys, "draft.yaml")
    assert plan["orphans"] == []
    assert plan["violations"] == []
    assert sorted(c["user"] for c in plan["changes"]) == [
        "adam@fabrikam.com",
        "mia@fabrikam.com",
        "mo@fabrikam.com",
    ]
    assert all(is_adoption(c) for c in plan["changes"])
    # The existing mappings file was neither read for routing nor touched.
    assert served.mappings.read_text(encoding="utf-8") == EXISTING


def test_misfits_are_the_residue_and_skipped_groups_are_explained(
    serve: Serve, capsys: pytest.CaptureFixture[str]
) -> None:
    serve(*misfit_tenant())
    code, out, err = init(capsys, "APP-", "--out", "draft.yaml", "--min-agreement", "60")
    assert code == 0, err
    proposed, _, residue = out.partition("Residue:")
    assert "APP-Admins" in proposed
    assert "66.6% (2 of 3)" in proposed
    assert "APP-Contractors" in proposed
    assert "50% (1 of 2) member, below 60%" in proposed
    lines = {line.split()[0]: line for line in residue.splitlines() if "@fabrikam.com" in line}
    assert "in APP-Engineers, not in NeuralTrust" in lines["nina@fabrikam.com"]
    assert "role differs (member -> admin)" in lines["sam@fabrikam.com"]
    assert "inactive in NeuralTrust, back in APP-Analysts" in lines["lee@fabrikam.com"]
    assert "no longer in a mapped group" in lines["frank@fabrikam.com"]
    assert "carl@fabrikam.com" not in lines  # APP-Contractors is not mapped: left alone

    plan = plan_json(capsys, "draft.yaml")
    changed = {c["user"]: c["action"] for c in plan["changes"] if not is_adoption(c)}
    assert changed == {
        "nina@fabrikam.com": "create",
        "sam@fabrikam.com": "update",
        "lee@fabrikam.com": "reactivate",
    }
    assert [o["user"] for o in plan["orphans"]] == ["frank@fabrikam.com"]


def test_at_the_default_agreement_the_split_admins_group_is_not_mapped(
    serve: Serve, capsys: pytest.CaptureFixture[str]
) -> None:
    serve(*misfit_tenant())
    code, out, err = init(capsys, "APP-", "--out", "draft.yaml")
    assert code == 0, err
    assert "66.6% (2 of 3) admin, below 90%" in out
    data = yaml.safe_load(Path("draft.yaml").read_text(encoding="utf-8"))
    assert "APP-Admins" not in [m.get("name") for m in data["mappings"]]


def test_the_next_step_it_names_can_be_pasted_into_a_shell(
    serve: Serve, capsys: pytest.CaptureFixture[str]
) -> None:
    serve(*aligned_tenant())
    code, _, err = init(capsys, "APP-", "--out", "my draft.yaml")
    assert code == 0, err
    assert "then run: entrasync --config 'my draft.yaml' plan" in err


def test_the_demo_tenant(serve: Serve, capsys: pytest.CaptureFixture[str]) -> None:
    demo = demo_tenant()
    serve(demo.tenant, demo.scim_users)
    code, out, err = init(capsys, "NT-", "--out", "draft.yaml")
    assert code == 0, err
    data = yaml.safe_load(Path("draft.yaml").read_text(encoding="utf-8"))
    assert [(m["name"], m["role"]) for m in data["mappings"]] == [
        ("NT-Owners", "owner"),
        ("NT-Platform", "member"),  # its member holds its products: first among members
        ("NT-Admins", "member"),  # Bob and Heidi are still members in NeuralTrust
    ]
    assert data["protected"] == ["breakglass@contoso.com"]
    assert "NT-Contractors" in out  # Erin is not in NeuralTrust yet: nothing to agree on
    plan = plan_json(capsys, "draft.yaml")
    residue = out.partition("Residue:")[2]
    for change in plan["changes"]:
        assert (change["user"] in residue) is not is_adoption(change), change["user"]


def test_an_existing_file_is_never_replaced_without_force(
    serve: Serve, capsys: pytest.CaptureFixture[str]
) -> None:
    served = serve(*aligned_tenant())
    code, out, err = init(capsys, "APP-")
    assert code == 1
    assert out == ""
    assert f"error: {served.mappings} already exists" in err
    assert "hint: pass --out FILE" in err
    assert "Traceback" not in err
    assert served.graph.counters["requests"] == 0  # refused before any read
    assert served.mappings.read_text(encoding="utf-8") == EXISTING

    code, _, err = init(capsys, "APP-", "--force")
    assert code == 0, err
    replaced = served.mappings.read_text(encoding="utf-8")
    assert replaced.splitlines()[0] == SCHEMA_LINE
    assert main(["validate"]) == 0
    assert "Review it, then run: entrasync plan" in capsys.readouterr().err + err
    # Written to the file --config names: plain `entrasync plan` would read another one.
    assert main(["--config", "teams.yaml", "init", "APP-"]) == 0
    assert "then run: entrasync --config teams.yaml plan" in capsys.readouterr().err


class _ClosedPipe:
    """A standard output whose reader has gone (`init | head`, a pager quit early)."""

    encoding = "utf-8"

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    def isatty(self) -> bool:
        return False


def test_a_reader_that_stops_reading_costs_no_file(
    serve: Serve, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    serve(*aligned_tenant())
    with monkeypatch.context() as closed:
        closed.setattr("sys.stdout", _ClosedPipe())
        with pytest.raises(SystemExit) as stopped:  # click exits 1 on a closed pipe
            main(["init", "APP-", "--out", "draft.yaml"])
    assert stopped.value.code == 1
    capsys.readouterr()
    assert Path("draft.yaml").read_text(encoding="utf-8").splitlines()[0] == SCHEMA_LINE
    assert main(["--config", "draft.yaml", "validate"]) == 0


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (
            ("--config", "mapings-typo.yaml", "init", "APP-", "--out", "draft.yaml"),
            "config file mapings-typo.yaml not found",
        ),
        (("init", "APP-", "--out", "/proc/nope/draft.yaml"), "cannot write /proc/nope/draft.yaml"),
        (("init", "APP-", "--out", "mappings.yaml/draft.yaml"), "mappings.yaml is not a folder"),
        (("init", "APP-", "--out", "link.yaml", "--force"), "in a folder that does not exist"),
        (
            ("init", "APP-", "--out", "through-a-file.yaml", "--force"),
            "mappings.yaml is not a folder",
        ),
        (("init", "APP-", "--out", "loop.yaml", "--force"), "leads back to itself"),
        (("init", "APP-", "--out", "gone/draft.yaml"), "gone leads to"),
    ],
    ids=[
        "a settings file named but missing",
        "an --out that cannot be written",
        "an --out under a file",
        "an --out that links into a folder that does not exist",
        "an --out that links under a file",
        "an --out that is a link to itself",
        "an --out in a folder that is a link to nothing",
    ],
)
def test_init_refuses_before_any_read_what_it_could_not_finish(
    serve: Serve, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], said: str
) -> None:
    served = serve(*aligned_tenant())
    Path("link.yaml").symlink_to(Path("nowhere") / "sub" / "draft.yaml")
    Path("through-a-file.yaml").symlink_to(Path("mappings.yaml") / "draft.yaml")
    Path("loop.yaml").symlink_to("loop.yaml")
    Path("gone").symlink_to(Path("missing") / "dir")
    code = main(list(args))
    err = capsys.readouterr().err
    assert code == 1
    assert said in err
    assert "Traceback" not in err
    assert served.graph.counters["requests"] == 0
    assert not Path("draft.yaml").exists()


def test_an_out_in_new_folders_makes_them_only_when_it_writes(
    serve: Serve, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    serve(*aligned_tenant())
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "")  # the reads fail: nothing may be left behind
    assert main(["init", "APP-", "--out", "new/sub/draft.yaml"]) == 1
    capsys.readouterr()
    assert not Path("new").exists()


@pytest.mark.parametrize(
    ("name", "escaped"),
    [
        (os.fsdecode(b"caf\xe9"), "caf\\xe9"),
        ("repo\nx: 1", "repo\\x0ax: 1"),
        ("esc\x1b[31m", "esc\\x1b[31m"),
        ("ls\u2028", "ls\\u2028"),
    ],
    ids=["a Latin-1 byte", "a line break", "an escape", "a line separator"],
)
def test_a_repository_folder_with_any_name_still_gets_its_draft(
    serve: Serve,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    name: str,
    escaped: str,
) -> None:
    """Written raw into the schema line, the folder's name broke the draft: a Latin-1 byte
    was a traceback writing it, a line break failed its own check ("(a bug)"), both after all
    of init's reads."""
    serve(*aligned_tenant())
    repository = tmp_path / name
    repository.mkdir()
    monkeypatch.chdir(repository)
    draft = tmp_path / "other" / "draft.yaml"
    code, _, err = init(capsys, "APP-", "--out", str(draft))
    assert code == 0, err
    header = draft.read_text(encoding="utf-8").splitlines()[0]
    assert header == f"# yaml-language-server: $schema=../{escaped}/schemas/mappings.schema.json"


def test_init_says_which_file_its_settings_come_from(
    serve: Serve, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a clone, the example's: its protected users went into the draft unsaid."""
    serve(*aligned_tenant())
    code, _, err = init(capsys, "APP-", "--out", "draft.yaml")
    assert code == 0, err
    config = os.environ["ENTRASYNC_CONFIG"]
    assert f"Settings from {config} (vocabulary, limits, protected users)" in err
    monkeypatch.delenv("ENTRASYNC_CONFIG")
    Path(config).rename("served.yml")  # a mappings.yaml here would be named instead
    code, _, err = init(capsys, "APP-", "--out", "draft2.yaml")
    assert code == 0, err
    assert "Settings: the defaults (config/mappings.yaml does not exist)" in err


def test_a_file_that_appears_during_the_reads_is_not_replaced_either(
    serve: Serve, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    serve(*aligned_tenant())

    def and_meanwhile(*args: Any, **kwargs: Any) -> Any:
        found = bootstrap(*args, **kwargs)
        Path("draft.yaml").write_text("# written by someone else meanwhile\n", encoding="utf-8")
        return found

    monkeypatch.setattr("entrasync.commands.init.bootstrap", and_meanwhile)
    code, _, err = init(capsys, "APP-", "--out", "draft.yaml")

    assert code == 1
    assert "error: draft.yaml appeared while init read Entra and NeuralTrust; init never" in err
    assert Path("draft.yaml").read_text(encoding="utf-8") == "# written by someone else meanwhile\n"


def test_a_file_made_by_another_run_while_the_draft_is_written_is_not_replaced(
    serve: Serve, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two `init --out X` started together both found no X after their reads; the second
    # renamed its draft over the first's, and both said they wrote it.
    serve(*aligned_tenant())
    sync = os.fsync

    def meanwhile(fd: int) -> None:
        Path("draft.yaml").write_text("# the other run's draft\n", encoding="utf-8")
        sync(fd)

    monkeypatch.setattr("entrasync.adapters.files.os.fsync", meanwhile)
    code, _, err = init(capsys, "APP-", "--out", "draft.yaml")

    assert code == 1
    assert "error: draft.yaml appeared while init read Entra and NeuralTrust; init never" in err
    assert Path("draft.yaml").read_text(encoding="utf-8") == "# the other run's draft\n"
    assert sorted(p.name for p in Path().iterdir() if p.name.startswith(".draft")) == []


def test_a_draft_that_does_not_validate_is_never_written(
    serve: Serve, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    serve(*aligned_tenant())
    monkeypatch.setattr("entrasync.commands.init.mappings_yaml", lambda *a, **k: "version: 2\n")
    code, _, err = init(capsys, "APP-", "--out", "draft.yaml")

    assert code == 1
    assert "error: the drafted mappings do not validate, so nothing was written (a bug)" in err
    assert "  draft.yaml:1" in err  # the problems, at the draft's lines
    assert "Traceback" not in err
    assert not Path("draft.yaml").exists()


def test_no_secret_reaches_the_file_or_the_output(
    serve: Serve, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    serve(*misfit_tenant())
    caplog.set_level(logging.DEBUG)  # -vv's lines: pytest's own handler takes them here
    code, out, err = init(capsys, "APP-", "--out", "draft.yaml", "-vv")
    assert code == 0, err
    text = Path("draft.yaml").read_text(encoding="utf-8")
    logs = "\n".join(r.getMessage() for r in caplog.records)
    assert "entrasync" in {r.name.partition(".")[0] for r in caplog.records}  # -vv logged
    for secret in (SECRET, TOKEN):
        assert secret not in text
        assert secret not in out
        assert secret not in err
        assert secret not in logs


def test_a_prefix_no_group_has_is_an_error_and_writes_nothing(
    serve: Serve, capsys: pytest.CaptureFixture[str]
) -> None:
    serve(*aligned_tenant())
    code, _, err = init(capsys, "NOPE-", "--out", "draft.yaml")
    assert code == 1
    assert "error: no Entra group's display name starts with 'NOPE-'" in err
    assert "hint: `entrasync groups`" in err
    assert not Path("draft.yaml").exists()


# 66.65: finer than the tenth the agreement is shown to (2 of 3, 66.6%, met it).
@pytest.mark.parametrize("value", ["nan", "NaN", "101", "-1", "66.65"])
def test_an_agreement_that_is_no_percentage_is_refused_before_any_read(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = init(capsys, "--out", "draft.yaml", "--min-agreement", value)

    assert code == 1
    assert "Invalid value for '--min-agreement'" in err
    assert "Traceback" not in err
    assert not (tmp_path / "draft.yaml").exists()


def test_a_pipe_named_through_proc_takes_the_draft(
    serve: Serve, capsys: pytest.CaptureFixture[str]
) -> None:
    # `init --out /dev/stdout --force | reader`: /dev/stdout leads to /proc/self/fd/1, whose
    # target is a "pipe:[N]" that is no path: the check before the reads refused it.
    serve(*aligned_tenant())
    with proc_pipe(Path.cwd()) as (link, received):
        code, _, err = init(capsys, "APP-", "--out", str(link), "--force")
    assert code == 0, err
    assert received[0].decode("utf-8").splitlines()[0] == SCHEMA_LINE


def test_the_schema_hint_names_the_python_entrasync_runs_in(
    serve: Serve, capsys: pytest.CaptureFixture[str]
) -> None:
    """It said `python -m entrasync.config.schema`: under pipx, a python without entrasync."""
    serve(*aligned_tenant())
    code, _, err = init(capsys, "APP-", "--out", "draft.yaml")
    assert code == 0, err
    command = shlex.join([sys.executable, "-m", "entrasync.config.schema"])
    assert f"which is not here: `{command}` writes it." in err
