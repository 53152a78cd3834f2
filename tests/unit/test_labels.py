"""The labels a plan earns: one of changes / no changes, plus deactivations, privileged,
unsafe and policy."""

from __future__ import annotations

from entrasync.core import labels
from entrasync.core.items import Access, Action, Change, Violation
from entrasync.core.plan import Plan
from entrasync.core.policy import PolicyChange

OWNER = frozenset({"owner"})


def change(
    action: Action, before: tuple[str | None, bool] | None, after: tuple[str | None, bool]
) -> Change:
    return Change(
        action=action,
        user="alice@contoso.com",
        entra_id="id-alice",
        display_name="Alice",
        email="alice@contoso.com",
        before=Access(before[0], None, before[1]) if before else None,
        after=Access(after[0], None, after[1]),
        groups=("NT-Admins",),
        decided_by="NT-Admins",
        reason="r",
    )


def plan(*changes: Change, **fields: object) -> Plan:
    return Plan("c.yaml", "0" * 64, "https://nt.example", "0" * 64, changes=changes, **fields)  # type: ignore[arg-type]


def test_an_empty_plan_is_no_changes_only() -> None:
    assert labels.plan_labels(plan(), OWNER) == {labels.NO_CHANGES}


def test_a_member_update_is_changes_only() -> None:
    update = change(Action.UPDATE, ("member", True), ("admin", True))
    assert labels.plan_labels(plan(update), OWNER) == {labels.CHANGES}


def test_granting_or_taking_the_owner_role_is_privileged() -> None:
    grant = change(Action.UPDATE, ("admin", True), ("owner", True))
    create = change(Action.CREATE, None, ("owner", True))
    demote = change(Action.UPDATE, ("owner", True), ("admin", True))
    for earned in (grant, create, demote):
        assert labels.PRIVILEGED in labels.plan_labels(plan(earned), OWNER)


def test_the_owner_role_in_another_case_or_with_blanks_is_the_owner_role() -> None:
    # SCIM role values are not case-exact: NeuralTrust may take "Owner" for an owner, or not.
    for read in ("Owner", "owner ", " OWNER"):
        demote = change(Action.UPDATE, (read, True), ("admin", True))
        assert labels.PRIVILEGED in labels.plan_labels(plan(demote), OWNER), read
        respelt = change(Action.UPDATE, (read, True), ("owner", True))  # may grant it
        assert labels.PRIVILEGED in labels.plan_labels(plan(respelt), OWNER), read


def test_overwriting_or_deactivating_a_role_neuraltrust_did_not_send_is_privileged() -> None:
    # min_owners counts such a user among the owners a plan may take away: the label did not.
    overwritten = change(Action.UPDATE, (None, True), ("admin", True))
    gone = change(Action.DEACTIVATE, (None, True), (None, False))
    for earned in (overwritten, gone):
        assert labels.PRIVILEGED in labels.plan_labels(plan(earned), OWNER)
    back = change(Action.REACTIVATE, (None, False), ("admin", True))  # inactive: no owner
    assert labels.PRIVILEGED not in labels.plan_labels(plan(back), OWNER)


def test_deactivating_an_owner_is_privileged_and_a_deactivation() -> None:
    gone = change(Action.DEACTIVATE, ("owner", True), ("owner", False))
    assert labels.plan_labels(plan(gone), OWNER) == {
        labels.CHANGES,
        labels.DEACTIVATIONS,
        labels.PRIVILEGED,
    }


def test_violations_are_unsafe_and_weakening_policy_is_policy() -> None:
    unsafe = plan(violations=(Violation("max_deactivations", "too many"),))
    assert labels.UNSAFE in labels.plan_labels(unsafe, OWNER)
    mild = plan(policy_changes=(PolicyChange("limits.min_owners", 1, 2),))
    assert labels.POLICY not in labels.plan_labels(mild, OWNER)
    weak = plan(policy_changes=(PolicyChange("limits.max_deactivations", 5, 50, weakens=True),))
    assert labels.POLICY in labels.plan_labels(weak, OWNER)
    # A trusted config read for its routing keys alone: whether a safeguard is weakened is
    # not known, so the plan is labelled as if one were.
    assert labels.plan_labels(plan(), OWNER, settings_compared=False) == {
        labels.NO_CHANGES,
        labels.POLICY,
    }


def test_only_the_labels_a_plan_sets_are_ours() -> None:
    assert all(labels.is_ours(name) for name in labels.ALL)
    assert labels.is_ours("Entrasync: Changes")
    assert not labels.is_ours("entrasync-manual")
    assert not labels.is_ours("entrasync: signed-off")


def test_a_grant_of_any_owner_role_given_is_privileged() -> None:
    # A pull request that puts admin first: granting the trusted config's owner role too.
    grant = Change(
        Action.UPDATE, "a@x", "id", "A", "a@x", Access("member", None, True),
        Access("owner", None, True), (), None, "",
    )  # fmt: skip
    assert labels.PRIVILEGED not in labels.plan_labels(plan(grant), frozenset({"admin"}))
    assert labels.PRIVILEGED in labels.plan_labels(plan(grant), frozenset({"admin", "owner"}))
