"""No write without its record (docs/safety.md): `entrasync apply` whose audit file hits
the file size limit (``ulimit -f``) mid-run, so each write past it fails with EFBIG, as on a
full disk. The run must stop starting writes, let those in flight finish, print every change
the file lacks to stderr, and exit 1 naming the file: between them, the file and the log
account for every write NeuralTrust received.
"""

from __future__ import annotations

import json

import rfc8785

from entrasync.adapters.audit.chain import verify_audit
from entrasync.core.audit_record import record_sha256
from tests.integration.e2e.apply_runs import MANY, PARALLELISM, World, change_records, finish

# apply_started (about 0.7 kB) and a few change records (about 0.5 kB each) fit.
LIMIT = 2500
# Python ignores SIGXFSZ already; said here too, so the write fails with EFBIG rather than the
# signal ending the process, whatever the interpreter does. The limit is set once the plan
# beside the audit file is written (larger than the limit; a plan that cannot be written is
# refused before any write, tests/unit/test_audit.py).
PRELUDE = f"""
import resource, signal
from entrasync.adapters.audit import writer
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
_write_plan = writer._write_plan
def _then_limit(path, plan):
    _write_plan(path, plan)
    resource.setrlimit(resource.RLIMIT_FSIZE, ({LIMIT}, {LIMIT}))
writer._write_plan = _then_limit
"""


def test_a_full_audit_file_stops_the_writes_and_stderr_keeps_what_it_lacks(
    world: World,
) -> None:
    done = finish(world.start(prelude=PRELUDE))

    path = world.audit_file()
    assert done.code == 1, done.err
    assert "Traceback" not in done.err
    assert f"error: the audit file {path} could not be written: File too large" in done.err
    assert "hint: no write started after it" in done.err
    printed = [json.loads(line) for line in done.err.splitlines() if line.startswith("{")]
    in_file = change_records([json.loads(line) for line in path.read_text().splitlines()])
    assert path.stat().st_size <= LIMIT
    assert in_file
    # The record that failed and those of the writes then in flight, and no write after them.
    assert 1 <= len(printed) <= PARALLELISM
    writes = world.scim.counters.writes
    assert writes == len(in_file) + len(printed) < MANY
    assert {r["user"] for r in in_file + printed} == world.created()
    assert {r["outcome"] for r in in_file + printed} == {"succeeded"}


def test_the_printed_records_carry_on_the_files_chain(world: World) -> None:
    done = finish(world.start(prelude=PRELUDE))

    path = world.audit_file()
    printed = [json.loads(line) for line in done.err.splitlines() if line.startswith("{")]
    assert printed, done.err
    for record in printed:
        assert record_sha256({k: v for k, v in record.items() if k != "sha256"}) == record["sha256"]
    on_disk = verify_audit(path)
    assert (on_disk.intact, on_disk.complete) == (True, False)  # whole records only
    # Appended to the file (in their canonical form), the log's records verify with it.
    joined = world.tmp / "joined.jsonl"
    joined.write_bytes(path.read_bytes() + b"".join(rfc8785.dumps(r) + b"\n" for r in printed))
    verdict = verify_audit(joined)
    assert verdict.intact, verdict.describe()
    assert verdict.records == on_disk.records + len(printed)
