"""The sticky merge request note and the labels against the loopback GitLab emulator."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
import pytest

from entrasync.adapters.gitlab import GitLabPlatform
from entrasync.adapters.review import SUPERSEDED
from entrasync.adapters.review.publish import Published, publish_plan
from entrasync.core import labels
from entrasync.core.plan import Action, Plan
from entrasync.errors import ReviewError
from entrasync.render.markdown import comment_marker
from tests.integration.github.plans import change, many, plan_of
from tests.integration.gitlab.emulator import BOT, PROJECT_ID, PROJECT_PATH, REVIEWER, TOKEN, GitLab
from tests.integration.gitlab.env import SHA, MakeEnv

CONFIG = "config/mappings.yaml"
MARKER = comment_marker(CONFIG)


def publish(plan: Plan, env: Mapping[str, str]) -> Published:
    return publish_plan(plan, config_path=CONFIG, owner_roles=frozenset({"owner"}), environ=env)


def test_first_run_creates_one_note_and_the_second_edits_it(
    gitlab: GitLab, make_env: MakeEnv
) -> None:
    first = publish(plan_of(change("alice@contoso.com")), make_env(gitlab))
    assert gitlab.calls("GET", "/user") == 1  # after posting: did a racing run post too?
    second = publish(
        plan_of(change("alice@contoso.com"), change("bob@contoso.com", Action.UPDATE, "admin")),
        make_env(gitlab),
    )
    assert gitlab.calls("GET", "/user") == 2

    (note,) = gitlab.state.notes[7]
    assert (
        first.url
        == second.url
        == f"https://gitlab.example/contoso/access/-/merge_requests/7#note_{note['id']}"
    )
    assert (gitlab.calls("POST", "/notes"), gitlab.calls("PUT", "/notes/")) == (1, 1)
    assert note["body"].startswith(MARKER)
    assert "Plan: 1 to create, 1 to update, 0 to deactivate, 0 to reactivate." in note["body"]


def test_a_duplicate_note_left_by_two_racing_runs_is_superseded(
    gitlab: GitLab, make_env: MakeEnv
) -> None:
    first = gitlab.state.add_note(7, MARKER + "\nrun A's plan")
    second = gitlab.state.add_note(7, MARKER + "\nrun B's plan")
    published = publish(plan_of(change("carol@contoso.com")), make_env(gitlab))

    bodies = gitlab.state.bodies(7)
    assert published.url.endswith(f"#note_{first}")
    assert "carol" in bodies[first]
    assert bodies[second] == SUPERSEDED


def test_the_note_is_found_past_the_first_page_by_x_next_page(
    gitlab: GitLab, make_env: MakeEnv
) -> None:
    for i in range(230):
        gitlab.state.add_note(7, f"LGTM {i}", REVIEWER)
    ours = gitlab.state.add_note(7, MARKER + "\nold plan")
    publish(plan_of(change("a@contoso.com")), make_env(gitlab))

    bodies = gitlab.state.bodies(7)
    assert len(bodies) == 231
    assert "old plan" not in bodies[ours]
    assert sum("page=3" in path for _, path in gitlab.requests) == 1


def test_a_reviewers_note_and_a_system_note_with_the_marker_are_never_edited(
    gitlab: GitLab, make_env: MakeEnv
) -> None:
    quoted = gitlab.state.add_note(7, "why? " + MARKER, REVIEWER)
    copied = gitlab.state.add_note(7, MARKER + "\nfake", REVIEWER)
    system = gitlab.state.add_note(7, MARKER + "\nsystem", BOT, system=True)
    ours = gitlab.state.add_note(7, MARKER + "\nold", BOT)
    publish(plan_of(change("a@contoso.com")), make_env(gitlab))

    bodies = gitlab.state.bodies(7)
    assert bodies[quoted] == "why? " + MARKER
    assert bodies[copied].endswith("fake")
    assert bodies[system].endswith("system")
    assert "Plan: 1 to create" in bodies[ours]
    assert len(bodies) == 4


def test_a_reviewers_copy_of_the_marker_alone_gets_a_new_note_beside_it(
    gitlab: GitLab, make_env: MakeEnv
) -> None:
    copied = gitlab.state.add_note(7, MARKER + "\nfake", REVIEWER)
    publish(plan_of(change("a@contoso.com")), make_env(gitlab))

    bodies = gitlab.state.bodies(7)
    assert bodies[copied].endswith("fake")
    assert len(bodies) == 2


def test_labels_follow_the_plan_and_other_labels_stay(gitlab: GitLab, make_env: MakeEnv) -> None:
    gitlab.state.labels[7] = ["backend", "entrasync: unsafe", "entrasync:no-space"]
    deactivation = change("zed@contoso.com", Action.DEACTIVATE)
    first = publish(plan_of(change("a@contoso.com", role="owner"), deactivation), make_env(gitlab))
    after_first = sorted(gitlab.state.labels[7])
    publish(plan_of(), make_env(gitlab))

    assert first.labels == {labels.CHANGES, labels.DEACTIVATIONS, labels.PRIVILEGED}
    assert after_first == sorted(["backend", "entrasync:no-space", *first.labels])
    assert sorted(gitlab.state.labels[7]) == [
        "backend",
        "entrasync: no changes",
        "entrasync:no-space",
    ]


def test_unchanged_labels_cost_no_write(gitlab: GitLab, make_env: MakeEnv) -> None:
    for _ in range(2):
        publish(plan_of(), make_env(gitlab))
    assert sum(m == "PUT" and p.endswith("/merge_requests/7") for m, p in gitlab.requests) == 1


def test_a_project_named_by_its_path_is_url_encoded(gitlab: GitLab, make_env: MakeEnv) -> None:
    publish(plan_of(change("a@contoso.com")), make_env(gitlab, CI_PROJECT_ID=PROJECT_PATH))
    assert len(gitlab.state.notes[7]) == 1
    assert any("/projects/contoso%2Faccess/" in path for _, path in gitlab.requests)


def test_a_forks_merge_request_pipeline_comments_in_the_target_project(
    gitlab: GitLab, make_env: MakeEnv
) -> None:
    """CI_PROJECT_ID is the fork there; the request's IID numbers it in its target project."""
    env = make_env(gitlab, CI_PROJECT_ID="9999", CI_MERGE_REQUEST_PROJECT_ID=PROJECT_ID)
    publish(plan_of(change("a@contoso.com")), env)
    assert len(gitlab.state.notes[7]) == 1
    assert not any("/projects/9999/" in path for _, path in gitlab.requests)


def test_a_large_plan_uses_gitlabs_own_limit(gitlab: GitLab, make_env: MakeEnv) -> None:
    publish(many(20_000), make_env(gitlab))
    (note,) = gitlab.state.notes[7]
    assert 65_536 < len(note["body"]) <= 1_000_000
    assert "rows left out** to keep this under 1,000,000 characters" in note["body"]
    assert (
        "the full plan is in the log and the artifacts of this pipeline's plan job." in note["body"]
    )


def test_a_note_gitlab_finds_too_long_names_the_limit(gitlab: GitLab, make_env: MakeEnv) -> None:
    gitlab.state.fail[("POST", r".*/notes")] = (400, "Note is too long (maximum is 1000000)")
    with pytest.raises(ReviewError) as caught:
        publish(plan_of(change("a@contoso.com")), make_env(gitlab))
    assert "1,000,000" in (caught.value.hint or "")


def test_a_bad_token_is_a_401_with_a_hint_and_never_shown(
    gitlab: GitLab, make_env: MakeEnv
) -> None:
    bad = "fake-wrong-gitlab-token-for-tests"
    with pytest.raises(ReviewError) as caught:
        publish(plan_of(), make_env(gitlab, ENTRASYNC_GITLAB_TOKEN=bad))
    assert "401" in caught.value.message
    assert "ENTRASYNC_GITLAB_TOKEN" in (caught.value.hint or "")
    assert bad not in caught.value.message + (caught.value.hint or "")


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        pytest.param({"ENTRASYNC_GITLAB_TOKEN": ""}, "ENTRASYNC_GITLAB_TOKEN", id="no token"),
        pytest.param({"CI_PROJECT_ID": ""}, "CI_PROJECT_ID", id="no project"),
        pytest.param({"CI_MERGE_REQUEST_IID": ""}, "CI_MERGE_REQUEST_IID", id="no merge request"),
        pytest.param(
            {"CI_API_V4_URL": "http://gitlab.example/api/v4"}, "https", id="plain http off loopback"
        ),
    ],
)
def test_a_missing_or_unsafe_setting_is_refused_before_any_request(
    gitlab: GitLab,
    make_env: MakeEnv,
    override: dict[str, str],
    needle: str,
    off_loopback: list[str],
) -> None:
    with pytest.raises(ReviewError, match=needle):
        publish(plan_of(), make_env(gitlab) | override)
    assert (gitlab.requests, off_loopback) == ([], [])


def test_the_merged_request_of_a_commit(gitlab: GitLab, make_env: MakeEnv) -> None:
    gitlab.state.commit_mrs[SHA] = [
        {"iid": 3, "state": "opened"},
        {"iid": 5, "state": "merged", "merge_commit_sha": "f" * 40},
        {"iid": 8, "state": "merged", "merge_commit_sha": SHA},
    ]
    platform = GitLabPlatform.from_environ(make_env(gitlab))
    try:
        assert platform.merged_request_for(SHA) == 8
        assert platform.merged_request_for("e" * 40) is None
    finally:
        platform.close()
    assert all(TOKEN not in path for _, path in gitlab.requests)


def test_a_fast_forward_merge_is_found_by_its_head_into_the_default_branch(
    gitlab: GitLab, make_env: MakeEnv
) -> None:
    """With no merge commit, the first merged request holding the commit was taken: one into
    another branch got the apply report."""
    gitlab.state.commit_mrs[SHA] = [
        {"iid": 3, "state": "merged", "target_branch": "release/1.x", "sha": SHA},
        {"iid": 4, "state": "merged", "target_branch": "main", "sha": "f" * 40},
        {"iid": 9, "state": "merged", "target_branch": "main", "sha": SHA},
    ]
    gitlab.state.mr_commits[4] = [SHA, "f" * 40]  # GitLab names it as it holds the commit
    platform = GitLabPlatform.from_environ(make_env(gitlab, CI_DEFAULT_BRANCH="main"))
    try:
        assert platform.merged_request_for(SHA) == 9
        gitlab.state.commit_mrs[SHA] = gitlab.state.commit_mrs[SHA][:2]
        assert platform.merged_request_for(SHA) is None  # none of them merged this commit
    finally:
        platform.close()


def test_a_fast_forward_merge_trains_rebased_commit_is_found_by_what_gitlab_names(
    gitlab: GitLab, make_env: MakeEnv
) -> None:
    """A merge train that fast-forwards without squash rebases the request's commits: the
    commit applied is none of the request's fields, and the report was posted nowhere."""
    rebased = {"state": "merged", "target_branch": "main", "merge_commit_sha": None}
    gitlab.state.commit_mrs[SHA] = [{"iid": 12, **rebased, "sha": "1" * 40}]
    gitlab.state.mr_commits[12] = ["1" * 40]
    platform = GitLabPlatform.from_environ(make_env(gitlab, CI_DEFAULT_BRANCH="main"))
    try:
        assert platform.merged_request_for(SHA) == 12
        # Its commits not listed (a 403, a 5xx): no request taken, and no error, as before.
        gitlab.state.fail[("GET", r".*/merge_requests/12/commits")] = (403, "403 Forbidden")
        assert platform.merged_request_for(SHA) is None
        del gitlab.state.fail[("GET", r".*/merge_requests/12/commits")]
        # Two such requests: which one merged it would be a guess.
        gitlab.state.commit_mrs[SHA].append({"iid": 13, **rebased, "sha": "2" * 40})
        assert platform.merged_request_for(SHA) is None
        # So is one beside a request whose commits GitLab does not list.
        gitlab.state.fail[("GET", r".*/merge_requests/12/commits")] = (403, "403 Forbidden")
        gitlab.state.mr_commits[13] = ["2" * 40]
        assert platform.merged_request_for(SHA) is None
    finally:
        platform.close()


def test_the_token_never_goes_to_another_host(gitlab: GitLab, make_env: MakeEnv) -> None:
    platform = GitLabPlatform.from_environ(make_env(gitlab))
    try:
        with pytest.raises(ReviewError, match="refusing to send the GitLab token to elsewhere"):
            platform.client.request("GET", httpx.URL("https://elsewhere.example/x"), what="x")
        with pytest.raises(ReviewError, match="refusing"):
            platform.client.request(
                "GET", httpx.URL(gitlab.url.replace("http:", "https:")), what="x"
            )
    finally:
        platform.close()
    assert gitlab.requests == []


def test_a_web_page_where_json_was_due_is_an_error_not_a_crash(
    gitlab: GitLab, make_env: MakeEnv
) -> None:
    gitlab.answers[("GET", ".*")] = (200, "<html>Proxy login</html>", "text/html")
    with pytest.raises(ReviewError, match="web page instead of JSON") as caught:
        publish(plan_of(), make_env(gitlab))
    assert "CI_API_V4_URL" not in caught.value.message
    assert "API URL" in (caught.value.hint or "")


def test_merge_requests_that_are_not_objects_are_an_error(
    gitlab: GitLab, make_env: MakeEnv
) -> None:
    gitlab.answers[("GET", r".*/merge_requests")] = (200, [1], "application/json")
    platform = GitLabPlatform.from_environ(make_env(gitlab))
    try:
        with pytest.raises(ReviewError) as caught:
            platform.merged_request_for(SHA)
    finally:
        platform.close()
    assert caught.value.message == (
        f"GitLab's answer while finding the merge request of commit {SHA[:12]} has a JSON "
        "number where a JSON object was due"
    )
    assert "CI_API_V4_URL" in (caught.value.hint or "")


def test_a_user_without_an_integer_id_is_an_error(gitlab: GitLab, make_env: MakeEnv) -> None:
    gitlab.state.add_note(7, MARKER + "\nold", BOT)  # a marked note: whose it is is asked
    gitlab.answers[("GET", r".*/user")] = (200, {}, "application/json")
    with pytest.raises(ReviewError) as caught:
        publish(plan_of(change("a@contoso.com")), make_env(gitlab))
    assert caught.value.message == (
        "GitLab's answer while reading the token's own user has no integer 'id'"
    )
    assert "CI_API_V4_URL" in (caught.value.hint or "")
    assert gitlab.calls("GET", "/user") == 1
    assert (gitlab.calls("POST", "/notes"), gitlab.calls("PUT", "/notes/")) == (0, 0)


@pytest.mark.parametrize("labels_said", [5, True, 0, "", {}, "entrasync: changes", [1], None, ...])
def test_labels_that_are_not_a_list_of_names_are_an_error(
    gitlab: GitLab, make_env: MakeEnv, labels_said: object
) -> None:
    """A number was a traceback; a string, read letter by letter, hid the entrasync label
    it named, which then stayed on the merge request; none at all (null, or no key) read as
    no labels, and a stale entrasync label stayed."""
    answer = {"iid": 7} if labels_said is ... else {"iid": 7, "labels": labels_said}
    gitlab.answers[("GET", r".*/merge_requests/7")] = (200, answer, "application/json")
    with pytest.raises(ReviewError) as caught:
        publish(plan_of(), make_env(gitlab))
    assert caught.value.message == (
        "GitLab's answer while reading !7 has labels that are not a list of names"
    )
    assert "CI_API_V4_URL" in (caught.value.hint or "")
