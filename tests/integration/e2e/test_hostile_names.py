"""Names from Entra, NeuralTrust and the config cannot drive the terminal or the CI log.

The demo tenant with hostile names (docs/safety.md, "Terminals and CI logs are not a
channel"): a group, a user and NeuralTrust users whose names carry ANSI escapes, an OSC-8 link,
a right-to-left override, CR/LF and GitHub workflow commands, and a mapping named the same way.
Each command runs through the real entry point against the Graph emulator and the SCIM sandbox
on loopback; no raw control reaches stdout or stderr and no line starts a workflow command.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import select
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from entrasync.cli import main
from entrasync.sandbox.tenant import SandboxGroup, SandboxTenant, SeedScimUser, demo_tenant
from entrasync.sandbox.tenant_demo import DAN, FRANK, PLATFORM
from tests.integration.e2e.loopback import serve

EVIL = "\x1b[2J\x1b]8;;https://evil.example\x07click\x1b]8;;\x07\u202e\r\n::error::pwned"
EVIL_SHOWN = (
    "\\x1b[2J\\x1b]8;;https://evil.example\\x07click\\x1b]8;;\\x07\\u202e\\x0d\\x0a::error::pwned"
)
GROUP = "NT-Platform" + EVIL  # a synced group
EMPTY = "NT-Empty" + EVIL  # mapped, empty, not synced: validate --online warns about it
EMPTY_ID = "0b3f1c9e-1111-4c1e-9a0b-0000000000ee"
# A mappings file may not hold control characters, escaped or not; a bidi override and a
# workflow command it may. Names no group: validate --online fails on it.
MAPPING_EVIL = "\u202e ::error::pwned ##[add-mask]x"
MAPPING = "NT-Nowhere" + MAPPING_EVIL
SCIM_USER = "::error::pwned" + EVIL + "@evil.example"  # unmanaged: listed first on its line
RAW = ("\x1b", "\x07", "\u202e", "\r", "##[")


def hostile_tenant() -> tuple[SandboxTenant, tuple[SeedScimUser, ...], str]:
    demo = demo_tenant()
    users = tuple(
        replace(u, display_name="Dan" + EVIL) if u.id == DAN else u for u in demo.tenant.users
    )
    groups = tuple(
        replace(g, display_name=GROUP) if g.id == PLATFORM else g for g in demo.tenant.groups
    )
    tenant = replace(demo.tenant, users=users, groups=(*groups, SandboxGroup(EMPTY_ID, EMPTY)))
    scim_users = tuple(
        replace(u, display_name="Frank" + EVIL) if u.external_id == FRANK else u
        for u in demo.scim_users
    )
    extra = SeedScimUser(SCIM_USER, None, "Mallory" + EVIL, None, role="member")
    config = demo.config_yaml.replace("  - name: NT-Platform\n", f"  - id: {PLATFORM}\n")
    return tenant, (*scim_users, extra), config


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The hostile tenant served on loopback; yields the mappings file."""
    tenant, scim_users, config = hostile_tenant()
    with serve(tenant, scim_users, config, tmp_path, monkeypatch) as mappings:
        yield mappings


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def assert_inert(output: str) -> None:
    for raw in RAW:
        assert raw not in output, f"{raw!r} reached the output"
    starts = [line for line in output.split("\n") if line.lstrip().startswith("::")]
    assert starts == [], "a line starts a GitHub workflow command"


def test_plan_text_shows_hostile_names_escaped(
    sandbox: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "plan")
    assert code == 0, err
    assert_inert(out + err)
    assert f"groups:     {GROUP[:11]}{EVIL_SHOWN}" in out  # Dan, created from the group
    assert f"(Dan{EVIL_SHOWN})" in out
    assert f"(Frank{EVIL_SHOWN})" in out  # deactivated, named as NeuralTrust has him


def test_an_empty_synced_groups_name_stays_on_its_line_in_warnings_and_refusals(
    sandbox: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Its name goes into a warning and into the source_health violation, which apply's
    refusal lists: each is one line, whatever the name holds."""
    mapped = sandbox.read_text(encoding="utf-8") + f"  - id: {EMPTY_ID}\n    role: member\n"
    sandbox.write_text(mapped, encoding="utf-8")
    code, out, err = run(capsys, "plan")
    assert code == 1  # source_health: Frank's deactivation while a synced group reads empty
    assert_inert(out + err)
    assert f"group NT-Empty{EVIL_SHOWN} resolved to 0 members" in out
    assert f"warning: source_health: synced group NT-Empty{EVIL_SHOWN} resolved" in err
    code, out, err = run(capsys, "apply", "--auto-approve")
    assert code == 1
    assert_inert(out + err)
    (refusal,) = [line for line in err.splitlines() if line.startswith("error:")]
    assert f"source_health: synced group NT-Empty{EVIL_SHOWN} resolved" in refusal


def test_plan_json_keeps_the_names_exactly(
    sandbox: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "plan", "--format", "json")
    assert code == 0, err
    assert_inert(out + err)
    names = {c["display_name"] for c in json.loads(out)["changes"]}
    assert {"Dan" + EVIL, "Frank" + EVIL} <= names


def test_users_table_and_csv_show_hostile_names_escaped(
    sandbox: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, table, err = run(capsys, "users")
    assert code == 0, err
    assert_inert(table + err)
    assert f"Mallory{EVIL_SHOWN}" in table

    code, written, err = run(capsys, "users", "--format", "csv")
    assert code == 0, err
    assert_inert(written.replace("\r\n", "\n") + err)  # CSV's own line ends are CRLF
    rows = {row[0]: row for row in csv.reader(io.StringIO(written))}
    mallory = rows["\\x3a:error::pwned" + EVIL_SHOWN.lower() + "@evil.example"]
    assert mallory[1] == "Mallory" + EVIL_SHOWN
    dan = rows["dan.brown@contoso.com"]
    assert dan[1] == "Dan" + EVIL_SHOWN
    assert dan[8] == GROUP[:11] + EVIL_SHOWN


def test_users_json_keeps_the_names_exactly(
    sandbox: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "users", "--format", "json")
    assert code == 0, err
    assert_inert(out + err)
    names = {row["display_name"] for row in json.loads(out)}
    assert {"Dan" + EVIL, "Frank" + EVIL, "Mallory" + EVIL} <= names


def test_groups_lists_hostile_names_escaped(
    sandbox: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "groups", "NT-")
    assert code == 0, err
    assert_inert(out + err)
    assert GROUP[:11] + EVIL_SHOWN in out
    assert EMPTY[:8] + EVIL_SHOWN in out


def test_groups_json_keeps_the_names_exactly_and_inert(
    sandbox: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "groups", "NT-", "--format", "json")
    assert code == 0, err
    assert_inert(out + err)
    names = {g["display_name"] for g in json.loads(out)}
    assert {GROUP, EMPTY} <= names


def test_validate_summary_shows_a_hostile_role_and_path_escaped(sandbox: Path) -> None:
    from entrasync.commands.validate import summary
    from entrasync.config.loading import load_config
    from entrasync.core.expiry import as_of

    loaded = load_config(sandbox)
    hostile = loaded.config.model_copy(update={"roles": ["owner" + EVIL, *loaded.config.roles]})
    today = as_of(hostile, date(2026, 12, 5))
    line = summary(replace(loaded, config=hostile, path="mappings" + EVIL + ".yaml"), today)
    assert_inert(line)
    assert "owner" + EVIL_SHOWN in line


def test_a_mappings_file_whose_name_is_not_utf8_is_planned_applied_and_recorded(
    sandbox: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`caf\xe9.yaml` (Latin-1 bytes): validate took it, then plan could not write its
    plan file, blaming a value read from Entra or NeuralTrust."""
    named = sandbox.with_name(os.fsdecode(b"caf\xe9.yaml"))
    named.write_bytes(sandbox.read_bytes())
    plan_file = sandbox.with_name(os.fsdecode(b"plan-\xe9.json"))
    code, _, err = run(capsys, "--config", str(named), "plan", "--out", str(plan_file))
    assert code == 0, err
    saved = json.loads(plan_file.read_bytes())
    assert saved["config"]["path"] == str(sandbox.with_name("caf\\xe9.yaml"))
    audit = sandbox.with_name("audit")
    args = ("--config", str(named), "apply", str(plan_file), "--auto-approve")
    code, _, err = run(capsys, *args, "--audit-dir", str(audit))
    assert code == 0, err
    first = next(audit.glob("*.jsonl")).read_text(encoding="utf-8").splitlines()[0]
    assert json.loads(first)["config_path"] == saved["config"]["path"]


def test_validate_online_names_a_hostile_mapping_and_group_on_one_inert_line(
    sandbox: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mappings = sandbox.read_text(encoding="utf-8") + (
        f"  - name: {json.dumps(MAPPING)}\n    role: member\n    auto_sync: false\n"
        f"  - id: {EMPTY_ID}\n    role: member\n    auto_sync: false\n"
    )
    sandbox.write_text(mappings, encoding="utf-8")
    code, out, err = run(capsys, "validate", "--online")
    assert code == 1, err
    assert_inert(out + err)
    (error,) = [line for line in err.splitlines() if line.startswith("error:")]
    assert "mapping NT-Nowhere" in error
    assert ": no Entra group is named" in error
    (warning,) = [line for line in err.splitlines() if "has no user members" in line]
    assert f"group NT-Empty{EVIL_SHOWN} ({EMPTY_ID})" in warning
    assert "NT-Nowhere" in out  # its row in the table
    assert f"NT-Empty{EVIL_SHOWN}" in out


def test_a_mapping_name_holding_control_characters_is_refused_at_its_line(
    sandbox: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mappings = sandbox.read_text(encoding="utf-8")
    line = mappings.count("\n") + 1
    name = json.dumps("NT-Nowhere" + EVIL)  # escapes: the raw text holds no control character
    sandbox.write_text(mappings + f"  - name: {name}\n    role: member\n", encoding="utf-8")
    code, out, err = run(capsys, "validate")
    assert code == 1
    assert_inert(out + err)
    assert (
        f":{line}:11: mappings[4].name: control character U+001B, written as an escape, is not "
        "allowed: remove it"
    ) in err


def test_the_progress_line_on_a_terminal_shows_hostile_names_escaped(sandbox: Path) -> None:
    """Progress is drawn on an interactive terminal only: stderr is a pseudo-terminal here."""
    leader, follower = pty.openpty()
    environ = {k: v for k, v in os.environ.items() if k != "CI"}
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "entrasync", "plan"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=follower,
            env=environ,
        )
    finally:
        os.close(follower)
    drawn = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the process closed the terminal
            break
        if not chunk:
            break
        drawn += chunk
    os.close(leader)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0, drawn.decode(errors="replace")
    screen = drawn.decode("utf-8")
    assert f"read group {GROUP[:11]}{EVIL_SHOWN}: " in screen
    # What the terminal got is the progress line's own "\r ESC[K" (clear the line), and the
    # name only escaped: no other escape sequence, bell or override.
    assert screen.replace("\r\x1b[K", "").replace("\r\n", "\n").count("\x1b") == 0
    for raw in ("\x07", "\u202e", "\x1b[2J", "\x1b]8"):
        assert raw not in screen
    assert_inert(out.decode("utf-8"))


def test_plan_error_quotes_a_hostile_mapping_name_inertly(
    sandbox: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Through the CLI's error boundary: the message quotes the name with repr(), which escapes
    # controls but not a legacy workflow command; the boundary neutralises that too.
    name = "::warning::x ##[add-mask]secret" + MAPPING_EVIL
    mappings = sandbox.read_text(encoding="utf-8")
    sandbox.write_text(mappings + f"  - name: {json.dumps(name)}\n    role: member\n")
    code, out, err = run(capsys, "plan")
    assert code == 1
    assert_inert(out + err)
    assert "Traceback" not in err
    (error,) = [line for line in err.splitlines() if line.startswith("error:")]
    assert "##\\x5badd-mask]secret" in error
    (hint,) = [line for line in err.splitlines() if line.startswith("hint:")]
    # Mid-line, `::` is no workflow command (assert_inert above): the prefix stays pasteable.
    assert "`entrasync groups ::w`" in hint
