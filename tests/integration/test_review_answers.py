"""A success that is not the review platform's JSON is the platform's error with a hint, never a
traceback: a proxy's text, a list where an object is due, an item that is not an object, a
comment without its id. Each platform's loopback emulator gives the answer in the API's place
(docs/review-platforms.md, "When posting fails")."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from entrasync.adapters.github.rest import GitHubPlatform
from entrasync.adapters.review import SUPERSEDED
from entrasync.adapters.review.publish import publish_plan
from entrasync.errors import GitHubError, ReviewError
from entrasync.render.markdown import comment_marker
from tests.integration.azure_devops import env as azure_devops
from tests.integration.azure_devops.emulator import BUILD_SERVICE, AzureDevOps
from tests.integration.github import emulator as github_api
from tests.integration.github import env as github
from tests.integration.github.plans import change, plan_of
from tests.integration.gitlab import emulator as gitlab_api
from tests.integration.gitlab import env as gitlab
from tests.integration.review_api import LoopbackApi

MARKER = comment_marker("config/mappings.yaml")


@dataclass(frozen=True)
class Platform:
    emulator: Callable[[], LoopbackApi]
    environ: Callable[[Any, Path], dict[str, str]]  # (emulator, a directory for files)
    error: type[ReviewError]
    name: str
    items: str  # what a request's listing holds, as the messages name it
    number: str  # the request, as the messages name it
    listing: Callable[[list[Any]], Any]  # the body of a listing of these items
    item: Callable[[str, Any], dict[str, Any]]  # a listed item (no id): its text and author
    own: Any  # the author the token is
    texts: Callable[[Any], list[str]]  # the texts of request 7's items, oldest first


GITHUB = Platform(
    github_api.Emulator,
    lambda api, directory: github.environ(api, event_dir=directory),
    GitHubError,
    "GitHub",
    "comments",
    "#7",
    list,
    lambda text, author: {"body": text, "user": author},
    github_api.BOT,  # the workflow token, whose GET /user is 403
    lambda api: [c["body"] for c in api.state.comments[7]],
)
GITLAB = Platform(
    gitlab_api.GitLab,
    lambda api, _: gitlab.environ(api),
    ReviewError,
    "GitLab",
    "notes",
    "!7",
    list,
    lambda text, author: {"body": text, "author": author},
    gitlab_api.BOT,
    lambda api: [n["body"] for n in api.state.notes[7]],
)
AZURE_DEVOPS = Platform(
    AzureDevOps,
    lambda api, _: azure_devops.environ(api),
    ReviewError,
    "Azure DevOps",
    "threads",
    "PR 7",
    lambda items: {"value": items, "count": len(items)},
    lambda text, author: {"comments": [{"id": 1, "content": text, "author": author}]},
    BUILD_SERVICE,
    lambda api: [t["comments"][0]["content"] for t in api.state.threads[7]],
)
PLATFORMS = [pytest.param(p, id=p.name) for p in (GITHUB, GITLAB, AZURE_DEVOPS)]
LISTED = "{name}'s answer while listing the {items} of {number}"
ANSWERS = [
    pytest.param(
        "GET",
        lambda p: "upstream ok",
        "text/plain",
        "{name} answered 200 to GET while listing the {items} of {number} with a body that is "
        "not JSON (text/plain)",
        id="text from a proxy",
    ),
    pytest.param(
        "POST",
        lambda p: [],
        "application/json",
        "{name} answered 200 to POST while commenting on {number} with a JSON list where a "
        "JSON object was due",
        id="a list where an object is due",
    ),
    pytest.param(
        "GET",
        lambda p: p.listing([1]),
        "application/json",
        LISTED + " has a JSON number where a JSON object was due",
        id="an item that is not an object",
    ),
    pytest.param(
        "GET",
        lambda p: p.listing([p.item(MARKER + "\nold", p.own)]),
        "application/json",
        LISTED + " has no integer 'id'",
        id="our listed comment without its id",
    ),
]


def publish(platform: Platform, api: LoopbackApi, directory: Path) -> str:
    return publish_plan(
        plan_of(change("a@contoso.com")),
        config_path="config/mappings.yaml",
        owner_roles=frozenset({"owner"}),
        environ=platform.environ(api, directory),
    ).url


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize(("method", "body", "content_type", "said"), ANSWERS)
def test_a_success_that_is_not_the_apis_json_is_the_platforms_error(
    platform: Platform,
    method: str,
    body: Callable[[Platform], Any],
    content_type: str,
    said: str,
    tmp_path: Path,
) -> None:
    with platform.emulator() as api:
        api.answers[(method, f".*/{platform.items}")] = (200, body(platform), content_type)
        with pytest.raises(ReviewError) as caught:
            publish(platform, api, tmp_path)
    assert type(caught.value) is platform.error
    expected = said.format(name=platform.name, items=platform.items, number=platform.number)
    assert caught.value.message == expected
    assert "API URL" in (caught.value.hint or "")


@pytest.mark.parametrize("platform", [pytest.param(p, id=p.name) for p in (GITHUB, GITLAB)])
def test_a_redirect_is_not_followed_and_says_where_it_led(
    platform: Platform, tmp_path: Path
) -> None:
    # GitLab said "answered 302 to GET while listing the notes of !7: " and nothing more.
    with platform.emulator() as api:
        api.answers[("GET", f".*/{platform.items}")] = (302, "", "text/plain")
        location = {"Location": "https://login.example/sso"}
        api.answer_headers[("GET", f".*/{platform.items}")] = location
        with pytest.raises(ReviewError) as caught:
            publish(platform, api, tmp_path)
    listing = f"listing the {platform.items} of {platform.number}"
    assert caught.value.message == (
        f"{platform.name} answered 302 (a redirect to login.example) to GET while {listing}: "
        "not followed, as it would carry the token along"
    )
    assert "API URL" in (caught.value.hint or "")


def test_a_thread_listing_without_its_value_is_the_error_not_an_empty_listing(
    tmp_path: Path,
) -> None:
    # Read as no thread, our thread was never found and a second one posted beside it.
    with AZURE_DEVOPS.emulator() as api:
        api.answers[("GET", ".*/threads")] = (200, {"count": 1}, "application/json")
        with pytest.raises(ReviewError) as caught:
            publish(AZURE_DEVOPS, api, tmp_path)
        assert api.calls("POST", "threads") == 0
    assert (
        caught.value.message
        == "Azure DevOps's answer while listing the threads of PR 7 has no 'value'"
    )
    assert "API URL" in (caught.value.hint or "")


@pytest.mark.parametrize("platform", [pytest.param(p, id=p.name) for p in (GITLAB, AZURE_DEVOPS)])
def test_a_new_comment_without_its_id_is_the_platforms_error(
    platform: Platform, tmp_path: Path
) -> None:
    """GitLab and Azure DevOps link the new comment by its id (GitHub by its ``html_url``)."""
    with platform.emulator() as api:
        api.answers[("POST", f".*/{platform.items}")] = (
            200,
            {"body": "posted"},
            "application/json",
        )
        with pytest.raises(ReviewError) as caught:
            publish(platform, api, tmp_path)
    assert caught.value.message == (
        f"{platform.name}'s answer while commenting on {platform.number} has no integer 'id'"
    )
    assert "API URL" in (caught.value.hint or "")


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("author", ["x", ["x"], None], ids=["a string", "a list", "null"])
def test_an_author_that_is_not_an_object_is_not_ours(
    platform: Platform, author: Any, tmp_path: Path
) -> None:
    listed = platform.item(MARKER + "\nold", author) | {"id": 5}
    with platform.emulator() as api:
        api.answers[("GET", f".*/{platform.items}")] = (
            200,
            platform.listing([listed]),
            "application/json",
        )
        publish(platform, api, tmp_path)
        edits = api.calls("PATCH", f"/{platform.items}/") + api.calls("PUT", f"/{platform.items}/")
        assert (api.calls("POST", platform.items), edits) == (1, 0)  # a new one beside it


SHA = "abc123def4567890"
FINDING = f"finding the pull request of commit {SHA[:12]}"


@pytest.mark.parametrize(
    ("pulls", "said"),
    [
        pytest.param(
            [{"number": 3, "merged_at": None}, 1],
            f"GitHub's answer while {FINDING} has a JSON number where a JSON object was due",
            id="a listed pull that is not an object",
        ),
        pytest.param(
            [{"number": 3, "merged_at": None}, {"number": "12", "merged_at": "2026-11-28"}],
            f"GitHub's answer while {FINDING} has no integer 'number'",
            id="a merged pull without an integer number",
        ),
        pytest.param(
            {"number": 12},
            f"GitHub answered 200 to GET while {FINDING} with a JSON object where a JSON list "
            "was due",
            id="an object where the list is due",
        ),
    ],
)
def test_the_merged_pull_of_a_commit_in_another_shape_is_githubs_error(
    pulls: Any, said: str, tmp_path: Path
) -> None:
    """GitLab's and Azure DevOps's own are in their folders' tests."""
    with github_api.Emulator() as api:
        api.answers[("GET", r".*/commits/[0-9a-f]+/pulls")] = (200, pulls, "application/json")
        with (
            GitHubPlatform.from_environ(GITHUB.environ(api, tmp_path)) as platform,
            pytest.raises(GitHubError) as caught,
        ):
            platform.merged_request_for(SHA)
    assert caught.value.message == said
    assert "GITHUB_API_URL" in (caught.value.hint or "")


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_new_comment_answered_504_is_not_posted_again(platform: Platform, tmp_path: Path) -> None:
    """A gateway's 504 may follow a comment the platform posted: sent again, the request had
    two comments, and later runs edited only the first."""
    with platform.emulator() as api:
        api.answers[("POST", f".*/{platform.items}")] = (504, {}, "application/json")
        with pytest.raises(ReviewError) as caught:
            publish(platform, api, tmp_path)
        posts = api.calls("POST", f"/{platform.items}")
    assert posts == 1
    assert caught.value.message == (
        f"{platform.name} answered 504 (a gateway timeout) to POST while commenting on "
        f"{platform.number}: it may have been carried out all the same"
    )
    assert "found and edited, not posted twice" in (caught.value.hint or "")


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_new_comment_answered_503_is_posted_again_and_a_copy_it_made_superseded(
    platform: Platform, tmp_path: Path
) -> None:
    """A 503 says the platform did not take the comment (RFC 9110, 15.6.4): it is posted again.
    A gateway that said so of a comment the platform did post leaves two; the run keeps the
    first and edits the second to a note that says how two came about."""
    with platform.emulator() as api:
        api.carried_out[("POST", f".*/{platform.items}")] = (503, {}, "application/json")
        publish(platform, api, tmp_path)
        posts, texts = api.calls("POST", f"/{platform.items}"), platform.texts(api)
    assert posts == 2
    assert len(texts) == 2
    assert texts[0].startswith(MARKER)
    assert "Plan: 1 to create" in texts[0]
    assert texts[1] == SUPERSEDED
    assert "carried out all the same" in SUPERSEDED


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize(
    ("status", "said"),
    [
        (500, "failed on its side: run the job again (the plan comment"),
        (502, "failed on its side: run the job again (the plan comment"),
        (409, "refused the request, as its message says: if a re-run of the job gets"),
    ],
)
def test_an_answer_no_platform_hint_covers_still_says_what_to_do(
    platform: Platform, status: int, said: str, tmp_path: Path
) -> None:
    """Each platform's hints name 401, 403, 404 and 429; any other failure has a hint too."""
    with platform.emulator() as api:
        api.answers[("POST", f".*/{platform.items}")] = (status, {}, "application/json")
        with pytest.raises(ReviewError) as caught:
            publish(platform, api, tmp_path)
    assert caught.value.message.startswith(f"{platform.name} answered {status} to POST")
    assert (caught.value.hint or "").startswith(f"{platform.name} {said}")
