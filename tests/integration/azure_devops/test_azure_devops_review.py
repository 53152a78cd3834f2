"""The sticky pull request thread and the labels against the loopback Azure DevOps emulator."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest

from entrasync.adapters.azure_devops import (
    AzureDevOpsClient,
    AzureDevOpsContext,
    AzureDevOpsPlatform,
)
from entrasync.adapters.review import SUPERSEDED
from entrasync.adapters.review.publish import Published, publish_plan
from entrasync.core import labels
from entrasync.core.plan import Action, Plan
from entrasync.errors import ReviewError
from entrasync.render.markdown import comment_marker
from tests.integration.azure_devops.emulator import (
    BUILD_SERVICE,
    REPOSITORY,
    REVIEWER,
    TOKEN,
    AzureDevOps,
    label_id,
)
from tests.integration.azure_devops.env import SHA, MakeEnv
from tests.integration.github.plans import change, many, plan_of

CONFIG = "config/mappings.yaml"
MARKER = comment_marker(CONFIG)


def publish(plan: Plan, env: Mapping[str, str]) -> Published:
    return publish_plan(plan, config_path=CONFIG, owner_roles=frozenset({"owner"}), environ=env)


def test_first_run_opens_one_closed_thread_and_the_second_edits_its_first_comment(
    ado: AzureDevOps, make_env: MakeEnv
) -> None:
    first = publish(plan_of(change("alice@contoso.com")), make_env(ado))
    assert ado.calls("GET", "/connectionData") == 1  # after posting: a racing run's too?
    second = publish(
        plan_of(change("alice@contoso.com"), change("bob@contoso.com", Action.UPDATE, "admin")),
        make_env(ado),
    )
    assert ado.calls("GET", "/connectionData") == 2

    (thread,) = ado.state.threads[7]
    assert first.url == second.url
    assert first.url == (
        f"{ado.url}/Identity%20Platform/_git/{REPOSITORY}/pullrequest/7?discussionId={thread['id']}"
    )
    assert thread["status"] == "closed"
    assert (ado.calls("POST", "/threads?"), ado.calls("PATCH", "/comments/1?")) == (1, 1)
    content = thread["comments"][0]["content"]
    assert content.startswith(MARKER)
    assert "Plan: 1 to create, 1 to update, 0 to deactivate, 0 to reactivate." in content
    assert all("api-version=7.1" in path for _, path in ado.requests if "/_apis/git/" in path)


def test_a_duplicate_thread_left_by_two_racing_runs_is_superseded(
    ado: AzureDevOps, make_env: MakeEnv
) -> None:
    first = ado.state.add_thread(7, MARKER + "\nrun A's plan")
    second = ado.state.add_thread(7, MARKER + "\nrun B's plan")
    published = publish(plan_of(change("carol@contoso.com")), make_env(ado))

    contents = {t["id"]: t["comments"][0]["content"] for t in ado.state.threads[7]}
    assert published.url.endswith(f"discussionId={first}")
    assert "carol" in contents[first]
    assert contents[second] == SUPERSEDED


def test_a_reviewers_thread_with_the_marker_is_never_edited(
    ado: AzureDevOps, make_env: MakeEnv
) -> None:
    quoted = ado.state.add_thread(7, "why? " + MARKER, REVIEWER)
    copied = ado.state.add_thread(7, MARKER + "\nfake", REVIEWER)
    ours = ado.state.add_thread(7, MARKER + "\nold", BUILD_SERVICE)
    publish(plan_of(change("a@contoso.com")), make_env(ado))

    contents = ado.state.contents(7)
    assert contents[quoted] == "why? " + MARKER
    assert contents[copied].endswith("fake")
    assert "Plan: 1 to create" in contents[ours]
    assert len(contents) == 3


def test_a_reviewers_copy_of_the_marker_alone_gets_a_new_thread_beside_it(
    ado: AzureDevOps, make_env: MakeEnv
) -> None:
    copied = ado.state.add_thread(7, MARKER + "\nfake", REVIEWER)
    publish(plan_of(change("a@contoso.com")), make_env(ado))

    contents = ado.state.contents(7)
    assert contents[copied].endswith("fake")
    assert len(contents) == 2


def test_a_deleted_thread_of_ours_is_never_edited(ado: AzureDevOps, make_env: MakeEnv) -> None:
    deleted = ado.state.add_thread(7, MARKER + "\nold", BUILD_SERVICE)
    ado.state.threads[7][0]["isDeleted"] = True
    publish(plan_of(change("a@contoso.com")), make_env(ado))

    contents = ado.state.contents(7)
    assert contents[deleted].endswith("old")
    assert len(contents) == 2


def test_a_thread_whose_first_comment_was_deleted_is_never_edited(
    ado: AzureDevOps, make_env: MakeEnv
) -> None:
    kept = ado.state.add_thread(7, MARKER + "\nold", BUILD_SERVICE)
    ado.state.threads[7][0]["comments"][0]["isDeleted"] = True
    publish(plan_of(change("a@contoso.com")), make_env(ado))

    contents = ado.state.contents(7)
    assert contents[kept].endswith("old")
    assert len(contents) == 2


def test_a_reply_in_our_thread_does_not_move_the_edit(ado: AzureDevOps, make_env: MakeEnv) -> None:
    ours = ado.state.add_thread(7, MARKER + "\nold", BUILD_SERVICE)
    (thread,) = ado.state.threads[7]
    reply = {"id": 2, "parentCommentId": 1, "content": "looks right", "author": REVIEWER}
    thread["comments"].insert(0, reply)  # the list order is the server's business
    publish(plan_of(change("a@contoso.com")), make_env(ado))

    assert reply["content"] == "looks right"
    assert "Plan: 1 to create" in next(c for c in thread["comments"] if c["id"] == 1)["content"]
    assert ado.state.threads[7][0]["id"] == ours


def test_labels_follow_the_plan_and_other_labels_stay(ado: AzureDevOps, make_env: MakeEnv) -> None:
    ado.state.labels[7] = ["needs-security-review", "entrasync: unsafe"]
    first = publish(
        plan_of(change("a@contoso.com", role="owner"), change("z@contoso.com", Action.DEACTIVATE)),
        make_env(ado),
    )
    after_first = sorted(ado.state.labels[7])
    publish(plan_of(), make_env(ado))

    assert first.labels == {labels.CHANGES, labels.DEACTIVATIONS, labels.PRIVILEGED}
    assert after_first == sorted(["needs-security-review", *first.labels])
    assert sorted(ado.state.labels[7]) == ["entrasync: no changes", "needs-security-review"]
    # Removed by its id: a name with ":" in the path is refused (the emulator's docstring).
    deleted = [path for method, path in ado.requests if method == "DELETE"]
    assert any(f"/labels/{label_id('entrasync: unsafe')}?" in path for path in deleted)


def test_a_label_gone_before_its_delete_is_removed_not_an_error(
    ado: AzureDevOps, make_env: MakeEnv
) -> None:
    # Removed since it was listed, or by the first of two sends of a DELETE answered 504.
    ado.state.labels[7] = [labels.NO_CHANGES]
    ado.state.fail[("DELETE", r".*/pullRequests/7/labels/.*")] = (404, "label not found")
    assert publish(plan_of(change("a@contoso.com")), make_env(ado)).labels == {labels.CHANGES}
    assert [m for m, _ in ado.requests].count("DELETE") == 1


def test_a_large_plan_uses_azure_devops_own_limit(ado: AzureDevOps, make_env: MakeEnv) -> None:
    publish(many(5000), make_env(ado))
    content = ado.state.threads[7][0]["comments"][0]["content"]
    assert 65_536 < len(content) <= 150_000
    assert "to keep this under 150,000 characters" in content
    assert "the full plan is in the log and the published artifacts of this pipeline run." in (
        content
    )


def test_a_cut_comment_fits_in_utf16_units_with_emoji_in_the_config_path(
    ado: AzureDevOps, make_env: MakeEnv
) -> None:
    # The marker keeps the path's characters as written (it finds the comment again): each
    # emoji there is two UTF-16 units, and a comment cut to 150,000 code points was refused.
    path = "config/" + "/".join(["\N{ROCKET}" * 60] * 10) + "/mappings.yaml"
    publish_plan(many(5000), config_path=path, owner_roles=frozenset(), environ=make_env(ado))
    content = ado.state.threads[7][0]["comments"][0]["content"]
    assert content.startswith(comment_marker(path))
    assert 149_000 < len(content.encode("utf-16-le")) // 2 <= 150_000


def test_a_comment_azure_devops_finds_too_long_names_the_limit(
    ado: AzureDevOps, make_env: MakeEnv
) -> None:
    ado.state.fail[("POST", r".*/threads")] = (
        400,
        "A discussion comment cannot be longer than 150000 characters.\r\n"
        "Parameter name: comment.Content",
    )
    with pytest.raises(ReviewError) as caught:
        publish(plan_of(change("a@contoso.com")), make_env(ado))
    assert "150,000" in (caught.value.hint or "")


def test_the_203_sign_in_page_is_an_authentication_error_with_a_hint(
    ado: AzureDevOps, make_env: MakeEnv
) -> None:
    context = AzureDevOpsContext.from_environ(
        make_env(ado, SYSTEM_ACCESSTOKEN="fake-expired-token-for-tests")
    )
    with AzureDevOpsClient(context) as client, pytest.raises(ReviewError) as caught:
        client.is_own()
    assert "203" in caught.value.message
    assert "fake-expired-token-for-tests" not in caught.value.message + (caught.value.hint or "")
    assert "sign-in page" in caught.value.message
    assert "$(System.AccessToken)" in (caught.value.hint or "")
    assert "Contribute to pull requests" in (caught.value.hint or "")


def test_a_request_without_api_version_is_a_400_the_client_never_sends(
    ado: AzureDevOps, make_env: MakeEnv
) -> None:
    context = AzureDevOpsContext.from_environ(make_env(ado))
    with AzureDevOpsClient(context) as client:
        bare = client.git_url("/pullRequests/7/threads").copy_remove_param("api-version")
        with pytest.raises(ReviewError) as caught:
            client.request("GET", bare, what="listing threads")
    assert "400" in caught.value.message
    assert "api-version" in (caught.value.hint or "")


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        pytest.param({"SYSTEM_ACCESSTOKEN": ""}, "System.AccessToken", id="the token not mapped"),
        pytest.param({"BUILD_REPOSITORY_ID": ""}, "BUILD_REPOSITORY_ID", id="no repository"),
        pytest.param(
            {"SYSTEM_PULLREQUEST_PULLREQUESTID": ""},
            "SYSTEM_PULLREQUEST_PULLREQUESTID",
            id="not a pull request build",
        ),
        pytest.param(
            {"SYSTEM_COLLECTIONURI": "http://dev.azure.example/contoso/"},
            "https",
            id="plain http off loopback",
        ),
        pytest.param(
            {"BUILD_REPOSITORY_PROVIDER": "GitHub", "BUILD_REPOSITORY_ID": "contoso/access"},
            "builds a repository hosted on GitHub (BUILD_REPOSITORY_PROVIDER)",
            id="a GitHub repository: its pull requests are not Azure Repos'",
        ),
    ],
)
def test_a_missing_or_unsafe_setting_is_refused_before_any_request(
    ado: AzureDevOps,
    make_env: MakeEnv,
    override: dict[str, str],
    needle: str,
    off_loopback: list[str],
) -> None:
    with pytest.raises(ReviewError) as caught:
        publish(plan_of(), make_env(ado) | override)
    assert needle in caught.value.message + (caught.value.hint or "")
    assert (ado.requests, off_loopback) == ([], [])


def test_the_merged_pull_request_of_a_commit(ado: AzureDevOps, make_env: MakeEnv) -> None:
    ado.state.merge_commits[SHA] = [
        {"pullRequestId": 4, "status": "abandoned"},
        {"pullRequestId": 9, "status": "completed"},
    ]
    platform = AzureDevOpsPlatform.from_environ(make_env(ado))
    try:
        assert platform.merged_request_for(SHA) == 9
        assert platform.merged_request_for("e" * 40) is None
    finally:
        platform.close()
    assert all(TOKEN not in path for _, path in ado.requests)


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        pytest.param(
            {"authenticatedUser": "x"},
            "Azure DevOps connectionData named no authenticated user",
            id="a user that is not an object",
        ),
        pytest.param(
            [],
            "Azure DevOps answered 200 to GET while reading the token's own identity with a JSON "
            "list where a JSON object was due",
            id="a list",
        ),
    ],
)
def test_connection_data_without_a_user_object_is_an_error(
    ado: AzureDevOps, make_env: MakeEnv, answer: object, said: str
) -> None:
    ado.state.add_thread(7, MARKER + "\nold")
    ado.answers[("GET", r".*/_apis/connectionData")] = (200, answer, "application/json")
    with pytest.raises(ReviewError) as caught:
        publish(plan_of(change("a@contoso.com")), make_env(ado))
    assert caught.value.message == said
    assert len(ado.state.threads[7]) == 1


def test_our_thread_whose_first_comment_has_no_integer_id_is_an_error(
    ado: AzureDevOps, make_env: MakeEnv
) -> None:
    ado.state.add_thread(7, MARKER + "\nold")
    ado.state.threads[7][0]["comments"][0]["id"] = "one"
    with pytest.raises(ReviewError) as caught:
        publish(plan_of(change("a@contoso.com")), make_env(ado))
    assert caught.value.message == (
        "Azure DevOps's answer while listing the threads of PR 7 has no integer 'id'"
    )
    assert "SYSTEM_COLLECTIONURI" in (caught.value.hint or "")


def set_labels(platform: AzureDevOpsPlatform) -> None:
    platform.set_labels(7, frozenset({labels.CHANGES}))


def merged(platform: AzureDevOpsPlatform) -> int | None:
    return platform.merged_request_for(SHA)


FINDING = f"finding the pull request of commit {SHA[:12]}"


@pytest.mark.parametrize(
    ("where", "answer", "call", "what"),
    [
        pytest.param(
            ("GET", r".*/labels"),
            {"value": [1]},
            set_labels,
            "listing the labels of PR 7",
            id="labels",
        ),
        pytest.param(
            ("POST", r".*/pullrequestquery"), {"results": [1]}, merged, FINDING, id="results"
        ),
        pytest.param(
            ("POST", r".*/pullrequestquery"),
            {"results": [{SHA: [1]}]},
            merged,
            FINDING,
            id="the pull requests of a result",
        ),
    ],
)
def test_listed_items_that_are_not_objects_are_an_error(
    ado: AzureDevOps,
    make_env: MakeEnv,
    where: tuple[str, str],
    answer: object,
    call: Callable[[AzureDevOpsPlatform], object],
    what: str,
) -> None:
    ado.answers[where] = (200, answer, "application/json")
    platform = AzureDevOpsPlatform.from_environ(make_env(ado))
    try:
        with pytest.raises(ReviewError) as caught:
            call(platform)
    finally:
        platform.close()
    assert caught.value.message == (
        f"Azure DevOps's answer while {what} has a JSON number where a JSON object was due"
    )
