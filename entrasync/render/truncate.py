"""Fitting Markdown tables into a review comment: a size limit per platform, one way to cut.

GitHub refuses an issue or pull request comment over 65,536 characters (it counts code points;
the API answers 422), GitLab a note over 1,000,000, Azure DevOps a comment over 150,000. A
comment that would be longer than its platform's limit is cut at a row boundary: the rows that
fit are shown, the sections around them stay whole, and one line says how many rows were left
out and where the full plan is. The plan comment, the drift issue and the apply report all go
through :func:`fit`, each with its platform's limit as ``max_chars``; GitHub's job summary
too, whose 1 MiB limit is in UTF-8 bytes (``measure=UTF8_BYTES``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, overload

GITHUB_COMMENT_LIMIT = 65_536
STEP_SUMMARY_LIMIT = 1024 * 1024  # bytes per step; GitHub drops the whole summary beyond


class NoRoom(ValueError):
    """The limit cannot hold even the lines that are never cut."""


class Measure(NamedTuple):
    """What a limit counts: its unit's name, and the size of one line in it."""

    unit: str
    size: Callable[[str], int]


CHARACTERS = Measure("characters", len)
UTF8_BYTES = Measure("bytes", lambda line: len(line.encode("utf-8")))
# Azure DevOps counts UTF-16 units: two for a character beyond U+FFFF, which the comment's
# marker keeps as written in a config path (it identifies the comment; the rest is escaped).
UTF16_UNITS = Measure(
    "characters", lambda line: len(line.encode("utf-16-le", "surrogatepass")) // 2
)


class LazyRows(Sequence[str]):
    """Rows rendered on first use: a 65,536-character comment shows a few hundred of a plan's
    85,000 changes, so rendering them all was 2.4 s of CPU for nothing
    (benchmarks/optimisations.py)."""

    def __init__(self, count: int, render: Callable[[int], str]) -> None:
        self._count, self._render = count, render
        self._done: dict[int, str] = {}

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...
    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._count))]
        if not -self._count <= index < self._count:
            raise IndexError(index)
        index %= self._count
        if index not in self._done:
            self._done[index] = self._render(index)
        return self._done[index]


@dataclass(frozen=True)
class Block:
    """A section whose rows may be left out: ``opening`` and ``closing`` always come together."""

    opening: tuple[str, ...]
    rows: Sequence[str]
    closing: tuple[str, ...]


def fit(
    head: list[str],
    blocks: list[Block],
    tail: list[str],
    max_chars: int,
    where: str,
    measure: Measure = CHARACTERS,
) -> list[str]:
    """The lines of ``head``, the blocks and ``tail``, joined by newlines at most ``max_chars``
    long (code points, or the ``measure`` given); ``where``: where the full plan is, for the
    line that says rows were cut.

    Blocks without rows are left out. Rows are kept in order until the next one does not fit;
    every row after it is left out too, so what is shown is a prefix of the whole.
    """
    one = measure.size

    def _size(lines: Iterable[str]) -> int:
        return sum(one(line) + 1 for line in lines)

    present = [b for b in blocks if b.rows]
    if _fits(head, present, tail, max_chars, one):
        return head + [line for b in present for line in (*b.opening, *b.rows, *b.closing)] + tail
    total_rows = sum(len(b.rows) for b in present)

    def notice(left_out: int) -> str:
        return (
            f"**{left_out} of {total_rows} rows left out** to keep this under "
            f"{max_chars:,} {measure.unit}: the full plan is in {where}."
        )

    budget = max_chars - _size(head) - _size(tail) - _size([notice(total_rows), ""])
    if budget < 0:
        raise NoRoom(f"{max_chars:,} {measure.unit} cannot hold even the summary line")
    body: list[str] = []
    left_out = 0
    for block in present:
        if left_out:
            left_out += len(block.rows)
            continue
        fixed = _size(block.opening) + _size(block.closing)
        used = _size(body) + fixed
        shown = 0
        for row in block.rows:
            used += one(row) + 1
            if used > budget:
                break
            shown += 1
        left_out = len(block.rows) - shown
        if shown:
            body += [*block.opening, *block.rows[:shown], *block.closing]
    return head + body + [notice(left_out), "", *tail]


def _fits(
    head: list[str],
    blocks: list[Block],
    tail: list[str],
    max_chars: int,
    one: Callable[[str], int],
) -> bool:
    """Whether everything fits, rendering rows only until it is clear that it does not."""
    size = sum(one(line) + 1 for line in (*head, *tail))
    for block in blocks:
        size += sum(one(line) + 1 for line in (*block.opening, *block.closing))
        for row in block.rows:
            size += one(row) + 1
            if size > max_chars:
                return False
    return size <= max_chars
