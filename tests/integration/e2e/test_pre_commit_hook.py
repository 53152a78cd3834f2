"""The `entrasync-validate` pre-commit hook, run for real by `pre-commit try-repo` in a git repo.

pre-commit builds the hook's environment as it would for a user: a virtualenv with this
repository installed by pip. That install resolves entrasync's dependencies through pip's
configured package index, the one thing in the suite that is not loopback; the two runs
share one environment when the repository has no uncommitted changes (as in CI).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
GOOD = (ROOT / "config" / "mappings.yaml").read_text(encoding="utf-8")
BROKEN = "version: 1\nroles: [owner, member]\nmappings:\n  - name: NT-Team\n    role: admn\n"


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This repository, which pre-commit reads as a git repository: a copy of it committed to
    a new one when it is not (a source archive's folder)."""
    if (ROOT / ".git").exists():
        return ROOT
    copy = tmp_path_factory.mktemp("hook-repo") / "entrasync"
    left_out = shutil.ignore_patterns(".venv", "*cache*", "*.egg-info", "build", "results")
    shutil.copytree(ROOT, copy, ignore=left_out)
    env = {**os.environ, **_AUTHOR}
    for command in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "copy"]):
        subprocess.run(["git", *command], cwd=copy, env=env, check=True)
    return copy


@pytest.fixture
def mappings_repo(tmp_path: Path) -> Path:
    """A mappings repository: a good file, a broken one, and a broken YAML the hook skips."""
    repo = tmp_path / "access"
    for name, text in {
        "config/mappings.yaml": GOOD,
        "teams/mappings-contractors.yml": BROKEN,
        "notes/todo.yaml": "a: [\n",  # not a mappings file by the hook's default pattern
    }.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text, encoding="utf-8")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    return repo


_AUTHOR = {
    "GIT_AUTHOR_NAME": "test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def try_repo(hook: Path, repo: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), **_AUTHOR}
    env.pop("ENTRASYNC_CONFIG", None)
    command = [sys.executable, "-m", "pre_commit", "try-repo", str(hook), "entrasync-validate"]
    return subprocess.run(
        [*command, "--color", "never", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_the_hook_passes_a_good_file_and_fails_a_broken_one_at_file_line(
    hook_repo: Path, mappings_repo: Path, pre_commit_home: Path
) -> None:
    good = try_repo(hook_repo, mappings_repo, pre_commit_home, "--files", "config/mappings.yaml")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "entrasync validate" in good.stdout
    assert "Passed" in good.stdout

    every = try_repo(hook_repo, mappings_repo, pre_commit_home, "--all-files")
    assert every.returncode == 1, every.stdout + every.stderr
    out = every.stdout
    assert "Failed" in out
    # Both mappings files were checked; the broken one is named at file:line:col.
    assert "config/mappings.yaml is valid: 3 mappings" in out
    assert "error: teams/mappings-contractors.yml has 1 problem" in out
    assert "teams/mappings-contractors.yml:5:11: mappings[0].role: 'admn' is not one of" in out
    # The default `files:` pattern leaves other YAML alone.
    assert "notes/todo.yaml" not in out
    assert "Traceback" not in out


def test_the_hook_checks_a_symlinked_mappings_file_as_plan_reads_it(
    hook_repo: Path, mappings_repo: Path, pre_commit_home: Path
) -> None:
    """pre-commit's default `types: [file]` skipped a symlink: the commit passed, and the pull
    request's validate and plan then refused the link."""
    (mappings_repo / "config" / "mappings.yaml").rename(mappings_repo / "config" / "real.yaml")
    (mappings_repo / "config" / "mappings.yaml").symlink_to("real.yaml")
    subprocess.run(["git", "add", "-A"], cwd=mappings_repo, check=True)

    run = try_repo(hook_repo, mappings_repo, pre_commit_home, "--files", "config/mappings.yaml")

    assert run.returncode == 1, run.stdout + run.stderr
    assert "config file config/mappings.yaml is a symbolic link" in run.stdout
