"""`audit verify` reads each line strictly and holds it to the canonical JSON apply wrote.

The hash covers a record's content, not its bytes: without these checks a line could be
re-spaced, have its keys reordered, or carry a key twice (parsers disagree which one counts)
and still verify. Lines with JSON bombs are refused as a verdict, not a traceback.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import tracemalloc
from collections.abc import Callable
from itertools import count
from pathlib import Path
from typing import Any

import pytest
import rfc8785

from entrasync.adapters import files
from entrasync.adapters.audit.chain import newest_audit, verify_audit
from entrasync.adapters.audit.writer import AuditWriter
from entrasync.cli import main
from entrasync.core.apply_report import read_audit
from entrasync.core.audit_record import record_sha256, whole_lines
from entrasync.core.plan import Plan
from entrasync.errors import AuditError
from tests.golden.plans import golden_plan
from tests.unit.limited_run import assert_refused, run_limited

EDITED = 4  # the line (and seq) each case changes: the third change record


def write_run(directory: Path, plan: Plan | None = None, error: str | None = None) -> Path:
    plan = plan or golden_plan()
    ticks = count()
    writer = AuditWriter.start(
        directory,
        plan=plan,
        environ={},
        clock=lambda: f"2026-11-28T12:00:{next(ticks):02d}.000Z",
        git_commit=lambda: None,
    )
    with writer:
        for change in plan.changes:
            writer.change(change, outcome="succeeded", http_status=200, error=error)
    return writer.path


@pytest.fixture
def run(tmp_path: Path) -> Path:
    return write_run(tmp_path / "audit")


def rewrite(path: Path, line: int, edit: Callable[[bytes], bytes]) -> None:
    lines = path.read_bytes().split(b"\n")
    lines[line - 1] = edit(lines[line - 1])
    path.write_bytes(b"\n".join(lines))


def with_value(key: str, text: str) -> Callable[[bytes], bytes]:
    """The line, still canonical around it, with ``key``'s value written as ``text``."""

    def edit(raw: bytes) -> bytes:
        record = json.loads(raw)
        record[key] = "@@value@@"
        return rfc8785.dumps(record).replace(b'"@@value@@"', text.encode())

    return edit


def rehashed(key: str, value: object) -> Callable[[bytes], bytes]:
    """The line with ``key`` set to ``value`` and its sha256 recomputed."""

    def edit(raw: bytes) -> bytes:
        record = json.loads(raw)
        record[key] = value
        record["sha256"] = record_sha256(record)
        return bytes(rfc8785.dumps(record))

    return edit


def outcome_twice(raw: bytes) -> bytes:
    # What Python's json keeps (the last) is what apply wrote; another parser keeps the first.
    return raw.replace(b"{", b'{"outcome":"failed",', 1)


def spaced(raw: bytes) -> bytes:
    return json.dumps(json.loads(raw), sort_keys=True).encode()


def unsorted(raw: bytes) -> bytes:
    record = json.loads(raw)
    return json.dumps(dict(reversed(record.items())), separators=(",", ":")).encode()


def escaped(raw: bytes) -> bytes:
    # "\u0061" is "a": the same record, not the same bytes.
    return raw.replace(b'"type":"change"', b'"type":"ch\\u0061nge"', 1)


NOT_CANONICAL = "not the canonical JSON of its record (RFC 8785)"

REFUSED: list[Any] = [
    pytest.param(outcome_twice, 'duplicate key "outcome"', id="a duplicate key"),
    pytest.param(spaced, NOT_CANONICAL, id="re-spaced"),
    pytest.param(unsorted, NOT_CANONICAL, id="keys reordered"),
    pytest.param(escaped, NOT_CANONICAL, id="an escape for a plain letter"),
    pytest.param(lambda raw: raw + b"\r", NOT_CANONICAL, id="a CRLF line end"),
    pytest.param(lambda raw: raw + b" ", NOT_CANONICAL, id="a trailing space"),
    pytest.param(with_value("http_status", "200.0"), "200.0 is not a whole number", id="200.0"),
    pytest.param(with_value("http_status", "NaN"), "NaN is not a finite number", id="NaN"),
    pytest.param(with_value("http_status", "1e999"), "1e999 is not a whole", id="1e999"),
    pytest.param(with_value("http_status", "9" * 5000), "is too large", id="5,000 digits"),
    pytest.param(with_value("http_status", str(2**53)), "is too large", id="2**53"),
    pytest.param(
        with_value("detail", "[" * 100_000 + "]" * 100_000), "nested more than", id="deep"
    ),
    pytest.param(with_value("detail", '"\\ud800"'), "not Unicode", id="a lone surrogate"),
]


@pytest.mark.parametrize(("edit", "problem"), REFUSED)
def test_a_line_that_is_not_as_apply_wrote_it_is_named_by_its_seq(
    run: Path, edit: Callable[[bytes], bytes], problem: str
) -> None:
    rewrite(run, EDITED, edit)
    verdict = verify_audit(run)
    assert (verdict.intact, verdict.ok, verdict.first_bad_seq) == (False, False, EDITED)
    assert verdict.records == EDITED - 1
    assert verdict.describe().startswith(f"tampered: seq {EDITED}: ")
    assert problem in verdict.describe()


@pytest.mark.parametrize(
    "edit",
    [
        with_value("seq", '"' + "9" * 2_000_000 + '"'),
        rehashed("type", "x" * 2_000_000),
        lambda raw: raw.replace(
            b"{", b'{"' + b"k" * 1_000_000 + b'":1,"' + b"k" * 1_000_000 + b'":2,', 1
        ),
    ],
    ids=["a seq of 2,000,000 characters", "a type of 2,000,000", "a duplicate key of 1 MB"],
)
def test_a_forged_value_is_cut_where_it_is_shown(
    run: Path, edit: Callable[[bytes], bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    rewrite(run, EDITED, edit)
    assert main(["audit", "verify", str(run)]) == 1
    out, err = capsys.readouterr()
    assert "tampered: seq" in out + err
    assert len(out) + len(err) < 2_000


def test_the_duplicate_key_line_hashes_alike_for_a_last_key_parser(run: Path) -> None:
    # Why the duplicate must be refused as such: by content, the edited line is intact.
    rewrite(run, EDITED, outcome_twice)
    record = json.loads(run.read_bytes().split(b"\n")[EDITED - 1])
    body = {key: value for key, value in record.items() if key != "sha256"}
    assert record["sha256"] == hashlib.sha256(rfc8785.dumps(body)).hexdigest()


def test_text_beyond_ascii_verifies(tmp_path: Path) -> None:
    path = write_run(tmp_path, error="Zoë \u2019 🙂 value: \u2028 \u00e9")
    assert "Zoë".encode() in path.read_bytes()
    assert verify_audit(path).ok


def test_an_empty_file_is_a_run_stopped_before_any_change_not_a_tampered_one(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What a run killed while it wrote the plan beside the file leaves (apply_started comes
    after it, and is synced before any change): "tampered", with a hint to fetch the copy from
    the artifact, which is this very file."""
    run.write_bytes(b"")
    verdict = verify_audit(run)
    assert (verdict.intact, verdict.complete, verdict.records, verdict.edited) == (
        True,
        False,
        0,
        False,
    )
    code = main(["audit", "verify", str(run)])
    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    assert err.startswith(
        f"error: {run}: no record (the file is empty): the apply stopped before its first "
        "record, so before any change to NeuralTrust, or the file was emptied since\n"
    )
    assert "tampered" not in err


def test_a_run_as_apply_wrote_it_still_verifies(run: Path) -> None:
    verdict = verify_audit(run)
    assert (verdict.ok, verdict.records) == (True, len(golden_plan().changes) + 2)


def test_verify_exits_1_naming_the_seq_of_a_reformatted_line(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rewrite(run, EDITED, spaced)
    code = main(["audit", "verify", str(run)])
    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    assert err.startswith(f"error: {run}: tampered: seq {EDITED}: {NOT_CANONICAL}")
    assert "hint:" in err


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(with_value("detail", "[" * 100_000 + "]" * 100_000), id="nested 100,000 deep"),
        pytest.param(with_value("http_status", "9" * 5000), id="a 5,000-digit number"),
        pytest.param(with_value("http_status", "1e999"), id="1e999"),
    ],
)
def test_verify_of_a_json_bomb_under_1_gib(
    run: Path, tmp_path: Path, edit: Callable[[bytes], bytes]
) -> None:
    rewrite(run, EDITED, edit)
    done = run_limited("audit", "verify", str(run), cwd=tmp_path)
    assert_refused(done, f"tampered: seq {EDITED}: not a record as apply writes it")


_NEWEST_AS_ANOTHER_USER = """
import os, sys
from pathlib import Path
from entrasync.adapters.audit.chain import newest_audit
from entrasync.errors import AuditError
if os.geteuid() == 0:  # root may read any folder: the check is made as nobody
    os.setresgid(65534, 65534, 65534)
    os.setresuid(65534, 65534, 65534)
try:
    print("found", newest_audit(Path(sys.argv[1])).name)
except AuditError as exc:
    print(type(exc).__name__, exc.message)
"""


@pytest.mark.parametrize(
    ("folder_mode", "parent_mode"),
    [(0o000, 0o755), (0o444, 0o755), (0o755, 0o600)],
    ids=["a folder no one may list", "a folder listed but not entered", "a parent not entered"],
)
def test_an_audit_folder_the_job_may_not_read_is_an_error_in_every_form(
    folder_mode: int, parent_mode: int
) -> None:
    """Not "no audit file" (report-apply: "the apply changed nothing"), nor a traceback.
    In a folder of its own under the system's temporary folder: pytest's is its user's alone."""
    top = Path(tempfile.mkdtemp(prefix="entrasync-audit-"))
    parent = top / "p"
    folder = parent / "audit"
    folder.mkdir(parents=True)
    write_run(folder)
    top.chmod(0o755)
    folder.chmod(folder_mode)
    parent.chmod(parent_mode)
    try:
        done = subprocess.run(
            [sys.executable, "-c", _NEWEST_AS_ANOTHER_USER, str(folder)],
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        parent.chmod(0o755)
        folder.chmod(0o755)
        shutil.rmtree(top)
    assert done.returncode == 0, done.stderr
    assert (
        done.stdout.strip()
        == f"AuditError cannot read the audit folder {folder}: Permission denied"
    )


def test_an_audit_path_the_system_cannot_look_up_is_an_error(tmp_path: Path) -> None:
    # A name longer than the file system takes: is_file() raised OSError (a traceback).
    with pytest.raises(AuditError) as caught:
        newest_audit(tmp_path / ("a" * 300))
    assert caught.value.message.startswith("cannot read the audit folder ")
    assert caught.value.message.endswith(": File name too long")


def test_the_newest_audit_file_of_a_folder_skips_what_is_no_file(tmp_path: Path) -> None:
    written = write_run(tmp_path)
    (tmp_path / "zz-gone.jsonl").symlink_to(tmp_path / "nowhere")
    (tmp_path / "zz-folder.jsonl").mkdir()
    assert newest_audit(tmp_path) == written


def test_the_files_own_text_cannot_forge_lines_of_verifys_output(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A re-chained file (a forgery the chain alone cannot catch, docs/plan-and-audit.md) whose
    # result holds line breaks: they were printed, so the file wrote workflow commands and a
    # "last sha256" line of its own into the log.
    lines = run.read_bytes().split(b"\n")
    last = json.loads(lines[-2])
    assert last["type"] == "apply_finished"
    last["result"] = "refused\n::stop-commands::tok\nlast sha256: deadbeef"
    last["sha256"] = record_sha256(last)
    lines[-2] = rfc8785.dumps(last)
    run.write_bytes(b"\n".join(lines))

    # A result apply never writes is itself refused; the text is shown inert all the same.
    assert main(["audit", "verify", str(run)]) == 1
    out, err = capsys.readouterr()
    said = (out + err).splitlines()
    assert not any(line.startswith(("::", "last sha256: deadbeef")) for line in said)
    assert "apply_finished has result 'refused\\n::stop-commands::tok\\nlast s" in out + err


def rechained(path: Path, line: int, edit: Callable[[dict[str, Any]], None]) -> None:
    """``edit`` the record on ``line``, then rehash it and every record after it: a forgery
    that rewrites the whole chain (caught by ``--expect-sha256``), left to the format checks."""
    lines = path.read_bytes().split(b"\n")
    records = [json.loads(raw) for raw in lines[:-1]]
    edit(records[line - 1])
    prev = records[line - 2]["sha256"] if line > 1 else "0" * 64
    for record in records[line - 1 :]:
        record["prev_sha256"] = prev
        record["sha256"] = prev = record_sha256(record)
    path.write_bytes(b"".join(bytes(rfc8785.dumps(record)) + b"\n" for record in records))


def _set(key: str, value: object) -> Callable[[dict[str, Any]], None]:
    return lambda record: record.__setitem__(key, value)


CANNOT_READ = "a change record report-apply cannot read: "
NO_ACCESS: tuple[object, ...] = (None, 0, "", [])  # read as no access after the change


@pytest.mark.parametrize(
    ("line", "edit", "problem"),
    [
        (1, _set("seq", True), "found seq True where seq 1 belongs"),
        (1, _set("plan_digest", 5), "apply_started record report-apply cannot read: plan_digest"),
        # Shown in a code span of the report's comment: "`\n# @org/x" broke out of it.
        (1, _set("plan_digest", "`\n# @org/x"), "plan_digest is not a plan's digest"),
        (1, _set("config_path", 5), "apply_started record report-apply cannot read: config_"),
        (EDITED, _set("outcome", "bogus"), f"{CANNOT_READ}unknown outcome 'bogus'"),
        (EDITED, lambda record: record.pop("outcome"), f"{CANNOT_READ}unknown outcome None"),
        (EDITED, _set("action", "promote"), f"{CANNOT_READ}'promote' is not a valid Action"),
        (EDITED, _set("user", 7), f"{CANNOT_READ}user is a number, not text"),
        (EDITED, _set("after", 5), CANNOT_READ),
        (EDITED, _set("after", {"role": "admin"}), f"{CANNOT_READ}after has no products"),
        (EDITED, _set("after", {}), f"{CANNOT_READ}after has no role"),
        (EDITED, _set("after", {"active": True}), f"{CANNOT_READ}after has no role"),
        (
            EDITED,
            _set("after", {"role": None, "active": True}),
            f"{CANNOT_READ}after has no products",
        ),
        *((EDITED, _set("after", none), f"{CANNOT_READ}after is") for none in NO_ACCESS),
        (EDITED, lambda record: record.pop("after"), f"{CANNOT_READ}'after'"),
        (EDITED, _set("error", 5), f"{CANNOT_READ}error is a number"),
        (9, _set("reason", 5), "apply_finished record report-apply cannot read: reason"),
        (
            9,
            lambda record: record["counts"].update(failed=False, skipped=False),
            "apply_finished counts {'failed': False",
        ),
    ],
    ids=[
        "seq true",
        "a number as plan_digest",
        "markdown as plan_digest",
        "a number as config_path",
        "an unknown outcome",
        "no outcome",
        "an unknown action",
        "a number as user",
        "a number as after",
        "an after without its fields",
        "an empty after",
        "an after of active alone",
        "an after without products",
        *(f"an after of {none!r}" for none in NO_ACCESS),
        "no after",
        "a number as error",
        "a number as reason",
        "counts false",
    ],
)
def test_a_rechained_record_apply_never_writes_is_refused_as_report_apply_refuses_it(
    run: Path, line: int, edit: Callable[[dict[str, Any]], None], problem: str
) -> None:
    # JSON true is not 1, nor false 0, and a record report-apply cannot read is none apply
    # wrote: report-apply refused such files, and verify called them intact.
    rechained(run, line, edit)
    verdict = verify_audit(run)
    assert (verdict.intact, verdict.first_bad_seq) == (False, line)
    assert problem in verdict.describe()
    if "report-apply cannot read" in problem:  # the chain's own rules are verify's alone
        with pytest.raises(AuditError):
            read_audit(run.read_bytes())


@pytest.mark.parametrize(
    ("cut", "seq", "problem"),
    [
        (
            lambda raw: raw[:-1],
            9,
            "its last line has no line end: the file was cut short, or edited",
        ),
        (
            lambda raw: raw + b"\n",
            10,
            "an empty line, which apply never writes: the file was edited",
        ),
        (
            lambda raw: raw.replace(b'"prev_sha256":"' + b"0" * 64, b'"prev_sha256":"' + b"1" * 64),
            1,
            "prev_sha256 of the first record is not 64 zeros: the chain breaks",
        ),
    ],
    ids=["no line end after the last record", "a blank line at the end", "another genesis"],
)
def test_each_way_a_file_differs_from_what_apply_wrote_is_named_as_it_is(
    run: Path, cut: Callable[[bytes], bytes], seq: int, problem: str
) -> None:
    # apply ends every record with "\n" (docs/plan-and-audit.md): a file without it was cut.
    run.write_bytes(cut(run.read_bytes()))
    verdict = verify_audit(run)
    assert not verdict.intact
    assert (verdict.first_bad_seq, verdict.problem) == (seq, problem)


@pytest.mark.parametrize(
    "tail",
    [lambda line: line[: len(line) // 2], lambda _line: b"\x00" * 300],
    ids=["half of the sixth record", "zeros where the sixth record goes"],
)
def test_a_record_cut_off_by_a_crash_is_an_incomplete_run_not_tampering(
    run: Path, tail: Callable[[bytes], bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    """What a power cut leaves after five whole records: the advice is the incomplete run's
    (the plan beside the file, then `entrasync plan`), not a copy that does not exist."""
    lines = run.read_bytes().split(b"\n")
    run.write_bytes(b"\n".join(lines[:5]) + b"\n" + tail(lines[5]))
    verdict = verify_audit(run)
    assert (verdict.intact, verdict.complete, verdict.cut) == (True, False, True)
    assert verdict.records == 5
    assert verdict.describe().startswith(
        "intact: 5 records, then seq 6 cut off while it was written (the machine or its disk "
        "stopped); run incomplete; a change of its plan ("
    )
    assert main(["audit", "verify", str(run)]) == 1
    err = capsys.readouterr().err
    assert "tampered" not in err
    assert "hint: check the apply run's log, then run `entrasync plan`" in err


def test_report_apply_reads_a_file_a_crash_cut_as_the_incomplete_run_verify_says(
    run: Path,
) -> None:
    lines = run.read_bytes().split(b"\n")
    cut = b"\n".join(lines[:5]) + b"\n" + lines[5][:40]
    summary = read_audit(cut)
    assert summary.finished is False
    assert len(summary.report.results) == 4  # apply_started, then four changes


def test_a_record_after_apply_finished_is_refused_by_verify_and_by_the_report_alike(
    run: Path,
) -> None:
    lines = run.read_bytes().rstrip(b"\n").split(b"\n")
    run.write_bytes(b"\n".join([*lines, lines[1]]) + b"\n")  # a change again, after the end
    verdict = verify_audit(run)
    assert (verdict.intact, verdict.first_bad_seq) == (False, len(lines) + 1)
    assert verdict.problem == "a record follows apply_finished"
    with pytest.raises(AuditError, match="a record follows apply_finished"):
        read_audit(run.read_bytes())


def _last_change_failed(mend: bool) -> Callable[[bytes], bytes]:
    """The file cut after its last change, whose outcome is rewritten (its hash mended or
    not), with no line end."""

    def edit(raw: bytes) -> bytes:
        lines = raw.split(b"\n")[:-2]  # up to the last change: apply_finished and "" dropped
        record = json.loads(lines[-1])
        record["outcome"] = "failed"
        if mend:
            record["sha256"] = record_sha256(record)
        return b"\n".join([*lines[:-1], rfc8785.dumps(record)])

    return edit


@pytest.mark.parametrize(
    ("edit", "seq"),
    [
        (_last_change_failed(mend=True), 8),
        (_last_change_failed(mend=False), 8),
        (lambda raw: raw + b'{"x":1}', 10),  # after apply_finished: a crash writes nothing there
        (lambda raw: raw.split(b"\n")[0][:40], 1),  # no whole record before it
    ],
    ids=[
        "an edited last record, its hash mended",
        "an edited last record",
        "bytes after apply_finished",
        "half of apply_started",
    ],
)
def test_what_a_crash_cannot_leave_stays_tampered(
    run: Path, edit: Callable[[bytes], bytes], seq: int
) -> None:
    run.write_bytes(edit(run.read_bytes()))
    verdict = verify_audit(run)
    assert (verdict.intact, verdict.cut, verdict.first_bad_seq) == (False, False, seq)


def test_zeros_a_line_end_follows_are_no_power_cuts_tail(run: Path) -> None:
    """Zeros end a file a power cut left: with a line end after them, they were written, and
    the line is as edited as any."""
    lines = run.read_bytes().split(b"\n")
    run.write_bytes(b"\n".join(lines[:4]) + b"\n" + lines[4] + b"\x00\n")
    verdict = verify_audit(run)
    assert (verdict.intact, verdict.cut, verdict.first_bad_seq) == (False, False, 5)


def test_every_cut_of_every_record_is_a_run_cut_short(run: Path) -> None:
    """A crash may stop a record's line after any byte: each such start of it, left last with
    no line end after at least one whole record, reads as the incomplete run."""
    raw = run.read_bytes()
    lines = raw.split(b"\n")[:-1]
    for keep in range(1, len(lines)):
        before = b"\n".join(lines[:keep]) + b"\n"
        for length in range(1, len(lines[keep])):
            run.write_bytes(before + lines[keep][:length])
            verdict = verify_audit(run)
            assert (verdict.intact, verdict.cut, verdict.records) == (True, True, keep), (
                keep,
                lines[keep][:length],
            )


@pytest.mark.parametrize(
    ("tail", "cut"),
    [
        (b'{"a":1.', True),
        (b'{"a":-0.5e-', True),
        (b'{"a":"caf\xc3', True),  # a character the cut split
        (b'{"a":[],"b":{', True),
        (b'{"a":1.e5', False),  # a digit must follow the point
        (b'{"a":"\xff', False),  # not UTF-8 at all
        (b'{"a":1,}', False),
        (b'{"a" 1', False),
        (b'{"a":1} x', False),
    ],
)
def test_only_the_start_of_a_json_record_reads_as_a_cut(tail: bytes, cut: bool) -> None:
    assert whole_lines(b'{"seq":1}\n' + tail) == (
        ([b'{"seq":1}'], True) if cut else ([b'{"seq":1}', tail], False)
    )


@pytest.mark.parametrize("keep", [120, None], ids=["part of a record", "a whole record"])
def test_a_record_then_zeros_is_what_a_power_cut_leaves(run: Path, keep: int | None) -> None:
    """The file's size written, not all of its data: the record's bytes, then zeros where the
    rest (and its line end) should be."""
    lines = run.read_bytes().split(b"\n")
    record = lines[4][:keep]
    run.write_bytes(b"\n".join(lines[:4]) + b"\n" + record + b"\x00" * 200)
    verdict = verify_audit(run)
    assert (verdict.intact, verdict.cut, verdict.records) == (True, True, 4)
    assert len(read_audit(run.read_bytes()).report.results) == 3


@pytest.mark.parametrize(
    ("old", "new"),
    [(b'"result":', b'"result";'), (b'"type":"apply_finished"', b'"type" "apply_finished"')],
    ids=["a colon made a semicolon", "a colon removed"],
)
def test_a_last_record_edited_out_of_json_is_tampered_not_cut(
    run: Path, old: bytes, new: bytes
) -> None:
    """No crash writes a line that is no start of JSON: with its line end dropped too, the
    edited apply_finished is tampering, not a cut (which would leave it out of the report)."""
    raw = run.read_bytes()
    last = raw.rstrip(b"\n").rpartition(b"\n")[2]
    assert old in last
    run.write_bytes(raw.rstrip(b"\n").replace(last, last.replace(old, new)))
    verdict = verify_audit(run)
    assert (verdict.intact, verdict.cut, verdict.first_bad_seq) == (False, False, 9)
    with pytest.raises(AuditError):
        read_audit(run.read_bytes())


def test_a_device_or_a_file_past_the_cap_is_refused_not_read_until_memory_runs_out(
    run: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["audit", "verify", "/dev/zero"]) == 1
    err = capsys.readouterr().err
    assert (
        "error: cannot read the audit file /dev/zero: it is a character device, not a file" in err
    )
    monkeypatch.setattr(files, "MAX_READ_BYTES", 100)
    opened = Path.open

    def never_this_one(path: Path, *args: Any, **kwargs: Any) -> Any:
        assert path != run, "a file past the cap was opened to be read"
        return opened(path, *args, **kwargs)

    monkeypatch.setattr(Path, "open", never_this_one)  # refused by its size alone
    assert main(["audit", "verify", str(run)]) == 1
    err = capsys.readouterr().err
    assert f"the audit file {run} is larger than 100 bytes: not one entrasync wrote" in err
    assert "Traceback" not in err


def test_a_long_line_cut_off_inside_a_string_is_read_in_memory_of_its_size() -> None:
    """Read with backtracking state for each character, a 1 MB string cut off took 144 MB; a
    crafted 100 MB one 13 GB, where the file's own cap is 2 GB."""
    cut = b'{"seq":1,"note":"' + b"x" * 1_000_000
    tracemalloc.start()
    try:
        lines, was_cut = whole_lines(b'{"seq":1}\n' + cut)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (lines, was_cut) == ([b'{"seq":1}'], True)
    assert peak < 10 * 2**20


def test_a_last_line_nested_past_any_record_is_no_record_cut_off() -> None:
    # Each "[" was an entry on the stack of open containers: 20 MB of them took 250 MB.
    deep = b"[" * 1_000_000
    assert whole_lines(b'{"seq":1}\n' + deep) == ([b'{"seq":1}', deep], False)
    tracemalloc.start()
    try:
        whole_lines(b'{"seq":1}\n' + deep)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2**20
