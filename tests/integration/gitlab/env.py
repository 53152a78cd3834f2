"""The variables a GitLab merge request pipeline's job sees, pointing at an emulator."""

from __future__ import annotations

from collections.abc import Callable

from tests.integration.gitlab.emulator import PROJECT_ID, TOKEN, GitLab

MakeEnv = Callable[..., dict[str, str]]
SHA = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"


def environ(emulator: GitLab, iid: int = 7, **extra: str) -> dict[str, str]:
    """The variables a merge request pipeline's job sees, pointing at an emulator."""
    return {
        "GITLAB_CI": "true",
        "GITHUB_ACTIONS": "",  # the other platforms' marks are off, whatever runs the tests
        "GITHUB_STEP_SUMMARY": "",  # nor is GitHub's job summary
        "TF_BUILD": "",
        "CI_API_V4_URL": emulator.url,
        "CI_PROJECT_ID": PROJECT_ID,
        "CI_PROJECT_URL": "https://gitlab.example/contoso/access",
        "CI_MERGE_REQUEST_IID": str(iid),
        "CI_COMMIT_SHA": SHA,
        "CI_PIPELINE_URL": "https://gitlab.example/contoso/access/-/pipelines/99",
        "CI_PIPELINE_ID": "99",
        "CI_JOB_ID": "501",
        "ENTRASYNC_GITLAB_TOKEN": TOKEN,
        **extra,
    }
