"""The code cites the project's own docs and public sources, never files the repository does
not ship (the contract and references the project was built from live outside it)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUTSIDE = re.compile(
    r"\bCONTRACT\b"
    r"|(?i:contract(\.md|\s+(section|§))|shared/reference|ARCHITECTURE\.md|gitops[- ]anchors)",
)
SHIPPED = (
    "entrasync",
    "tests",
    "benchmarks",
    "scripts",
    ".github",
    "schemas",
    "docs",
    "examples",
    "config",
)


def test_no_file_cites_a_document_outside_the_repository() -> None:
    top = [p for p in sorted(ROOT.glob("*")) if p.suffix in (".md", ".yml", ".yaml", ".toml")]
    files = [*top, *(p for f in SHIPPED for p in sorted((ROOT / f).rglob("*")))]
    cited = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in files
        if path.is_file()
        and path != Path(__file__).resolve()  # which names what it looks for
        and path.suffix in (".py", ".md", ".yml", ".yaml", ".json", ".mjs", ".toml")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert cited == []
