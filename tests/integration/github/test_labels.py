"""The pull request labels a plan earns, kept in step on GitHub (issue labels)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from entrasync.adapters.github.rest import GitHubPlatform
from entrasync.adapters.review.publish import publish_plan
from entrasync.core import labels
from entrasync.core.plan import Action, Plan, Violation
from entrasync.errors import GitHubError
from tests.integration.github.emulator import Emulator
from tests.integration.github.env import MakeEnv
from tests.integration.github.plans import change, plan_of


def publish(plan: Plan, env: dict[str, str]) -> frozenset[str]:
    return publish_plan(
        plan, config_path="config/mappings.yaml", owner_roles=frozenset({"owner"}), environ=env
    ).labels


def test_labels_follow_each_plan_and_labels_without_the_prefix_stay(
    github: Emulator, make_env: MakeEnv
) -> None:
    github.state.labels[7] = ["dependencies", "entrasync: unsafe", "Entrasync: changes"]
    risky = plan_of(
        change("a@contoso.com", role="owner"), change("z@contoso.com", Action.DEACTIVATE)
    )
    first = publish(risky, make_env(github))
    after_first = sorted(github.state.labels[7])
    publish(plan_of(), make_env(github))

    assert first == {labels.CHANGES, labels.DEACTIVATIONS, labels.PRIVILEGED}
    # "Entrasync: changes" is ours in another case (GitHub matches label names case-blind).
    assert after_first == sorted(
        ["dependencies", "Entrasync: changes", labels.DEACTIVATIONS, labels.PRIVILEGED]
    )
    assert sorted(github.state.labels[7]) == ["dependencies", labels.NO_CHANGES]
    assert github.calls("DELETE", "/labels/entrasync%3A%20unsafe") == 1
    assert github.calls("DELETE", "/labels/Entrasync%3A%20changes") == 1


def test_labels_already_right_cost_no_write(github: Emulator, make_env: MakeEnv) -> None:
    for _ in range(2):
        publish(plan_of(change("a@contoso.com")), make_env(github))
    assert github.calls("POST", "/labels") == 1
    assert github.calls("DELETE") == 0


def test_labels_of_a_full_pull_request_are_kept_in_step(
    github: Emulator, make_env: MakeEnv
) -> None:
    # 100 labels, GitHub's most: the stale one goes before the new one is added.
    github.state.labels[7] = [f"area-{i}" for i in range(99)] + [labels.NO_CHANGES]
    publish(plan_of(change("a@contoso.com")), make_env(github))
    assert labels.NO_CHANGES not in github.state.labels[7]
    assert labels.CHANGES in github.state.labels[7]
    assert len(github.state.labels[7]) == 100


def test_a_refused_label_names_the_permission_after_the_comment_is_posted(
    github: Emulator, make_env: MakeEnv
) -> None:
    github.state.fail[("POST", r".*/issues/7/labels")] = (403, "Resource not accessible")
    with pytest.raises(GitHubError) as caught:
        publish(plan_of(change("a@contoso.com")), make_env(github))
    # A label the repository lacks is created only for a token with issues: write.
    assert "pull-requests: write" in (caught.value.hint or "")
    assert "`issues: write` (new labels" in (caught.value.hint or "")
    assert len(github.state.comments[7]) == 1


def test_a_pull_request_full_of_labels_is_said_to_be_so(
    github: Emulator, make_env: MakeEnv
) -> None:
    github.state.labels[7] = [f"area-{i}" for i in range(100)]
    with pytest.raises(GitHubError) as caught:
        publish(plan_of(change("a@contoso.com")), make_env(github))
    assert caught.value.status == 422
    assert "at most 100 labels" in (caught.value.hint or "")
    assert len(github.state.comments[7]) == 1  # the plan is shown all the same


def test_labels_a_refusal_cuts_short_never_contradict_the_comment(
    github: Emulator, make_env: MakeEnv
) -> None:
    # The comment showed deactivations while the only label still said "no changes".
    github.state.labels[7] = ["dependencies", labels.NO_CHANGES]
    github.state.fail[("POST", r".*/issues/7/labels")] = (403, "Resource not accessible")
    with pytest.raises(GitHubError):
        publish(plan_of(change("z@contoso.com", Action.DEACTIVATE)), make_env(github))
    assert "1 to deactivate" in github.state.comments[7][0]["body"]
    assert github.state.labels[7] == ["dependencies"]


def test_labels_still_earned_stay_when_a_new_one_is_refused(
    github: Emulator, make_env: MakeEnv
) -> None:
    # Where labels gate merging, a refused label must not take `entrasync: unsafe` away.
    github.state.labels[7] = [labels.CHANGES, labels.UNSAFE]
    github.state.fail[("POST", r".*/issues/7/labels")] = (422, "Validation Failed")
    still_unsafe = replace(
        plan_of(change("a@contoso.com", role="owner")),
        violations=(Violation("min_owners", "fewer owners than limits.min_owners"),),
    )
    with pytest.raises(GitHubError):
        publish(still_unsafe, make_env(github))
    assert sorted(github.state.labels[7]) == [labels.CHANGES, labels.UNSAFE]


def test_a_label_gone_before_its_delete_is_removed_not_an_error(
    github: Emulator, make_env: MakeEnv
) -> None:
    # Removed by someone since it was listed, or by the first of two sends (a DELETE answered
    # 504 is sent again): GitHub answers 404 "Label does not exist". The plan job went red.
    github.state.labels[7] = [labels.NO_CHANGES]
    github.state.fail[("DELETE", r".*/issues/7/labels/.*")] = (404, "Label does not exist")
    assert publish(plan_of(change("a@contoso.com")), make_env(github)) == {labels.CHANGES}
    assert github.calls("DELETE", "/labels/entrasync%3A%20no%20changes") == 1
    # Only a DELETE: a 404 anywhere else is still the error it was.
    github.state.fail[("POST", r".*/issues/7/labels")] = (404, "Not Found")
    with pytest.raises(GitHubError):
        publish(plan_of(change("a@contoso.com", role="owner")), make_env(github))


def test_only_entrasync_labels_can_be_asked_for(github: Emulator, make_env: MakeEnv) -> None:
    with (
        GitHubPlatform.from_environ(make_env(github)) as platform,
        pytest.raises(ValueError, match="not an entrasync label"),
    ):
        platform.set_labels(7, frozenset({"dependencies"}))
    assert github.state.requests == [("GET", "/repos/contoso/access/issues/7/labels?per_page=100")]
