"""Policy changes and expiring mappings through the real commands: the sandbox tenant and SCIM
server, and the GitHub emulator for the PR comment and the drift issue, all on loopback.

The moment is fixed through the clock adapter (``clock.utc_moment``), as a test of any date
needs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest

from entrasync.adapters import clock
from entrasync.core import labels, planfile
from entrasync.operations import planning
from entrasync.render.markdown import escape
from entrasync.sandbox.runner import RunningSandbox
from tests.integration.github.emulator import Emulator
from tests.integration.github.env import MakeEnv
from tests.integration.scim import test_forged_plan

OWNER = frozenset({"owner"})

# The demo sandbox on loopback, its environment set, in a fresh folder with config/mappings.yaml.
sandbox = test_forged_plan.sandbox
run = test_forged_plan.run

LAST_DAY = date(2026, 12, 10)  # NT-Admins grants through this day
EXPIRING = ("    name: NT-Admins\n    role: admin\n", f"    expires: {LAST_DAY.isoformat()}\n")


def write(sandbox: RunningSandbox, path: str, *edits: tuple[str, str]) -> None:
    """The sandbox's mappings with each (text, replacement) made; a replacement that starts with
    four spaces is added after the text instead."""
    text = sandbox.config_yaml
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, old + new if new.startswith("    ") else new, 1)
    Path(path).write_text(text, encoding="utf-8")


def on(monkeypatch: pytest.MonkeyPatch, day: date, at: time = time(12)) -> None:
    monkeypatch.setattr(clock, "utc_moment", lambda: datetime.combine(day, at, UTC))


def midnight_in_the_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """The read begins at 23:59:30 on the mapping's last day and ends the next day."""
    on(monkeypatch, LAST_DAY, time(23, 59, 30))
    read = planning.read_sources

    def across_midnight(*args: Any, **kwargs: Any) -> planning.Sources:
        sources = read(*args, **kwargs)
        on(monkeypatch, date(2026, 12, 11), time(0, 0, 30))
        return sources

    reading: Callable[..., planning.Sources] = across_midnight
    monkeypatch.setattr(planning, "read_sources", reading)


def on_github(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def plan_file(capsys: pytest.CaptureFixture[str], out: str = "plan.json") -> dict[str, Any]:
    code, _, err = run(capsys, "plan", "--out", out)
    assert code == 0, err
    data: dict[str, Any] = json.loads(Path(out).read_text(encoding="utf-8"))
    return data


def roles(sandbox: RunningSandbox, user: str) -> list[str]:
    found = next(u for u in sandbox.scim.users() if u["userName"] == user)
    return [r["value"] for r in found.get("roles", [])]


# --- policy changes ----------------------------------------------------------------------------

WEAKER_AND_STRICTER = (
    ("max_deactivations: 10", "max_deactivations: 50"),
    ("protected:\n  - breakglass@contoso.com   # the emergency owner account: never changed\n",
     "protected: []\n"),
    ("on_removed: deactivate", "on_removed: keep"),
    ("min_owners: 1", "min_owners: 0"),
)  # fmt: skip


def test_plan_with_the_trusted_config_shows_policy_changes_in_json_text_and_the_comment(
    sandbox: RunningSandbox,
    github: Emulator,
    make_env: MakeEnv,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write(sandbox, "trusted.yaml")
    write(sandbox, "config/mappings.yaml", *WEAKER_AND_STRICTER)
    on_github(monkeypatch, make_env(github))

    code, out, err = run(
        capsys, "plan", "--trusted-config", "trusted.yaml", "--out", "plan.json", "--comment"
    )

    assert code == 0, err
    saved = Path("plan.json").read_text(encoding="utf-8")
    assert json.loads(saved)["policy_changes"] == [
        {"key": "on_removed", "old": "deactivate", "new": "keep", "weakens": False},
        {"key": "protected", "old": "breakglass@contoso.com", "new": None, "weakens": True},
        {"key": "limits.max_deactivations", "old": 10, "new": 50, "weakens": True},
        {"key": "limits.min_owners", "old": 1, "new": 0, "weakens": True},
    ]
    assert labels.POLICY in labels.plan_labels(planfile.loads(saved), OWNER)
    assert "  ~ limits.max_deactivations: 10 -> 50  [weakens a safeguard]\n" in out
    assert "  - protected: breakglass@contoso.com  [weakens a safeguard]\n" in out
    (comment,) = github.state.comments[7]
    lines = comment["body"].splitlines()
    assert lines[1].startswith("**Plan: ")
    assert lines[3] == "> [!CAUTION]"
    assert "> - `on_removed`: deactivate -&gt; keep" in lines[5:10]
    assert "> - `limits.min_owners`: 1 -&gt; 0 (**weakens a safeguard**)" in lines[5:10]
    assert lines.index("> - `on_removed`: deactivate -&gt; keep") < lines.index(
        next(line for line in lines if line.startswith("<details>"))
    )
    for secret in (
        sandbox.environ["NEURALTRUST_SCIM_TOKEN"],
        sandbox.environ["AZURE_CLIENT_SECRET"],
    ):
        assert secret not in saved + out + err + comment["body"]


@pytest.mark.parametrize(
    "base",
    [(), (("nested_groups: true", "nested_groups: yes"),)],
    ids=["a valid base", "a base this version refuses, read for its routing and first role"],
)
def test_putting_another_role_first_weakens_policy_and_granting_either_is_privileged(
    base: tuple[tuple[str, str], ...],
    sandbox: RunningSandbox,
    github: Emulator,
    make_env: MakeEnv,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The reviewed config makes admin the owner role (what min_owners counts) and maps
    # NT-Admins to owner: its grants of `owner` are privileged still, by the trusted config.
    # Refused, the base's settings are not compared: the plan is labelled `policy` all the same.
    write(sandbox, "trusted.yaml", *base)
    write(
        sandbox,
        "config/mappings.yaml",
        ("roles: [owner, admin, member]", "roles: [admin, owner, member]"),
        ("name: NT-Admins\n    role: admin", "name: NT-Admins\n    role: owner"),
    )
    on_github(monkeypatch, make_env(github))

    code, out, err = run(capsys, "plan", "--trusted-config", "trusted.yaml", "--comment")

    assert code == 0, err
    roles_lines = [line for line in out.splitlines() if line.startswith("  ~ roles: ")]
    assert [line.endswith("[weakens a safeguard]") for line in roles_lines] == (
        [] if base else [True]
    )
    assert "-> owner" in out  # NT-Admins' members now get owner
    assert {labels.PRIVILEGED, labels.POLICY} <= set(github.state.labels[7])


def test_without_the_trusted_config_the_plan_file_has_no_policy_key(
    sandbox: RunningSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    write(sandbox, "config/mappings.yaml", *WEAKER_AND_STRICTER)
    assert "policy_changes" not in plan_file(capsys)


def test_an_unchanged_policy_lists_nothing_and_earns_no_label(
    sandbox: RunningSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    write(sandbox, "trusted.yaml")
    write(sandbox, "config/mappings.yaml", EXPIRING)  # a mappings change only
    code, out, err = run(capsys, "plan", "--trusted-config", "trusted.yaml", "--out", "p.json")
    assert code == 0, err
    assert "Policy changes" not in out
    saved = planfile.loads(Path("p.json").read_bytes())
    assert saved.policy_changes == ()
    assert labels.POLICY not in labels.plan_labels(saved, OWNER)


def test_a_base_config_this_version_refuses_is_compared_for_routing_only(
    sandbox: RunningSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    # Written by an older entrasync, the base file fails a check added since (a YAML 1.1
    # boolean): the pull request that fixes it, and every other, must still be planned.
    write(sandbox, "trusted.yaml", ("nested_groups: true", "nested_groups: yes"))
    write(sandbox, "config/mappings.yaml", *WEAKER_AND_STRICTER)
    code, out, err = run(capsys, "plan", "--trusted-config", "trusted.yaml", "--out", "p.json")
    assert code == 0, err
    said = "--trusted-config trusted.yaml does not pass this entrasync's checks (1 problem, first:"
    assert said in out  # with the plan, and in the plan file: its settings were not compared
    saved = planfile.loads(Path("p.json").read_bytes())
    assert saved.policy_changes == ()
    assert any(w.startswith(said) for w in saved.warnings)

    # Where credentials go is compared all the same.
    write(
        sandbox,
        "config/mappings.yaml",
        ("neuraltrust:\n", "neuraltrust:\n  scim_url: https://nt.example.com/v2\n"),
    )
    code, _, err = run(capsys, "plan", "--trusted-config", "trusted.yaml")
    assert code == 1
    assert "changes neuraltrust.scim_url, which decides where credentials are sent" in err


# --- expiring mappings -------------------------------------------------------------------------


def test_a_mapping_grants_through_its_last_day_and_from_the_next_as_auto_sync_false(
    sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write(sandbox, "config/mappings.yaml", EXPIRING)
    on(monkeypatch, LAST_DAY)
    last_day = plan_file(capsys)
    on(monkeypatch, date(2026, 12, 11))
    next_day = plan_file(capsys)
    write(sandbox, "config/mappings.yaml", (EXPIRING[0], "    auto_sync: false\n"))
    unsynced = plan_file(capsys)

    admins = [c["user"] for c in last_day["changes"] if c["after"]["role"] == "admin"]
    assert admins == ["bob@contoso.com", "heidi@contoso.com"]
    assert "mapping NT-Admins expires on 2026-12-10 (in 0 days)" in last_day["warnings"]
    assert not [c for c in next_day["changes"] if c["after"]["role"] == "admin"]
    assert next_day["warnings"][0] == "mapping NT-Admins expired on 2026-12-10"
    assert "group NT-Admins has auto_sync: false" not in next_day["warnings"]
    assert next_day["changes"] == unsynced["changes"]
    assert next_day["orphans"] == unsynced["orphans"]
    assert next_day["violations"] == unsynced["violations"]


def test_a_plan_saved_before_the_expiry_and_applied_after_it_grants_nothing(
    sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write(sandbox, "config/mappings.yaml", EXPIRING)
    on(monkeypatch, LAST_DAY)
    plan_file(capsys)
    on(monkeypatch, date(2026, 12, 11))

    code, _, err = run(capsys, "apply", "plan.json", "--audit-dir", "audit")

    assert code == 1
    assert "a fresh plan does not make" in err
    assert "update bob@contoso.com (admin)" in err
    # Said before the refusal: the expiry explains it (the refusal blamed Entra or an edit).
    said = err.index("warning: mapping NT-Admins expired on 2026-12-10")
    assert said < err.index("error: stale plan: Entra changed since the plan, a mapping expired")
    assert roles(sandbox, "bob@contoso.com") == ["member"]


def test_a_plan_is_made_as_of_the_moment_its_read_began(
    sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Its created_at and the day its mappings are held against are one moment's: the plan does
    # not say it was made after midnight while it grants for the day before.
    write(sandbox, "config/mappings.yaml", EXPIRING)
    midnight_in_the_read(monkeypatch)

    made = plan_file(capsys)

    assert made["created_at"] == "2026-12-10T23:59:30Z"
    assert "mapping NT-Admins expires on 2026-12-10 (in 0 days)" in made["warnings"]


def test_apply_refuses_a_fresh_plan_when_a_mapping_expires_before_its_first_write(
    sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write(sandbox, "config/mappings.yaml", EXPIRING)
    midnight_in_the_read(monkeypatch)

    code, out, err = run(capsys, "apply", "--auto-approve", "--audit-dir", "audit")

    assert code == 1
    assert "update bob@contoso.com" in out  # to admin: the plan made on the last day, shown
    assert (
        "error: stale plan: 1 mapping expired after the plan was made at 2026-12-10T23:59:30Z "
        "(NT-Admins on 2026-12-10), and the plan may grant through it; nothing was changed"
    ) in err
    assert "hint: run `entrasync apply` again: a plan made now leaves" in err
    assert roles(sandbox, "bob@contoso.com") == ["member"]
    (audit,) = Path("audit").glob("*.jsonl")
    last = json.loads(audit.read_text(encoding="utf-8").splitlines()[-1])
    assert (last["type"], last["result"]) == ("apply_finished", "refused")
    assert last["reason"].startswith("stale plan: 1 mapping expired after the plan was made")


def test_apply_refuses_a_saved_plan_when_a_mapping_expires_during_its_check(
    sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The plan made now, on the last day, agrees with the saved one; the writes would come after.
    write(sandbox, "config/mappings.yaml", EXPIRING)
    on(monkeypatch, LAST_DAY)
    plan_file(capsys)
    midnight_in_the_read(monkeypatch)

    code, _, err = run(capsys, "apply", "plan.json", "--audit-dir", "audit")

    assert code == 1
    assert (
        "error: stale plan: 1 mapping expired after the plan was made at 2026-12-10T23:59:30Z"
        in err
    )
    assert "hint: make a new plan with `entrasync plan --out FILE`" in err
    assert roles(sandbox, "bob@contoso.com") == ["member"]


def test_a_plan_applied_the_day_after_it_was_made_but_before_the_expiry_is_not_stale(
    sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Its warning said "in 2 days"; a plan made now says "in 1 days": only changes are compared.
    write(sandbox, "config/mappings.yaml", EXPIRING)
    on(monkeypatch, date(2026, 12, 8))
    assert "(in 2 days)" in plan_file(capsys)["warnings"][0]
    on(monkeypatch, date(2026, 12, 9))

    code, out, err = run(capsys, "apply", "plan.json", "--audit-dir", "audit")

    assert code == 0, err
    assert "Apply complete:" in out
    assert roles(sandbox, "bob@contoso.com") == ["admin"]


def test_the_drift_issue_carries_the_expiry_warning(
    sandbox: RunningSandbox,
    github: Emulator,
    make_env: MakeEnv,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write(sandbox, "config/mappings.yaml", EXPIRING)
    on(monkeypatch, date(2026, 12, 7))
    assert plan_file(capsys, "drift.json")["summary"]["create"] > 0  # drift to report
    on_github(monkeypatch, make_env(github))

    code, _, err = run(capsys, "github", "drift-issue", "--plan", "drift.json")

    assert code == 0, err
    (issue,) = github.state.issues
    assert escape("mapping NT-Admins expires on 2026-12-10 (in 3 days)") in issue["body"]
