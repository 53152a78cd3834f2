"""entrasync/core/ is pure: no HTTP, no CLI, no file or socket I/O (CONTRIBUTING.md, layout).

Three checks: every core module's source (subpackages included) is scanned for imports and
calls that reach the outside world; it imports nothing but the standard library's computing
modules and entrasync's pure parts (an allowlist, so a module no list foresaw is refused); and
a fresh interpreter imports every core module, then every entrasync module that loaded on the
way (config models, errors) must pass the same scan, and no HTTP client, MSAL, requests or
click may have loaded (an import through another package counts).
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
CORE_MODULES = sorted(CORE.rglob("*.py"))

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
        "time",
        "threading",
        "concurrent",
        "signal",
        "logging",
        "importlib",
        "ctypes",
        # Inputs no caller gave: a plan made from them could not be made again.
        "random",
        "secrets",
        "uuid",
        "entrasync.adapters",
        "entrasync.commands",
        "entrasync.operations",
        "entrasync.sandbox",
        "entrasync.cli",
        "entrasync.console",
        "entrasync.config.loading",
    }
)
# Built-ins that read or write a file or a terminal.
FORBIDDEN_CALLS = frozenset({"open", "print", "input", "__import__", "exec", "eval"})
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
        # The clock is an input too: callers pass the time (entrasync.adapters.clock).
        "now",
        "utcnow",
        "today",
        # json.dump / json.load (and pickle's, marshal's) write to or read from a file object.
        "dump",
        "load",
        "cwd",
        "home",
    }
)
# What a core module may import at all: the standard library's computing modules and the
# pure parts of entrasync. A module outside it (posix, sqlite3, getpass, platform, pathlib,
# builtins) is refused without the list above having to know it.
CORE_MAY_IMPORT = frozenset(
    {
        "__future__",
        "abc",
        "base64",
        "binascii",
        "bisect",
        "collections",
        "collections.abc",
        "contextlib",
        "copy",
        "dataclasses",
        "datetime",
        "decimal",
        "difflib",
        "enum",
        "functools",
        "hashlib",
        "heapq",
        "hmac",
        "html",
        "ipaddress",
        "itertools",
        "json",
        "json.encoder",
        "math",
        "operator",
        "re",
        "string",
        "textwrap",
        "types",
        "typing",
        "unicodedata",
        "urllib.parse",
        "entrasync",
        "entrasync.errors",
        "entrasync.config.models",
        "entrasync.config.patterns",
    }
)
# What the runtime check looks for in sys.modules.
NEVER_LOADED = ("httpx", "msal", "requests", "click")


def _forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN_IMPORTS)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _absolute(node: ast.ImportFrom, package: str) -> str:
    """The module a ``from`` import names, a relative one (``from ..adapters``) resolved."""
    if node.level == 0:
        return node.module or ""
    base = package.split(".")[: len(package.split(".")) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def impurities(source: str, package: str = "entrasync.core") -> list[str]:
    """``line: what`` for each forbidden import or I/O call in a module's source; ``package``:
    the package the module is in, against which relative imports are resolved."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [f"{node.lineno}: import {a.name}" for a in node.names if _forbidden(a.name)]
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(node, package)
            names = [module, *(f"{module}.{a.name}" for a in node.names)]
            if any(_forbidden(n) for n in names):
                found.append(f"{node.lineno}: from {module} import ...")
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in FORBIDDEN_CALLS:
                found.append(f"{node.lineno}: {func.id}()")
            elif isinstance(func, ast.Attribute) and func.attr in FORBIDDEN_METHODS:
                found.append(f"{node.lineno}: .{func.attr}()")
    return found


def outside_what_core_may_import(source: str, package: str = "entrasync.core") -> list[str]:
    """``line: module`` for each import of a module :data:`CORE_MAY_IMPORT` does not hold (any
    module of entrasync.core may be imported)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules = [_absolute(node, package)]
        else:
            continue
        for module in modules:
            if module not in CORE_MAY_IMPORT and not _in_core(module):
                found.append(f"{node.lineno}: {module}")
    return found


def _in_core(module: str) -> bool:
    return module == "entrasync.core" or module.startswith("entrasync.core.")


def test_core_has_modules() -> None:
    assert len(CORE_MODULES) > 5, CORE


@pytest.mark.parametrize("path", CORE_MODULES, ids=lambda p: f"core/{p.name} does no I/O")
def test_a_core_module_imports_nothing_that_talks_to_the_world(path: Path) -> None:
    package = module_name(path.parent / "__init__.py")
    source = path.read_text(encoding="utf-8")
    assert impurities(source, package) == []
    assert outside_what_core_may_import(source, package) == []


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("import httpx\n", id="an HTTP client"),
        pytest.param("from click import echo\n", id="click"),
        pytest.param("import msal.application\n", id="a submodule of MSAL"),
        pytest.param("from urllib import request\n", id="urllib.request by from-import"),
        pytest.param("from os import path\n", id="os"),
        pytest.param("from entrasync.adapters.http import send\n", id="an adapter"),
        pytest.param("from ..adapters import http\n", id="an adapter, relatively"),
        pytest.param("from ..config.loading import load_config\n", id="the config file reader"),
        pytest.param("import time\ntime.sleep(1)\n", id="time"),
        pytest.param("import logging\n", id="logging"),
        pytest.param("import importlib\n", id="importlib"),
        pytest.param("def f(n):\n    return __import__(n)\n", id="__import__()"),
        pytest.param("def f(p):\n    return open(p).read()\n", id="open()"),
        pytest.param("def f(p):\n    return p.read_text()\n", id="Path.read_text()"),
        pytest.param("def f(p, s):\n    p.write_bytes(s)\n", id="Path.write_bytes()"),
        pytest.param("def f():\n    print('x')\n", id="print()"),
        pytest.param("from datetime import datetime\nT = datetime.now()\n", id="the clock"),
        pytest.param("import datetime\nD = datetime.date.today()\n", id="today's date"),
        pytest.param("import random\n", id="randomness"),
        pytest.param("from uuid import uuid4\n", id="a fresh id"),
        pytest.param(
            "import json\ndef f(o, fp):\n    json.dump(o, fp)\n", id="json.dump to a file"
        ),
        pytest.param("import json\ndef f(fp):\n    return json.load(fp)\n", id="json.load"),
        pytest.param("def f(p):\n    return p.cwd()\n", id="Path.cwd()"),
        pytest.param("def f(p):\n    return p.home()\n", id="Path.home()"),
    ],
)
def test_the_scan_catches(source: str) -> None:
    assert impurities(source)


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("import posix\nE = posix.environ\n", id="posix, os under its own name"),
        pytest.param("import sqlite3\n", id="a database"),
        pytest.param("from getpass import getuser\n", id="who runs it"),
        pytest.param("import platform\n", id="the machine's name"),
        pytest.param("from pathlib import Path\n", id="pathlib"),
        pytest.param("import builtins\n", id="builtins, open by getattr"),
        pytest.param("from ..adapters import http\n", id="an adapter, relatively"),
        pytest.param("from entrasync.config import loading\n", id="the config file reader"),
    ],
)
def test_an_import_outside_what_core_may_import_is_caught(source: str) -> None:
    assert outside_what_core_may_import(source)


def test_the_scan_lets_pure_code_pass() -> None:
    source = (
        "import hashlib, json, re\n"
        "from urllib.parse import urlsplit\n"
        "from entrasync.core.plan import Plan\n"
        "from .model import Target\n"
        "from ..config.models import Config\n"
        "def f(s):\n    return json.loads(s.replace('a', 'b'))\n"
    )
    assert impurities(source) == []


def test_importing_every_core_module_loads_no_http_client_msal_or_click() -> None:
    names = [module_name(p) for p in CORE_MODULES]
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PACKAGE.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    loaded = done.stdout.split()
    assert [m for m in NEVER_LOADED if m in loaded] == []
    # What the core builds on (the config models, errors) is held to the core's rule too.
    ours = [m for m in loaded if m.startswith("entrasync.") and not m.startswith("entrasync.core")]
    assert "entrasync.config.models" in ours
    for module in ours:
        path = PACKAGE.parent.joinpath(*module.split("."))
        path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        assert impurities(path.read_text(encoding="utf-8"), package) == [], module
