"""The documentation holds together: links resolve, the README stays short, and
docs/commands.md lists exactly what ``entrasync <command> --help`` offers."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from entrasync.cli import cli

ROOT = Path(__file__).resolve().parents[2]
COMMANDS_DOC = ROOT / "docs" / "commands.md"
README_MAX_LINES = 250

LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^()\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
OPTION = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")


def _doc_files() -> list[Path]:
    fixed = [ROOT / name for name in ("README.md", "CONTRIBUTING.md", "CHANGELOG.md")]
    return [*fixed, ROOT / "benchmarks" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _prose_lines(text: str) -> Iterator[tuple[int, str]]:
    """Lines outside fenced code blocks, with their 1-based numbers."""
    fence = ""
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.lstrip()
        if fence:
            if stripped.startswith(fence):
                fence = ""
            continue
        if stripped.startswith(("```", "~~~")):
            fence = stripped[:3]
            continue
        yield number, line


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = re.sub(r"<[^>]+>", "", text).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for _, line in _prose_lines(path.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if not match:
            continue
        slug = github_slug(match.group(2))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def links(path: Path) -> Iterator[tuple[int, str]]:
    for number, line in _prose_lines(path.read_text(encoding="utf-8")):
        for match in LINK.finditer(CODE_SPAN.sub("code", line)):
            yield number, match.group(1)


def broken_links(path: Path) -> list[str]:
    problems = []
    for number, target in links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, flags=re.IGNORECASE):
            continue  # http(s), mailto: not fetched
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
        where = f"{shown}:{number}: {target}"
        if not linked.exists():
            problems.append(f"{where}: no such file {linked}")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            problems.append(f"{where}: no heading with anchor #{anchor} in {linked.name}")
        elif anchor and linked.suffix != ".md":
            problems.append(f"{where}: an anchor into a file that is not Markdown")
    return problems


@pytest.mark.parametrize("doc", _doc_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(doc: Path) -> None:
    assert doc.is_file(), f"{doc} is missing"
    assert broken_links(doc) == []


def test_the_source_archive_ships_every_file_its_docs_link_to() -> None:
    """A release archive (``pip install .`` from it, docs/install.md) holds the docs: every
    file they link to must be in pyproject's sdist ``include`` too."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    shipped = pyproject["tool"]["hatch"]["build"]["targets"]["sdist"]["include"]
    missing = set()
    for doc in _doc_files():
        for _, target in links(doc):
            file_part = target.partition("#")[0]
            if not file_part or re.match(r"^[a-z][a-z0-9+.-]*:", target, flags=re.IGNORECASE):
                continue
            linked = "/" + (doc.parent / file_part).resolve().relative_to(ROOT).as_posix()
            if not any(linked == s or linked.startswith(s.rstrip("/") + "/") for s in shipped):
                missing.add(linked)
    assert sorted(missing) == []


def test_docs_index_links_every_page() -> None:
    index = ROOT / "docs" / "README.md"
    linked = {target.partition("#")[0] for _, target in links(index)}
    pages = {p.name for p in (ROOT / "docs").glob("*.md")} - {"README.md"}
    assert pages - linked == set(), "pages the docs index does not link"


def test_the_anchor_rule_matches_github() -> None:
    assert github_slug("2. Federated credentials (OIDC, no secret to rotate)") == (
        "2-federated-credentials-oidc-no-secret-to-rotate"
    )
    assert github_slug("Why `plan.yml` uses `pull_request_target`") == (
        "why-planyml-uses-pull_request_target"
    )


def test_a_broken_link_is_reported(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other heading\n")
    page = tmp_path / "probe.md"
    page.write_text(
        "# Probe\n\n[a](missing.md) [b](#nowhere) [c](#probe) `[d](x.md)`\n"
        "[e](other.md#other-heading) [f](https://example.invalid/x)\n```\n[g](y.md)\n```\n"
    )
    problems = broken_links(page)
    assert [p.split(": ")[1] for p in problems] == ["missing.md", "#nowhere"]


def test_the_readme_is_a_front_door() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) < README_MAX_LINES


# docs/commands.md and --help ------------------------------------------------------------


def _commands(group: click.Group, prefix: str) -> Iterator[tuple[str, click.Command]]:
    ctx = click.Context(group, info_name=prefix)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        path = f"{prefix} {name}"
        yield path, command
        if isinstance(command, click.Group):
            yield from _commands(command, path)


def help_options(command: click.Command, path: str) -> set[str]:
    """Every option string ``<path> --help`` shows, without the help option itself."""
    ctx = click.Context(command, info_name=path)
    help_option = command.get_help_option(ctx)
    shown: set[str] = set()
    for param in command.get_params(ctx):
        if isinstance(param, click.Option) and param is not help_option and not param.hidden:
            shown.update(param.opts + param.secondary_opts)
    return shown


def help_arguments(command: click.Command) -> set[str]:
    return {p.human_readable_name for p in command.params if isinstance(p, click.Argument)}


def _sections(text: str) -> dict[str, list[str]]:
    """Each heading's text (code marks dropped) and the lines up to the next heading."""
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    for _, line in _prose_lines(text):
        match = HEADING.match(line)
        if match:
            current = sections.setdefault(match.group(2).replace("`", ""), [])
        else:
            current.append(line)
    return sections


def documented_options(lines: list[str]) -> set[str]:
    """The options in the first column of a section's options table."""
    found: set[str] = set()
    for line in lines:
        cells = re.split(r"(?<!\\)\|", line.strip())
        if len(cells) > 2 and cells[0] == "":
            found.update(OPTION.findall(CODE_SPAN.sub(lambda m: m.group(0).strip("`"), cells[1])))
    return found


def _command_cases() -> list[tuple[str, click.Command]]:
    return [("Global options", cli), *_commands(cli, "entrasync")]


@pytest.mark.parametrize(("heading", "command"), _command_cases(), ids=lambda x: x)
def test_commands_doc_matches_help(heading: str, command: click.Command) -> None:
    sections = _sections(COMMANDS_DOC.read_text(encoding="utf-8"))
    assert heading in sections, f"docs/commands.md has no section '## {heading}'"
    path = "entrasync" if command is cli else heading
    shown = help_options(command, path)
    listed = documented_options(sections[heading])
    assert shown - listed == set(), f"`{path} --help` shows options docs/commands.md does not list"
    assert listed - shown == set(), f"docs/commands.md lists options `{path} --help` does not have"
    body = "\n".join(sections[heading])
    missing = {a for a in help_arguments(command) if a not in body}
    assert missing == set(), f"arguments of `{path}` docs/commands.md does not name"


def test_the_commands_overview_names_every_command() -> None:
    text = COMMANDS_DOC.read_text(encoding="utf-8")
    overview = text.split("\n## ", 1)[0]
    for path, _ in _commands(cli, "entrasync"):
        assert f"`{path}" in overview, f"the overview table of docs/commands.md lacks {path}"


def test_a_missing_option_is_named() -> None:
    options: list[click.Parameter] = [click.Option(["--alpha"]), click.Option(["-b", "--beta"])]
    probe = click.Command("probe", params=options)
    listed = documented_options(["| option | meaning |", "|---|---|", "| `--alpha TEXT` | a |"])
    assert help_options(probe, "entrasync probe") - listed == {"-b", "--beta"}


def _readme_command_rows() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [line for _, line in _prose_lines(text) if line.startswith("| `entrasync ")]


def test_the_readme_commands_table_is_true_to_help() -> None:
    commands = dict(_commands(cli, "entrasync"))
    rows = _readme_command_rows()
    table = "\n".join(rows)
    for name in cli.list_commands(click.Context(cli)):
        assert f"`entrasync {name}" in table, f"the README's commands table lacks {name}"
    for row in rows:
        usage = CODE_SPAN.search(row)
        assert usage is not None
        words = usage.group(0).strip("`").replace("\\|", "|").split()
        path = " ".join(w for w in words if not w.startswith(("[", "-", "<")) and w.islower())
        while path not in commands:
            path = path.rsplit(" ", 1)[0]
            assert " " in path, f"no command for README row {row!r}"
        listed = set(OPTION.findall(usage.group(0)))
        unknown = listed - help_options(commands[path], path)
        assert unknown == set(), f"the README offers options `{path} --help` does not have"
