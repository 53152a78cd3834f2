"""A group found for a mapping must carry the mapping's name: the error says which lookup erred."""

from __future__ import annotations

from entrasync.adapters.graph.groups import GroupResolutionError, _check_name
from entrasync.config.models import GroupMapping
from entrasync.core.model import Group

G_ADMINS = "0b3f1c9e-1111-4c1e-9a0b-000000000002"


def test_a_name_filter_answered_with_another_group_says_so_not_fix_the_id() -> None:
    mapping = GroupMapping.model_validate({"name": "NT-Platform", "role": "member"})
    error = _check_name(mapping, Group(G_ADMINS, "NT-Admins"))
    assert isinstance(error, GroupResolutionError)
    assert error.message == (
        "Microsoft Graph answered the filter for the group named 'NT-Platform' with group "
        f"{G_ADMINS}, named 'NT-Admins'"
    )
    assert "put the intended group's `id` in the mapping" in (error.hint or "")


def test_an_id_whose_group_has_another_name_asks_to_correct_the_name_or_the_id() -> None:
    mapping = GroupMapping.model_validate({"id": G_ADMINS, "name": "NT-Platform", "role": "member"})
    error = _check_name(mapping, Group(G_ADMINS, "NT-Admins"))
    assert isinstance(error, GroupResolutionError)
    assert error.message == f"group {G_ADMINS} is named 'NT-Admins' in Entra, not 'NT-Platform'"


def test_a_name_in_another_case_is_the_same_name_as_graph_filters_it() -> None:
    mapping = GroupMapping.model_validate({"name": "nt-admins", "role": "member"})
    group = Group(G_ADMINS, "NT-Admins")
    assert _check_name(mapping, group) is group


def test_an_id_whose_group_differs_only_in_code_points_says_how_it_is_spelt() -> None:
    # "Équipe NT" typed precomposed, Entra's decomposed (E and a combining accent): the error
    # showed two names that print alike.
    mapping = GroupMapping.model_validate(
        {"id": G_ADMINS, "name": "\u00c9quipe NT", "role": "member"}
    )
    error = _check_name(mapping, Group(G_ADMINS, "E\u0301quipe NT"))
    assert isinstance(error, GroupResolutionError)
    assert error.message.endswith(
        '(Entra spells it "E\\u0301quipe NT" (the same letters in other code points: copy this '
        "spelling))"
    )
