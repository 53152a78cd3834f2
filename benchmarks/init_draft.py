"""CPU of `init`'s draft (``core.bootstrap.propose``) on the benchmark's tenant and on tenants of
many overlapping groups, where each mapping chosen sends the groups sharing a member with it
to be voted on again (docs/adoption.md, "How it decides").

    python benchmarks/init_draft.py [--size full] [--overlapping 2000x200,4000x200,2000x2000]

``GxK``: G member groups of K members each, drawn from 100,000 users, every user holding what a
first-match file of those groups gives it (the draft then maps every group). Prints seconds of
CPU, the collector paused as the CLI runs.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.workload import config_of, directory_of, generate, size_named, target_of
from entrasync.config.models import Config
from entrasync.core.bootstrap import DEFAULT_MIN_AGREEMENT, propose, survey_config
from entrasync.core.model import (
    Directory,
    DirectoryUser,
    Group,
    GroupMembers,
    Target,
    TargetUser,
)
from entrasync.gctune import collector_paused

USERS = 100_000


def overlapping(groups: int, size: int, users: int = USERS) -> tuple[Config, Directory, Target]:
    rnd = random.Random(1)
    products = Config(version=1).products
    sets = [tuple(sorted(rnd.sample(products, rnd.randint(0, 3)))) for _ in range(groups)]
    found = [Group(f"0b3f1c9e-2222-4c1e-9a0b-{i:012d}", f"NT-G{i:05d}") for i in range(groups)]
    members = [rnd.sample(range(users), size) for _ in range(groups)]
    first: dict[int, int] = {}
    for i, listed in enumerate(members):
        for user in listed:
            first.setdefault(user, i)
    read = {
        f"id-{u}": DirectoryUser(
            id=f"id-{u}",
            user_principal_name=f"u{u}@contoso.com",
            mail=f"u{u}@contoso.com",
            display_name=f"U{u}",
        )
        for u in range(users)
    }
    target = Target.of(
        "https://nt.example/api/scim/v2",
        [
            TargetUser(
                f"scim-{u}", f"u{u}@contoso.com", f"id-{u}", f"U{u}", None, True, "member", sets[i]
            )
            for u, i in first.items()
        ],
    )
    directory = Directory(
        groups=tuple(
            GroupMembers(i, g, tuple(f"id-{m}" for m in members[i])) for i, g in enumerate(found)
        ),
        users=read,
    )
    return survey_config(Config(version=1), found), directory, target


def seconds(config: Config, directory: Directory, target: Target) -> tuple[float, int]:
    gc.collect()
    with collector_paused():
        start = time.process_time()
        proposal = propose(config, directory, target, DEFAULT_MIN_AGREEMENT)
        return time.process_time() - start, len(proposal.mappings)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="full", help="the benchmark tenant: full or quick")
    parser.add_argument("--overlapping", default="2000x200,4000x200,2000x2000")
    args = parser.parse_args()
    generated = generate(size_named(args.size))
    config = config_of(generated)
    cpu, mapped = seconds(config, directory_of(config, generated.tenant), target_of(generated))
    print(f"benchmark tenant ({args.size}): {cpu:.2f} s, {mapped} groups mapped")
    for shape in filter(None, args.overlapping.split(",")):
        groups, size = (int(n) for n in shape.split("x"))
        cpu, mapped = seconds(*overlapping(groups, size))
        print(f"{groups} groups of {size} of {USERS:,} users: {cpu:.2f} s, {mapped} mapped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
