"""The plan file (docs/plan-and-audit.md): round trip, and every way of editing it is refused."""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from entrasync import __version__
from entrasync.adapters.files import write_plan
from entrasync.cli import main
from entrasync.core import planfile
from entrasync.core.canonical import canonical_json
from entrasync.core.plan import Access, Action, Change, Orphan, Plan, Violation
from entrasync.core.planfile import loads
from entrasync.core.policy import PolicyChange
from entrasync.errors import PlanFileError
from tests.golden.plans import empty_plan, golden_plan

Edit = Callable[[dict[str, Any]], None]


def _file() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(planfile.dumps(golden_plan()))
    return data


def _redigest(data: dict[str, Any]) -> None:
    body = {k: v for k, v in data.items() if k not in ("created_at", "digest")}
    data["digest"] = hashlib.sha256(canonical_json(body)).hexdigest()


def test_a_written_plan_reads_back_equal_with_the_same_digest() -> None:
    plan = golden_plan()
    again = loads(planfile.dumps(plan))
    assert again == plan
    assert again.digest == plan.digest
    assert planfile.dumps(again) == planfile.dumps(plan)


def test_created_at_is_outside_the_digest() -> None:
    data = _file()
    data["created_at"] = "2030-01-01T00:00:00Z"
    assert loads(json.dumps(data)).digest == golden_plan().digest


def _set_role(data: dict[str, Any]) -> None:
    data["changes"][0]["after"]["role"] = "owner"


def _forge_summary(data: dict[str, Any]) -> None:
    data["summary"]["create"] = 99


def _reverse_changes(data: dict[str, Any]) -> None:
    data["changes"].reverse()


def _extra_top_key(data: dict[str, Any]) -> None:
    data["extra"] = 1


def _extra_change_key(data: dict[str, Any]) -> None:
    data["changes"][0]["password"] = "x"


def _drop_violations(data: dict[str, Any]) -> None:
    data["violations"] = []


EDITS: list[tuple[str, Edit]] = [
    ("an edited role", _set_role),
    ("a forged summary", _forge_summary),
    ("reordered changes", _reverse_changes),
    ("an extra top-level key", _extra_top_key),
    ("an extra key in a change", _extra_change_key),
    ("removed safety violations", _drop_violations),
]


@pytest.mark.parametrize(("edit"), [e for _, e in EDITS], ids=[i for i, _ in EDITS])
def test_an_edited_plan_is_refused(edit: Edit) -> None:
    data = _file()
    edit(data)
    with pytest.raises(PlanFileError, match="modified after it was written"):
        loads(json.dumps(data))


@pytest.mark.parametrize(("edit"), [e for _, e in EDITS], ids=[i for i, _ in EDITS])
def test_an_edited_plan_with_a_recomputed_digest_is_refused(edit: Edit) -> None:
    data = {**_file(), "entrasync_version": __version__}  # made by this entrasync
    edit(data)
    _redigest(data)
    if edit in (_set_role, _drop_violations):
        # A consistent forgery: the digest only proves the file is the one reviewed when the
        # digest itself is compared (apply --force-unsafe, the PR comment, the artifact).
        assert loads(json.dumps(data)).digest == data["digest"]
        return
    words: dict[Edit, str] = {
        _reverse_changes: "its changes are not in the order",
        _forge_summary: "its summary, or a value in it, is not as entrasync writes it",
        _extra_top_key: "it holds extra, which this entrasync does not write",
        _extra_change_key: "it holds changes[0].password, which this entrasync does not write",
    }
    said = words[edit]
    with pytest.raises(PlanFileError, match="not a plan as entrasync writes it") as refused:
        loads(json.dumps(data))
    assert said in refused.value.message
    assert refused.value.message.endswith("(was it edited and its digest recomputed?)")


def test_keys_not_written_are_named_wherever_they_are_and_five_at_most() -> None:
    data = {**_file(), "entrasync_version": __version__}
    data["changes"][0]["after"]["expires"] = "2027-01-01"
    data["target"]["tenant"] = "contoso"
    data["k" * 100_000] = 1  # named in 60 characters
    data.update({f"extra{n}": n for n in range(7)})
    _redigest(data)
    with pytest.raises(PlanFileError) as refused:
        loads(json.dumps(data))
    assert refused.value.message == (
        f"plan file is not a plan as entrasync writes it: it holds {'k' * 57}..., extra0, "
        "extra1, extra2, extra3 and 3 more, which this entrasync does not write; it holds "
        "target.tenant, which this entrasync does not write; it holds changes[0].after.expires, "
        "which this entrasync does not write (was it edited and its digest recomputed?)"
    )


def test_past_five_differences_the_rest_are_counted() -> None:
    data = {**_file(), "entrasync_version": __version__}
    for number, change in enumerate(data["changes"]):
        change[f"note{number}"] = 1
    data["target"]["tenant"] = "contoso"
    assert len(data["changes"]) >= 5, "six differences need five changes"
    _redigest(data)
    with pytest.raises(PlanFileError) as refused:
        loads(json.dumps(data))
    message = refused.value.message
    assert message.count("it holds ") == 5, message
    assert message.endswith(
        f"; and {len(data['changes']) - 4} more (was it edited and its digest recomputed?)"
    ), message


def test_the_version_a_forged_plan_names_is_escaped() -> None:
    data = _file()
    data["entrasync_version"] = "9.9\x1b[31m\n"
    data["notices"] = []
    _redigest(data)
    with pytest.raises(PlanFileError) as refused:
        loads(json.dumps(data))
    message = refused.value.message
    assert "it was made by entrasync 9.9\\x1b[31m\\x0a, this is" in message, message
    assert "\x1b" not in message


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        (
            lambda data: data["orphans"][1].update(since="2026-01-01"),
            "it holds orphans[1].since, which this entrasync does not write",
        ),
        (
            lambda data: data["violations"][0].update(seen=1),
            "it holds violations[0].seen, which this entrasync does not write",
        ),
        (
            lambda data: data.update({f"k{n}": n for n in range(5)}),
            "it holds k0, k1, k2, k3, k4, which this entrasync does not write (was",
        ),
        (
            lambda data: data.update({"x\x1b[31m\n": 1}),
            "it holds x\\x1b[31m\\x0a, which this entrasync does not write",
        ),
        (
            lambda data: data.update({"k" * 60: 1}),
            f"it holds {'k' * 60}, which",
        ),
        (
            lambda data: data["policy_changes"][0].update(reviewer="x"),
            "it holds policy_changes[0].reviewer, which this entrasync does not write",
        ),
    ],
    ids=[
        "in an orphan",
        "in a violation",
        "exactly five: no 'and 0 more'",
        "a key holding a terminal escape and a line break, escaped",
        "a key of 60 characters, whole",
        "in a policy change",
    ],
)
def test_a_key_not_written_is_named_as_it_is_wherever_it_is(
    edit: Callable[[dict[str, Any]], object], said: str
) -> None:
    policy = (PolicyChange("limits.max_deactivations", 5, 50, weakens=True),)
    data = json.loads(planfile.dumps(replace(golden_plan(), policy_changes=policy)))
    data["entrasync_version"] = __version__
    edit(data)
    _redigest(data)
    with pytest.raises(PlanFileError) as refused:
        loads(json.dumps(data))
    assert said in refused.value.message
    assert "and 0 more" not in refused.value.message


def test_a_plan_another_entrasync_wrote_with_a_key_this_one_lacks_names_both() -> None:
    # A later release may add a key to format 1, as 0.2.0 added policy_changes and adopts: the
    # refusal read as tampering, naming neither the key nor the version.
    data = _file()
    data["entrasync_version"] = "0.3.0"
    data["notices"] = []
    del data["orphans"]
    _redigest(data)
    with pytest.raises(PlanFileError) as refused:
        loads(json.dumps(data))
    assert refused.value.message == (
        "plan file is not a plan as entrasync writes it: it holds notices, which this "
        "entrasync does not write; it lacks orphans; it was made by entrasync 0.3.0, this is "
        f"{__version__}: plan and apply with one version"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        (json.dumps({**_file(), "format_version": 2}), "format_version 2"),
        (json.dumps({"format_version": 1}), "not a valid entrasync plan"),
        (
            json.dumps({**_file(), "changes": {"a": 1}}),
            "not a valid entrasync plan",
        ),
        (
            json.dumps({**_file(), "changes": [{**_file()["changes"][0], "before": [1]}]}),
            "not a valid entrasync plan",
        ),
        (
            json.dumps({**_file(), "changes": [{**_file()["changes"][0], "action": "delete"}]}),
            "not a valid entrasync plan",
        ),
    ],
    ids=[
        "broken JSON",
        "not an object",
        "an unknown format version",
        "missing keys",
        "changes that are not a list",
        "a before that is not an object",
        "an unknown action",
    ],
)
def test_a_malformed_plan_file_gets_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(PlanFileError, match=message):
        loads(text)


def test_apply_refuses_a_tampered_plan_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A token is set, so the refusal comes from the plan file and no request is ever sent
    # (the default SCIM URL is not on loopback: any request would fail the test loudly).
    monkeypatch.setenv("NEURALTRUST_SCIM_TOKEN", "unused")
    data = _file()
    _set_role(data)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(data))
    assert main(["apply", str(plan_file), "--audit-dir", str(tmp_path / "audit")]) == 1
    err = capsys.readouterr().err
    assert "modified after it was written" in err
    assert "Traceback" not in err
    assert not (tmp_path / "audit").exists()


def _put(path: str, value: object) -> Edit:
    """Set the value at a dotted path (``changes.0.after.role``) of a plan file's JSON."""

    def edit(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[int(last) if isinstance(node, list) else last] = value

    return edit


def _drop(path: str) -> Edit:
    """Remove the key at a dotted path (``changes.0.after.products``) of a plan file's JSON."""

    def edit(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        del node[last]

    return edit


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        (_drop("changes.0.after.products"), "changes[0]: after has no products"),
        (_drop("changes.2.before.role"), "changes[2]: before has no role"),
        (_put("target.scim_url", 5), "target.scim_url is a number, not text"),
        (_put("config.sha256", None), "config.sha256 is null, not a SHA-256 digest"),
        (_put("target.state_sha256", "5" * 63), "target.state_sha256 is text, not a SHA-256"),
        (_put("config.path", ["a"]), "config.path is a list, not text"),
        (_put("changes.0.user_name", 5), "changes[0]: user_name is a number, not text"),
        (_put("changes.2.user", None), "changes[2]: user is null, not text"),
        (_put("changes.1.after.role", ["owner"]), "changes[1]: after.role is a list, not text"),
        (_put("changes.2.before.active", "false"), "before.active is text, not true or false"),
        (_put("changes.0.after.products", "trustgate"), "after.products is text, not a list"),
        (_put("changes.0.groups", [1]), "changes[0]: groups is a list, not a list of text"),
        (_put("changes.4.adopts", "yes"), "changes[4]: adopts is text, not true or false"),
        (_put("changes.3", "bob"), "changes[3] is text, not an object"),
        (_put("changes.0.action", "delete"), "changes[0]: 'delete' is not a valid Action"),
        (_put("orphans.1.role", 5), "orphans[1]: role is a number, not text"),
        (_put("violations.0.message", None), "violations[0]: message is null, not text"),
        # A name apply would show: never one it does not know.
        (_put("violations.0.rule", "min_owners: fine"), "rule 'min_owners: fine' is no safety"),
        (_put("warnings", "one"), "warnings is text, not a list of text"),
        (_put("summary.unchanged", "10"), "summary.unchanged is text, not a count"),
        (_put("summary.unchanged", True), "summary.unchanged is true, not a count"),
        (_put("entrasync_version", 1), "entrasync_version is a number, not text"),
        # Outside the digest, so nothing else vouches for it: the audit records it, and a lone
        # surrogate there failed the copy of the plan beside the audit after NeuralTrust's read.
        (_put("created_at", "\ud800"), "created_at is not a time as `plan` writes it"),
        (_put("created_at", "yesterday"), "created_at is not a time as `plan` writes it"),
        (_put("created_at", "2026-11-28T12:00:00Z\n"), "created_at is not a time as `plan`"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_even_with_a_recomputed_digest(
    edit: Edit, said: str
) -> None:
    data = _file()
    edit(data)
    _redigest(data)
    with pytest.raises(PlanFileError, match="is not a valid entrasync plan") as refused:
        loads(json.dumps(data))
    assert said in str(refused.value)


def test_apply_refuses_a_plan_with_a_value_of_the_wrong_type_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEURALTRUST_SCIM_TOKEN", "unused")  # no request is sent (see above)
    data = _file()
    data["target"]["scim_url"] = 5
    _redigest(data)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(data))
    assert main(["apply", str(plan_file), "--audit-dir", str(tmp_path / "audit")]) == 1
    err = capsys.readouterr().err
    assert "target.scim_url is a number, not text" in err
    assert "Traceback" not in err
    assert "a bug" not in err


def test_a_plan_written_with_the_older_indented_layout_still_reads() -> None:
    plan = golden_plan()
    indented = json.dumps(planfile.to_json(plan), indent=2, ensure_ascii=False) + "\n"
    assert loads(indented) == plan
    assert loads(indented).digest == plan.digest


def test_each_change_is_one_line_of_the_file() -> None:
    plan = golden_plan()
    lines = [line.strip().rstrip(",") for line in planfile.dumps(plan).splitlines()]
    read = [Change.from_json(json.loads(line)) for line in lines if line.startswith('{"action"')]
    assert tuple(read) == plan.changes


def test_with_violations_is_the_plan_with_those_violations() -> None:
    plan = golden_plan()
    violations = (Violation(rule="min_owners", message="no owner left"),)
    attached = plan.with_violations(violations)
    assert attached == replace(plan, violations=violations)
    assert attached.violations == violations
    assert attached.digest == replace(plan, violations=violations).digest != plan.digest


def test_a_plan_made_from_another_with_new_changes_still_sorts_them() -> None:
    attached = golden_plan().with_violations(())
    shuffled = tuple(reversed(attached.changes))
    assert shuffled != attached.changes
    again = replace(attached, changes=shuffled, orphans=tuple(reversed(attached.orphans)))
    assert again.changes == attached.changes
    assert again.orphans == attached.orphans


def test_changes_are_ordered_by_action_user_and_ids_whatever_order_they_come_in() -> None:
    # Two Entra users of one mail each have a change for the same user key: in the order read,
    # the plan's bytes followed the order Graph listed them in.
    rng = random.Random(7)
    after = Access("member", None, True)
    changes = [
        Change(action, f"user{rng.randrange(12)}", f"id{n}", None, None, None, after, (), None, "")
        for n, action in enumerate(rng.choice(list(Action)) for _ in range(200))
    ]
    plan = Plan("c", "0" * 64, "https://nt.example/scim/v2", "0" * 64, changes=tuple(changes))
    assert plan.changes == tuple(sorted(changes, key=lambda c: c.sort_key))
    assert [c.action for c in plan.changes][:1] == [Action.CREATE]
    assert len({c.sort_key[:2] for c in changes}) < len(changes)  # users tie
    rng.shuffle(changes)
    assert replace(plan, changes=tuple(changes)).changes == plan.changes


def test_apply_refuses_a_plan_file_that_is_not_utf8_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEURALTRUST_SCIM_TOKEN", "unused")
    plan_file = tmp_path / "plan.json"
    plan_file.write_bytes(b'{"format_version": 1, "user": "\xff\xfe"}')
    assert main(["apply", str(plan_file), "--audit-dir", str(tmp_path / "audit")]) == 1
    err = capsys.readouterr().err
    assert f"error: {plan_file} is refused" in err
    assert "Traceback" not in err
    assert not (tmp_path / "audit").exists()


def _varied_plans() -> list[Plan]:
    """Plans that exercise every part of the file: no changes, every action, policy changes,
    violations, non-ASCII text before the digest (its offset is in bytes)."""
    plan = golden_plan()
    policy = (PolicyChange("limits.max_deactivations", 5, 50, weakens=True),)
    return [
        empty_plan(),
        plan,
        replace(plan, policy_changes=policy, config_path="config/mäppings-日本.yaml"),
        replace(
            empty_plan(),
            warnings=("one", "two"),
            created_at="2026-12-05T04:00:00Z",
            config_path="é",
        ),
        plan.with_violations((Violation(rule="min_owners", message="no owner left"),)),
    ]


@pytest.mark.parametrize("index", range(5))
def test_the_plan_file_written_in_one_pass_is_the_plan_file(index: int, tmp_path: Path) -> None:
    # write_plan hashes and writes each change once, then puts the digest in place: the
    # bytes must be those of dumps, and the digest the one worked out on its own.
    plan = _varied_plans()[index]
    expected_digest = planfile.digest(replace(plan))  # a copy, so nothing is cached on plan
    out = tmp_path / "plan.json"
    write_plan(out, plan)
    assert plan.digest == expected_digest
    assert out.read_bytes() == planfile.dumps(replace(plan)).encode("utf-8")
    assert loads(out.read_bytes()).digest == expected_digest
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]


def test_a_plan_file_written_over_an_existing_one_keeps_its_mode(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    out.write_text("old, and much longer than nothing at all " * 10_000)
    out.chmod(0o640)
    write_plan(out, golden_plan())
    assert out.read_bytes() == planfile.dumps(golden_plan()).encode("utf-8")
    assert out.stat().st_mode & 0o777 == 0o640


def test_a_plan_with_a_lone_surrogate_is_refused_and_leaves_the_old_file(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    out.write_text("old\n")
    plan = golden_plan()
    for broken in (
        replace(plan, changes=(replace(plan.changes[-1], display_name="x\ud800"),)),
        replace(plan, config_path="config/\udfff.yaml"),
    ):
        with pytest.raises(PlanFileError, match="lone surrogate"):
            write_plan(out, broken)
        assert out.read_text() == "old\n"
        assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]


def test_a_plan_written_to_a_fifo_is_the_same_file(tmp_path: Path) -> None:
    # A FIFO cannot be written back into: the digest comes first, the lines are made twice.
    fifo = tmp_path / "plan.fifo"
    os.mkfifo(fifo)
    read: list[bytes] = []
    reader = threading.Thread(target=lambda: read.append(fifo.read_bytes()))
    reader.start()
    plan = golden_plan()
    write_plan(fifo, plan)
    reader.join(timeout=10)
    assert read == [planfile.dumps(plan).encode("utf-8")]


@pytest.mark.parametrize("key", ["changes", "config", "summary"])
def test_a_key_left_out_is_named_missing_not_as_a_python_error(key: str) -> None:
    """It said "KeyError: 'changes'"."""
    data = _file()
    del data[key]
    _redigest(data)
    with pytest.raises(PlanFileError) as refused:
        loads(json.dumps(data))
    assert f"is not a valid entrasync plan: {key} is missing" in str(refused.value)


def test_orphans_of_one_user_key_are_ordered_by_their_ids_not_as_read() -> None:
    # Two NeuralTrust users whose userNames differ only in case are one user key.
    orphans = [Orphan("ann@contoso.com", "member", "left", f"e{n}", f"s{n}") for n in (2, 1, 3)]
    plan = Plan("c", "0" * 64, "https://nt.example/scim/v2", "0" * 64, orphans=tuple(orphans))
    assert [o.target_id for o in plan.orphans] == ["s1", "s2", "s3"]
