"""The sticky plan comment against the loopback GitHub emulator."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from entrasync.adapters.review import SUPERSEDED
from entrasync.adapters.review.client import RestClient
from entrasync.adapters.review.publish import publish_plan as publish
from entrasync.core.plan import Action, Plan
from entrasync.errors import GitHubError
from entrasync.render.markdown import comment_marker
from tests.integration.github.emulator import Emulator
from tests.integration.github.env import MakeEnv
from tests.integration.github.plans import change, many, plan_of

CONFIG = "config/mappings.yaml"


def publish_plan(plan: Plan, *, config_path: str, environ: Mapping[str, str]) -> str:
    return publish(
        plan, config_path=config_path, owner_roles=frozenset({"owner"}), environ=environ
    ).url


def test_first_run_creates_one_comment_and_second_run_edits_it(
    github: Emulator, make_env: MakeEnv
) -> None:
    env = make_env(github)
    plan = plan_of(change("alice@contoso.com"))
    first = publish_plan(plan, config_path=CONFIG, environ=env)
    assert github.state.calls("GET", "/user") == 1  # after posting: a racing run's too?
    second = publish_plan(plan, config_path=CONFIG, environ=env)
    assert github.state.calls("GET", "/user") == 2

    comments = github.state.comments[7]
    assert len(comments) == 1
    assert first == second == comments[0]["html_url"]
    assert (github.state.calls("POST", "/comments"), github.state.calls("PATCH")) == (1, 1)
    assert comments[0]["body"].startswith(comment_marker(CONFIG))


def test_a_duplicate_left_by_two_racing_runs_is_superseded_and_the_oldest_kept(
    github: Emulator, make_env: MakeEnv
) -> None:
    # Two runs that listed at once both posted: every later run edited only the oldest, and
    # the newer, lower in the conversation, kept its stale plan for good.
    first = github.state.add_comment(7, comment_marker(CONFIG) + "\nrun A's plan")
    second = github.state.add_comment(7, comment_marker(CONFIG) + "\nrun B's plan")
    env = make_env(github)
    url = publish_plan(plan_of(change("carol@contoso.com")), config_path=CONFIG, environ=env)

    bodies = {c["id"]: c["body"] for c in github.state.comments[7]}
    assert url == f"/c/{first}"
    assert "carol" in bodies[first]
    assert bodies[second] == SUPERSEDED
    publish_plan(plan_of(change("dave@contoso.com")), config_path=CONFIG, environ=env)
    bodies = {c["id"]: c["body"] for c in github.state.comments[7]}
    assert ("dave" in bodies[first], bodies[second]) == (True, SUPERSEDED)


def test_a_run_that_posts_beside_a_racing_run_leaves_one_comment_with_the_marker(
    github: Emulator, make_env: MakeEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The other run's comment lands between this run's listing and its own post.
    request_json = RestClient.request_json
    raced: list[int] = []

    def racing(self: RestClient, method: str, url: Any, *args: Any, **kwargs: Any) -> Any:
        if method == "POST" and not raced:
            raced.append(github.state.add_comment(7, comment_marker(CONFIG) + "\nrun A's plan"))
        return request_json(self, method, url, *args, **kwargs)

    monkeypatch.setattr(RestClient, "request_json", racing)
    url = publish_plan(
        plan_of(change("carol@contoso.com")), config_path=CONFIG, environ=make_env(github)
    )

    comments = github.state.comments[7]
    assert len(comments) == 2
    kept, posted = comments
    assert (kept["id"], url) == (raced[0], f"/c/{raced[0]}")
    assert kept["body"].startswith(comment_marker(CONFIG))
    assert "carol" in kept["body"]
    assert posted["body"] == SUPERSEDED


def test_a_failure_to_list_again_after_posting_leaves_the_posted_comment_a_success(
    github: Emulator, make_env: MakeEnv
) -> None:
    github.state.fail[("GET", r".*/user$")] = (500, "the API is down")
    url = publish_plan(
        plan_of(change("carol@contoso.com")), config_path=CONFIG, environ=make_env(github)
    )
    (comment,) = github.state.comments[7]
    assert url == comment["html_url"]
    assert github.state.calls("GET", "/user") >= 1


def test_a_changed_plan_updates_the_same_comment(github: Emulator, make_env: MakeEnv) -> None:
    env = make_env(github)
    publish_plan(plan_of(change("alice@contoso.com")), config_path=CONFIG, environ=env)
    publish_plan(
        plan_of(change("alice@contoso.com"), change("bob@contoso.com", Action.UPDATE, "admin")),
        config_path=CONFIG,
        environ=env,
    )
    (comment,) = github.state.comments[7]
    assert "Plan: 1 to create, 1 to update, 0 to deactivate, 0 to reactivate." in comment["body"]
    assert "bob" in comment["body"]


def test_each_config_file_gets_its_own_comment(github: Emulator, make_env: MakeEnv) -> None:
    env = make_env(github)
    for path in ("config/mappings.yaml", "config/staging.yaml", "config/mappings.yaml"):
        publish_plan(
            plan_of(change("a@contoso.com"), config_path=path), config_path=path, environ=env
        )
    assert len(github.state.comments[7]) == 2


def test_the_marker_is_found_past_the_first_page_via_link_headers(
    github: Emulator, make_env: MakeEnv
) -> None:
    for i in range(230):
        github.state.add_comment(7, f"LGTM {i}", {"login": "reviewer", "type": "User"})
    sticky = github.state.add_comment(7, comment_marker(CONFIG) + "\nold plan")
    publish_plan(plan_of(change("a@contoso.com")), config_path=CONFIG, environ=make_env(github))

    comments = github.state.comments[7]
    assert len(comments) == 231
    assert "old plan" not in comments[-1]["body"]
    assert comments[-1]["id"] == sticky
    assert sum("page=3" in path for _, path in github.state.requests) == 1


@pytest.mark.parametrize(
    ("own_login", "author"),
    [
        pytest.param(
            "entrasync-bot", {"login": "entrasync-bot", "type": "User"}, id="a personal token"
        ),
        pytest.param(
            None, {"login": "github-actions[bot]", "type": "Bot"}, id="the workflow token"
        ),
        pytest.param(
            None, {"login": "acme-entrasync[bot]", "type": "Bot"}, id="a GitHub App's token"
        ),
    ],
)
def test_our_own_comment_is_edited_never_a_persons_copy_of_the_marker(
    github: Emulator, make_env: MakeEnv, own_login: str | None, author: dict[str, str]
) -> None:
    github.state.user = {"login": own_login, "type": "User"} if own_login else None
    github.state.bot = author
    eve = {"login": "eve", "type": "User"}
    quoted = github.state.add_comment(7, "why? " + comment_marker(CONFIG), eve)
    copied = github.state.add_comment(7, comment_marker(CONFIG) + "\nfake", eve)
    # Another app's bot mirroring the thread, before ours: never taken for ours.
    mirror = {"login": "some-mirror[bot]", "type": "Bot"}
    mirrored = github.state.add_comment(7, comment_marker(CONFIG) + "\nmirrored", mirror)
    ours = github.state.add_comment(7, comment_marker(CONFIG) + "\nold", author)
    publish_plan(plan_of(change("a@contoso.com")), config_path=CONFIG, environ=make_env(github))
    bodies = {c["id"]: c["body"] for c in github.state.comments[7]}
    assert "Plan: 1 to create" in bodies[ours]
    assert bodies[quoted].startswith("why?")
    assert bodies[copied].endswith("fake")
    assert bodies[mirrored].endswith("mirrored")
    assert len(bodies) == 4


def test_a_github_apps_token_edits_its_own_comment_not_the_workflow_tokens(
    github: Emulator, make_env: MakeEnv
) -> None:
    # An App's installation token, as GET /user refuses it: only github-actions[bot]'s comment
    # was taken for its own, so each run posted one more of its own.
    github.state.bot = {"login": "acme-entrasync[bot]", "type": "Bot"}
    workflows = github.state.add_comment(7, comment_marker(CONFIG) + "\nother job")
    env = make_env(github)
    for user in ("a@contoso.com", "b@contoso.com", "c@contoso.com"):
        publish_plan(plan_of(change(user)), config_path=CONFIG, environ=env)
    comments = github.state.comments[7]
    assert [c["user"]["login"] for c in comments] == ["github-actions[bot]", "acme-entrasync[bot]"]
    assert comments[0]["id"] == workflows
    assert comments[0]["body"].endswith("other job")
    assert "c@" in comments[1]["body"]
    assert github.state.calls("POST", "/graphql") == 3


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        ((502, "Bad Gateway"), "run the job again"),
        ((200, "Resource not accessible by integration"), "check the token"),
        ((200, "API rate limit exceeded for installation ID 123."), "rate limit is used up"),
    ],
)
def test_an_installation_token_whose_login_graphql_does_not_tell_posts_nothing(
    github: Emulator, make_env: MakeEnv, answer: tuple[int, str], hint: str
) -> None:
    # Asked only when a comment carries the marker: whose is it?
    github.state.add_comment(7, comment_marker(CONFIG) + "\nold")
    status, message = answer
    if status == 200:  # GraphQL's errors come with 200, and no data
        github.state.fail[("POST", "/graphql")] = (200, message)
    else:
        github.state.fail[("POST", "/graphql")] = answer
    with pytest.raises(GitHubError) as caught:
        publish_plan(plan_of(change("a@contoso.com")), config_path=CONFIG, environ=make_env(github))
    assert "GraphQL" in caught.value.message
    assert message in caught.value.message
    assert hint in (caught.value.hint or "")
    assert github.state.calls("POST", "/comments") == github.state.calls("PATCH") == 0


def test_a_persons_copy_of_the_marker_alone_gets_a_new_comment_beside_it(
    github: Emulator, make_env: MakeEnv
) -> None:
    copied = github.state.add_comment(7, comment_marker(CONFIG) + "\nfake", {"login": "eve"})
    publish_plan(plan_of(change("a@contoso.com")), config_path=CONFIG, environ=make_env(github))
    comments = github.state.comments[7]
    assert comments[0]["id"] == copied
    assert comments[0]["body"].endswith("fake")
    assert len(comments) == 2


def test_github_enterprise_server_base_url_is_honoured(make_env: MakeEnv) -> None:
    with Emulator(base_path="/api/v3") as ghes:
        url = publish_plan(
            plan_of(change("a@contoso.com")), config_path=CONFIG, environ=make_env(ghes)
        )
        assert url == ghes.state.comments[7][0]["html_url"]
        paths = [path for _, path in ghes.state.requests]
        assert "/api/graphql" in paths  # GraphQL beside REST, as GitHub Enterprise Server has it
        assert all(path.startswith("/api/v3/") for path in paths if path != "/api/graphql")


def test_a_5000_change_plan_fits_in_one_comment(github: Emulator, make_env: MakeEnv) -> None:
    publish_plan(many(5000), config_path=CONFIG, environ=make_env(github))
    (comment,) = github.state.comments[7]
    assert len(comment["body"]) <= 65536
    assert "Plan: 5000 to create" in comment["body"]
    assert "rows left out" in comment["body"]
    assert (
        "the full plan is in the job summary and the plan artifact of this workflow run."
        in comment["body"]
    )


HOSTILE = [
    pytest.param("<img src=x onerror=alert(1)>", "<img", id="an HTML tag stays text"),
    pytest.param("@everyone look", "@everyone", id="an at-mention does not notify"),
    pytest.param("x | y\n| injected | row |", "| injected |", id="a pipe cannot add a table row"),
    pytest.param("**bold** [link](https://evil.example)", "](https", id="markdown stays literal"),
    pytest.param("</details><!--", "</details><!--", id="a fold cannot be closed early"),
]


@pytest.mark.parametrize(("name", "forbidden"), HOSTILE)
def test_directory_names_cannot_inject_markup(
    github: Emulator, make_env: MakeEnv, name: str, forbidden: str
) -> None:
    hostile = change("mallory@contoso.com", display_name=name, groups=(name,))
    publish_plan(plan_of(hostile), config_path=CONFIG, environ=make_env(github))
    (comment,) = github.state.comments[7]
    assert forbidden not in comment["body"]


FAILURES = [
    pytest.param(
        ("POST", r".*/issues/7/comments"),
        403,
        "pull-requests: write",
        id="403 names the permission",
    ),
    pytest.param(
        ("GET", r".*/issues/7/comments"), 404, "GITHUB_API_URL", id="404 names the URL to check"
    ),
    pytest.param(("POST", r".*/issues/7/comments"), 422, "65,536", id="422 names the size limit"),
]


@pytest.mark.parametrize(("where", "status", "hint"), FAILURES)
def test_a_failure_to_post_raises_with_a_hint(
    github: Emulator, make_env: MakeEnv, where: tuple[str, str], status: int, hint: str
) -> None:
    github.state.fail[where] = (status, "nope")
    with pytest.raises(GitHubError) as caught:
        publish_plan(plan_of(change("a@contoso.com")), config_path=CONFIG, environ=make_env(github))
    assert str(status) in caught.value.message
    assert hint in (caught.value.hint or "")


def test_a_success_that_is_not_the_apis_json_is_a_github_error(
    github: Emulator, make_env: MakeEnv
) -> None:
    github.answers[("POST", r".*/issues/7/comments")] = (201, "created", "text/plain")
    with pytest.raises(GitHubError) as caught:
        publish_plan(plan_of(change("a@contoso.com")), config_path=CONFIG, environ=make_env(github))
    assert type(caught.value) is GitHubError
    assert caught.value.message == (
        "GitHub answered 201 to POST while commenting on #7 with a body that is not JSON "
        "(text/plain)"
    )
    assert "API URL" in (caught.value.hint or "")


def test_the_token_never_follows_a_link_to_another_host(
    github: Emulator, make_env: MakeEnv
) -> None:
    for i in range(120):
        github.state.add_comment(7, f"c{i}")
    github.state.foreign_next = "https://elsewhere.example/steal?page=2"
    with pytest.raises(GitHubError, match="refusing to send the GitHub token"):
        publish_plan(plan_of(change("a@contoso.com")), config_path=CONFIG, environ=make_env(github))
    # The API's own host, with a user and password: httpx sent those in place of the token.
    github.state.foreign_next = github.url.replace("://", "://user:pass@") + "/steal?page=2"
    with pytest.raises(GitHubError, match="refusing to follow a link carrying a user name"):
        publish_plan(plan_of(change("a@contoso.com")), config_path=CONFIG, environ=make_env(github))


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        pytest.param({"GITHUB_TOKEN": ""}, "GITHUB_TOKEN", id="no token"),
        pytest.param({"GITHUB_REPOSITORY": "contoso"}, "owner/name", id="a malformed repository"),
        pytest.param({"GITHUB_EVENT_PATH": ""}, "GITHUB_EVENT_PATH", id="no event payload"),
        pytest.param(
            {"GITHUB_API_URL": "http://github.example/api/v3"},
            "https",
            id="plain http off loopback",
        ),
    ],
)
def test_a_missing_or_unsafe_setting_is_refused_before_any_request(
    github: Emulator,
    make_env: MakeEnv,
    override: dict[str, str],
    needle: str,
    off_loopback: list[str],
) -> None:
    env = make_env(github) | override
    with pytest.raises(GitHubError, match=needle):
        publish_plan(plan_of(change("a@contoso.com")), config_path=CONFIG, environ=env)
    assert (github.state.requests, off_loopback) == ([], [])


OWN = {"login": "entrasync-bot", "type": "User"}  # a personal token's user


@pytest.mark.parametrize(
    ("status", "message"),
    [
        pytest.param(502, "Bad Gateway", id="a 502"),
        pytest.param(401, "Bad credentials", id="a 401"),
        pytest.param(403, "API rate limit exceeded for user ID 1.", id="a rate-limit 403"),
        pytest.param(
            403,
            "You have exceeded a secondary rate limit. Please wait a few minutes.",
            id="a secondary-rate-limit 403",
        ),
        pytest.param(
            403,
            "Although you appear to have the correct authorization credentials, the organization "
            "has an IP allow list enabled",
            id="an IP allow list's 403",
        ),
    ],
)
def test_a_failure_to_read_the_tokens_user_is_an_error_not_a_second_comment(
    github: Emulator, make_env: MakeEnv, status: int, message: str
) -> None:
    github.state.user = OWN
    ours = github.state.add_comment(7, comment_marker(CONFIG) + "\nold", OWN)
    github.state.fail[("GET", "/user")] = (status, message)
    with pytest.raises(GitHubError) as caught:
        publish_plan(plan_of(change("a@contoso.com")), config_path=CONFIG, environ=make_env(github))
    assert caught.value.message.startswith(f"GitHub answered {status} to GET while reading")
    assert caught.value.status == status
    assert [c["id"] for c in github.state.comments[7]] == [ours]
    assert github.state.comments[7][0]["body"].endswith("old")


@pytest.mark.parametrize(
    ("body", "said"),
    [
        pytest.param(
            [],
            "GitHub answered 200 to GET while reading the token's user with a JSON list where a "
            "JSON object was due",
            id="a list",
        ),
        pytest.param(
            {"type": "User"},
            "GitHub's answer while reading the token's user has no login",
            id="an object without a login",
        ),
    ],
)
def test_a_200_that_is_not_a_user_is_an_error_not_a_second_comment(
    github: Emulator, make_env: MakeEnv, body: object, said: str
) -> None:
    ours = github.state.add_comment(7, comment_marker(CONFIG) + "\nold", OWN)
    github.answers[("GET", r".*/user")] = (200, body, "application/json")
    with pytest.raises(GitHubError) as caught:
        publish_plan(plan_of(change("a@contoso.com")), config_path=CONFIG, environ=make_env(github))
    assert caught.value.message == said
    assert "GITHUB_API_URL" in (caught.value.hint or "")
    assert [c["id"] for c in github.state.comments[7]] == [ours]


@pytest.mark.parametrize(
    ("message", "hint"),
    [
        pytest.param(
            "You have exceeded a secondary rate limit. Please wait a few minutes.",
            "GitHub's secondary rate limit (too many requests at once or in a minute) was hit: "
            "wait 400 seconds and re-run the job",
            id="secondary",
        ),
        pytest.param(
            "API rate limit exceeded for user ID 1.",
            "the GitHub API rate limit is used up: wait for the reset and re-run the job",
            id="primary",
        ),
    ],
)
def test_a_rate_limit_403_says_to_wait_not_to_change_permissions(
    github: Emulator, make_env: MakeEnv, message: str, hint: str
) -> None:
    github.state.fail[("POST", "/repos/[^/]+/[^/]+/issues/7/comments")] = (403, message)
    with pytest.raises(GitHubError) as caught:
        publish_plan(plan_of(change("a@contoso.com")), config_path=CONFIG, environ=make_env(github))
    assert caught.value.hint == hint
