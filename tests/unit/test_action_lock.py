"""The composite action's lock (requirements/action.txt) stays true to pyproject.toml.

The action installs with ``pip install --require-hashes -r requirements/action.txt`` and then
entrasync with ``--no-deps --no-build-isolation``: a runtime dependency or build requirement
missing from the lock, pinned outside pyproject's range, or without hashes would break the
action (or weaken it) without any other test noticing. How to regenerate: the lock's header.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"
LOCK_IN = ROOT / "requirements" / "action.in"
LOCK = ROOT / "requirements" / "action.txt"
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")


def required(pyproject: dict[str, Any]) -> list[Requirement]:
    """What the action must install: the runtime dependencies and the build backend."""
    return [
        Requirement(r)
        for r in (*pyproject["project"]["dependencies"], *pyproject["build-system"]["requires"])
    ]


def lock_entries(text: str) -> dict[str, tuple[str, list[str]]]:
    """``name -> (the requirement as written, its hashes)`` of a pip-compile output."""
    entries: dict[str, tuple[str, list[str]]] = {}
    joined = re.sub(r"\\\n", " ", text)
    for line in joined.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        spec = HASH.sub("", line).strip()
        name = canonicalize_name(Requirement(spec).name)
        entries[name] = (spec, HASH.findall(line))
    return entries


def lock_problems(pyproject_text: str, in_text: str, lock_text: str) -> list[str]:
    pyproject = tomllib.loads(pyproject_text)
    problems: list[str] = []
    wanted = {canonicalize_name(r.name): r for r in required(pyproject)}
    listed = {
        canonicalize_name(Requirement(line).name): Requirement(line)
        for line in (raw.split("#", 1)[0].strip() for raw in in_text.splitlines())
        if line
    }
    for name in sorted(wanted.keys() - listed.keys()):
        problems.append(f"{name} is required by pyproject.toml but not listed in action.in")
    for name in sorted(listed.keys() - wanted.keys()):
        problems.append(f"{name} is listed in action.in but pyproject.toml does not require it")
    for name in sorted(wanted.keys() & listed.keys()):
        if wanted[name].specifier != listed[name].specifier:
            problems.append(f"{name}: action.in says {listed[name]}, pyproject.toml {wanted[name]}")
    entries = lock_entries(lock_text)
    for name, requirement in sorted(wanted.items()):
        if name not in entries:
            problems.append(f"{name} is required by pyproject.toml but missing from the lock")
            continue
        pinned = Requirement(entries[name][0])
        versions = [s.version for s in pinned.specifier if s.operator == "=="]
        if not versions or not requirement.specifier.contains(versions[0], prereleases=True):
            problems.append(f"{name}: the lock pins {pinned}, outside pyproject's {requirement}")
    for entry, (spec, hashes) in sorted(entries.items()):
        if not re.fullmatch(r"[A-Za-z0-9._-]+==[^\s;]+(\s*;.*)?", spec):
            problems.append(f"{entry}: {spec!r} is not pinned to one version")
        if not hashes:
            problems.append(f"{entry} has no hashes in the lock")
    return problems


def test_the_lock_covers_pyproject_with_pinned_hashed_versions() -> None:
    problems = lock_problems(
        PYPROJECT.read_text(encoding="utf-8"),
        LOCK_IN.read_text(encoding="utf-8"),
        LOCK.read_text(encoding="utf-8"),
    )
    assert problems == [], "regenerate with the command at the top of requirements/action.txt"


def test_the_lock_was_compiled_from_action_in_with_hashes() -> None:
    header = LOCK.read_text(encoding="utf-8").split("\n\n", 1)[0]
    assert "--generate-hashes" in header
    assert "requirements/action.in" in header
    assert "--output-file=requirements/action.txt" in header


def _tampered(change: str) -> list[str]:
    pyproject = PYPROJECT.read_text(encoding="utf-8")
    lock_in = LOCK_IN.read_text(encoding="utf-8")
    lock = LOCK.read_text(encoding="utf-8")
    if change == "new dependency":
        pyproject = pyproject.replace('"click>=8.2",', '"click>=8.2",\n    "rich>=13",')
    elif change == "dropped from the lock":
        lock = re.sub(r"(?ms)^msal==.*?(?=^\S)", "", lock)
    elif change == "hashes removed":
        lock = re.sub(r"(?ms)(^pyyaml==\S+)(.*?)(?=^\S)", r"\1\n", lock)
    elif change == "raised minimum":
        pyproject = pyproject.replace('"httpx>=0.28"', '"httpx>=99"')
        lock_in = lock_in.replace("httpx>=0.28", "httpx>=99")
    return lock_problems(pyproject, lock_in, lock)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("new dependency", "rich is required by pyproject.toml but not listed in action.in"),
        ("dropped from the lock", "msal is required by pyproject.toml but missing from the lock"),
        ("hashes removed", "pyyaml has no hashes in the lock"),
        ("raised minimum", "httpx: the lock pins httpx=="),
    ],
    ids=[
        "a dependency added to pyproject but not to the lock is caught",
        "a dependency missing from the lock is caught",
        "a lock entry without hashes is caught",
        "a lock pin below pyproject's minimum is caught",
    ],
)
def test_the_check_catches_a_lock_that_rotted(change: str, expected: str) -> None:
    problems = _tampered(change)
    assert any(p.startswith(expected) for p in problems), problems


def test_the_action_installs_from_the_lock_with_hashes_and_builds_nothing_unpinned() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    scripts = "\n".join(s.get("run", "") for s in action["runs"]["steps"])
    assert "--require-hashes --only-binary :all:" in scripts
    assert "-r requirements/action.txt" in scripts
    assert "--no-deps --no-build-isolation --no-index ." in scripts
