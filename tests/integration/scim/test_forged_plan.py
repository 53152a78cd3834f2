"""`entrasync apply PLAN_FILE` checks a saved plan, it does not trust it (docs/safety.md, "A
saved plan is checked, not trusted").

The demo tenant on the Graph emulator and the SCIM sandbox, both on loopback. A plan is made
with `entrasync plan --out`, then edited as an attacker who can replace the artifact would, its
digest recomputed by entrasync's own plan writer, so the file reads as whole; or Entra is
changed in the emulator between plan and apply. The SCIM server's users are compared whole
(``meta.version`` and ``lastModified`` included), so any write shows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from entrasync.adapters.audit.chain import verify_audit
from entrasync.cli import main
from entrasync.core import planfile
from entrasync.core.plan import Access, Action, Change, Plan
from entrasync.sandbox.runner import RunningSandbox, running_sandbox
from entrasync.sandbox.tenant import SandboxGroup, SandboxTenant, SandboxUser
from entrasync.sandbox.tenant_demo import BREAKGLASS, ERIN

PLAN = "plan.json"


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningSandbox]:
    with running_sandbox() as running:
        for name, value in running.environ.items():
            monkeypatch.setenv(name, value)
        for name in ("GITHUB_STEP_SUMMARY", "GITHUB_ACTIONS", "ENTRASYNC_CONFIG"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.chdir(tmp_path)
        (tmp_path / "config").mkdir()
        (tmp_path / "config" / "mappings.yaml").write_text(running.config_yaml)
        yield running


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def make_plan(capsys: pytest.CaptureFixture[str]) -> Plan:
    code, _, err = run(capsys, "plan", "--out", PLAN)
    assert code == 0, err
    return planfile.loads(Path(PLAN).read_text())


def save(plan: Plan) -> None:
    """Write ``plan`` as entrasync writes a plan: its digest recomputed over the edit."""
    Path(PLAN).write_text(planfile.dumps(plan))
    assert planfile.loads(Path(PLAN).read_text()) == plan  # the file reads as whole


def apply(capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    return run(capsys, "apply", PLAN, "--audit-dir", "audit")


def writes(sandbox: RunningSandbox) -> int:
    by_method = sandbox.scim.counters.by_method
    return sum(by_method.get(m, 0) for m in ("POST", "PATCH", "PUT", "DELETE"))


def last_audit() -> list[dict[str, Any]]:
    newest = max(Path("audit").glob("*.jsonl"), key=lambda p: (p.stat().st_mtime_ns, p.name))
    assert verify_audit(newest).ok
    return [json.loads(line) for line in newest.read_text().splitlines()]


def scim_id(sandbox: RunningSandbox, user_name: str) -> str:
    return next(str(u["id"]) for u in sandbox.scim.users() if u["userName"] == user_name)


def edit_tenant(sandbox: RunningSandbox, edit: Callable[[SandboxTenant], SandboxTenant]) -> None:
    """Change the emulated Entra tenant, as an admin would between plan and apply."""
    tenant = edit(sandbox.graph.tenant)
    sandbox.graph.tenant = tenant
    sandbox.graph.api.tenant = tenant


def with_group(tenant: SandboxTenant, name: str, user_ids: tuple[str, ...]) -> SandboxTenant:
    groups = tuple(
        replace(g, user_ids=user_ids) if g.display_name == name else g for g in tenant.groups
    )
    return replace(tenant, groups=groups)


def group(tenant: SandboxTenant, name: str) -> SandboxGroup:
    return next(g for g in tenant.groups if g.display_name == name)


OWNER = Access("owner", None, True)


def outsider_as_owner(plan: Plan) -> Plan:
    mallory = Change(
        action=Action.CREATE,
        user="mallory@evil.example",
        entra_id="6d1f0000-5a1e-4c0d-8e00-000000000666",
        display_name="Mallory",
        email="mallory@evil.example",
        before=None,
        after=OWNER,
        groups=("NT-Owners",),
        decided_by="NT-Owners",
        reason="in NT-Owners, not in NeuralTrust",
        user_name="mallory@evil.example",
    )
    return replace(plan, changes=(*plan.changes, mallory))


def promoted_to_owner(plan: Plan) -> Plan:
    changes = tuple(
        replace(c, after=OWNER) if c.user == "bob@contoso.com" else c for c in plan.changes
    )
    assert changes != plan.changes
    return replace(plan, changes=changes)


@pytest.mark.parametrize(
    ("forge", "refusal"),
    [
        (
            outsider_as_owner,
            "It holds 1 change a fresh plan does not make: create mallory@evil.example (owner): "
            "a fresh plan makes no such change; nothing was changed",
        ),
        (
            promoted_to_owner,
            "It holds 1 change a fresh plan does not make: update bob@contoso.com (owner): "
            "a fresh plan differs in after; nothing was changed",
        ),
    ],
    ids=["an added owner", "a member promoted to owner"],
)
def test_a_forged_plan_with_a_recomputed_digest_is_refused_and_nothing_is_written(
    sandbox: RunningSandbox,
    capsys: pytest.CaptureFixture[str],
    forge: Callable[[Plan], Plan],
    refusal: str,
) -> None:
    save(forge(make_plan(capsys)))
    before = sandbox.scim.users()

    code, _, err = apply(capsys)

    assert code == 1
    assert refusal in err
    assert (
        "error: stale plan: Entra changed since the plan, a mapping expired, or the plan file "
        "was edited" in err
    )
    assert "hint: make a new plan with `entrasync plan --out FILE`, review it, and apply it" in err
    assert "Traceback" not in err
    assert writes(sandbox) == 0
    assert sandbox.scim.users() == before
    assert last_audit()[-1]["result"] == "refused"


def test_a_plan_that_deactivates_a_protected_user_is_refused_naming_the_user(
    sandbox: RunningSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = make_plan(capsys)
    was = Access("owner", None, True)
    breakglass = Change(
        action=Action.DEACTIVATE,
        user="breakglass@contoso.com",
        entra_id=None,
        display_name="Break Glass",
        email="breakglass@contoso.com",
        before=was,
        after=replace(was, active=False),
        groups=(),
        decided_by=None,
        reason="no longer in a mapped group",
        target_id=scim_id(sandbox, "breakglass@contoso.com"),
    )
    save(replace(plan, changes=(*plan.changes, breakglass)))
    before = sandbox.scim.users()

    code, _, err = apply(capsys)

    assert code == 1
    assert (
        f"error: the plan {planfile.loads(Path(PLAN).read_text()).digest[:12]} would write "
        "1 protected user, which entrasync never changes: deactivate breakglass@contoso.com "
        "(protected: breakglass@contoso.com); nothing was changed"
    ) in err
    assert "Traceback" not in err
    assert writes(sandbox) == 0
    assert sandbox.scim.users() == before
    assert last_audit()[-1]["result"] == "refused"


def test_a_plan_entra_has_overtaken_is_refused_as_stale(
    sandbox: RunningSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    make_plan(capsys)
    # Erin leaves NT-Contractors (her only way into NT-Platform): the plan's create of her is
    # no longer what the mappings ask for.
    contractors = group(sandbox.graph.tenant, "NT-Contractors")
    assert contractors.user_ids == (ERIN,)
    edit_tenant(sandbox, lambda t: with_group(t, "NT-Contractors", ()))
    before = sandbox.scim.users()

    code, _, err = apply(capsys)

    assert code == 1
    assert (
        "It holds 1 change a fresh plan does not make: create erin@contoso.com "
        "(member, products trustgate, trusttest): a fresh plan makes no such change"
    ) in err
    assert (
        "error: stale plan: Entra changed since the plan, a mapping expired, or the plan file "
        "was edited" in err
    )
    assert writes(sandbox) == 0
    assert sandbox.scim.users() == before


def test_changes_found_now_that_the_plan_lacks_are_not_applied_and_counted(
    sandbox: RunningSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    planned = make_plan(capsys)
    zoe = SandboxUser(
        id="6d1f0000-5a1e-4c0d-8e00-000000000026",
        user_principal_name="zoe@contoso.com",
        mail="zoe@contoso.com",
        display_name="Zoe Adams",
        given_name="Zoe",
        surname="Adams",
    )

    def zoe_joins_platform(tenant: SandboxTenant) -> SandboxTenant:
        platform = group(tenant, "NT-Platform")
        joined = with_group(tenant, "NT-Platform", (*platform.user_ids, zoe.id))
        return replace(joined, users=(*tenant.users, zoe))

    edit_tenant(sandbox, zoe_joins_platform)

    code, out, err = apply(capsys)

    assert code == 0, err
    assert f"Apply complete: {len(planned.changes)} succeeded, 0 failed, 0 skipped." in out
    assert (
        "warning: 1 change found now that the plan does not hold was not applied; "
        "run `entrasync plan` to review it"
    ) in err
    user_names = {u["userName"].lower() for u in sandbox.scim.users()}
    assert "erin@contoso.com" in user_names  # the plan's changes are made
    assert "zoe@contoso.com" not in user_names  # the one nobody reviewed is not
    code, out, _ = run(capsys, "plan")
    assert "+ create zoe@contoso.com" in out


def test_applying_a_plan_twice_is_already_applied_the_second_time(
    sandbox: RunningSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    make_plan(capsys)
    assert apply(capsys)[0] == 0
    done = writes(sandbox)

    code, out, err = apply(capsys)

    assert code == 0, err
    assert "This plan is already applied: NeuralTrust shows every change." in out
    assert "not applied" not in err
    assert writes(sandbox) == done
    assert last_audit()[-1]["result"] == "already applied"


def test_a_synced_group_emptied_since_the_plan_stops_the_plan_for_safety(
    sandbox: RunningSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = make_plan(capsys)
    assert any(c.action is Action.DEACTIVATE for c in plan.changes)
    # NT-Owners loses its only member: the plan's changes are still what a fresh plan makes
    # (Alice's deactivation is a change the plan lacks), but a plan that deactivates while a
    # synced group reads empty is what a broken directory read looks like.
    edit_tenant(sandbox, lambda t: with_group(t, "NT-Owners", ()))
    before = sandbox.scim.users()

    code, _, err = apply(capsys)

    assert code == 1
    assert "source_health: synced group NT-Owners resolved to 0 members" in err
    # The plan's reviewers never saw this rule broken: the way on is a new plan, not its digest.
    assert "hint: make the change safe, or make a new plan with `entrasync plan --out FILE`" in err
    assert "--force-unsafe " + plan.digest[:12] not in err
    assert "not applied" not in err  # nothing runs: no word on what a run leaves out
    assert writes(sandbox) == 0
    assert sandbox.scim.users() == before


def test_an_override_covers_only_the_violations_its_plan_shows(
    sandbox: RunningSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """The reviewers accepted the one deactivation over the limit; an override typed for it
    must not also let through the deactivations of a plan Entra now reads as broken."""
    config = Path("config/mappings.yaml")
    config.write_text(config.read_text().replace("max_deactivations: 10", "max_deactivations: 0"))
    code, _, err = run(capsys, "plan", "--out", PLAN)
    assert code == 1, err
    plan = planfile.loads(Path(PLAN).read_text())
    assert [v.rule for v in plan.violations] == ["max_deactivations"]
    entra = sandbox.graph.tenant
    edit_tenant(sandbox, lambda t: with_group(t, "NT-Owners", ()))
    before = sandbox.scim.users()
    override = ("apply", PLAN, "--audit-dir", "audit", "--force-unsafe", plan.digest[:12])

    code, _, err = run(capsys, *override)

    assert code == 1
    assert f"error: the plan {plan.digest[:12]} breaks 1 safety limit it does not show" in err
    assert "source_health: synced group NT-Owners resolved to 0 members" in err
    assert "hint: make a new plan with `entrasync plan --out FILE`, review it" in err
    assert writes(sandbox) == 0
    assert sandbox.scim.users() == before
    assert last_audit()[-1]["result"] == "refused"

    # Entra as it was, the same override applies the plan it was typed for.
    edit_tenant(sandbox, lambda _: entra)
    code, _, err = run(capsys, *override)
    assert code == 0, err
    assert writes(sandbox) == len(plan.changes)
    started = last_audit()[0]
    assert [v["rule"] for v in started["force_unsafe"]["overridden"]] == ["max_deactivations"]


def test_a_saved_plans_violation_is_told_and_recorded_as_found_not_as_the_file_words_it(
    sandbox: RunningSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file edited to make its violation read as harmless, not to drop it, keeps the rule
    its reviewers saw; the refusal, the override and the audit say what apply finds."""
    config = Path("config/mappings.yaml")
    config.write_text(config.read_text().replace("max_deactivations: 10", "max_deactivations: 0"))
    code, _, err = run(capsys, "plan", "--out", PLAN)
    assert code == 1, err
    plan = planfile.loads(Path(PLAN).read_text())
    (violation,) = plan.violations
    harmless = "limits.max_deactivations (0) is reached by 0 users: informational only"
    save(replace(plan, violations=(replace(violation, message=harmless),)))
    forged = planfile.loads(Path(PLAN).read_text())
    found = "max_deactivations: the plan deactivates 1 user, more than limits.max_deactivations"

    code, _, err = apply(capsys)

    assert code == 1
    assert found in err
    assert harmless not in err
    assert writes(sandbox) == 0
    code, _, err = run(
        capsys, "apply", PLAN, "--audit-dir", "audit", "--force-unsafe", forged.digest
    )
    assert code == 0, err
    assert found in err
    assert harmless not in err
    (overridden,) = last_audit()[0]["force_unsafe"]["overridden"]
    assert overridden["message"] == violation.message != harmless
    # Applied, then given a digest of no plan: refused, and nothing of the file's words.
    code, _, err = run(capsys, "apply", PLAN, "--audit-dir", "audit", "--force-unsafe", "0" * 12)
    assert code == 1
    assert harmless not in json.dumps(last_audit())


def test_a_limit_the_plan_file_shows_broken_needs_its_override_though_apply_no_longer_finds_it(
    sandbox: RunningSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """The plan was refused for it, and its reviewers saw that: Entra changing since (a group
    no longer empty, the same changes still made) does not approve it."""
    edit_tenant(sandbox, lambda t: with_group(t, "NT-Contractors", ()))
    code, _, err = run(capsys, "plan", "--out", PLAN)
    assert code == 1, err
    plan = planfile.loads(Path(PLAN).read_text())
    assert [v.rule for v in plan.violations] == ["source_health"]
    edit_tenant(sandbox, lambda t: with_group(t, "NT-Contractors", (BREAKGLASS,)))  # protected
    before = sandbox.scim.users()

    code, _, err = apply(capsys)

    assert code == 1
    assert (
        "source_health: the plan file shows this limit broken; apply does not find it broken now"
        in err
    )
    assert f"--force-unsafe {plan.digest[:12]}" in err
    assert writes(sandbox) == 0
    assert sandbox.scim.users() == before
    code, _, err = run(capsys, "apply", PLAN, "--audit-dir", "audit", "--force-unsafe", plan.digest)
    assert code == 0, err
    assert writes(sandbox) == len(plan.changes)
