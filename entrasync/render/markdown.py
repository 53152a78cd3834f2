"""The plan as a GitHub PR comment or job summary (docs/plan-and-audit.md).

The first line is a hidden marker the GitHub poster finds the sticky comment by. The summary
line comes next, outside any fold (Atlantis users asked for exactly that, atlantis#914), then
the policy changes (never cut), violations and warnings, then the changes and orphans in
``<details>`` folds.

Everything that comes from the directory goes through :func:`escape`: a display name such as
``Eve <img src=x> | @everyone **x**`` must render as those characters, not as an image, a
broken table, a bold word or a notification to the whole organization. One escaping serves
every review platform (docs/review-platforms.md): a zero-width space after ``@``, ``#`` and
``!`` breaks GitHub and GitLab mentions (``@user``), issue and merge request references
(``#12``, ``!12``), and Azure DevOps mentions (``@<id>``, whose ``<`` is escaped too), work item
links (``#12``) and pull request links (``!12``).

Each platform has a comment size limit (GitHub 65,536 characters, GitLab 1,000,000, Azure
DevOps 150,000): ``max_chars`` is the caller's, and the comment is cut at a row boundary when
needed (:func:`entrasync.render.truncate.fit`). A character beyond U+FFFF (an emoji) is written
as its numeric reference (``&#x1F680;``, rendered the same): Azure DevOps counts UTF-16 units,
two for such a character, so a comment of code points only within the BMP is as long there as
it is here.
"""

from __future__ import annotations

import hashlib
import posixpath
import re

from entrasync.core.plan import Action, Change, Orphan, Plan
from entrasync.core.sanitize import name_text
from entrasync.core.sanitize import text as clean
from entrasync.core.wording import plural
from entrasync.render.common import (
    MARKERS,
    POLICY_TITLE,
    WEAKENS,
    access_brief,
    is_adoption,
    policy_parts,
    role_text,
    summary_line,
)
from entrasync.render.truncate import (
    CHARACTERS,
    GITHUB_COMMENT_LIMIT,
    UTF8_BYTES,
    Block,
    LazyRows,
    Measure,
    fit,
)

_ZWSP = "&#8203;"  # zero-width space: breaks @mentions, #refs and autolinks, invisible

# Backslash escapes, which every platform's CommonMark reads as the character itself: "&"
# and "%" are among them because GitLab links "&12" (an epic) and "%12" (a milestone) unless
# the character is escaped so ("&amp;" it reads back as "&" first).
_MARKDOWN_SPECIALS = "\\`*_[]()|~${}&%"
_ESCAPES: dict[int, str] = {ord(c): "\\" + c for c in _MARKDOWN_SPECIALS}
_ESCAPES.update(
    {
        ord("<"): "&lt;",
        ord(">"): "&gt;",
        ord("@"): "@" + _ZWSP,
        ord("#"): "#" + _ZWSP,
        ord("!"): "!" + _ZWSP,
    }
)
_AUTOLINK = re.compile(r"(://|www\.)", re.IGNORECASE)
_GH_REFERENCE = re.compile(r"\bGH-(?=\d)", re.IGNORECASE)  # GitHub links GH-12 to issue 12
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_ORDERED_ITEM = re.compile(r"\d+(?=[.)])")
_CHANGE_HEADER = (
    "| action | user | display name | before | after | source groups | decided by | reason |",
    "|---|---|---|---|---|---|---|---|",
)
_ORPHAN_HEADER = ("| user | role | reason | outcome |", "|---|---|---|---|")


def comment_marker(config_path: str, kind: str = "plan") -> str:
    """The hidden first line that identifies the sticky comment for one config file, of one
    ``kind`` of post (``plan``, ``drift``, ``apply <commit>``).

    The path, named with ``/`` separators (``Path.as_posix``: a ``\\`` is part of a name
    on POSIX, and escapes a byte that is not UTF-8), is normalised (no ``./`` or ``a/../``), so
    the same file typed as ``./config/mappings.yaml`` finds the same comment."""
    normal = posixpath.normpath(config_path)
    safe = clean(normal).replace("--", "-\u2010")  # "--" could end the HTML comment
    if len(safe) > _MAX_MARKED_PATH:  # a forged audit file's path must not outgrow a comment
        whole = hashlib.sha256(normal.encode("utf-8", "surrogateescape")).hexdigest()
        safe = f"{safe[: _MAX_MARKED_PATH - 65]}\u2026{whole}"  # still one path's own
    return f"<!-- entrasync:{kind} {safe} -->"


_MAX_MARKED_PATH = 4_096


def _shown_path(config_path: str) -> str:
    """The config's path in a comment, escaped and cut: escaping makes a ``#`` eight
    characters, and a comment's head is never cut."""
    return escaped_within(config_path, MAX_NOTE_CHARS)


def escape(text: str | None) -> str:
    """Directory text made inert in GitHub Markdown: one line, no HTML, no markup, no mentions."""
    escaped = clean(text).strip().translate(_ESCAPES)
    escaped = _AUTOLINK.sub(lambda m: m.group(0)[:-1] + _ZWSP + m.group(0)[-1], escaped)
    escaped = _GH_REFERENCE.sub(lambda m: m.group(0) + _ZWSP, escaped)
    if not escaped.isascii():
        escaped = _ASTRAL.sub(lambda m: f"&#x{ord(m.group()):X};", escaped)
    # At the start of a list item "- x", "+ x" or "1. x" would open a nested block.
    number = _ORDERED_ITEM.match(escaped)
    if number:
        return escaped[: number.end()] + "\\" + escaped[number.end() :]
    if escaped[:1] and escaped[0] in "-+=":
        return "\\" + escaped
    return escaped


def render_markdown(
    plan: Plan,
    *,
    config_path: str,
    max_chars: int = GITHUB_COMMENT_LIMIT,
    full_plan_hint: str = "the job summary and the plan artifact",
    measure: Measure = CHARACTERS,
) -> str:
    """The PR comment / job summary text, never longer than ``max_chars`` (code points, or the
    ``measure`` given)."""
    head = [comment_marker(config_path), f"**{summary_line(plan)}**", "", *_policy(plan)]
    tail = [f"Plan digest `{plan.short_digest}` for {_shown_path(plan.config_path)}"]
    blocks = [_violations(plan), _warnings(plan), _changes(plan), _orphans(plan)]
    document = fit(head, blocks, tail, max_chars, full_plan_hint, measure)
    return "\n".join(document) + "\n"


# The tail of a plan comment: after every name from outside, so the last such line is it.
_SHOWN_DIGEST = re.compile(r"^Plan digest `([0-9a-f]{12,64})` for ", re.MULTILINE)


def shown_digest(comment: str) -> str | None:
    """The digest (its first 12 characters) of the plan a plan comment shows, as
    :func:`render_markdown` wrote it; None for a comment that shows no plan (a push that could
    not plan)."""
    found = _SHOWN_DIGEST.findall(comment)
    return found[-1] if found else None


def render_summary(plan: Plan, *, config_path: str, max_bytes: int) -> str:
    """The job summary: the comment's text, cut to the ``max_bytes`` of UTF-8 the step's summary
    has room for, pointing to where the rest is (not to the summary itself)."""
    return render_markdown(
        plan,
        config_path=config_path,
        max_chars=max_bytes,
        full_plan_hint="the job log and the plan file (`plan --out`)",
        measure=UTF8_BYTES,
    )


_FAILURE_LINES = 40  # lines of the error shown; the job log has them all
_FAILURE_LINE_CHARS = 1000  # 40 such lines stay far under every platform's comment limit
_BACKTICKS = re.compile("`+")


def render_failure(lines: list[str], *, config_path: str, run_url: str | None) -> str:
    """The sticky comment when ``plan`` failed (``lines``: the error as the command printed
    it): the earlier push's plan is gone from the comment, so no reviewer reads it as this
    push's. The error is shown as printed, in a code block whose fence is longer than any run
    of backticks in it (CommonMark), so nothing in it renders as Markdown, HTML or a mention.
    At most 40 lines of 1,000 characters: under every platform's comment limit."""
    # Split at "\n" alone, as the terminal shows it: splitlines() also breaks at U+2028 and
    # other separators a name can hold, giving it a line of its own (a fake "hint:").
    told = [clean(line)[:_FAILURE_LINE_CHARS] for text in lines for line in text.split("\n")]
    shown = told[:_FAILURE_LINES]
    if len(told) > _FAILURE_LINES:
        shown.append(f"… {plural(len(told) - _FAILURE_LINES, 'more line')} in the job log")
    # Runs per line: a fence closes only at a line's start, and runs joined across lines made
    # a fence as long as the whole error.
    runs = (len(run) for line in shown for run in _BACKTICKS.findall(line))
    fence = "`" * max(3, 1 + max(runs, default=0))
    where = f"[the job log]({run_url})" if run_url else "the job log"
    document = [
        comment_marker(config_path),
        f"**No plan: entrasync could not plan {_shown_path(config_path)} for this push.**",
        "",
        f"{fence}text",
        *shown,
        fence,
        "",
        "The plan of an earlier push was removed from this comment, and the labels a plan sets "
        f"with it: none stands until a push plans again. Details: {where}.",
    ]
    return "\n".join(document) + "\n"


# The policy lines sit in the head, which is never cut: bounded so that they always fit.
MAX_POLICY_LINES = 50
_MAX_SETTING_CHARS = 200
_POLICY_VERBS = {"+": "added ", "-": "removed ", "~": ""}
_SETTING_KEY = re.compile(r"[a-z_]+(\.[a-z_]+)*")


def _policy(plan: Plan) -> list[str]:
    """What the config under review changes outside ``mappings``, right under the summary:
    a plan of such a change says "No changes." while it sets the next run's safeguards."""
    changes = plan.policy_changes
    if not changes:
        return []
    weakening = sum(p.weakens for p in changes)
    title = POLICY_TITLE.replace("mappings", "`mappings`", 1)
    count = (
        f"{plural(len(changes), 'change')}, {weakening} {'weakens' if weakening == 1 else 'weaken'}"
    )
    lines = [
        "> [!CAUTION]" if weakening else "> [!IMPORTANT]",
        f"> **{title}**: {count} a safeguard. They move no user by themselves; the plans and "
        "applies after the merge run under them.",
    ]
    # Weakening lines first (each group in the file's order), so the cap below never hides
    # one behind settings that weaken nothing.
    changes = tuple(sorted(changes, key=lambda p: not p.weakens))
    for change in changes[:MAX_POLICY_LINES]:
        marker, key, what = policy_parts(change)
        # A key as entrasync writes it is a short dotted name; anything else is shown escaped.
        setting = len(key) <= _MAX_SETTING_CHARS and _SETTING_KEY.fullmatch(key)
        shown = f"`{key}`" if setting else escaped_within(key)
        line = f"> - {shown}: {_POLICY_VERBS[marker]}{escaped_within(what)}"
        lines.append(line + (f" (**{WEAKENS}**)" if change.weakens else ""))
    if len(changes) > MAX_POLICY_LINES:
        hidden = changes[MAX_POLICY_LINES:]
        weakens = sum(p.weakens for p in hidden)
        among = (
            f" ({weakens} {'weakens' if weakens == 1 else 'weaken'} a safeguard)" if weakens else ""
        )
        lines.append(f"> - and {len(hidden)} more{among}: `policy_changes` in the plan file")
    return [*lines, ""]


def escaped_within(text: str, limit: int = _MAX_SETTING_CHARS) -> str:
    """``escape(text)``, cut with an ellipsis so that the escaped text holds at most ``limit``
    characters: escaping makes one ``@`` or ``#`` several, so the raw length bounds nothing."""
    shown = escape(text)
    while len(shown) > limit:
        text = text[: len(text) * limit // len(shown) - 1]
        shown = escape(text + "\u2026")
    return shown


def _violations(plan: Plan) -> Block:
    rows = tuple(
        f"> - **{escape(v.rule)}**: {escaped_within(v.message, MAX_NOTE_CHARS)}"
        + (f" (override: `{plan.override_flag(v.override)}`)" if v.override else "")
        for v in plan.violations
    )
    opening = (
        "> [!CAUTION]",
        "> **Safety violations**: `entrasync apply` refuses this plan without the override.",
    )
    return Block(opening, rows, ("",))


# Warnings and violations come before the changes, and a cut block leaves out every block after
# it: so many warnings (one per user without a mail, under match_on: email), or one long one (a
# userName from NeuralTrust has no length limit), would push the changes out of the comment.
MAX_WARNING_LINES = 20
MAX_NOTE_CHARS = 1_000  # of one escaped warning, violation message or table cell; the plan has all


def cell(text: str | None) -> str:
    """Directory text in a table cell: escaped, and cut to ``MAX_NOTE_CHARS``. A comment is cut
    at a row boundary, every row after the first that does not fit left out: uncut, one long
    value (a NeuralTrust displayName or userName has no length limit) hid every change after
    its own."""
    return escaped_within(text or "", MAX_NOTE_CHARS)


def _warnings(plan: Plan) -> Block:
    shown = plan.warnings[:MAX_WARNING_LINES]
    rows = [f"> - {escaped_within(w, MAX_NOTE_CHARS)}" for w in shown]
    if len(plan.warnings) > len(shown):
        more = len(plan.warnings) - len(shown)
        rows.append(f"> - … and {plural(more, 'more warning')}: the full plan lists them")
    return Block(("> [!WARNING]", "> **Warnings**"), tuple(rows), ("",))


def _changes(plan: Plan) -> Block:
    opening = (f"<details><summary>Changes ({len(plan.changes)})</summary>", "", *_CHANGE_HEADER)
    changes = plan.changes
    rows = LazyRows(len(changes), lambda i: _change_row(changes[i]))
    return Block(opening, rows, ("", "</details>", ""))


def _change_row(change: Change) -> str:
    after = cell(access_brief(change.after))
    if is_adoption(change):
        after += ", + externalId"
    cells = (
        escape(f"{MARKERS[change.action]} {change.action.value}"),
        cell(name_text(change.user)),
        cell(change.display_name),
        cell(access_brief(change.before)),
        after,
        cell(", ".join(change.groups)),
        cell(change.decided_by),
        cell(change.reason),
    )
    return "| " + " | ".join(cells) + " |"


def _orphans(plan: Plan) -> Block:
    deactivated = {c.user for c in plan.changes if c.action is Action.DEACTIVATE}
    opening = (f"<details><summary>Orphans ({len(plan.orphans)})</summary>", "", *_ORPHAN_HEADER)
    rows = tuple(_orphan_row(o, o.user in deactivated) for o in plan.orphans)
    return Block(opening, rows, ("", "</details>", ""))


def _orphan_row(orphan: Orphan, deactivated: bool) -> str:
    outcome = "deactivated" if deactivated else "kept, unchanged"
    user, role = cell(name_text(orphan.user)), cell(role_text(orphan.role))
    cells = (user, role, cell(orphan.reason), outcome)
    return "| " + " | ".join(cells) + " |"


_STILL_LISTED = 20  # names or warnings shown in a closing comment; the plan artifact has all


def still_to_read(plan: Plan) -> list[str]:
    """What a plan with nothing to change still says: users no synced mapping wants that keep
    their access (``on_removed: keep``), and its warnings (held-back users, expired mappings).
    Said when the drift issue closes, so that "in sync" does not hide them. Each name and
    warning is cut as the plan comment cuts them (a NeuralTrust userName has no length limit):
    a comment over the platform's limit would keep the issue open for good."""
    lines: list[str] = []
    if plan.orphans:
        names = ", ".join(escaped_within(name_text(o.user)) for o in plan.orphans[:_STILL_LISTED])
        more = len(plan.orphans) - _STILL_LISTED
        lines.append(
            f"{plural(len(plan.orphans), 'user')} no synced mapping wants "
            f"{'keeps' if len(plan.orphans) == 1 else 'keep'} NeuralTrust access "
            f"(`on_removed: keep`): {names}" + (f", and {more} more" if more > 0 else "") + "."
        )
    if plan.warnings:
        lines.append("Warnings of the plan:")
        lines += [f"- {escaped_within(w, MAX_NOTE_CHARS)}" for w in plan.warnings[:_STILL_LISTED]]
        if len(plan.warnings) > _STILL_LISTED:
            lines.append(f"- and {len(plan.warnings) - _STILL_LISTED} more")
    return lines


def drift_intro(marker: str, config_path: str, run_link: str | None) -> str:
    """The opening of the drift issue, before the plan: what was found and what to do."""
    return (
        f"{marker}\nThe scheduled drift check found NeuralTrust out of line with "
        f"{_shown_path(config_path)}"
        + (f" ([run]({run_link}))" if run_link else "")
        + ". Someone changed roles in the NeuralTrust UI, or Entra membership moved. Merge a "
        "config change, or re-run the apply workflow to restore what the config says. This "
        "issue closes itself once in sync.\n\n"
    )
