"""One module per command: parse the options, call operations and adapters, print."""

from __future__ import annotations


def examples(*lines: str) -> str:
    """A command's help epilog: its examples, kept as written (click's ``\\b`` marker)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)
