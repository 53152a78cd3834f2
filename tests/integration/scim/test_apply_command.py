"""`entrasync apply` through the real entry point, against the sandbox SCIM server on loopback.

Saved plans are made by entrasync from the Graph emulator's tenant (``entra_scenario``): apply
makes the plan again and refuses one holding a change it does not make.
"""

from __future__ import annotations

import errno
import io
import json
import os
import signal
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from entrasync.adapters.audit.chain import verify_audit
from entrasync.adapters.audit.lock import apply_lock
from entrasync.adapters.audit.writer import AuditWriter
from entrasync.adapters.scim.target import read_target
from entrasync.cli import main
from entrasync.config.loading import load_config
from entrasync.sandbox.graph_emulator import GraphEmulator
from entrasync.sandbox.scim_server import ScimSandbox
from tests.integration.scim.entra_scenario import MAPPINGS_YAML, running_entra, save_plan
from tests.integration.scim.scenario import (
    EXPECTED,
    LAYOUTS,
    TOKEN,
    client_for,
    state_of,
)

MakeSandbox = Callable[..., ScimSandbox]

CONFIG = """\
version: 1
neuraltrust:
  role_attribute: {role}
  products_attribute: {products}
roles: [owner, admin, member]
products: [trustgate, trusttest, trustlens]
limits:
  max_deactivations: {max_deactivations}
  max_deactivation_percent: 100
  min_owners: 0
"""


@pytest.fixture(autouse=True)
def entra(monkeypatch: pytest.MonkeyPatch) -> Iterator[GraphEmulator]:
    with running_entra(monkeypatch) as graph:
        yield graph


@dataclass
class Setup:
    sandbox: ScimSandbox
    tmp: Path
    config: Path
    plan: Path
    audit_dir: Path
    baseline: int  # requests the sandbox had served when the plan was made

    def run(self, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
        code = main(["--config", str(self.config), *args])
        out, err = capsys.readouterr()
        return code, out, err

    def apply(self, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
        return self.run(capsys, "apply", str(self.plan), "--audit-dir", str(self.audit_dir), *extra)

    def requests(self) -> int:
        """Requests served since the plan was made."""
        return self.sandbox.counters.requests - self.baseline

    def writes(self) -> int:
        by_method = self.sandbox.counters.by_method
        return sum(by_method.get(m, 0) for m in ("POST", "PATCH", "PUT", "DELETE"))

    def state(self) -> dict[str, object]:
        with client_for(self.sandbox) as client:
            return dict(state_of(read_target(load_config(self.config).config, client)))

    def audit_files(self) -> list[Path]:
        return sorted(self.audit_dir.glob("*.jsonl")) if self.audit_dir.exists() else []

    def last_audit(self) -> list[dict[str, Any]]:
        """The records of the newest audit file, checked intact and complete."""
        newest = max(self.audit_files(), key=lambda p: (p.stat().st_mtime_ns, p.name))
        assert verify_audit(newest).ok
        return [json.loads(line) for line in newest.read_text().splitlines()]


def make_setup(
    sandbox: ScimSandbox,
    tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    max_deactivations: int = 10,
) -> Setup:
    config = tmp / "mappings.yaml"
    config.write_text(
        CONFIG.format(
            role=sandbox.role_attribute,
            products=sandbox.products_attribute,
            max_deactivations=max_deactivations,
        )
        + MAPPINGS_YAML
    )
    monkeypatch.setenv("NEURALTRUST_SCIM_URL", sandbox.url)
    monkeypatch.setenv("NEURALTRUST_SCIM_TOKEN", TOKEN)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.chdir(tmp)
    plan_file = tmp / "plan.json"
    assert len(save_plan(config, plan_file).changes) == 6
    return Setup(sandbox, tmp, config, plan_file, tmp / "audit", sandbox.counters.requests)


@pytest.fixture
def setup(make_sandbox: MakeSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Setup:
    return make_setup(make_sandbox(), tmp_path, monkeypatch)


@pytest.mark.parametrize("layout", LAYOUTS, ids=["core roles/entitlements", "extension path"])
def test_a_saved_plan_is_applied_exactly_and_audited(
    make_sandbox: MakeSandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    layout: str,
) -> None:
    setup = make_setup(make_sandbox(layout), tmp_path, monkeypatch)
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))

    code, out, err = setup.apply(capsys)

    assert code == 0, err
    assert "Apply complete: 6 succeeded, 0 failed, 0 skipped." in out
    assert setup.state() == EXPECTED
    # Every PATCH carried its user's version from the read just before the writes.
    assert setup.sandbox.counters.conditional == setup.sandbox.counters.by_method["PATCH"] == 5
    [audit] = setup.audit_files()
    verdict = verify_audit(audit)
    assert (verdict.intact, verdict.complete) == (True, True)
    assert verdict.counts is not None
    assert verdict.counts["succeeded"] == 6
    assert "6 succeeded, 0 failed, 0 skipped" in summary.read_text()


@pytest.mark.parametrize("failing", [False, True], ids=["all made", "five failed"])
def test_an_output_that_refuses_the_result_loses_neither_the_record_nor_the_failures(
    setup: Setup,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    failing: bool,
) -> None:
    # `apply PLAN > /dev/full`: every change made, and only "could not write the output" said;
    # the audit file's anchor (its last sha256), the job summary and the failures were lost
    # with the result.
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    if failing:
        setup.sandbox.set_faults(patch_answer="not made")  # the five updates fail

    class Full(io.StringIO):
        def write(self, _text: str) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as scoped:  # undone before capsys ends its own stdout
        scoped.setattr("sys.stdout", Full())
        code, _, err = setup.apply(capsys)
    assert code == 1
    [audit] = setup.audit_files()
    assert f"Audit: {audit} (last record sha256 {setup.last_audit()[-1]['sha256']})" in err
    assert "error: could not write the output: No space left on device" in err
    made = "1 succeeded, 5 failed" if failing else "6 succeeded, 0 failed"
    assert made in summary.read_text()
    if failing:
        assert "warning: 5 changes failed and 0 not attempted:\n" in err
    else:
        assert setup.state() == EXPECTED


def test_a_stop_while_the_result_waits_for_its_reader_keeps_the_audit_line_and_summary(
    setup: Setup,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The result's write blocked on a pipe no one read, and the job was cancelled: the stop
    # came from inside the write, and the Audit line and the job summary were skipped.
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))

    class Stopped(io.StringIO):
        def write(self, _text: str) -> int:
            raise KeyboardInterrupt  # as the handler of a Ctrl-C raises it, mid-write

    with monkeypatch.context() as scoped:
        scoped.setattr("sys.stdout", Stopped())
        code, _, err = setup.apply(capsys)
    assert code == 130
    [audit] = setup.audit_files()
    assert f"Audit: {audit} (last record sha256 " in err
    assert "6 succeeded, 0 failed, 0 skipped" in summary.read_text()


@pytest.mark.parametrize(
    "at",
    ["change", "finish"],
    ids=[
        "during the last write: it left a whole run recorded as stopped part-way",
        "while the audit file is finished: it said Apply complete and exited 0",
    ],
)
def test_a_signal_once_every_change_started_keeps_the_run_whole_and_exits_with_it(
    setup: Setup, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], at: str
) -> None:
    # A cancelled job's SIGTERM, at the likeliest moments of a short apply.
    recorded, seen = getattr(AuditWriter, at), []

    def signalled(writer: AuditWriter, *args: Any, **kwargs: Any) -> Any:
        seen.append(1)
        if at == "finish" or len(seen) == 6:  # the last of the plan's six changes
            os.kill(os.getpid(), signal.SIGTERM)
        return recorded(writer, *args, **kwargs)

    monkeypatch.setattr(AuditWriter, at, signalled)
    code, out, err = setup.apply(capsys)

    assert code == 143, err
    assert "Apply complete: 6 succeeded, 0 failed, 0 skipped." in out
    assert "apply stopped" not in err
    assert err.rstrip().splitlines()[-1] == "stopped by SIGTERM"
    assert setup.last_audit()[-1]["type"] == "apply_finished"  # the record is whole
    assert setup.state() == EXPECTED


def test_a_signal_after_failed_changes_still_says_them_and_what_to_do(
    setup: Setup, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    setup.sandbox.set_faults(patch_answer="not made")  # the five updates fail, the create not
    finish = AuditWriter.finish

    def signalled(writer: AuditWriter, *args: Any, **kwargs: Any) -> Any:
        os.kill(os.getpid(), signal.SIGTERM)
        return finish(writer, *args, **kwargs)

    monkeypatch.setattr(AuditWriter, "finish", signalled)
    code, _, err = setup.apply(capsys)

    assert code == 143, err
    assert "warning: 5 changes failed and 0 not attempted:\n" in err
    # One line per failed change, as the error boundary prints them: never one escaped line.
    listed = [line for line in err.splitlines() if line.startswith("warning:   ")]
    assert len(listed) == 5, err
    assert "\\x0a" not in err
    assert "warning: hint: check neuraltrust.role_attribute" in err
    assert err.rstrip().splitlines()[-1] == "stopped by SIGTERM"


def test_applying_the_same_plan_twice_is_a_no_op(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    assert setup.apply(capsys)[0] == 0
    writes = setup.writes()

    code, out, _ = setup.apply(capsys)

    assert code == 0
    assert "already applied" in out
    assert setup.writes() == writes
    assert len(setup.audit_files()) == 2  # the second run is on record too, applying nothing
    started, finished = setup.last_audit()
    assert (started["type"], finished["type"]) == ("apply_started", "apply_finished")
    assert finished["result"] == "already applied"
    assert finished["counts"] == {"succeeded": 0, "failed": 0, "skipped": 0}
    assert started["plan_file"] is None  # only the first run, which wrote, has its plan beside
    assert len(list(setup.audit_dir.glob("*.plan.json"))) == 1


def test_a_stale_plan_is_refused_and_nothing_changes(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    setup.sandbox.add_user({"user_name": "someone.new@contoso.com", "role": "member"})
    before = setup.state()

    code, _, err = setup.apply(capsys)

    assert code == 1
    assert "error: stale plan: NeuralTrust changed since the plan was made" in err
    assert "0 of 6 planned changes already in place" in err
    assert "Traceback" not in err
    assert setup.writes() == 0
    assert setup.state() == before
    started, finished = setup.last_audit()  # the refusal is on record: NeuralTrust was read
    assert finished["result"] == "refused"
    assert finished["reason"].startswith("stale plan: NeuralTrust changed")
    # No write was possible: no plan beside the file says what writes there may have been.
    assert started["plan_file"] is None
    assert list(setup.audit_dir.glob("*.plan.json")) == []


def test_a_plan_cut_short_by_a_dying_server_is_then_refused_as_partly_done(
    make_sandbox: MakeSandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    setup = make_setup(make_sandbox(fail_after_writes=2), tmp_path, monkeypatch)

    code, _, err = setup.apply(capsys, "--parallelism", "1")

    assert code == 1
    assert "1 change failed and 3 not attempted" in err
    # The rerun it names is a new plan: this one, partly applied, is refused below.
    [hint] = [line for line in err.splitlines() if line.startswith("hint: ")]
    assert "then run `entrasync plan` and apply the new plan" in hint
    assert "run again" not in hint
    [audit] = setup.audit_files()
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    outcomes = [r["outcome"] for r in records if r["type"] == "change"]
    assert outcomes == ["succeeded", "succeeded", "failed", "skipped", "skipped", "skipped"]
    assert verify_audit(audit).intact

    setup.sandbox.restart()
    code, _, err = setup.apply(capsys)
    assert code == 1
    assert "2 of 6 planned changes already in place" in err


@pytest.mark.parametrize(
    ("token", "message", "hint"),
    [
        (
            "wrong-token",
            "the NeuralTrust SCIM token is expired or invalid (HTTP 401 from http",
            "is the organization's SCIM endpoint; if it is, generate a new token in NeuralTrust",
        ),
        ("", "NEURALTRUST_SCIM_TOKEN is not set", "hint: export NEURALTRUST_SCIM_TOKEN=<token>"),
    ],
    ids=["a wrong token is refused by the server", "a missing token is refused before sending"],
)
def test_a_bad_token_exits_1_without_traceback_and_writes_nothing(
    setup: Setup,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    token: str,
    message: str,
    hint: str,
) -> None:
    monkeypatch.setenv("NEURALTRUST_SCIM_TOKEN", token)

    code, _, err = setup.apply(capsys)

    assert code == 1
    assert message in err
    assert hint in err
    assert "Traceback" not in err
    assert setup.writes() == 0
    assert setup.audit_files() == []


def test_plain_http_to_a_remote_host_is_refused_before_any_request(
    setup: Setup,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    off_loopback: list[str],
) -> None:
    monkeypatch.setenv("NEURALTRUST_SCIM_URL", "http://scim.contoso.com/v2")

    code, _, err = setup.apply(capsys)

    assert code == 1
    assert "is not an https:// URL" in err
    assert (setup.requests(), off_loopback) == (0, [])


def test_a_plan_made_from_another_config_is_refused(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    setup.config.write_text(setup.config.read_text() + "precedence: highest-privilege\n")

    code, _, err = setup.apply(capsys)

    assert code == 1
    assert "was made from a different config" in err
    assert setup.requests() == 0


def test_safety_violations_refuse_the_plan_unless_its_digest_is_named(
    make_sandbox: MakeSandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    setup = make_setup(make_sandbox(), tmp_path, monkeypatch, max_deactivations=0)
    digest = json.loads(setup.plan.read_text())["digest"]

    refused = setup.apply(capsys)
    refused_audit = setup.last_audit()
    wrong = setup.apply(capsys, "--force-unsafe", "0" * 12)
    wrong_audit = setup.last_audit()
    assert setup.writes() == 0
    forced = setup.apply(capsys, "--force-unsafe", digest[:12].upper())

    assert refused[0] == 1
    assert "max_deactivations" in refused[2]
    assert f"--force-unsafe {digest[:12]}" in refused[2]
    assert "Actions →" not in refused[2]  # a saved plan: no GitHub re-run instruction
    assert refused_audit[0]["force_unsafe"] is None
    assert refused_audit[1]["result"] == "refused"
    assert [v["rule"] for v in refused_audit[1]["violations"]] == ["max_deactivations"]
    assert wrong[0] == 1
    assert "does not name this plan" in wrong[2]
    assert wrong_audit[0]["force_unsafe"]["given"] == "0" * 12
    assert wrong_audit[0]["force_unsafe"]["matched_digest"] is None
    assert wrong_audit[-1]["result"] == "refused"
    assert forced[0] == 0, forced[2]
    assert len(setup.audit_files()) == 3
    records = setup.last_audit()
    assert records[-1]["result"] == "applied"
    (violation,) = refused_audit[1]["violations"]
    assert records[0]["force_unsafe"] == {
        "given": digest[:12],  # as typed, lower-cased
        "matched_digest": digest,
        "overridden": [violation],
    }
    # Already applied, nothing to write: a digest of no plan was taken, and put on record.
    again = setup.apply(capsys, "--force-unsafe", "0" * 12)
    assert again[0] == 1
    assert "does not name this plan" in again[2]


@pytest.mark.parametrize(
    "given", ["fake-scim-token-for-tests", "0123456789ab-", "0" * 65, "plan 0123456789ab"]
)
def test_a_force_unsafe_that_is_no_digest_is_refused_unshown_before_anything_is_read(
    setup: Setup, capsys: pytest.CaptureFixture[str], given: str
) -> None:
    # A credential pasted into --force-unsafe would otherwise be printed, and written to the
    # audit file that records the override.
    code, out, err = setup.apply(capsys, "--force-unsafe", given)
    assert code == 1
    assert "--force-unsafe" in err
    assert "give the plan's digest: 64 hex characters, or a prefix of at least 12" in err
    assert given not in out + err
    assert setup.audit_files() == []
    assert setup.requests() == 0


def test_apply_without_a_plan_file_or_a_terminal_refuses_unless_auto_approved(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = setup.run(capsys, "apply")

    assert code == 1
    assert "there is no terminal to ask on" in err
    assert "--auto-approve" in err
    assert setup.requests() == 0


def test_an_unwritable_audit_dir_refuses_before_any_write(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = setup.run(capsys, "apply", str(setup.plan), "--audit-dir", "/proc/nope")

    assert code == 1
    assert "error: cannot create an audit file in /proc/nope" in err
    assert "hint: pass a writable --audit-dir; nothing was changed" in err
    assert "Traceback" not in err
    assert setup.writes() == 0


def test_a_refusal_is_still_reported_when_its_audit_cannot_be_written(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    setup.sandbox.add_user({"user_name": "someone.new@contoso.com", "role": "member"})

    code, _, err = setup.run(capsys, "apply", str(setup.plan), "--audit-dir", "/proc/nope")

    assert code == 1
    assert "warning: the refusal below was not audited" in err
    assert "error: stale plan" in err
    assert "Traceback" not in err


def test_a_second_apply_on_the_same_audit_folder_exits_at_once_naming_the_first(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    with apply_lock(setup.audit_dir):  # as an apply running in this folder holds it
        code, _, err = setup.apply(capsys)

    assert code == 1
    assert (
        f"error: another entrasync apply is running with the audit folder {setup.audit_dir} "
        f"(pid {os.getpid()} on {socket.gethostname()} since 20"
    ) in err
    assert "hint: wait for it to end" in err
    assert "Traceback" not in err
    assert setup.requests() == 0  # refused before reading anything
    assert setup.audit_files() == []
    code, _, err = setup.apply(capsys)  # released: the next apply runs
    assert code == 0, err


def test_the_audit_folder_lock_is_released_on_every_way_out(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    setup.sandbox.add_user({"user_name": "someone.new@contoso.com", "role": "member"})
    assert setup.apply(capsys)[0] == 1  # refused as stale
    with apply_lock(setup.audit_dir):
        pass
    setup.sandbox.stop()
    code, _, err = setup.apply(capsys)  # the server is gone
    assert code == 1, err
    with apply_lock(setup.audit_dir):
        pass
    assert (setup.audit_dir / ".entrasync-apply.lock").read_text() == ""  # no holder named
