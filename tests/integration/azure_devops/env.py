"""The variables an Azure Pipelines pull request validation build sees, pointing at an
emulator."""

from __future__ import annotations

from collections.abc import Callable

from tests.integration.azure_devops.emulator import PROJECT, REPOSITORY, TOKEN, AzureDevOps

MakeEnv = Callable[..., dict[str, str]]
SHA = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"


def environ(emulator: AzureDevOps, pr: int = 7, **extra: str) -> dict[str, str]:
    """The variables a pull request validation build sees, pointing at an emulator."""
    return {
        "TF_BUILD": "True",
        "GITHUB_ACTIONS": "",  # the other platforms' marks are off, whatever runs the tests
        "GITHUB_STEP_SUMMARY": "",  # nor is GitHub's job summary
        "GITLAB_CI": "",
        "SYSTEM_COLLECTIONURI": emulator.url + "/",
        "SYSTEM_TEAMPROJECT": PROJECT,
        "BUILD_REPOSITORY_ID": REPOSITORY,
        "BUILD_REPOSITORY_PROVIDER": "TfsGit",  # Azure Repos
        "SYSTEM_PULLREQUEST_PULLREQUESTID": str(pr),
        "BUILD_SOURCEVERSION": SHA,
        "BUILD_BUILDID": "314",
        "SYSTEM_ACCESSTOKEN": TOKEN,
        **extra,
    }
