"""Which review platform this pipeline runs on, from the variables each CI sets.

GitHub Actions sets ``GITHUB_ACTIONS=true``
(https://docs.github.com/en/actions/reference/variables-reference), GitLab CI
``GITLAB_CI=true`` (https://docs.gitlab.com/ci/variables/predefined_variables/), Azure
Pipelines ``TF_BUILD=True``
(https://learn.microsoft.com/azure/devops/pipelines/build/variables#system-variables).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from entrasync.adapters.azure_devops import AzureDevOpsPlatform
from entrasync.adapters.github.rest import GitHubPlatform
from entrasync.adapters.gitlab import GitLabPlatform
from entrasync.adapters.review import ReviewPlatform
from entrasync.errors import ReviewError

PLATFORMS: dict[str, Callable[[Mapping[str, str]], ReviewPlatform]] = {
    "GITHUB_ACTIONS": GitHubPlatform.from_environ,
    "GITLAB_CI": GitLabPlatform.from_environ,
    "TF_BUILD": AzureDevOpsPlatform.from_environ,
}


def detect(environ: Mapping[str, str]) -> ReviewPlatform:
    """The platform whose CI variable is ``true`` (any case); an error when none or several are."""
    found = [name for name in PLATFORMS if environ.get(name, "").strip().lower() == "true"]
    if not found:
        raise ReviewError(
            "no review platform detected: none of GITHUB_ACTIONS=true, GITLAB_CI=true or "
            "TF_BUILD=True is set",
            "run inside GitHub Actions, GitLab CI or Azure Pipelines, or set the variable of "
            "the platform to post to, with that platform's variables (docs/review-platforms.md)",
        )
    if len(found) > 1:
        raise ReviewError(
            f"more than one review platform detected ({', '.join(f'{n}=true' for n in found)})",
            "unset the variables of the platforms this job does not run on",
        )
    return PLATFORMS[found[0]](environ)
