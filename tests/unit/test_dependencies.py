"""What pyproject.toml declares is what entrasync imports: nothing more, nothing less.

Every distribution the package imports is a runtime dependency (the sandbox's may be in the
``sandbox`` extra instead), and every declared one is imported somewhere.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "entrasync"
SANDBOX = PACKAGE / "sandbox"


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imported_modules(paths: list[Path]) -> set[str]:
    """Top-level names of what ``paths`` import at run time (not under ``if TYPE_CHECKING``)."""
    found: set[str] = set()
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {
            id(inner)
            for block in ast.walk(tree)
            if _type_checking(block)
            for inner in ast.walk(block)
        }
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"entrasync"}


def _distributions(modules: set[str]) -> set[str]:
    known = packages_distributions()
    unknown = sorted(m for m in modules if m not in known)
    assert unknown == [], f"imported but installed by no distribution: {unknown}"
    return {str(canonicalize_name(d)) for m in modules for d in known[m]}


def _declared() -> tuple[set[str], set[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = {str(canonicalize_name(Requirement(r).name)) for r in project["dependencies"]}
    extra = project["optional-dependencies"]["sandbox"]
    return runtime, {str(canonicalize_name(Requirement(r).name)) for r in extra}


def test_every_import_is_declared_and_every_declared_dependency_imported() -> None:
    sources = sorted(PACKAGE.rglob("*.py"))
    product = _distributions(_imported_modules([p for p in sources if SANDBOX not in p.parents]))
    sandbox = _distributions(_imported_modules([p for p in sources if SANDBOX in p.parents]))
    runtime, extra = _declared()
    assert sorted(product - runtime) == [], "imported outside the sandbox, not a dependency"
    assert sorted(sandbox - runtime - extra) == [], "imported by the sandbox, not declared"
    assert sorted(runtime - product) == [], "declared, but nothing outside the sandbox imports it"
    assert sorted(extra - sandbox) == [], "in the sandbox extra, but the sandbox never imports it"


def test_the_floors_ci_tests_with_are_the_lower_bounds_pyproject_declares() -> None:
    """requirements/floors.txt pins each runtime and sandbox dependency at the lowest version
    pyproject.toml allows; `.ci/run` tests with them, so no bound is one nothing tested."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    bounds: dict[str, Version] = {}
    for text in [*project["dependencies"], *project["optional-dependencies"]["sandbox"]]:
        requirement = Requirement(text)
        (specifier,) = requirement.specifier  # one bound, a lower one
        assert specifier.operator == ">=", text
        bounds[str(canonicalize_name(requirement.name))] = Version(specifier.version)
    pinned: dict[str, Version] = {}
    for line in (ROOT / "requirements" / "floors.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            requirement = Requirement(line)
            (specifier,) = requirement.specifier
            assert specifier.operator == "==", line
            pinned[str(canonicalize_name(requirement.name))] = Version(specifier.version)
    assert pinned == bounds
