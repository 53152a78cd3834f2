"""A success that is not the review platform's JSON is the platform's error with a hint, never a
traceback: a proxy's text, a list where an object is due, a new comment without its id. Each
platform's loopback emulator gives the answer in the API's place (docs/review-platforms.md,
"When posting fails")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from entrasync.adapters.review.publish import publish_plan
from entrasync.errors import ReviewError
from tests.integration.azure_devops import conftest as azure_devops
from tests.integration.azure_devops.emulator import AzureDevOps
from tests.integration.github.plans import change, plan_of
from tests.integration.gitlab import conftest as gitlab
from tests.integration.gitlab.emulator import GitLab
from tests.integration.review_api import LoopbackApi

PLATFORMS = [
    pytest.param(GitLab, gitlab.environ, "GitLab", "notes", "!7", id="GitLab"),
    pytest.param(
        AzureDevOps, azure_devops.environ, "Azure DevOps", "threads", "PR 7", id="Azure DevOps"
    ),
]
ANSWERS = [
    pytest.param(
        "GET",
        "upstream ok",
        "text/plain",
        "{name} answered 200 to GET while listing the {items} of {number} with a body that is "
        "not JSON (text/plain)",
        id="text from a proxy",
    ),
    pytest.param(
        "POST",
        [],
        "application/json",
        "{name} answered 200 to POST while commenting on {number} with a JSON list where a "
        "JSON object was due",
        id="a list where an object is due",
    ),
    pytest.param(
        "POST",
        {"body": "posted"},
        "application/json",
        "{name}'s answer to POST while commenting on {number} has no integer 'id'",
        id="a new comment without its id",
    ),
]


@pytest.mark.parametrize(("emulator", "environ", "name", "items", "number"), PLATFORMS)
@pytest.mark.parametrize(("method", "body", "content_type", "said"), ANSWERS)
def test_a_success_that_is_not_the_apis_json_is_the_platforms_error(
    emulator: Callable[[], LoopbackApi],
    environ: Callable[[Any], dict[str, str]],
    name: str,
    items: str,
    number: str,
    method: str,
    body: Any,
    content_type: str,
    said: str,
) -> None:
    with emulator() as api:
        api.answers[(method, f".*/{items}")] = (200, body, content_type)
        with pytest.raises(ReviewError) as caught:
            publish_plan(
                plan_of(change("a@contoso.com")),
                config_path="config/mappings.yaml",
                owner_role="owner",
                environ=environ(api),
            )
    assert type(caught.value) is ReviewError
    assert caught.value.message == said.format(name=name, items=items, number=number)
    assert "API URL" in (caught.value.hint or "")
