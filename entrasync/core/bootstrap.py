"""Pure: a first mappings file proposed from what exists (``entrasync init``, docs/adoption.md).

The groups found by prefix are first written as a *survey* config (one mapping per group), so
the reader of ``plan`` reads their members and the matcher of ``plan`` pairs each member with
its NeuralTrust user: a member counts here exactly when a plan would act on it. Each group
whose counted members agree on a role becomes a mapping; the proposal is then planned like any
mappings file, on the same data, and what that plan changes is the residue.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from heapq import heappop, heappush
from typing import NamedTuple, TypeGuard

from entrasync.config.models import Config, GroupMapping
from entrasync.config.patterns import UPN_PATTERN, unseen_in_address
from entrasync.core import sanitize
from entrasync.core.matching import is_protected_target, match
from entrasync.core.model import (
    Directory,
    Group,
    GroupMembers,
    Target,
    TargetUser,
    may_be_role,
)
from entrasync.core.plan import Action, Change, Plan
from entrasync.core.resolve import resolve
from entrasync.core.wording import plural

DEFAULT_MIN_AGREEMENT = 90.0


@dataclass(frozen=True)
class Proposed:
    """A group that becomes a mapping, and how many of its counted members agree."""

    group: Group
    role: str
    products: tuple[str, ...] | None  # on product roles only: the most common set, sorted
    agreeing: int  # counted members holding ``role`` in NeuralTrust
    counted: int  # members that are active NeuralTrust users a plan would act on
    named: bool = True  # False when another proposed group has the same name: id only
    holding: int = 0  # of ``agreeing``, those holding exactly ``products`` (product roles)
    above: int = 0  # members a mapping above decides (first-match), so not counted here

    @property
    def percent(self) -> str:
        return _percent(self.agreeing, self.counted)


@dataclass(frozen=True)
class Skipped:
    group: Group
    reason: str


@dataclass(frozen=True)
class Proposal:
    mappings: tuple[Proposed, ...]  # in file order: highest role first (see _choose)
    skipped: tuple[Skipped, ...]  # by name
    protected: tuple[str, ...]  # the new config's protected list (base entries kept), sorted
    new_protected: tuple[str, ...]  # the entries added: active owners no owner mapping covers
    notes: tuple[str, ...] = ()  # what the vocabulary could not express


def survey_config(base: Config, groups: Iterable[Group]) -> Config:
    """``base`` mapping every group once, by id and name: what ``read_sources`` reads."""
    mappings = tuple(
        GroupMapping(id=g.id, name=_text(g.display_name), role=base.roles[-1]) for g in groups
    )
    return base.model_copy(update={"mappings": mappings})


def _text(name: str) -> str | None:
    """A display name a mapping can carry; None for none, or for one holding a lone surrogate
    (Graph's JSON can escape one), which no text file can: the mapping goes by id alone."""
    return (
        name
        if name and name.encode("utf-8", "surrogatepass").decode("utf-8", "replace") == name
        else None
    )


def _percent(part: int, whole: int) -> str:
    """``part`` of ``whole`` in percent, rounded down to a tenth, as a threshold is compared
    (66.6 for 2 of 3: shown as 66, it read as below an --min-agreement of 66.5 that it met)."""
    return f"{(part * 1000 // whole) / 10 if whole else 0:g}"


def _counted_members(survey: Config, directory: Directory, target: Target) -> dict[str, TargetUser]:
    """Entra id -> the active NeuralTrust user a plan of ``survey`` pairs it with."""
    matching = match(survey, resolve(survey, directory), target)
    return {
        p.desired.user.id: p.target
        for p in matching.pairs
        if p.target is not None and p.target.active
    }


def propose(survey: Config, directory: Directory, target: Target, min_agreement: float) -> Proposal:
    """One mapping per group whose counted members agree on a role (docs/adoption.md).

    Roles are decided highest first, so first-match reproduces each user's highest role: a
    member a mapping chosen above already decides no longer counts in later groups' votes (an
    owner in the admins group and in everyone). Owner groups come first; the active owners none
    of them covers are protected, and protected users are not counted anywhere (a plan never
    changes them). Ties go to the less privileged role and the smaller product set.
    """
    found = _counted_members(survey, directory, target)
    groups = sorted(directory.groups, key=lambda g: (g.group.display_name.casefold(), g.group.id))
    owner = survey.owner_role
    rounds = _Rounds(survey, groups, found, min_agreement)
    chosen = rounds.choose(owner)
    guarded: dict[str, str] = {}  # SCIM id -> the protected entry that names it
    unnamed: list[TargetUser] = []  # uncovered owners no `protected` entry can name
    # In id order, not in the order Graph listed the members: Entra ids differing only in case
    # pair with one NeuralTrust user, and the same one (the last) must name it in any order.
    entra_of = {t.id: entra_id for entra_id, t in sorted(found.items())}
    keys = survey.protected_keys  # built once, not once per owner
    for user in target.users:
        if user.active and may_be_role(user.role, owner) and user.id not in rounds.decided:
            # Named by its NeuralTrust userName or email, else (neither an email) by the UPN
            # of the Entra user it is paired with: `protected` takes Entra UPNs too.
            # Paired with a counted member, else with the Entra user its externalId names (a
            # disabled account or a guest the survey does not count, read all the same).
            paired = entra_of.get(user.id) or user.external_id
            key = _protected_key(user) or _entra_upn(directory, paired)
            already = is_protected_target(survey, user, keys=keys) or key in keys
            if key is not None and not already:
                guarded[user.id] = key
            elif key is None and not already:
                unnamed.append(user)
    rounds.leave_out(set(guarded))
    for role in survey.roles[1:]:
        chosen += rounds.choose(role)
    skipped = [rounds.skipped(g) for g in rounds.remaining.values()]
    names = Counter(p.group.display_name.casefold() for p in chosen)
    chosen = [
        p
        if p.group.display_name and names[p.group.display_name.casefold()] == 1
        else replace(p, named=False)
        for p in chosen
    ]
    added = tuple(sorted(set(guarded.values())))
    everyone = tuple(sorted({*(p.lower() for p in survey.protected), *added}))
    notes = _vocabulary_notes(survey, target) + tuple(
        f"owner {sanitize.name_text(u.user_name or u.email or u.id)} "
        f"(SCIM id {sanitize.text(u.id)}) "
        "is not protected: neither its NeuralTrust userName or email nor an Entra UPN is an "
        "address a mappings file can hold; add it to `protected` by hand, or correct its name"
        for u in unnamed
    )
    if survey.precedence == "highest-privilege" and survey.effective_product_roles:
        notes += (
            "precedence is highest-privilege: a member of several mappings of its role gets the "
            "union of their products, where the draft counts as first-match does (the first "
            "mapping decides); read the residue's `products differ`, or draft with "
            "precedence: first-match",
        )
    return Proposal(tuple(chosen), tuple(skipped), everyone, added, notes)


class _Rounds:
    """The groups not yet mapped, and the members the mappings chosen so far decide (SCIM ids):
    one round per role, highest first, each taking one group at a time."""

    def __init__(
        self,
        survey: Config,
        groups: Sequence[GroupMembers],
        found: dict[str, TargetUser],
        min_agreement: float,
    ) -> None:
        self.survey, self.min_agreement = survey, min_agreement
        self.remaining = {g.group.id: g for g in groups}  # in name order
        self._by_name = {group_id: i for i, group_id in enumerate(self.remaining)}
        self.decided: set[str] = set()
        self._members_of = {g.group.id: _members(g, found, set()) for g in groups}
        self._groups_of: dict[str, set[str]] = {}  # SCIM id -> the ids of its groups
        self._held: dict[str, Held] = {}  # SCIM id -> what the member holds
        for group_id, members in self._members_of.items():
            for member in members:
                self._groups_of.setdefault(member.id, set()).add(group_id)
                if member.id not in self._held:
                    self._held[member.id] = held(survey, member)
        # Per group: its members no mapping above decides, kept as members are decided, and
        # the vote of all of them (protected ones left out of both).
        self._undecided: dict[str, _Tally] = {}
        self._whole: dict[str, Vote] = {}
        self.leave_out(set())

    def leave_out(self, left_out: set[str]) -> None:
        """Count ``left_out`` (SCIM ids: the owners the draft protects) in no group."""
        self.left_out = left_out
        for group_id in self.remaining:
            members = [t.id for t in self._members_of[group_id] if t.id not in left_out]
            self._whole[group_id] = _Tally(self.survey, (self._held[m] for m in members)).vote()
            undecided = (self._held[m] for m in members if m not in self.decided)
            self._undecided[group_id] = _Tally(self.survey, undecided)

    def choose(self, role: str) -> list[Proposed]:
        """The groups whose members no mapping above decides agree on ``role``, one at a time:
        each pick decides its members, so the groups sharing one with it are voted on again.
        Among those that agree, the most unanimous goes first (:attr:`Vote.order`, then by
        name), from a heap: a pick costs what it touches, not the number of groups."""
        votes = {group_id: self._vote(group_id) for group_id in self.remaining}
        heap: list[tuple[tuple[float, float], int, str]] = []

        def agrees(vote: Vote) -> bool:
            return vote.carries(role, self.min_agreement)

        def offer(group_id: str) -> None:
            vote = votes[group_id][0]
            if agrees(vote):
                heappush(heap, (vote.order, self._by_name[group_id], group_id))

        for group_id in votes:
            offer(group_id)
        chosen: list[Proposed] = []
        while heap:
            order, _, group_id = heappop(heap)
            taken = votes.get(group_id)
            if taken is None or taken[0].order != order or not agrees(taken[0]):
                continue  # taken already, or voted on again since
            vote, above = votes.pop(group_id)
            group = self.remaining.pop(group_id)
            chosen.append(
                Proposed(
                    group.group,
                    role,
                    vote.products,
                    vote.agreeing,
                    vote.counted,
                    holding=vote.holding,
                    above=above,
                )
            )
            touched: set[str] = set()
            for member in self._members_of[group_id]:
                if member.id in self.left_out or member.id in self.decided:
                    continue
                self.decided.add(member.id)
                for other in self._groups_of[member.id]:
                    self._undecided[other].remove(self._held[member.id])
                    touched.add(other)
            for other in touched & self.remaining.keys():
                tally = self._undecided[other]
                if tally.total and not tally.may_carry(role, self.min_agreement):
                    votes.pop(other, None)  # cannot be taken in this round: its entries lapse
                    continue
                votes[other] = self._vote(other)
                offer(other)
        return chosen

    def _vote(self, group_id: str) -> tuple[Vote, int]:
        """The vote of the group's members no mapping above decides, and how many it leaves out
        for that; when mappings above decide them all (a subgroup of a group mapped above), the
        vote of all of them: the group changes no one now, but its next members get its role,
        and that is the role its members hold."""
        undecided, whole = self._undecided[group_id].vote(), self._whole[group_id]
        if not undecided.counted:
            return whole, 0
        return undecided, whole.counted - undecided.counted

    def skipped(self, group: GroupMembers) -> Skipped:
        vote, above = self._vote(group.group.id)
        kept_out = sum(t.id in self.left_out for t in self._members_of[group.group.id])
        return Skipped(
            group.group, vote.why_not(self.survey, group, self.min_agreement, kept_out, above)
        )


def _members(
    group: GroupMembers, found: dict[str, TargetUser], left_out: set[str]
) -> list[TargetUser]:
    """The group's counted members, once each, but those in ``left_out`` (SCIM ids)."""
    members = (found.get(m) for m in dict.fromkeys(group.member_ids))
    return [t for t in members if t is not None and t.id not in left_out]


class Vote(NamedTuple):
    """The most common role among a group's counted members, and its product set."""

    role: str | None  # None: no member counted, or most hold no role
    agreeing: int
    counted: int
    in_vocabulary: bool
    products: tuple[str, ...] | None = None
    holding: int = 0  # role holders with exactly ``products``

    @property
    def order(self) -> tuple[float, float]:
        """Which of the groups agreeing on one role is mapped first: the most unanimous on the
        role, then on the product set. Its members are then decided by it, under first-match:
        a group taken at 90% first would give its role to the 10% the other group agrees on."""
        if not self.counted:
            return (0.0, 0.0)
        return (-self.agreeing / self.counted, -self.holding / self.counted)

    def carries(self, role: str, min_agreement: float) -> bool:
        return (
            self.role == role
            and self.in_vocabulary
            and self.agreeing * 100 >= min_agreement * self.counted
        )

    def why_not(
        self,
        survey: Config,
        group: GroupMembers,
        min_agreement: float,
        protected: int = 0,
        above: int = 0,
    ) -> str:
        """``protected``: the group's members left uncounted as owners now protected;
        ``above``: those a mapping above it decides (first-match), also uncounted."""
        if not group.member_ids:
            return "no user members"
        decided = f"; {above} more decided by other mappings" if above else ""
        if not self.counted:
            users = len(group.member_ids)
            kept = f", {protected} of them owners the draft protects" if protected else ""
            return (
                f"no member is an active NeuralTrust user a plan would manage "
                f"({plural(users, 'user')} in Entra{kept})"
            )
        share = f"{_percent(self.agreeing, self.counted)}% ({self.agreeing} of {self.counted})"
        if self.role is None:
            return f"{share} have no role in NeuralTrust{decided}"
        if not self.in_vocabulary:
            return (
                f"{share} {self.role}, which is not in roles ({', '.join(survey.roles)}){decided}"
            )
        if self.carries(self.role, min_agreement):
            # Agreement only once mappings of lower roles took some members, which a mapping of
            # this role, written above them, would take too.
            return (
                f"{share} {self.role} among the members lower roles' mappings leave it: written "
                f"above those mappings, where {self.role} mappings go, it would make their "
                f"members {self.role} too{decided}"
            )
        return f"{share} {self.role}, below {min_agreement:g}%{decided}"


# What a member holds, as a vote counts it: its role, the products of the vocabulary it holds,
# and whether those are all it holds (a product outside the vocabulary a plan would take away).
Held = tuple[str | None, tuple[str, ...], bool]


def held(survey: Config, user: TargetUser) -> Held:
    products = set(user.products or ())
    known = products & set(survey.products)
    return user.role, tuple(sorted(known)), known == products


def _vote(survey: Config, members: Sequence[TargetUser]) -> Vote:
    return _Tally(survey, (held(survey, t) for t in members)).vote()


class _Tally:
    """Members counted by what they hold: what a vote is taken from, kept up to date as
    members are taken away."""

    def __init__(self, survey: Config, members: Iterable[Held]) -> None:
        self._survey = survey
        self._counts = Counter(members)  # exact holders are read from here
        self._roles: Counter[str | None] = Counter()
        self._sets: dict[str | None, Counter[tuple[str, ...]]] = {}  # role -> its product sets
        for (role, known, _), count in self._counts.items():
            self._roles[role] += count
            self._sets.setdefault(role, Counter())[known] += count
        self.total = self._roles.total()

    def remove(self, member: Held) -> None:
        role, known, _ = member
        self._counts[member] -= 1
        self._roles[role] -= 1
        self._sets[role][known] -= 1
        self.total -= 1

    def may_carry(self, role: str, min_agreement: float) -> bool:
        """Whether enough members hold ``role`` for a vote to carry it (one count, where a
        vote looks at every role and product set held)."""
        return self._roles[role] * 100 >= min_agreement * self.total

    def vote(self) -> Vote:
        """The most common role, and on a product role its most common product set."""
        if not self.total:
            return Vote(None, 0, 0, False)
        survey = self._survey
        rank = {r: i for i, r in enumerate(survey.roles)}  # a tie goes to the less privileged
        held = [(role, count) for role, count in self._roles.items() if count]
        # Among roles outside the vocabulary (or none) tied on count, the last by name: the
        # same whatever order Graph lists the members in.
        role, agreeing = max(held, key=lambda rc: (rc[1], rank.get(rc[0] or "", -1), rc[0] or ""))
        products, holding = None, 0
        if role in survey.effective_product_roles:
            sets = [(known, count) for known, count in self._sets[role].items() if count]
            # The most common set; among equals the smallest, then the first in sorted order.
            products = min(sets, key=lambda sc: (-sc[1], len(sc[0]), sc[0]))[0]
            holding = self._counts[(role, products, True)]  # no more, no fewer products
        return Vote(role, agreeing, self.total, role in rank, products, holding)


def _protected_key(user: TargetUser) -> str | None:
    """How ``protected`` names a NeuralTrust user: its userName, else its email, whichever is
    an address a mappings file can hold; None when neither is."""
    for value in (user.user_name, user.email):
        if _nameable(value):
            return value.lower()
    return None


def _entra_upn(directory: Directory, entra_id: str | None) -> str | None:
    users = directory.users
    user = (users.get(entra_id) or users.get(entra_id.lower())) if entra_id else None
    upn = user.user_principal_name if user is not None else None
    return upn.lower() if _nameable(upn) else None


def _nameable(value: str | None) -> TypeGuard[str]:
    """An email/UPN (the schema's pattern) of characters that show: the loader refuses a
    control character even written as an escape, and a variation selector (which Python calls
    printable), and a draft it refuses is never written."""
    if not value or not value.isprintable() or unseen_in_address(value) is not None:
        return False
    return re.fullmatch(UPN_PATTERN, value) is not None


def _vocabulary_notes(survey: Config, target: Target) -> tuple[str, ...]:
    """Roles and products NeuralTrust users hold that the vocabulary lacks."""
    roles = Counter(u.role for u in target.users if u.role and u.role not in survey.roles)
    products = Counter(
        p for u in target.users for p in (u.products or ()) if p not in survey.products
    )
    notes = []
    if roles:
        notes.append(f"roles outside the vocabulary in NeuralTrust: {_counts(roles)}")
    if products:
        notes.append(f"products outside the vocabulary in NeuralTrust: {_counts(products)}")
    return tuple(notes)


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{k} ({plural(n, 'user')})" for k, n in sorted(counter.items()))


def proposed_directory(directory: Directory, config: Config) -> Directory:
    """The survey's reads re-indexed to ``config``'s mappings (matched by group id), so the
    proposal is planned on the data already read, the Entra users ``protected`` names in no
    group included (`plan` looks them up too).

    ``config`` may protect more than the survey did (owners named by their Entra UPN): `plan`
    looks each entry up by UPN and by mail, so the users read that it names are protected
    here too."""
    by_id = {g.group.id.lower(): g for g in directory.groups}  # config ids are lower-cased
    groups = tuple(
        GroupMembers(i, by_id[m.id].group, by_id[m.id].member_ids)
        for i, m in enumerate(config.mappings)
        if m.id in by_id
    )
    keys = config.protected_keys
    named = frozenset(
        user_id.lower()
        for user_id, user in directory.users.items()
        if user.user_principal_name.lower() in keys or (user.mail or "").lower() in keys
    )
    return Directory(
        groups=groups,
        users=directory.users,
        protected_ids=directory.protected_ids | named,
        protected_unknown=directory.protected_unknown & keys,
        protected_users=directory.protected_users,
    )


def is_adoption_only(change: Change) -> bool:
    """An update that only sets externalId: what adopting a user made by hand costs."""
    return change.action is Action.UPDATE and change.adopts and change.before == change.after


@dataclass(frozen=True)
class Residue:
    changes: tuple[Change, ...]  # what the plan changes beyond adoptions
    adoptions: int

    @classmethod
    def of(cls, plan: Plan) -> Residue:
        rest = tuple(c for c in plan.changes if not is_adoption_only(c))
        return cls(rest, len(plan.changes) - len(rest))
