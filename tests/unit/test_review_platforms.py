"""Which review platform a pipeline posts to, and which labels change: decided without a socket."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from entrasync.adapters.azure_devops import (
    AzureDevOpsClient,
    AzureDevOpsContext,
    AzureDevOpsPlatform,
)
from entrasync.adapters.github.rest import GitHubClient, GitHubContext, GitHubPlatform
from entrasync.adapters.gitlab import GitLabClient, GitLabContext, GitLabPlatform
from entrasync.adapters.review import all_own, label_changes, relabel
from entrasync.adapters.review import client as review_client
from entrasync.adapters.review.detect import detect
from entrasync.errors import GitHubError, ReviewError

GITHUB = {"GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "contoso/access"}
GITLAB = {
    "CI_API_V4_URL": "https://gitlab.example/api/v4",
    "CI_PROJECT_ID": "42",
    "ENTRASYNC_GITLAB_TOKEN": "t",
}
AZURE = {
    "SYSTEM_COLLECTIONURI": "https://dev.azure.com/contoso/",
    "SYSTEM_TEAMPROJECT": "Identity",
    "BUILD_REPOSITORY_ID": "r",
    "SYSTEM_ACCESSTOKEN": "t",
}


@pytest.mark.parametrize(
    ("environ", "kind"),
    [
        pytest.param({"GITHUB_ACTIONS": "true", **GITHUB}, GitHubPlatform, id="GitHub Actions"),
        pytest.param({"GITLAB_CI": "true", **GITLAB}, GitLabPlatform, id="GitLab CI"),
        pytest.param({"TF_BUILD": "True", **AZURE}, AzureDevOpsPlatform, id="Azure Pipelines"),
        pytest.param(
            {"TF_BUILD": "True", "GITHUB_ACTIONS": "false", **AZURE},
            AzureDevOpsPlatform,
            id="a variable set to false does not count",
        ),
    ],
)
def test_the_platform_is_the_one_the_ci_names(environ: dict[str, str], kind: type) -> None:
    platform = detect(environ)
    try:
        assert isinstance(platform, kind)
    finally:
        platform.close()


@pytest.mark.parametrize(
    ("environ", "needle"),
    [
        pytest.param({**GITHUB, **GITLAB}, "none of GITHUB_ACTIONS=true", id="no CI named"),
        pytest.param(
            {"GITHUB_ACTIONS": "true", "GITLAB_CI": "true", **GITHUB, **GITLAB},
            "more than one",
            id="two CIs named",
        ),
        pytest.param(
            {"GITLAB_CI": "true"},
            "CI_API_V4_URL, CI_PROJECT_ID, ENTRASYNC_GITLAB_TOKEN",
            id="GitLab without its variables",
        ),
        pytest.param(
            {"TF_BUILD": "True", **AZURE, "SYSTEM_ACCESSTOKEN": ""},
            "SYSTEM_ACCESSTOKEN",
            id="the Azure token not mapped",
        ),
        # Each value goes into a URL's path, where `..` addressed another resource.
        pytest.param(
            {"GITHUB_ACTIONS": "true", **GITHUB, "GITHUB_REPOSITORY": "contoso/.."},
            "GITHUB_REPOSITORY 'contoso/..' is not of the form owner/name",
            id="a repository named ..",
        ),
        pytest.param(
            {"GITHUB_ACTIONS": "true", **GITHUB, "GITHUB_REPOSITORY": "contoso/access#"},
            "is not of the form owner/name",
            id="a repository with a #",
        ),
        pytest.param(
            {"GITLAB_CI": "true", **GITLAB, "CI_PROJECT_ID": ".."},
            "CI_PROJECT_ID is '..', which is no name",
            id="a GitLab project ..",
        ),
        pytest.param(
            {"TF_BUILD": "True", **AZURE, "SYSTEM_TEAMPROJECT": ".."},
            "SYSTEM_TEAMPROJECT is '..', which is no name",
            id="an Azure DevOps project ..",
        ),
    ],
)
def test_no_platform_or_a_platform_without_its_variables_is_a_clear_error(
    environ: dict[str, str], needle: str
) -> None:
    with pytest.raises(ReviewError, match=needle):
        detect(environ)


@pytest.mark.parametrize(
    ("current", "wanted", "add", "remove"),
    [
        pytest.param(
            [], {"entrasync: changes"}, ["entrasync: changes"], [], id="a first plan adds"
        ),
        pytest.param(
            ["entrasync: changes", "entrasync: unsafe"],
            {"entrasync: changes"},
            [],
            ["entrasync: unsafe"],
            id="a label that no longer holds is removed",
        ),
        pytest.param(
            ["bug", "entrasync:x", "entrasync-manual"],
            {"entrasync: no changes"},
            ["entrasync: no changes"],
            [],
            id="labels without the prefix are never removed",
        ),
        pytest.param(
            ["Entrasync: Changes", "ENTRASYNC: UNSAFE"],
            {"entrasync: changes"},
            [],
            ["ENTRASYNC: UNSAFE"],
            id="a label created beforehand in another case is ours, as GitHub matches names",
        ),
        pytest.param(
            ["Entrasync: security-reviewed", "entrasync: sign-off", "entrasync: unsafe"],
            {"entrasync: no changes"},
            ["entrasync: no changes"],
            ["entrasync: unsafe"],
            id="a team's own label with the prefix is never removed",
        ),
        pytest.param(["entrasync: changes"], {"entrasync: changes"}, [], [], id="nothing to do"),
    ],
)
def test_label_changes(
    current: list[str], wanted: set[str], add: list[str], remove: list[str]
) -> None:
    assert label_changes(current, frozenset(wanted)) == (add, remove)


def test_who_the_token_is_is_asked_only_when_an_item_carries_the_marker() -> None:
    marker = "<!-- entrasync:plan config/mappings.yaml -->"
    asked: list[str] = []

    def ours() -> Callable[[str], bool]:
        asked.append("GET /user")
        return lambda item: item.endswith("by us")

    assert all_own(["LGTM", f"why? {marker} by us"], marker, str, ours) == []
    assert asked == []
    found = all_own(
        [f"{marker} by eve", f"{marker} by us", f"{marker} again, by us"], marker, str, ours
    )
    assert found == [f"{marker} by us", f"{marker} again, by us"]
    assert asked == ["GET /user"]


def _mock(answer: Callable[[httpx.Request], httpx.Response]) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(answer))


@pytest.mark.parametrize(
    ("client", "said"),
    [
        pytest.param(
            lambda http: GitLabClient(GitLabContext.from_environ(GITLAB), http=http),
            "GitLab's rate limit",
            id="GitLab",
        ),
        pytest.param(
            lambda http: AzureDevOpsClient(AzureDevOpsContext.from_environ(AZURE), http=http),
            "Azure DevOps throttled",
            id="Azure DevOps",
        ),
    ],
)
@pytest.mark.parametrize("retry_after", ["0", "3600"], ids=["retried", "too long to wait"])
def test_a_throttle_once_its_retries_are_spent_says_to_wait(
    client: Callable[[httpx.Client], review_client.RestClient], said: str, retry_after: str
) -> None:
    throttled = _mock(lambda _: httpx.Response(429, headers={"Retry-After": retry_after}))
    rest = client(throttled)
    with pytest.raises(ReviewError) as caught:
        rest.request("GET", rest.url("/x"), what="listing")
    hint = caught.value.hint or ""
    if retry_after == "0":
        assert said in hint
        assert "re-run the job" in hint
    else:  # "wait a minute" was said of an hour asked for
        assert ", and asked to wait 3,600 s (Retry-After)" in caught.value.message
        assert hint.endswith("re-run the job once that time has passed")


def test_stale_labels_are_removed_before_any_is_added_and_nothing_empty_is_sent() -> None:
    calls: list[tuple[str, list[str]]] = []
    current = ["backend", "entrasync: no changes", "entrasync: unsafe"]
    wanted = frozenset({"entrasync: changes", "entrasync: unsafe"})
    relabel(
        current,
        wanted,
        lambda ls: calls.append(("remove", ls)),
        lambda ls: calls.append(("add", ls)),
    )
    assert calls == [("remove", ["entrasync: no changes"]), ("add", ["entrasync: changes"])]
    calls.clear()
    sent: list[list[str]] = []
    relabel(["entrasync: unsafe"], frozenset({"entrasync: unsafe"}), sent.append, sent.append)
    assert sent == []


def test_gitlab_removes_stale_labels_in_a_request_before_it_adds() -> None:
    """One PUT of both, refused, left `no changes` beside a note that deactivates."""
    sent: list[dict[str, str]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json={"iid": 7, "labels": ["entrasync: no changes"]})
        sent.append(json.loads(request.content))
        refused = "add_labels" in sent[-1]
        return httpx.Response(403 if refused else 200, json={"message": "403 Forbidden"})

    platform = GitLabPlatform(GitLabContext.from_environ(GITLAB))
    platform.client = GitLabClient(platform.ctx, http=_mock(answer))
    with pytest.raises(ReviewError, match="403"):
        platform.set_labels(7, frozenset({"entrasync: changes"}))
    assert sent == [
        {"remove_labels": "entrasync: no changes"},
        {"add_labels": "entrasync: changes"},
    ]


def test_a_github_listing_whose_next_page_is_itself_stops_there() -> None:
    """It paged for ever: 7,000 requests in 10 s, until the CI's timeout."""
    sent: list[httpx.Request] = []

    def same_page_again(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=[], headers={"Link": f'<{request.url}>; rel="next"'})

    client = GitHubClient(GitHubContext.from_environ(GITHUB), http=_mock(same_page_again))
    with pytest.raises(ReviewError) as caught:
        list(client.paginate(client.repo_url("/issues/7/comments"), what="listing"))
    assert caught.value.message == (
        "GitHub named a next page it had already named while listing (after 1 page): its "
        "paging loops"
    )
    assert len(sent) == 1


@pytest.mark.parametrize(("next_page", "sent"), [("2", 2), ("{page+1}", 50)])
def test_a_gitlab_listing_that_pages_without_end_stops(
    next_page: str, sent: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(review_client, "MAX_PAGES", 50)  # the bound's own value: 10,000 pages
    asked: list[str] = []

    def pages(request: httpx.Request) -> httpx.Response:
        page = request.url.params["page"]
        asked.append(page)
        following = next_page.replace("{page+1}", str(int(page) + 1))
        return httpx.Response(200, json=[], headers={"X-Next-Page": following})

    client = GitLabClient(GitLabContext.from_environ(GITLAB), http=_mock(pages))
    with pytest.raises(ReviewError, match="paging"):
        list(client.paginate(client.project_url("/merge_requests/7/notes"), what="listing"))
    assert len(asked) == sent


@pytest.mark.parametrize(("method", "sent"), [("PATCH", 2), ("POST", 1)])
def test_an_edit_answered_504_is_sent_again_a_new_comment_is_not(method: str, sent: int) -> None:
    asked: list[str] = []

    def gateway_timeout_once(request: httpx.Request) -> httpx.Response:
        asked.append(request.method)
        return httpx.Response(504 if len(asked) == 1 else 200, json={"id": 1})

    client = GitHubClient(GitHubContext.from_environ(GITHUB), http=_mock(gateway_timeout_once))
    url = client.repo_url("/issues/comments/1" if method == "PATCH" else "/issues/7/comments")
    if method == "POST":
        with pytest.raises(ReviewError, match=r"504 .* may have been carried out"):
            client.request(method, url, what="commenting", json={"body": "b"})
    else:
        assert client.request(method, url, what="editing", json={"body": "b"}).status_code == 200
    assert asked == [method] * sent


@pytest.mark.parametrize(
    ("retry_after", "wait"),
    [("0", "wait 0 seconds"), ("Wed, 21 Oct 2026 07:28:00 GMT", "a minute")],
)
def test_an_edit_throttled_after_a_504_is_githubs_rate_limit(retry_after: str, wait: str) -> None:
    """An edit does the same twice: its throttle is GitHub's answer, hint and all (it was a
    write that "may have been carried out", with the SCIM hint)."""
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.method)
        if len(asked) == 1:
            return httpx.Response(504)
        message = {"message": "You have exceeded a secondary rate limit."}
        return httpx.Response(429, json=message, headers={"retry-after": retry_after})

    client = GitHubClient(GitHubContext.from_environ(GITHUB), http=_mock(answer))
    with pytest.raises(GitHubError) as caught:
        client.request("PATCH", client.repo_url("/issues/comments/1"), what="editing")
    assert caught.value.status == 429
    assert wait in (caught.value.hint or "")


@pytest.mark.parametrize("number", ["", "12a", "\u00b2", "\u0663", "9" * 5000], ids=repr)
def test_a_request_number_that_is_not_ascii_digits_is_no_request(number: str) -> None:
    # "²" and the Arabic-Indic three are digits to str.isdigit() and int() refused them: a
    # traceback, told as a bug.
    gitlab = GitLabPlatform.from_environ({**GITLAB, "CI_MERGE_REQUEST_IID": number})
    with pytest.raises(ReviewError, match="CI_MERGE_REQUEST_IID is not set"):
        gitlab.request_number()
    azure = AzureDevOpsPlatform.from_environ({**AZURE, "SYSTEM_PULLREQUEST_PULLREQUESTID": number})
    with pytest.raises(ReviewError, match="SYSTEM_PULLREQUEST_PULLREQUESTID is not set"):
        azure.request_number()


def test_githubs_secondary_rate_limit_as_a_403_is_waited_out_as_a_429_is() -> None:
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.method)
        if len(asked) == 1:
            message = {"message": "You have exceeded a secondary rate limit."}
            return httpx.Response(403, json=message, headers={"retry-after": "0"})
        return httpx.Response(200, json=[])

    client = GitHubClient(GitHubContext.from_environ(GITHUB), http=_mock(answer))
    listed = client.request("GET", client.repo_url("/issues/5/comments"), what="listing")
    assert (listed.status_code, asked) == (200, ["GET", "GET"])


@pytest.mark.parametrize("kind", [GitHubPlatform, GitLabPlatform])
@pytest.mark.parametrize("sha", ["../../../orgs/x", "a1b2c3#", "", "g" * 40])
def test_a_commit_that_is_no_commit_id_is_refused_before_any_request(
    kind: type[GitHubPlatform] | type[GitLabPlatform], sha: str
) -> None:
    # --sha went into /commits/{sha}/pulls as given: `../../../orgs/x` read another resource.
    def answer(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"sent {request.url}")

    environ = GITHUB if kind is GitHubPlatform else GITLAB
    platform = kind.from_environ(environ)
    platform.client._http = httpx.Client(transport=httpx.MockTransport(answer))
    try:
        with pytest.raises(ReviewError, match="is not a commit id"):
            platform.merged_request_for(sha)
    finally:
        platform.close()
