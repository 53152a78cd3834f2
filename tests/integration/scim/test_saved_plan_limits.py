"""A saved plan's own ``violations`` are not trusted: `apply PLAN_FILE` checks the limits again
as `plan` did, users protected by their Entra name left out of the percent base.

The Graph emulator and the SCIM sandbox on loopback. Five NeuralTrust users are managed; one
of them is protected by its Entra UPN while its NeuralTrust userName differs, so only what
the mappings resolve (not the NeuralTrust read alone) shows it is protected.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from entrasync.cli import main
from entrasync.core import planfile
from entrasync.sandbox.tenant import SandboxGroup, SandboxTenant, SandboxUser, SeedScimUser
from tests.integration.e2e.loopback import serve_both
from tests.integration.scim.entra_scenario import CLIENT_ID, TENANT_ID

GROUP = "1c0a0000-0000-4000-8000-000000000009"
CONFIG = f"""\
version: 1
neuraltrust: {{role_attribute: roles, products_attribute: entitlements}}
roles: [owner, admin, member]
on_removed: deactivate
protected: [p@contoso.com]
limits: {{max_deactivations: 10, max_deactivation_percent: 40, min_owners: 0}}
mappings:
  - id: {GROUP}
    role: member
"""


def _user(n: str) -> SandboxUser:
    return SandboxUser(f"e-{n}", f"{n}@contoso.com", f"{n}@contoso.com", n)


def test_a_saved_plan_edited_to_drop_its_percent_violation_is_still_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    users = tuple(_user(n) for n in ("u1", "u2", "u3", "u4", "p"))
    tenant = SandboxTenant(
        TENANT_ID, CLIENT_ID, users, (SandboxGroup(GROUP, "NT-Members", ("e-u1", "e-u2", "e-p")),)
    )
    members = [
        SeedScimUser(f"{n}@contoso.com", f"e-{n}", n, f"{n}@contoso.com", True, "member")
        for n in ("u1", "u2", "u3", "u4")
    ]
    # Protected by its Entra UPN p@contoso.com; NeuralTrust knows it by another userName.
    owner = SeedScimUser("p.alias@contoso.com", "e-p", "P", "p.alias@contoso.com", True, "owner")
    seed = (*members, owner)
    with serve_both(tenant, seed, CONFIG, tmp_path, monkeypatch) as served:
        assert main(["--config", "mappings.yaml", "plan", "--out", "plan.json"]) == 1
        plan = planfile.loads(Path("plan.json").read_text())
        assert [v.rule for v in plan.violations] == ["max_deactivation_percent"]
        assert "2 of 4 active managed users" in plan.violations[0].message
        # Replaced as an attacker with the artifact would: violations gone, digest made anew.
        edited = json.loads(planfile.dumps(plan.with_violations(())))
        Path("plan.json").write_text(json.dumps(edited))
        capsys.readouterr()

        code = main(["--config", "mappings.yaml", "apply", "plan.json", "--audit-dir", "audit"])

        err = capsys.readouterr().err
        assert code == 1
        assert "max_deactivation_percent" in err
        assert "2 of 4 active managed users" in err
        assert all(u["active"] for u in served.scim.users())


def test_a_saved_plan_cut_down_to_pass_the_limits_answers_for_the_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Each change kept is one a fresh plan makes, so the file passes the freshness check; one
    # deactivation of four managed users is under the percent limit, the fresh plan's two not.
    users = tuple(_user(n) for n in ("u1", "u2", "u3", "u4"))
    tenant = SandboxTenant(
        TENANT_ID, CLIENT_ID, users, (SandboxGroup(GROUP, "NT-Members", ("e-u1", "e-u2")),)
    )
    seed = tuple(
        SeedScimUser(f"{n}@contoso.com", f"e-{n}", n, f"{n}@contoso.com", True, "member")
        for n in ("u1", "u2", "u3", "u4")
    )
    with serve_both(tenant, seed, CONFIG, tmp_path, monkeypatch) as served:
        assert main(["--config", "mappings.yaml", "plan", "--out", "plan.json"]) == 1
        plan = planfile.loads(Path("plan.json").read_text())
        assert [c.action.value for c in plan.changes][-2:] == ["deactivate", "deactivate"]
        cut = replace(plan, changes=plan.changes[:-1]).with_violations(())
        Path("plan.json").write_text(planfile.dumps(cut))
        capsys.readouterr()
        apply = ["--config", "mappings.yaml", "apply", "plan.json", "--audit-dir", "audit"]

        assert main(apply) == 1
        err = capsys.readouterr().err
        assert "max_deactivation_percent" in err
        whole = len(plan.changes)
        assert f"(a plan made now breaks it, and this plan holds {whole - 1} of its {whole} " in err
        assert err.count("max_deactivation_percent:") == 1
        assert all(u["active"] for u in served.scim.users())

        # Its digest does not override a limit the file does not show: a new plan shows it.
        assert main([*apply, "--force-unsafe", cut.digest]) == 1
        err = capsys.readouterr().err
        assert f"the plan {cut.short_digest} breaks 1 safety limit it does not show" in err
        assert all(u["active"] for u in served.scim.users())
        # Nor another plan's: to copy this one's digest would not help either.
        assert main([*apply, "--force-unsafe", "0" * 12]) == 1
        err = capsys.readouterr().err
        assert f"the plan {cut.short_digest} breaks 1 safety limit it does not show" in err
        assert main(["--config", "mappings.yaml", "plan", "--out", "plan.json"]) == 1
        new = planfile.loads(Path("plan.json").read_text())
        assert main([*apply, "--force-unsafe", new.short_digest]) == 0
        assert sum(not u["active"] for u in served.scim.users()) == 2
