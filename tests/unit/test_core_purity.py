"""entrasync/core/ is pure: no HTTP, no CLI, no file or socket I/O (CONTRIBUTING.md, layout).

Two checks: every core module's source is scanned for imports and calls that reach the outside
world, and a fresh interpreter that imports every core module must not have loaded an HTTP
client, MSAL or click on the way (an import through another package counts too).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import entrasync

PACKAGE = Path(entrasync.__file__).resolve().parent
CORE = PACKAGE / "core"
CORE_MODULES = sorted(CORE.glob("*.py"))

# Modules whose import alone means talking to the outside world, or to the program's shell.
FORBIDDEN_IMPORTS = frozenset(
    {
        "httpx",
        "msal",
        "click",
        "requests",
        "socket",
        "socketserver",
        "ssl",
        "http",
        "urllib.request",
        "subprocess",
        "multiprocessing",
        "asyncio",
        "selectors",
        "os",
        "io",
        "sys",
        "shutil",
        "tempfile",
        "entrasync.adapters",
        "entrasync.commands",
        "entrasync.operations",
        "entrasync.sandbox",
        "entrasync.cli",
        "entrasync.console",
    }
)
# Built-ins that read or write a file or a terminal.
FORBIDDEN_CALLS = frozenset({"open", "print", "input"})
# Methods that do file I/O on a pathlib.Path (or an open file).
FORBIDDEN_METHODS = frozenset(
    {
        "open",
        "read_text",
        "read_bytes",
        "write_text",
        "write_bytes",
        "mkdir",
        "touch",
        "unlink",
        "rmdir",
        "iterdir",
        "glob",
        "rglob",
        "exists",
        "is_file",
        "is_dir",
        "stat",
        "symlink_to",
        "hardlink_to",
    }
)
# What the runtime check looks for in sys.modules.
NEVER_LOADED = ("httpx", "msal", "click")


def _forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN_IMPORTS)


def impurities(source: str) -> list[str]:
    """``line: what`` for each forbidden import or I/O call in a module's source."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [f"{node.lineno}: import {a.name}" for a in node.names if _forbidden(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            if any(_forbidden(n) for n in names):
                found.append(f"{node.lineno}: from {node.module} import ...")
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in FORBIDDEN_CALLS:
                found.append(f"{node.lineno}: {func.id}()")
            elif isinstance(func, ast.Attribute) and func.attr in FORBIDDEN_METHODS:
                found.append(f"{node.lineno}: .{func.attr}()")
    return found


def test_core_has_modules() -> None:
    assert len(CORE_MODULES) > 5, CORE


@pytest.mark.parametrize("path", CORE_MODULES, ids=lambda p: f"core/{p.name} does no I/O")
def test_a_core_module_imports_nothing_that_talks_to_the_world(path: Path) -> None:
    assert impurities(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("import httpx\n", id="an HTTP client"),
        pytest.param("from click import echo\n", id="click"),
        pytest.param("import msal.application\n", id="a submodule of MSAL"),
        pytest.param("from urllib import request\n", id="urllib.request by from-import"),
        pytest.param("from os import path\n", id="os"),
        pytest.param("from entrasync.adapters.http import send\n", id="an adapter"),
        pytest.param("def f(p):\n    return open(p).read()\n", id="open()"),
        pytest.param("def f(p):\n    return p.read_text()\n", id="Path.read_text()"),
        pytest.param("def f(p, s):\n    p.write_bytes(s)\n", id="Path.write_bytes()"),
        pytest.param("def f():\n    print('x')\n", id="print()"),
    ],
)
def test_the_scan_catches(source: str) -> None:
    assert impurities(source)


def test_the_scan_lets_pure_code_pass() -> None:
    source = (
        "import hashlib, json, re\n"
        "from urllib.parse import urlsplit\n"
        "from entrasync.core.plan import Plan\n"
        "def f(s):\n    return json.loads(s.replace('a', 'b'))\n"
    )
    assert impurities(source) == []


def test_importing_every_core_module_loads_no_http_client_msal_or_click() -> None:
    names = [f"entrasync.core.{p.stem}" for p in CORE_MODULES if p.stem != "__init__"]
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(' '.join(m for m in {NEVER_LOADED!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PACKAGE.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == ""
