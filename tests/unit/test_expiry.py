"""``mappings[].expires``: grants through that UTC day, warned about from 14 days before."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from entrasync.adapters import clock
from entrasync.cli import main
from entrasync.config.models import Config, check
from entrasync.core.expiry import WINDOW_DAYS, as_of, expired_since, expiry_warning

LAST_DAY = date(2026, 12, 31)


def config(expires: date | None = LAST_DAY, auto_sync: bool = True) -> Config:
    return Config.model_validate(
        {
            "version": 1,
            "mappings": [
                {"name": "NT-Owners", "role": "owner"},
                {
                    "name": "NT-Contractors",
                    "role": "member",
                    "auto_sync": auto_sync,
                    **({} if expires is None else {"expires": expires}),
                },
            ],
        }
    )


@pytest.mark.parametrize(
    ("days_before", "warning", "synced"),
    [
        pytest.param(WINDOW_DAYS + 1, None, True, id="15 days before: no warning yet"),
        pytest.param(
            WINDOW_DAYS,
            "mapping NT-Contractors expires on 2026-12-31 (in 14 days)",
            True,
            id="14 days before: warned, still grants",
        ),
        pytest.param(
            1, "mapping NT-Contractors expires on 2026-12-31 (in 1 days)", True, id="the day before"
        ),
        pytest.param(
            0,
            "mapping NT-Contractors expires on 2026-12-31 (in 0 days)",
            True,
            id="its last day still grants",
        ),
        pytest.param(
            -1, "mapping NT-Contractors expired on 2026-12-31", False, id="the next day: expired"
        ),
        pytest.param(
            -400, "mapping NT-Contractors expired on 2026-12-31", False, id="a year on: expired"
        ),
    ],
)
def test_a_mapping_on_each_side_of_its_expiry(
    days_before: int, warning: str | None, synced: bool
) -> None:
    today = LAST_DAY - timedelta(days=days_before)
    result = as_of(config(), today)

    assert result.warnings == ((warning,) if warning else ())
    assert [m.label for _, m in result.config.synced_mappings] == (
        ["NT-Owners", "NT-Contractors"] if synced else ["NT-Owners"]
    )


def test_an_expired_mapping_is_the_same_config_as_auto_sync_false() -> None:
    expired = as_of(config(), LAST_DAY + timedelta(days=1)).config
    assert expired.mappings[1].auto_sync is False
    assert expired.model_dump(exclude={"mappings": {1: {"expires"}}}) == config(
        expires=None, auto_sync=False
    ).model_dump(exclude={"mappings": {1: {"expires"}}})


def test_a_config_without_expiry_is_returned_as_it_is() -> None:
    unchanged = config(expires=None)
    assert as_of(unchanged, LAST_DAY).config is unchanged
    assert as_of(unchanged, LAST_DAY).warnings == ()


def test_an_unsynced_mapping_past_its_date_is_still_warned_about() -> None:
    result = as_of(config(auto_sync=False), LAST_DAY + timedelta(days=3))
    assert result.warnings == ("mapping NT-Contractors expired on 2026-12-31",)


def test_a_mapping_is_named_by_its_id_when_it_has_no_name() -> None:
    mapping = Config.model_validate(
        {
            "version": 1,
            "mappings": [
                {"id": "0B3F1C9E-1111-4C1E-9A0B-000000000001", "role": "owner", "expires": LAST_DAY}
            ],
        }
    ).mappings[0]
    assert expiry_warning(mapping, LAST_DAY) == (
        "mapping 0b3f1c9e-1111-4c1e-9a0b-000000000001 expires on 2026-12-31 (in 0 days)"
    )


MAPPING = b"version: 1\nmappings:\n  - name: NT-Contractors\n    role: member\n    expires: "


@pytest.mark.parametrize("written", [b"2026-12-31", b"'2026-12-31'"])
def test_the_file_takes_a_date_plain_or_quoted(written: bytes) -> None:
    loaded, problems = check(MAPPING + written + b"\n")
    assert problems == []
    assert loaded is not None
    assert loaded.mappings[0].expires == LAST_DAY


@pytest.mark.parametrize(
    ("written", "message"),
    [
        (b"2026-02-30", "'2026-02-30' is not a date: write YYYY-MM-DD"),
        (b"2026-12-31T12:00:00Z", "'2026-12-31T12:00:00Z' is not a date: write YYYY-MM-DD"),
        (b"next friday", "'next friday' is not a date: write YYYY-MM-DD"),
        (b"20261231", "expected text"),
    ],
)
def test_anything_but_a_date_is_refused_at_its_line(written: bytes, message: str) -> None:
    _, problems = check(MAPPING + written + b"\n")
    (problem,) = problems
    assert problem.render("m.yaml").startswith(f"m.yaml:5:14: mappings[0].expires: {message}")


@pytest.mark.parametrize(
    ("made", "today", "expired"),
    [
        pytest.param(LAST_DAY, LAST_DAY, (), id="the same day"),
        pytest.param(LAST_DAY, LAST_DAY + timedelta(days=1), ("NT-Contractors",), id="midnight"),
        pytest.param(
            LAST_DAY - timedelta(days=9),
            LAST_DAY + timedelta(days=9),
            ("NT-Contractors",),
            id="days",
        ),
        pytest.param(LAST_DAY + timedelta(days=1), LAST_DAY + timedelta(days=2), (), id="already"),
    ],
)
def test_expired_since_names_the_mappings_a_plan_of_an_earlier_day_may_grant_through(
    made: date, today: date, expired: tuple[str, ...]
) -> None:
    assert tuple(m.label for m in expired_since(config(), made, today)) == expired
    assert expired_since(config(expires=None), made, today) == ()
    assert expired_since(config(auto_sync=False), made, today) == ()  # it granted nothing


def test_validate_warns_about_expired_and_expiring_mappings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "version: 1\nmappings:\n"
        "  - {name: NT-Old, role: member, expires: 2026-12-01}\n"
        "  - {name: NT-Soon, role: member, expires: 2026-12-10}\n"
        "  - {name: NT-Later, role: member, expires: 2027-06-30}\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(clock, "utc_today", lambda: date(2026, 12, 5))

    assert main(["validate", "--config", str(path)]) == 0

    out, err = capsys.readouterr()
    assert "3 mappings (2 synced)" in out  # the expired one grants nothing any more
    assert err.splitlines() == [
        "warning: mapping NT-Old expired on 2026-12-01",
        "warning: mapping NT-Soon expires on 2026-12-10 (in 5 days)",
    ]
