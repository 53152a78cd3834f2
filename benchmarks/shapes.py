"""CPU of the steps that once grew as the square of an unusual shape of input, each at three
sizes, with the growth exponent between the first and the last (1 is linear, 2 the square).

    python benchmarks/shapes.py [--scale 1]

- ``memberships``: the same 1,000,000 memberships as users in 250, 1,000 or 4,000 synced
  groups each (each group added to a user copied all its groups before);
- ``blank protected entry``: a mappings file whose ``protected`` list of N entries holds one
  blank ``-`` (JSON Schema's uniqueItems, in jsonschema, compares every pair then);
- ``users sharing a mail``: N Entra users with one mail under ``match_on: email`` (each
  warning named all N); also the warnings' size;
- ``init, uncovered owners``: ``init``'s draft with N owners no owner group covers and N
  ``protected`` entries (the entries were gathered anew for each owner).

Prints seconds of CPU, the collector paused as the CLI runs. ``--scale`` multiplies every N
but the memberships' groups per user, which are a shape (1,000,000 memberships at each).
"""

from __future__ import annotations

import argparse
import gc
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from entrasync.config.models import Config, load_bytes
from entrasync.core.bootstrap import DEFAULT_MIN_AGREEMENT, propose
from entrasync.core.model import Directory, DirectoryUser, Group, GroupMembers, Target, TargetUser
from entrasync.core.resolve import memberships
from entrasync.errors import ConfigError
from entrasync.gctune import collector_paused
from entrasync.operations.planning import make_plan

SCIM_URL = "https://nt.example/api/scim/v2"


def cpu(work: Callable[[], object]) -> tuple[float, object]:
    gc.collect()
    with collector_paused():
        start = time.process_time()
        result = work()
        return time.process_time() - start, result


def _user(n: int, mail: str | None = None) -> DirectoryUser:
    upn = f"u{n}@contoso.com"
    return DirectoryUser(id=f"id-{n}", user_principal_name=upn, mail=mail or upn, display_name="U")


def groups_per_user(groups: int, memberships_in_all: int = 1_000_000) -> Callable[[], object]:
    ids = tuple(f"id-{n}" for n in range(memberships_in_all // groups))
    directory = Directory(
        groups=tuple(GroupMembers(i, Group(f"g{i}", f"G{i}"), ids) for i in range(groups)),
        users={},
    )
    return lambda: memberships(directory)


def blank_protected_entry(entries: int) -> Callable[[], object]:
    listed = "".join(f"  - u{n}@contoso.com\n" for n in range(entries))
    raw = f"version: 1\nprotected:\n  -\n{listed}mappings: []\n".encode()

    def load() -> object:
        try:
            return load_bytes(raw, "mappings.yaml", schema_command="")
        except ConfigError as refused:  # the blank entry: refused, as it should be
            return refused

    return load


def users_sharing_a_mail(users: int) -> Callable[[], object]:
    config = Config.model_validate(
        {
            "version": 1,
            "neuraltrust": {"match_on": "email"},
            "mappings": [{"name": "NT-Everyone", "role": "member"}],
        }
    )
    read = [_user(n, mail="shared@contoso.com") for n in range(users)]
    directory = Directory(
        groups=(GroupMembers(0, Group("g0", "NT-Everyone"), tuple(u.id for u in read)),),
        users={u.id: u for u in read},
    )
    target = Target.of(SCIM_URL, ())
    return lambda: make_plan(config, "m.yaml", "0" * 64, directory, target, "2026-01-01T00:00:00Z")


def uncovered_owners(owners: int) -> Callable[[], object]:
    config = Config.model_validate(
        {"version": 1, "mappings": [], "protected": [f"p{n}@contoso.com" for n in range(owners)]}
    )
    target = Target.of(
        SCIM_URL,
        [TargetUser(f"scim-{n}", f"o{n}@contoso.com", role="owner") for n in range(owners)],
    )
    directory = Directory(groups=(), users={})
    return lambda: propose(config, directory, target, DEFAULT_MIN_AGREEMENT)


SHAPES: tuple[tuple[str, Callable[[int], Callable[[], object]], tuple[int, ...]], ...] = (
    ("memberships, groups per user", groups_per_user, (250, 1_000, 4_000)),
    ("blank protected entry, entries", blank_protected_entry, (10_000, 20_000, 40_000)),
    ("users sharing a mail", users_sharing_a_mail, (1_000, 2_000, 4_000)),
    ("init, uncovered owners", uncovered_owners, (2_500, 5_000, 10_000)),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiplies every size but the groups per user"
    )
    args = parser.parse_args()
    for name, shape, sizes in SHAPES:
        if name.startswith("memberships"):  # its sizes are a shape, not an amount
            scaled = sizes
        else:
            scaled = tuple(max(1, round(n * args.scale)) for n in sizes)
        figures = []
        for size in scaled:
            seconds, result = cpu(shape(size))
            extra = ""
            warnings = getattr(result, "warnings", None)
            if name == "users sharing a mail" and warnings is not None:
                extra = f" (warnings {sum(map(len, warnings)) / 1e6:.1f} MB)"
            figures.append((size, seconds))
            print(f"{name} {size:,}: {seconds:.3f} s{extra}")
        (small, first), (large, last) = figures[0], figures[-1]
        if name.startswith("memberships"):  # the same work at every size: flat is linear
            print(f"  {name}: {last / max(first, 1e-9):.2f}x the time for 16x the groups each")
        else:
            exponent = math.log(max(last, 1e-9) / max(first, 1e-9)) / math.log(large / small)
            print(f"  {name}: growth exponent {exponent:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
