"""Who depends on whom (CONTRIBUTING.md): render/ turns core values into text and needs no
adapter, command or operation to do it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import entrasync

PACKAGE = Path(entrasync.__file__).resolve().parent
RENDER_MODULES = sorted((PACKAGE / "render").rglob("*.py"))
RENDER_MAY_IMPORT = ("entrasync.core", "entrasync.config", "entrasync.render")


def entrasync_imports(source: str, package: str) -> list[str]:
    """Every entrasync module ``source`` (of ``package``) imports, TYPE_CHECKING blocks and
    relative imports included."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0]
                base = f"{parent}.{base}" if base else parent
            found += [f"{base}.{a.name}" if base == "entrasync" else base for a in node.names]
    return [name for name in found if name == "entrasync" or name.startswith("entrasync.")]


def outside_render(names: list[str]) -> list[str]:
    return [
        name
        for name in names
        if not any(name == layer or name.startswith(layer + ".") for layer in RENDER_MAY_IMPORT)
    ]


@pytest.mark.parametrize("path", RENDER_MODULES, ids=lambda p: p.name)
def test_a_renderer_imports_only_core_config_and_render(path: Path) -> None:
    package = ".".join(path.relative_to(PACKAGE.parent).parts[:-1])
    names = entrasync_imports(path.read_text(encoding="utf-8"), package)
    assert outside_render(names) == [], f"{path.name} reaches past core/ and config/"


@pytest.mark.parametrize(
    "source",
    [
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from entrasync.adapters.graph.online import GroupCheck\n",
        "from ..adapters import http\n",
        "import entrasync.commands.plan\n",
        "from entrasync import console\n",
    ],
    ids=["in a TYPE_CHECKING block", "relative", "plain import", "from the package"],
)
def test_the_scan_sees_an_import_past_the_layer(source: str) -> None:
    assert outside_render(entrasync_imports(source, "entrasync.render")) != []


def test_the_scan_lets_core_and_config_pass() -> None:
    source = "from entrasync.core.plan import Plan\nfrom ..config.models import Config\n"
    assert outside_render(entrasync_imports(source, "entrasync.render")) == []
