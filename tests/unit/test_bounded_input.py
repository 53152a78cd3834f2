"""Bounded input (docs/safety.md, "Bounded input"): the config's YAML and the plan file's JSON.

YAML: alias expansion, size and nesting bounded, control characters located at file:line.
JSON: nesting, non-finite and huge numbers, duplicate keys refused by one strict reader. Each
bomb also runs through the CLI in a child process limited to 1 GiB of address space.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from entrasync.cli import main
from entrasync.config import loading
from entrasync.config import source as config_yaml
from entrasync.config.loading import load_config
from entrasync.config.models import check
from entrasync.config.source import MAX_ALIAS_NODES, MAX_CONFIG_BYTES, MAX_NODES, parse
from entrasync.core import planfile, strict_json
from entrasync.core.planfile import loads
from entrasync.core.strict_json import MAX_DEPTH, StrictJsonError
from entrasync.errors import ConfigError, PlanFileError
from tests.golden.plans import golden_plan
from tests.unit.limited_run import assert_refused, run_limited

# 9 levels of 9 aliases each: 9**9 (387 million) strings once expanded, from 435 bytes.
ALIAS_BOMB = """version: 1
products: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
roles: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
protected: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
mappings: [&d [*c,*c,*c,*c,*c,*c,*c,*c,*c], &e [*d,*d,*d,*d,*d,*d,*d,*d,*d],
  &f [*e,*e,*e,*e,*e,*e,*e,*e,*e], &g [*f,*f,*f,*f,*f,*f,*f,*f,*f],
  &h [*g,*g,*g,*g,*g,*g,*g,*g,*g], &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]]
"""

# The same shape, 5 levels: 9**5 (59,049) values, past the bound yet harmless without it. The
# tests in this process use it; the full bomb runs only in a child capped at 1 GiB.
SMALL_BOMB = """version: 1
products: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
roles: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
protected: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
mappings: [&d [*c,*c,*c,*c,*c,*c,*c,*c,*c], &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]]
"""

VALID_WITH_ALIASES = """version: 1
roles: [owner, admin, member]
product_roles: &members [member]
mappings:
  - &base {name: NT-Platform, role: member, products: [trustgate]}
  - <<: *base
    name: NT-Platform-EU
  - {name: NT-Owners, role: owner}
"""


def nested(depth: int, inner: str = "") -> str:
    return "[" * depth + inner + "]" * depth


def rendered(text: str | bytes, tmp_path: Path) -> tuple[str, ...]:
    """The problems load_config reports for a file holding ``text``."""
    path = tmp_path / "mappings.yaml"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return caught.value.problems


# --- YAML: aliases, depth, size, characters ---------------------------------------------------


def test_an_alias_bomb_is_one_problem_at_its_line(tmp_path: Path) -> None:
    problems = rendered(SMALL_BOMB, tmp_path)
    assert len(problems) == 1
    assert problems[0].startswith(f"{tmp_path / 'mappings.yaml'}:5:")
    assert f"repeat more than {MAX_ALIAS_NODES:,} values" in problems[0]


def test_aliases_used_a_few_times_still_work(tmp_path: Path) -> None:
    path = tmp_path / "mappings.yaml"
    path.write_text(VALID_WITH_ALIASES)
    config = load_config(path).config
    assert [m.name for m in config.mappings] == ["NT-Platform", "NT-Platform-EU", "NT-Owners"]
    assert config.mappings[1].products == ("trustgate",)
    assert config.product_roles == ("member",)


def test_aliases_repeating_exactly_the_limit_are_accepted_and_one_more_is_not() -> None:
    def uses(count: int) -> bytes:
        return ("version: 1\nx: &a 1\ny: [" + ",".join(["*a"] * count) + "]\n").encode()

    def alias_problems(raw: bytes) -> list[str]:
        return [p.message for p in parse(raw)[1] if "alias" in p.message]

    assert parse(uses(MAX_ALIAS_NODES))[0] is not None
    assert alias_problems(uses(MAX_ALIAS_NODES)) == []
    doc, problems = parse(uses(MAX_ALIAS_NODES + 1))
    assert doc is None
    assert [p.line for p in problems] == [3]


@pytest.mark.parametrize(
    "text",
    ["version: 1\nroles: &a [owner, *a]\n", "version: 1\nlimits: &a {min_owners: *a}\n"],
    ids=["a list", "a mapping"],
)
def test_an_alias_inside_its_own_anchor_is_a_problem(text: str, tmp_path: Path) -> None:
    (problem,) = rendered(text, tmp_path)
    assert ":2:" in problem
    assert "refers to the node it is part of" in problem


@pytest.mark.parametrize(
    "depth", [config_yaml.MAX_DEPTH, 500], ids=["one level too deep", "past Python's stack"]
)
def test_nesting_deeper_than_the_limit_is_a_problem(depth: int, tmp_path: Path) -> None:
    (problem,) = rendered(f"version: 1\nroles: {nested(depth)}\n", tmp_path)
    assert ":2:" in problem
    assert f"nested more than {config_yaml.MAX_DEPTH} levels deep" in problem


def test_nesting_at_the_limit_is_read(tmp_path: Path) -> None:
    problems = rendered(f"version: 1\nroles: {nested(config_yaml.MAX_DEPTH - 1)}\n", tmp_path)
    assert [p for p in problems if "nested" in p] == []
    assert any("roles[0]: expected text" in p for p in problems)


def test_an_alias_that_nests_too_deep_where_it_is_used_is_a_problem(tmp_path: Path) -> None:
    text = f"version: 1\nroles: &a {nested(40)}\nproducts: {nested(30, '*a')}\n"
    (problem,) = rendered(text, tmp_path)
    assert ":3:" in problem
    assert "nested more than" in problem


@pytest.mark.parametrize(
    "text",
    [
        SMALL_BOMB,
        f"version: 1\nroles: {nested(100_000)}\n",
        "version: 1\nroles: [a\x00b]\n",
    ],
    ids=["alias bomb", "nested 100,000 deep", "NUL"],
)
def test_the_pure_python_parser_is_bounded_alike(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without libyaml, PyYAML's own composer recurses per level: RecursionError past ~500.
    monkeypatch.setattr(config_yaml, "_Loader", yaml.SafeLoader)
    doc, problems = parse(text.encode())
    assert doc is None
    assert len(problems) == 1


def test_a_file_larger_than_the_limit_is_refused_unread(tmp_path: Path) -> None:
    filler = "# " + "x" * 78 + "\n"
    text = "version: 1\n" + filler * (MAX_CONFIG_BYTES // len(filler) + 1)
    (problem,) = rendered(text, tmp_path)
    assert problem.startswith(f"{tmp_path / 'mappings.yaml'}:1:1: the file is larger than 4 MiB")


def test_no_more_than_one_byte_past_the_limit_is_read(tmp_path: Path) -> None:
    # So a device or pipe that never ends (/dev/zero) is refused, not read forever.
    path = tmp_path / "mappings.yaml"
    path.write_bytes(b"#" * (2 * MAX_CONFIG_BYTES))
    assert len(loading.read_bytes(path)) == MAX_CONFIG_BYTES + 1


@pytest.mark.parametrize(
    ("text", "line", "col", "code"),
    [
        ("version: 1\nroles: [ow\x00ner]\n", 2, 11, "U+0000"),
        ("version: 1\n# a comment\x1b[2J\n", 2, 12, "U+001B"),
        ("version: 1\nroles: [owner\x7f]\n", 2, 14, "U+007F"),
        ("version: 1\nroles: [owner\x85]\n", 2, 14, "U+0085"),
        ("version: 1\nroles: [owner\x9b]\n", 2, 14, "U+009B"),
        ("\x08version: 1\n", 1, 1, "U+0008"),
    ],
    ids=["NUL", "ESC in a comment", "DEL", "C1 next line", "C1 CSI", "backspace on line 1"],
)
def test_a_control_character_is_reported_at_file_line_col(
    text: str, line: int, col: int, code: str, tmp_path: Path
) -> None:
    (problem,) = rendered(text, tmp_path)
    where = f"{tmp_path / 'mappings.yaml'}:{line}:{col}"
    assert problem == f"{where}: control character {code} is not allowed: remove it"


def test_a_line_separator_is_reported_as_yaml_would_count_it_a_line_break(tmp_path: Path) -> None:
    """YAML counts U+2028 as a line break and editors do not: every later line was off by one."""
    (problem,) = rendered("version: 1\n# a\u2028# b\nmappings: []\n", tmp_path)
    where = f"{tmp_path / 'mappings.yaml'}:2:4"
    assert problem == f"{where}: line separator U+2028 is not allowed: remove it"


@pytest.mark.parametrize(
    ("text", "where", "code"),
    [
        ('version: 1\nroles: [owner, "admin\\x1b[8m"]\n', "2:16: roles[1]", "U+001B"),
        (
            'version: 1\nmappings:\n  - {name: "NT\\0", role: owner}\n',
            "3:12: mappings[0].name",
            "U+0000",
        ),
    ],
    ids=["ESC written as an escape", "NUL written as an escape"],
)
def test_a_control_character_written_as_an_escape_is_reported_too(
    text: str, where: str, code: str, tmp_path: Path
) -> None:
    """The raw text holds no control character, the value does: it would be written to
    NeuralTrust or printed to a reviewer."""
    problems = rendered(text, tmp_path)
    expected = f"control character {code}, written as an escape, is not allowed: remove it"
    assert f"{tmp_path / 'mappings.yaml'}:{where}: {expected}" in problems


@pytest.mark.parametrize(
    ("value", "where", "said"),
    [
        ('"A\\nerror: forged"', "3:11", "a line break (U+000A)"),
        ("'A\n\n  B'", "3:11", "a line break (U+000A)"),
        ("|\n      NT-A", "3:11", "a line break (U+000A)"),
        ('"A\tB"', "3:11", "a tab (U+0009)"),
        ('"A\\rB"', "3:11", "a carriage return (U+000D)"),
    ],
    ids=["escaped", "a blank line in quotes", "a | block", "a raw tab in quotes", "escaped CR"],
)
def test_a_tab_or_line_break_inside_a_value_is_reported(
    value: str, where: str, said: str, tmp_path: Path
) -> None:
    """Every value is one line (names, ids, roles, dates, URLs): a break in a mapping's name
    was printed raw in validate's and apply's expiry warning, a line of its own in CI logs."""
    text = f"version: 1\nmappings:\n  - name: {value}\n    role: owner\n"
    problems = rendered(text, tmp_path)
    expected = f"{said} inside a value is not allowed: write the value on one line"
    assert problems == (f"{tmp_path / 'mappings.yaml'}:{where}: mappings[0].name: {expected}",)


def test_a_block_that_keeps_no_line_break_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "mappings.yaml"
    path.write_text("version: 1\nmappings:\n  - name: |-\n      NT-A\n    role: owner\n")
    assert load_config(path).config.mappings[0].name == "NT-A"


def test_a_file_of_more_values_than_a_mappings_file_holds_is_one_problem_in_seconds(
    tmp_path: Path,
) -> None:
    """Under the size limit, 300,000 empty mappings made 600,000 problems in a minute, 4 GB."""
    text = "version: 1\nmappings: [" + "{}," * (MAX_NODES + 1) + "]\n"
    (problem,) = rendered(text, tmp_path)
    assert f"holds {MAX_NODES + 6:,} keys and values, more than the {MAX_NODES:,}" in problem


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("1:30", "'1:30'"),
        ("1:30.0", "'1:30.0'"),
    ],
    ids=[
        "YAML 1.1 sexagesimal",
        "YAML 1.1 sexagesimal float",
    ],
)
def test_an_integer_is_decimal_as_in_yaml_1_2_and_editors(
    value: str, shown: str, tmp_path: Path
) -> None:
    """YAML 1.1 read 010 as 8 (a weaker limit than the reviewer read) and 1:30 as 90; 5,000
    digits failed Python's int conversion with a traceback."""
    (problem,) = rendered(f"version: 1\nlimits:\n  min_owners: {value}\n", tmp_path)
    assert f"limits.min_owners: expected a whole number, got the text {shown}" in problem


@pytest.mark.parametrize(
    "value",
    [
        "010",
        "0x10",
        "0o17",
        "9" * 19,
        "9" * 5001,
        "1_000",
        "0b101",
        "&n 010",
        "1_0e5",
        "0X1F",
        "-0B101",
        "0O17",
        "-_0x1F",
        "-_",
        "._",
    ],
    ids=[
        "010",
        "hex",
        "octal",
        "19 digits",
        "5,001 digits",
        "underscores",
        "binary",
        "anchored",
        "a float with an underscore",
        "hex in capitals (Go's reader)",
        "binary in capitals with a sign",
        "octal in capitals",
        "an underscore before the prefix (Go's reader)",
        "a sign and an underscore (ruamel fails on it)",
        "a point and an underscore",
    ],
)
@pytest.mark.parametrize("key", ["limits:\n  min_owners", "mappings:\n  - role: owner\n    name"])
def test_a_number_editors_read_and_entrasync_would_not_is_refused_in_any_place(
    value: str, key: str, tmp_path: Path
) -> None:
    """YAML 1.2 (editors, check-jsonschema) reads 010 as 10, 0x10 as 16 and any run of digits
    as a number; entrasync reads a decimal of at most 18 digits (YAML 1.1 read 010 as 8, and
    5,000 digits failed Python's int conversion with a traceback). Read as text, they passed
    in a name, where the editor showed the file red, and were "the text" where a number goes."""
    (problem,) = rendered(f"version: 1\n{key}: {value}\n", tmp_path)
    plain = value.removeprefix("&n ")  # an anchor does not make it text to all readers
    shown = plain if len(plain) <= 24 else f"{plain[:21]}..."
    assert (
        f"{shown} is a number to other YAML readers (editors, check-jsonschema) and text to "
        "entrasync: "
        f"quote it ('{shown}') to write text, or write a number in plain decimal of at most 18 "
        "digits"
    ) in problem


def test_tabs_and_crlf_line_ends_are_not_control_problems(tmp_path: Path) -> None:
    path = tmp_path / "mappings.yaml"
    path.write_bytes(b"version: 1\r\nroles: [owner,\tmember]  # a\ttab\r\n")
    assert load_config(path).config.roles == ("owner", "member")


def test_only_the_first_ten_control_characters_are_listed_and_the_rest_said(
    tmp_path: Path,
) -> None:
    # Fifty said "has 10 problems": the forty not listed, and anything else, went unsaid.
    path = tmp_path / "mappings.yaml"
    path.write_text("version: 1\n" + "\x00\n" * 50)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.message == f"{path} has more than 10 problems"
    problems = caught.value.problems
    assert len(problems) == 11
    assert problems[-2].startswith(f"{path}:11:1: control character")
    assert problems[-1] == (
        f"{path}:12:1: more such characters than are listed, this one among them: remove them all"
    )


def test_validate_reports_a_nul_with_exit_1_and_no_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mappings.yaml"
    path.write_bytes(b"version: 1\nroles: [owner\x00]\n")
    code = main(["--config", str(path), "validate"])
    err = capsys.readouterr().err
    assert code == 1
    assert f"{path}:2:14: control character U+0000 is not allowed" in err
    assert err.startswith("error:")
    assert "Traceback" not in err


def test_the_bounds_hold_for_check_of_bytes_too() -> None:
    config, problems = check(SMALL_BOMB.encode())
    assert config is None
    assert ["alias" in p.message for p in problems] == [True]


def test_validate_of_an_alias_bomb_under_1_gib(tmp_path: Path) -> None:
    path = tmp_path / "mappings.yaml"
    path.write_text(ALIAS_BOMB)
    done = run_limited("--config", str(path), "validate", cwd=tmp_path)
    assert_refused(done, f"{path}:5:", "aliases (*name) repeat more than")


def test_validate_of_a_nul_under_1_gib(tmp_path: Path) -> None:
    path = tmp_path / "mappings.yaml"
    path.write_bytes(b"version: 1\nroles: [owner\x00]\n")
    done = run_limited("--config", str(path), "validate", cwd=tmp_path)
    assert_refused(done, f"{path}:2:14: control character U+0000")


# --- JSON: the strict reader ------------------------------------------------------------------


REFUSED_JSON = [
    pytest.param(nested(100_000), f"nested more than {MAX_DEPTH} levels", id="100,000 deep"),
    pytest.param(nested(MAX_DEPTH + 1), f"nested more than {MAX_DEPTH} levels", id="65 deep"),
    pytest.param('{"a": ' * 70 + "1" + "}" * 70, "nested more than", id="deep objects"),
    pytest.param('{"n": NaN}', "NaN is not a finite number", id="NaN"),
    pytest.param("[Infinity]", "Infinity is not a finite number", id="Infinity"),
    pytest.param("[-Infinity]", "-Infinity is not a finite number", id="-Infinity"),
    pytest.param("[1e999]", "1e999 is not a finite number", id="1e999"),
    pytest.param("[-1e999]", "-1e999 is not a finite number", id="-1e999"),
    pytest.param("[" + "9" * 5000 + "]", "(5000 characters) is too large", id="5,000 digits"),
    pytest.param("[-" + "9" * 5000 + "]", "is too large", id="5,000 digits negative"),
    pytest.param(f"[{2**53}]", f"the integer {2**53} is too large", id="2**53"),
    pytest.param(f"[{-(2**53)}]", f"the integer {-(2**53)} is too large", id="-(2**53)"),
    pytest.param("[0." + "1" * 50 + "]", "written with too many digits", id="a 52-char number"),
    pytest.param('{"a": 1, "b": 2, "a": 3}', 'duplicate key "a"', id="duplicate key"),
    pytest.param('[{"x": {"k": 1, "k": 1}}]', 'duplicate key "k"', id="nested duplicate key"),
    pytest.param("{", "not valid JSON (line 1, column 2)", id="not JSON"),
    pytest.param(b'["\xff"]', "not UTF-8 text (byte 2)", id="not UTF-8"),
    pytest.param(
        b"\xef\xbb\xbf{}", "(line 1, column 1): it starts with a byte-order mark", id="a BOM"
    ),
]


@pytest.mark.parametrize(("text", "message"), REFUSED_JSON)
def test_the_strict_reader_refuses(text: str | bytes, message: str) -> None:
    with pytest.raises(StrictJsonError, match=re.escape(message)):
        strict_json.loads(text)


@pytest.mark.parametrize(
    "text",
    [nested(MAX_DEPTH), f"[{2**53 - 1}, {-(2**53 - 1)}]", "[1.5, -2e10, 1e-999]", '"text"', "7"],
    ids=["64 deep", "the safe integers", "finite fractions", "a string", "a number"],
)
def test_the_strict_reader_takes_plain_json(text: str) -> None:
    assert strict_json.loads(text) == json.loads(text)


def test_whole_numbers_only_when_asked() -> None:
    assert strict_json.loads("[1.5]") == [1.5]
    with pytest.raises(StrictJsonError, match=r"1\.5 is not a whole number"):
        strict_json.loads("[1.5]", fractions=False)


# --- JSON: plan files -------------------------------------------------------------------------


def plan_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(planfile.dumps(golden_plan()))
    return data


def plan_with(value: str) -> str:
    """The golden plan's text with the value of ``unchanged`` written as ``value``."""
    text = planfile.dumps(golden_plan())
    old = f'"unchanged": {plan_data()["summary"]["unchanged"]}'
    assert old in text
    return text.replace(old, f'"unchanged": {value}', 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(plan_with(nested(100_000, "1")), "nested more than", id="100,000 deep"),
        pytest.param(plan_with("NaN"), "NaN is not a finite number", id="NaN"),
        pytest.param(plan_with("Infinity"), "Infinity is not a finite number", id="Infinity"),
        pytest.param(plan_with("1e999"), "1e999 is not a finite number", id="1e999"),
        pytest.param(plan_with("1" * 5000), "is too large", id="5,000 digits"),
        pytest.param(
            plan_with('1, "unchanged": 2'), 'duplicate key "unchanged"', id="duplicate key"
        ),
    ],
)
def test_a_plan_file_with_a_json_bomb_is_refused(text: str, message: str) -> None:
    with pytest.raises(PlanFileError, match=message) as caught:
        loads(text, source="plan.json")
    assert caught.value.message.startswith("plan.json is refused: ")
    assert caught.value.hint == "pass the file written by `entrasync plan --out`"


def test_a_plan_file_with_a_lone_surrogate_is_refused() -> None:
    data = plan_data()
    data["warnings"] = ["\ud800"]
    with pytest.raises(PlanFileError, match="not Unicode"):
        loads(json.dumps(data), source="plan.json")


def test_a_plan_file_read_as_bytes_is_the_same_plan() -> None:
    text = planfile.dumps(golden_plan())
    assert loads(text.encode()).digest == loads(text).digest == golden_plan().digest
    with pytest.raises(PlanFileError, match="not UTF-8 text"):
        loads(b"\xff" + text.encode())


@pytest.mark.parametrize(("value", "read"), [("1e3", 1000), ("1000.0", 1000), ("1.5e2", 150)])
def test_a_number_with_an_exponent_or_a_point_is_read_as_yaml_1_2_reads_it(
    value: str, read: int, tmp_path: Path
) -> None:
    """As check-jsonschema and editors read it: the two agree on what the file says."""
    path = tmp_path / "mappings.yaml"
    path.write_text(f"version: 1\nlimits:\n  min_owners: {value}\n", encoding="utf-8")
    assert load_config(path).config.limits.min_owners == read


@pytest.mark.parametrize("value", ["1.0e+300", "9007199254740993", "1000000001"])
def test_a_limit_past_a_billion_is_refused(value: str, tmp_path: Path) -> None:
    """1.0e+300 passed, and the plan file it made could not be read back by apply."""
    (problem,) = rendered(f"version: 1\nlimits:\n  max_deactivations: {value}\n", tmp_path)
    assert "limits.max_deactivations: must be at most 1000000000" in problem
