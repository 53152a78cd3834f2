"""The sandbox's CA certificate file: written for the clients to trust, removed at exit."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path


def test_the_ca_file_is_removed_at_exit_even_when_writing_it_failed(tmp_path: Path) -> None:
    # Its removal was registered after the write: a full disk, or a stop signal during the
    # write, left an entrasync-sandbox-ca-*.pem in TMPDIR for good.
    script = textwrap.dedent(
        """
        import os
        from entrasync.errors import EntrasyncError
        from entrasync.sandbox import tls

        def full(*_args, **_kwargs):
            raise OSError(28, "No space left on device")

        tls.os.fdopen = full
        try:
            tls.sandbox_ca()
        except EntrasyncError:  # the user's to fix, said as such
            print(*os.listdir(os.environ["TMPDIR"]))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("entrasync-sandbox-ca-")  # made, then its write failed
    assert list(tmp_path.iterdir()) == []
