"""Regenerate ``schemas/mappings.schema.json`` from the pydantic models.

Run ``python -m entrasync.config.schema`` from the repository root after changing
``entrasync/config/models.py``; ``tests/unit/test_schema.py`` fails until the committed file
matches.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from entrasync.config.models import config_schema

SCHEMA_PATH = Path("schemas/mappings.schema.json")
REGENERATE = "python -m entrasync.config.schema"


def render_schema() -> str:
    """The schema file's exact text: sorted keys off (pydantic's order reads well), 2 spaces."""
    return json.dumps(config_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=REGENERATE, description=__doc__.splitlines()[0])
    parser.add_argument("target", nargs="?", type=Path, default=SCHEMA_PATH)
    target: Path = parser.parse_args(argv).target
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_schema(), encoding="utf-8")
    print(f"wrote {target.as_posix()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
