"""The GitLab CI and Azure Pipelines examples: they validate against the platforms' published
schemas (check-jsonschema's vendored copies, no network), and they keep the security model of
the GitHub workflows: the plan never runs code from the change under review while holding
secrets, main's config is the trusted one, apply runs from the default branch only, and
tokens reach the tool only through masked variables or a step's secret mapping."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.cli_calls import assert_real_call
from tests.unit.test_workflows import commands

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
GITLAB = EXAMPLES / "gitlab" / ".gitlab-ci.yml"
AZURE = EXAMPLES / "azure-pipelines" / "azure-pipelines.yml"
TEMPLATES = EXAMPLES / "azure-pipelines" / "templates"
TEMPLATE = TEMPLATES / "entrasync.yml"
SECRETS = ("NEURALTRUST_SCIM_TOKEN", "ENTRASYNC_GITLAB_TOKEN", "SYSTEM_ACCESSTOKEN")
GIT = [
    "git",
    "-c",
    "user.name=t",
    "-c",
    "user.email=t@example.invalid",
    "-c",
    "init.defaultBranch=main",
]


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


# The published schemas -------------------------------------------------------------------

# The vendored Azure Pipelines schema holds a pattern that check-jsonschema's default
# (ECMAScript) regex engine refuses; Python's engine reads it.
SCHEMA_CASES = [
    (GITLAB, ["--builtin-schema", "vendor.gitlab-ci"]),
    *(
        (
            path,
            [
                "--builtin-schema",
                "vendor.azure-pipelines",
                "--data-transform",
                "azure-pipelines",
                "--regex-variant",
                "python",
            ],
        )
        for path in [AZURE, *sorted(TEMPLATES.glob("*.yml"))]
    ),
]


def check_jsonschema(path: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    # A proxy that refuses every connection: the schemas must come from the package itself.
    env = {**os.environ, "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--no-cache", *args, str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_every_example_file_is_checked_against_its_schema() -> None:
    shipped = {p for p in EXAMPLES.rglob("*") if p.is_file()}
    assert shipped == {path for path, _ in SCHEMA_CASES}


@pytest.mark.parametrize(
    ("path", "args"), SCHEMA_CASES, ids=[str(p.relative_to(EXAMPLES)) for p, _ in SCHEMA_CASES]
)
def test_the_example_validates_against_the_published_schema(
    path: Path, args: list[str], tmp_path: Path
) -> None:
    text = path.read_text(encoding="utf-8")
    if NEWER_THAN_THE_SCHEMA in text:  # checked without it; the rest must still validate
        path = tmp_path / path.name
        path.write_text(text.replace(NEWER_THAN_THE_SCHEMA, ""), encoding="utf-8")
    done = check_jsonschema(path, args)
    assert done.returncode == 0, done.stdout + done.stderr


# An input of AzureCLI@2 (microsoft/azure-pipelines-tasks, Tasks/AzureCLIV2/task.json) that the
# vendored Azure Pipelines schema lacks.
NEWER_THAN_THE_SCHEMA = "      allowNoSubscriptions: true\n"


@pytest.mark.parametrize(
    ("path", "args", "break_it"),
    [
        (GITLAB, SCHEMA_CASES[0][1], lambda d: d["entrasync-plan"].update(when="sometimes")),
        (TEMPLATE, SCHEMA_CASES[1][1], lambda d: d["stages"][0].update(stage=["plan"])),
    ],
    ids=["gitlab: a job with an unknown when", "azure: a stage whose name is a list"],
)
def test_the_schema_check_fails_on_a_broken_copy(
    path: Path, args: list[str], break_it: Any, tmp_path: Path
) -> None:
    data = load(path)
    if path == TEMPLATE:  # the compile-time condition holds the plan stage
        data["stages"] = next(iter(data["stages"][0].values()))
    break_it(data)
    broken = tmp_path / path.name
    broken.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert check_jsonschema(broken, args).returncode == 1


# Commands the pipelines run --------------------------------------------------------------


def gitlab_scripts(job: str) -> list[str]:
    data = load(GITLAB)
    spec = data[job]
    base = data[spec["extends"]]
    return [*base["before_script"], *spec["script"]]


def azure_steps() -> Iterator[tuple[str, dict[str, Any]]]:
    """Every step of the Azure templates, with the stage it runs in ('' for step templates)."""
    template = load(TEMPLATE)
    for conditional in template["stages"]:
        for stage in next(iter(conditional.values())):
            for job in stage["jobs"]:
                steps = job.get("steps") or job["strategy"]["runOnce"]["deploy"]["steps"]
                for step in steps:
                    yield stage["stage"], step
    for path in sorted(TEMPLATES.glob("*.yml")):
        if path != TEMPLATE:
            for step in load(path)["steps"]:
                yield "", step


def azure_script(step: dict[str, Any]) -> str:
    return str(step.get("bash") or step.get("inputs", {}).get("inlineScript", ""))


def all_scripts() -> list[tuple[str, str]]:
    found = [
        ("gitlab", s) for job in ("entrasync-plan", "entrasync-apply") for s in gitlab_scripts(job)
    ]
    return found + [("azure", azure_script(step)) for _, step in azure_steps()]


def simple_commands(script: str) -> list[list[str]]:
    """The script's simple commands, its comment lines dropped and continued lines joined."""
    lines = [line for line in script.splitlines() if not line.lstrip().startswith("#")]
    return commands("\n".join(lines).replace("\\\n", " "))


def entrasync_calls() -> list[tuple[str, list[str]]]:
    return [
        (where, words[1:])
        for where, script in all_scripts()
        for words in simple_commands(script)
        if words[0] == "entrasync"
    ]


def _call_id(case: tuple[str, list[str]]) -> str:
    return f"{case[0]}: entrasync {' '.join(case[1][:2])}"


@pytest.mark.parametrize("case", entrasync_calls(), ids=_call_id)
def test_every_entrasync_call_names_real_commands_and_options(case: tuple[str, list[str]]) -> None:
    assert_real_call(case[1])


def test_both_platforms_plan_with_the_trusted_config_and_apply_then_report() -> None:
    for platform in ("gitlab", "azure"):
        calls = [words for where, words in entrasync_calls() if where == platform]
        (plan,) = [c for c in calls if c[0] == "plan"]
        assert {"--comment", "--out", "--trusted-config"} <= set(plan)
        assert plan[plan.index("--config") + 1] == "config/mappings.yaml"
        (apply,) = [c for c in calls if c[0] == "apply"]
        assert apply == ["apply", "--auto-approve", "--audit-dir", "audit"]  # a fresh plan
        assert [c[0] for c in calls if c[0] == "report-apply"] == ["report-apply"]


def test_both_platforms_apply_into_an_emptied_audit_folder() -> None:
    # A file committed under audit/ would otherwise be the one reported on and kept.
    gitlab = "\n".join(gitlab_scripts("entrasync-apply"))
    azure = [
        azure_script(step) for _, step in azure_steps() if "entrasync apply" in azure_script(step)
    ]
    for script in (gitlab, *azure):
        called = [c[:3] for c in simple_commands(script)]
        assert ["rm", "-rf", "audit"] in called[
            : called.index(["entrasync", "apply", "--auto-approve"])
        ]


@pytest.mark.parametrize(("where", "script"), all_scripts())
def test_no_override_and_no_secret_in_any_script(where: str, script: str) -> None:
    assert "--force-unsafe" not in script
    for secret in SECRETS:
        assert secret not in script, f"{where}: {secret} is read by entrasync, not by scripts"
    # The Entra ID token is written to its file and nowhere else.
    for token in ("ENTRA_ID_TOKEN", "idToken"):
        for words in simple_commands(script):
            if any(token in w for w in words):
                assert words[:2] == ["printf", "%s"], words
    assert not re.search(r"\b(echo|cat)\b[^\n]*(TOKEN|idToken)", script), script


# GitLab ----------------------------------------------------------------------------------

MR_TO_DEFAULT = (
    '$CI_PIPELINE_SOURCE == "merge_request_event" && '
    "$CI_MERGE_REQUEST_TARGET_BRANCH_NAME == $CI_DEFAULT_BRANCH"
)
PUSH_TO_DEFAULT = '$CI_PIPELINE_SOURCE == "push" && $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH'


def test_gitlab_runs_only_for_merge_requests_into_and_pushes_to_the_default_branch() -> None:
    data = load(GITLAB)
    assert data["workflow"]["rules"] == [{"if": MR_TO_DEFAULT}, {"if": PUSH_TO_DEFAULT}]
    # A newer pipeline cancels the plan only: by default it also cancels a waiting apply.
    assert data["workflow"]["auto_cancel"] == {"on_new_commit": "interruptible"}
    assert [r["if"] for r in data["entrasync-plan"]["rules"]] == [MR_TO_DEFAULT]
    assert [r["if"] for r in data["entrasync-apply"]["rules"]] == [PUSH_TO_DEFAULT]
    assert data["entrasync-apply"]["rules"][0]["changes"] == ["config/**/*"]


def test_gitlab_apply_is_serialised_in_a_protected_environment_and_keeps_the_audit() -> None:
    apply = load(GITLAB)["entrasync-apply"]
    assert apply["resource_group"] == "entrasync-apply"
    assert apply["interruptible"] is False
    assert apply["environment"]["name"] == "neuraltrust-prod"
    assert apply["artifacts"] == {"when": "always", "paths": ["audit/"], "expire_in": "400 days"}


def test_gitlab_jobs_get_an_entra_id_token_for_entra_and_keep_secrets_out_of_the_file() -> None:
    data = load(GITLAB)
    base = data[".entrasync"]
    assert base["id_tokens"] == {"ENTRA_ID_TOKEN": {"aud": "api://AzureADTokenExchange"}}
    assert not set(SECRETS) & set(data["variables"]), "tokens are masked project variables"
    endpoints = {k: data["variables"][k] for k in ("AZURE_AUTHORITY_HOST", "ENTRASYNC_GRAPH_URL")}
    assert endpoints == {
        "AZURE_AUTHORITY_HOST": "https://login.microsoftonline.com",
        "ENTRASYNC_GRAPH_URL": "https://graph.microsoft.com",
    }
    assert data["variables"]["NEURALTRUST_SCIM_URL"] == "https://app.neuraltrust.ai/api/scim/v2"


INSTALL_RULES = [
    # (what the install must do, a pattern its commands must match)
    (
        "clones the tool at the pinned tag",
        r'git clone .*--branch "\$ENTRASYNC_REF" "\$ENTRASYNC_REPOSITORY"',
    ),
    (
        "checks the tag still names the pinned commit",
        r'test "\$\(git -C .* rev-parse HEAD\)" = "\$ENTRASYNC_COMMIT"',
    ),
    (
        "installs the dependencies by hash",
        # The lock the action uses too (tests/unit/test_action_lock.py keeps it whole), wheels
        # only: no sdist's build script runs.
        r"pip install .*--require-hashes\s+--only-binary :all: -r \S+/requirements/action\.txt",
    ),
    (
        "installs the tool without fetching anything more",
        r"pip install .*--no-deps\s+--no-build-isolation --no-index \S+src\"?$",
    ),
]


@pytest.mark.parametrize(("what", "pattern"), INSTALL_RULES, ids=[w for w, _ in INSTALL_RULES])
def test_the_tool_is_installed_from_the_pinned_release_on_both_platforms(
    what: str, pattern: str
) -> None:
    gitlab = "\n".join(gitlab_scripts("entrasync-plan")).replace("\n-r", " -r")
    azure = "\n".join(azure_script(step) for _, step in azure_steps()).replace("\\\n", " ")
    for install in (gitlab, azure):
        assert re.search(pattern, install, flags=re.MULTILINE), what


@pytest.mark.parametrize(("where", "script"), all_scripts())
def test_python_runs_isolated_and_nothing_is_installed_from_the_checkout(
    where: str, script: str
) -> None:
    for words in simple_commands(script):
        program = words[0].rsplit("/", 1)[-1].strip('"')
        if program.startswith("python"):
            assert "-I" in words, f"{where}: {words}"
        if "install" in words:
            assert not {".", "./", "$CI_PROJECT_DIR", "$(Build.SourcesDirectory)"} & set(words)
        assert program not in {"source", ".", "sh", "bash", "make", "npm", "pip"}, words
        assert not program.startswith("./"), words


def run_gitlab_plan_prefix(repo: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_gitlab_prefix("entrasync-plan", repo, env)


def run_gitlab_prefix(
    job: str, repo: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """The job's own script up to its first entrasync call, run in the checkout."""
    prefix = []
    for item in gitlab_scripts(job)[len(load(GITLAB)[".entrasync"]["before_script"]) :]:
        if item.startswith("entrasync"):
            break
        prefix.append(item)
    job_dir = repo.parent / "job"
    job_dir.mkdir(exist_ok=True)
    return subprocess.run(
        ["bash", "-e", "-c", "\n".join(prefix)],
        cwd=repo,
        env={
            "PATH": os.environ["PATH"],
            "HOME": str(repo.parent),
            "ENTRASYNC_DIR": str(job_dir),
            **env,
        },
        capture_output=True,
        text=True,
        check=False,
    )


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run([*GIT, *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def merge_request(tmp_path: Path, main_config: str | None, mr_config: str) -> Path:
    """An origin with main (optionally holding a config) and a checkout of a change on top."""
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q")
    (work / "README").write_text("x\n")
    if main_config is not None:
        (work / "config").mkdir()
        (work / "config" / "mappings.yaml").write_text(main_config)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "main")
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(work), str(origin))
    git(work, "remote", "add", "origin", f"file://{origin}")
    git(work, "checkout", "-q", "-b", "access/change")
    (work / "config").mkdir(exist_ok=True)
    (work / "config" / "mappings.yaml").write_text(mr_config)
    git(work, "add", "-A")
    git(work, "commit", "-q", "--allow-empty", "-m", "change")
    return work


GITLAB_MR_ENV = {
    "CI_DEFAULT_BRANCH": "main",
    "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "access/change",
    "CI_MERGE_REQUEST_SOURCE_BRANCH_PROTECTED": "true",
}


# (the default branch's config, what the trusted copy must hold: None = that same text)
TRUSTED_CASES = [("version: 1\nentra: {tenant_id: main-tenant}\n", None), (None, "version: 1\n")]
TRUSTED_IDS = ["the default branch's config is the trusted one", "no config there trusts nothing"]


@pytest.mark.parametrize(("main_config", "trusted"), TRUSTED_CASES, ids=TRUSTED_IDS)
def test_gitlab_plan_keeps_the_default_branch_config_outside_the_checkout(
    main_config: str | None, trusted: str | None, tmp_path: Path
) -> None:
    repo = merge_request(tmp_path, main_config, "version: 1\nentra: {tenant_id: evil}\n")
    (repo / "entrasync-plan").mkdir()
    (repo / "entrasync-plan" / "plan.json").symlink_to(tmp_path / "elsewhere")
    done = run_gitlab_plan_prefix(repo, GITLAB_MR_ENV)
    assert done.returncode == 0, done.stderr
    written = (tmp_path / "job" / "trusted-mappings.yaml").read_text()
    assert written == (main_config if trusted is None else trusted)
    # Whatever the change put at the output path is gone: the folder is the job's own.
    assert (repo / "entrasync-plan").is_dir()
    assert not any((repo / "entrasync-plan").iterdir())
    assert not (tmp_path / "elsewhere").exists()


@pytest.mark.parametrize(
    ("change", "env", "says"),
    [
        ("symlink", GITLAB_MR_ENV, "symbolic link"),
        (
            "none",
            {**GITLAB_MR_ENV, "CI_MERGE_REQUEST_SOURCE_BRANCH_PROTECTED": "false"},
            "not protected",
        ),
    ],
    ids=[
        "a config/ symlink is refused",
        "an unprotected source branch is told why it has no token",
    ],
)
def test_gitlab_plan_refuses_before_running_anything(
    change: str, env: dict[str, str], says: str, tmp_path: Path
) -> None:
    repo = merge_request(tmp_path, "version: 1\n", "version: 1\n")
    if change == "symlink":
        (repo / "config" / "secrets.yaml").symlink_to("/proc/self/environ")
    done = run_gitlab_plan_prefix(repo, env)
    assert done.returncode == 1
    assert says in done.stderr


def merged_twice(tmp_path: Path) -> tuple[Path, str]:
    """A checkout of the default branch's first merge while origin's tip holds a second one
    (a retried older job, or one that ran after a newer merge); the tip's mappings."""
    repo = merge_request(tmp_path, "version: 1\n", "version: 1\nmappings: [older]\n")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-ff", "-m", "first merge", "access/change")
    older = git(repo, "rev-parse", "HEAD")
    newer = "version: 1\nmappings: [newer]\n"
    (repo / "config" / "mappings.yaml").write_text(newer)
    git(repo, "commit", "-q", "-am", "second merge")
    git(repo, "push", "-q", "origin", "main")
    git(repo, "checkout", "-q", "--detach", older)
    return repo, newer


def test_gitlab_apply_applies_the_default_branchs_tip_not_its_own_commit(tmp_path: Path) -> None:
    repo, newer = merged_twice(tmp_path)
    env = {"CI_DEFAULT_BRANCH": "main", "CI_COMMIT_BRANCH": "main"}
    done = run_gitlab_prefix("entrasync-apply", repo, env)
    assert done.returncode == 0, done.stderr
    assert (repo / "config" / "mappings.yaml").read_text() == newer


# Azure Pipelines -------------------------------------------------------------------------


def test_the_azure_pipeline_only_extends_the_protected_template() -> None:
    data = load(AZURE)
    assert set(data) == {"trigger", "pr", "resources", "extends"}, "no variables, steps or jobs"
    (repo,) = data["resources"]["repositories"]
    assert repo["type"] == "git"
    assert repo["ref"] == "refs/heads/main"
    assert data["extends"] == {"template": f"templates/entrasync.yml@{repo['repository']}"}
    assert data["pr"] == "none"
    assert data["trigger"] == {
        "branches": {"include": ["main"]},
        "paths": {"include": ["config/*"]},
    }


def test_the_template_declares_the_variables_so_the_extending_file_cannot() -> None:
    variables = load(TEMPLATE)["variables"]
    names = [v.get("name") or f"group:{v['group']}" for v in variables]
    assert names[-1] == "group:entrasync", "the group comes last, so its values win"
    assert {"AZURE_AUTHORITY_HOST", "ENTRASYNC_GRAPH_URL", "NEURALTRUST_SCIM_URL"} <= set(names)
    assert not set(SECRETS) & set(names)


def test_azure_stages_are_chosen_at_compile_time_plan_on_prs_apply_on_main() -> None:
    stages = load(TEMPLATE)["stages"]
    conditions = [next(iter(s)) for s in stages]
    assert conditions == [
        "${{ if eq(variables['Build.Reason'], 'PullRequest') }}",
        "${{ if and(eq(variables['Build.SourceBranch'], 'refs/heads/main'), "
        "ne(variables['Build.Reason'], 'PullRequest')) }}",
    ]
    (apply,) = stages[1][conditions[1]]
    assert apply["lockBehavior"] == "sequential"
    (job,) = apply["jobs"]
    assert job["environment"] == "neuraltrust-prod"


@pytest.mark.parametrize("stage", ["plan", "apply"])
def test_azure_installs_the_tool_before_the_checkout_and_keeps_no_git_token(stage: str) -> None:
    steps = [step for where, step in azure_steps() if where == stage]
    kinds = [
        step.get("template") or step.get("checkout") or step.get("task") or "bash" for step in steps
    ]
    assert (
        kinds.index("install-entrasync.yml") < kinds.index("self") < kinds.index("entra-token.yml")
    )
    (checkout,) = [s for s in steps if s.get("checkout")]
    assert checkout["persistCredentials"] == "false"


def test_azure_steps_that_print_pr_or_directory_text_cannot_command_the_agent() -> None:
    for stage, step in azure_steps():
        if stage and "bash" in step:
            assert step["target"] == {"commands": "restricted", "settableVariables": "none"}


def test_azure_secrets_reach_only_the_entrasync_steps_through_their_env() -> None:
    seen = 0
    for _, step in azure_steps():
        env = step.get("env", {})
        runs_entrasync = any(w[0] == "entrasync" for w in simple_commands(azure_script(step)))
        if "NEURALTRUST_SCIM_TOKEN" in env:
            assert runs_entrasync
            assert env["NEURALTRUST_SCIM_TOKEN"] == "$(NEURALTRUST_SCIM_TOKEN)"
            assert env["SYSTEM_ACCESSTOKEN"] == "$(System.AccessToken)"
            seen += 1
        else:
            assert not runs_entrasync
    assert seen == 2
    (token,) = [s for _, s in azure_steps() if s.get("task") == "AzureCLI@2"]
    assert token["inputs"]["addSpnToEnvironment"] is True
    # The app has no Azure role: the task must not select the connection's subscription.
    assert token["inputs"]["allowNoSubscriptions"] is True


def test_azure_apply_applies_mains_tip_not_its_own_commit(tmp_path: Path) -> None:
    repo, newer = merged_twice(tmp_path)
    steps = [s for where, s in azure_steps() if where == "apply"]
    kinds = [s.get("displayName") or s.get("template") or s.get("checkout") for s in steps]
    tip = steps[kinds.index("Check out main's tip")]
    assert (
        kinds.index("self") < kinds.index("Check out main's tip") < kinds.index("entra-token.yml")
    )
    # The job's token reaches git through its environment only: not the script, not a file.
    assert tip["env"] == {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.extraheader",
        "GIT_CONFIG_VALUE_0": "AUTHORIZATION: bearer $(System.AccessToken)",
    }
    done = subprocess.run(
        ["bash", "-c", azure_script(tip)],
        cwd=repo,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), **tip["env"]},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (repo / "config" / "mappings.yaml").read_text() == newer
    assert "bearer" not in (repo / ".git" / "config").read_text()


def azure_plan_check(repo: Path, target: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    """The plan job's check-and-trust step, run in the checkout; its output folder."""
    (step,) = [s for where, s in azure_steps() if where == "plan" and "trusted=" in azure_script(s)]
    temp = repo.parent / "agent-temp"
    (temp / "entrasync").mkdir(parents=True)
    env = {
        "PATH": os.environ["PATH"],
        "AGENT_TEMPDIRECTORY": str(temp),
        "SYSTEM_PULLREQUEST_TARGETBRANCH": target,
    }
    done = subprocess.run(
        ["bash", "-c", azure_script(step)],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return done, temp / "entrasync"


def pull_request_merge(tmp_path: Path, main_config: str | None, pr_config: str) -> Path:
    """The merge commit Azure Repos builds for a pull request: main first, the change second."""
    repo = merge_request(tmp_path, main_config, pr_config)
    git(repo, "checkout", "-q", "--detach", "main")
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge pull request", "access/change")
    return repo


@pytest.mark.parametrize(("main_config", "trusted"), TRUSTED_CASES, ids=TRUSTED_IDS)
def test_azure_plan_takes_mains_config_from_the_merge_commit(
    main_config: str | None, trusted: str | None, tmp_path: Path
) -> None:
    repo = pull_request_merge(tmp_path, main_config, "version: 1\nentra: {tenant_id: evil}\n")
    done, job_dir = azure_plan_check(repo, "refs/heads/main")
    assert done.returncode == 0, done.stdout + done.stderr
    written = (job_dir / "trusted-mappings.yaml").read_text()
    assert written == (main_config if trusted is None else trusted)
    assert (job_dir / "plan").is_dir()


@pytest.mark.parametrize(
    ("target", "symlink", "says"),
    [("refs/heads/release", False, "into main only"), ("refs/heads/main", True, "symbolic link")],
    ids=["a pull request into another branch is refused", "a config/ symlink is refused"],
)
def test_azure_plan_refuses_before_any_token_is_fetched(
    target: str, symlink: bool, says: str, tmp_path: Path
) -> None:
    repo = pull_request_merge(tmp_path, "version: 1\n", "version: 1\n")
    if symlink:
        (repo / "config" / "x.yaml").symlink_to("/proc/self/environ")
    done, _ = azure_plan_check(repo, target)
    assert done.returncode == 1
    assert says in done.stdout


def _plan_script(platform: str) -> str:
    if platform == "gitlab":
        return "\n".join(gitlab_scripts("entrasync-plan"))
    (script,) = [s for where, s in all_scripts() if where == platform and "entrasync plan --" in s]
    return script


@pytest.mark.parametrize("platform", ["gitlab", "azure"])
def test_plan_runs_after_a_failed_validation_and_the_job_still_fails(platform: str) -> None:
    """A push that cannot plan puts its problems in the note or thread, in place of an earlier
    push's plan: the plan runs whatever validate says, and validate's failure still counts."""
    lines = [
        line.strip()
        for line in _plan_script(platform).replace("\\\n", " ").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    validate = lines.index("entrasync validate --config config/mappings.yaml || validated=no")
    plan = next(i for i, line in enumerate(lines) if line.startswith("entrasync plan "))
    assert validate < plan
    assert lines[-1] in ('test "${validated:-yes}" = yes', 'test "$validated" = yes')


def _apply_then_report(platform: str) -> str:
    """The apply job's lines from ``status=0`` to its ``exit``."""
    if platform == "gitlab":
        lines = gitlab_scripts("entrasync-apply")
    else:
        (script,) = [s for w, s in all_scripts() if w == platform and "apply --auto-approve" in s]
        lines = script.splitlines()
    lines = [line.strip() for line in lines]
    return "\n".join(lines[lines.index("status=0") : lines.index('exit "$status"') + 1])


@pytest.mark.parametrize("platform", ["gitlab", "azure"])
@pytest.mark.parametrize(
    ("validated", "applied", "reported", "job"),
    [
        (0, 0, 0, 0),
        (0, 0, 1, 1),
        (0, 1, 0, 1),
        (0, 1, 1, 1),
        (0, 143, 1, 143),
        (0, 130, 0, 130),
        (1, 0, 0, 1),  # nothing applied, and the merged request is told so
        (143, 0, 0, 143),  # stopped during validate: a signal, not a broken config
    ],
)
def test_the_apply_job_takes_the_applys_exit_code_or_fails_when_only_the_report_did(
    platform: str, validated: int, applied: int, reported: int, job: int, tmp_path: Path
) -> None:
    """A report that could not be posted fails a job whose apply succeeded; it never hides
    the apply's own code (a signal's 143, say) behind a 1. A config that does not validate
    is not applied, and still reported."""
    stub = tmp_path / "entrasync"
    codes = f"validate) exit {validated};; apply) exit {applied};; *) exit {reported};;"
    stub.write_text(f'#!/bin/sh\necho "$1" >> calls\ncase "$1" in {codes} esac\n')
    stub.chmod(0o755)
    done = subprocess.run(
        ["bash", "-e", "-c", _apply_then_report(platform)],
        cwd=tmp_path,
        env={"PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == job, done.stderr
    called = (tmp_path / "calls").read_text().split()
    assert called == ["validate", *(["apply"] if validated == 0 else []), "report-apply"]
