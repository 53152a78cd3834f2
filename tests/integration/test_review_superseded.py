"""A plan run of a commit the request has moved past (an older run, run again) posts nothing:
the comment and the labels keep the newer push's plan (docs/review-platforms.md). Each
platform's loopback emulator says the request's head; the CI's variables say what was planned.
A plan comment deleted between its listing and its edit is posted anew."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from entrasync.adapters.review.publish import publish_failure, publish_plan
from entrasync.errors import EntrasyncError
from entrasync.render.markdown import comment_marker
from tests.integration.azure_devops import env as azure_devops
from tests.integration.azure_devops.emulator import AzureDevOps
from tests.integration.github import emulator as github_api
from tests.integration.github import env as github
from tests.integration.github.plans import change, plan_of
from tests.integration.gitlab import emulator as gitlab_api
from tests.integration.gitlab import env as gitlab
from tests.integration.review_api import LoopbackApi

PLANNED = "1111111111111111111111111111111111111111"
NEWER = "2222222222222222222222222222222222222222"
MARKER = comment_marker("config/mappings.yaml")


@dataclass(frozen=True)
class Platform:
    emulator: Callable[[], LoopbackApi]
    environ: Callable[[Any, Path], dict[str, str]]  # (emulator, a directory): PLANNED planned
    comments: Callable[[Any], list[str]]  # the bodies on request 7
    delete: Callable[[Any], None]  # every comment on request 7, as a person deleting them


PLATFORMS = [
    pytest.param(
        Platform(
            github_api.Emulator,
            lambda api, directory: github.environ(api, event_dir=directory, head=PLANNED),
            lambda api: [c["body"] for c in api.state.comments.get(7, [])],
            lambda api: api.state.comments.pop(7, None),
        ),
        id="GitHub",
    ),
    pytest.param(
        Platform(
            gitlab_api.GitLab,
            # A merged results pipeline: the merge commit runs, the source head was planned.
            lambda api, _: gitlab.environ(api, CI_MERGE_REQUEST_SOURCE_BRANCH_SHA=PLANNED),
            lambda api: [n["body"] for n in api.state.notes.get(7, [])],
            lambda api: api.state.notes.pop(7, None),
        ),
        id="GitLab",
    ),
    pytest.param(
        Platform(
            AzureDevOps,
            lambda api, _: azure_devops.environ(api, SYSTEM_PULLREQUEST_SOURCECOMMITID=PLANNED),
            lambda api: [t["comments"][0]["content"] for t in api.state.threads.get(7, [])],
            lambda api: api.state.threads.pop(7, None),
        ),
        id="Azure DevOps",
    ),
]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_run_of_a_commit_the_request_moved_past_posts_nothing(
    platform: Platform, tmp_path: Path
) -> None:
    plan = plan_of(change("new@contoso.com"))
    with platform.emulator() as api:
        environ = platform.environ(api, tmp_path)
        state: Any = api.state  # type: ignore[attr-defined]
        state.heads[7] = NEWER
        state.labels[7] = ["entrasync: no changes"]  # the newer push's plan earned it

        def post() -> Any:
            return publish_plan(
                plan, config_path="config/mappings.yaml", owner_roles=frozenset(), environ=environ
            )

        skipped = post()
        failed = publish_failure(
            EntrasyncError("Microsoft Graph answered 503"),
            config_path="config/mappings.yaml",
            environ=environ,
        )
        assert platform.comments(api) == []
        assert state.labels[7] == ["entrasync: no changes"]
        for published in (skipped, failed):
            assert published.superseded == (PLANNED, NEWER)
            assert published.said().startswith(
                "not posted: this run planned commit 111111111111, and the request's head is "
                "now 222222222222"
            )

        state.heads[7] = (
            PLANNED.upper()
        )  # the run of the head itself posts (ids compare case-blind)
        posted = post()
        assert posted.superseded is None
        (body,) = platform.comments(api)
        assert body.startswith(MARKER)
        assert "entrasync: changes" in state.labels[7]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_comment_deleted_between_its_listing_and_its_edit_is_posted_anew(
    platform: Platform, tmp_path: Path
) -> None:
    with platform.emulator() as api:
        environ = platform.environ(api, tmp_path)

        def post(email: str) -> Any:
            plan = plan_of(change(email))
            return publish_plan(
                plan, config_path="config/mappings.yaml", owner_roles=frozenset(), environ=environ
            )

        post("old@contoso.com")
        (old,) = platform.comments(api)
        edits = 0

        def deleted_first(method: str, path: str) -> None:
            nonlocal edits
            if method in ("PATCH", "PUT") and "label" not in path:
                edits += 1
                if edits == 1:  # a person deletes the comment just as the run edits it
                    platform.delete(api)

        api.before_each = deleted_first
        published = post("new@contoso.com")

        (body,) = platform.comments(api)
        assert body.startswith(MARKER)
        assert body != old
        assert published.url
        assert edits == 1
