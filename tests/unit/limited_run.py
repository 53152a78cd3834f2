"""Running the CLI in a child process whose address space is capped, for the input bombs.

A bomb that gets past the bounds fails here the way it would on a CI runner: MemoryError or a
RecursionError traceback instead of an ``error:`` line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

MEMORY_LIMIT = 1024**3  # 1 GiB of address space: the CLI runs in well under half of it
TIMEOUT = 120  # seconds; a bounded refusal takes about one

# Set the limit, then become the CLI: the limit survives exec, and no preexec_fn runs in a
# process that may have threads (the sandbox servers).
_LIMITED = (
    "import os, resource, sys; "
    "resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[1]), int(sys.argv[1]))); "
    "os.execv(sys.executable, [sys.executable, '-m', 'entrasync', *sys.argv[2:]])"
)


def run_limited(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``entrasync ARGS`` with at most :data:`MEMORY_LIMIT` of address space."""
    environ = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(cwd),
        "NO_COLOR": "1",
        # The entrasync under test, where a run points elsewhere than the installed one.
        **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"},
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-c", _LIMITED, str(MEMORY_LIMIT), *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def assert_refused(done: subprocess.CompletedProcess[str], *expected: str) -> None:
    """Exit 1 with an ``error:`` line holding each of ``expected``, and no crash."""
    err = done.stderr
    assert "Traceback" not in err, err
    assert "MemoryError" not in err, err
    assert "RecursionError" not in err, err
    assert done.returncode == 1, err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert lines, err
    for text in expected:
        assert text in err, err
