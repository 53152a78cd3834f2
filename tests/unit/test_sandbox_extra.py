"""The sandbox is an optional extra: without it, demo and sandbox say how to install it.

Each case runs in a fresh interpreter whose import system refuses the sandbox's packages, as
an install without ``entrasync[sandbox]`` would.
"""

from __future__ import annotations

import pkgutil
import shlex
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

import entrasync
from entrasync.adapters.shell import command_line
from entrasync.commands.demo import SANDBOX_REQUIREMENTS

ROOT = Path(__file__).resolve().parents[2]

# The packages only the `sandbox` extra installs and only entrasync/sandbox/ imports (PyJWT
# stays installed: msal requires it).
SANDBOX_ONLY = ("scim2_server", "trustme")

_BLOCK = textwrap.dedent(
    f"""
    import sys

    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in {SANDBOX_ONLY!r}:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None

    sys.meta_path.insert(0, Block())
    """
)


def _run(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _BLOCK + textwrap.dedent(code)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["demo"], id="demo without the extra names the pip command"),
        pytest.param(["sandbox", "--dir", "sb"], id="sandbox without the extra names it too"),
    ],
)
def test_a_missing_extra_is_an_error_with_the_install_hint(argv: list[str], tmp_path: Path) -> None:
    done = _run(f"from entrasync.cli import main; raise SystemExit(main({argv!r}))", tmp_path)
    assert done.returncode == 1, done.stderr
    first = done.stderr.splitlines()[0]
    assert first.startswith("error: the sandbox needs the Python package '"), done.stderr
    assert first.split("'")[1] in SANDBOX_ONLY
    # A command for the environment entrasync runs in, however installed (a clone, pip, pipx).
    hint = "hint: add the sandbox extra's packages to entrasync's environment: "
    assert f"{hint}{shlex.quote(sys.executable)} -m pip install " in done.stderr
    assert "scim2-server>=0.8" in done.stderr.casefold()
    assert "trustme>=1.1" in done.stderr.casefold()
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_every_module_outside_the_sandbox_imports_without_the_extra(tmp_path: Path) -> None:
    names = [
        m.name
        for m in pkgutil.walk_packages(entrasync.__path__, "entrasync.")
        if not m.name.startswith(("entrasync.sandbox", "entrasync.__main__"))
    ]
    assert "entrasync.commands.demo" in names
    done = _run(f"import importlib\nfor n in {names!r}: importlib.import_module(n)", tmp_path)
    assert done.returncode == 0, done.stderr


def test_validate_runs_without_the_extra(tmp_path: Path) -> None:
    config = ROOT / "config" / "mappings.yaml"
    argv = ["validate", "--config", str(config)]
    done = _run(f"from entrasync.cli import main; raise SystemExit(main({argv!r}))", tmp_path)
    assert done.returncode == 0, done.stderr


def test_the_hint_installs_what_pyproject_declares_for_the_extra() -> None:
    """The hint's packages are written in the code (metadata is not there in a checkout, and
    its markers are no job for a hint): they must be the extra's own."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["sandbox"]
    assert list(SANDBOX_REQUIREMENTS) == declared


@pytest.mark.parametrize(
    ("system", "expected"),
    [
        ("posix", "'/opt/my env/bin/python' -m pip install 'trustme>=1.1'"),
        ("nt", '"C:\\Program Files\\py\\python.exe" -m pip install trustme>=1.1'),
    ],
)
def test_a_command_to_paste_is_quoted_for_the_systems_shell(system: str, expected: str) -> None:
    python = "/opt/my env/bin/python" if system == "posix" else "C:\\Program Files\\py\\python.exe"
    words = (python, "-m", "pip", "install", "trustme>=1.1")
    assert command_line(*words, system=system) == expected
