"""Role and products in core roles/entitlements or an extension path: read and write."""

from __future__ import annotations

from typing import Any

import pytest

from entrasync.adapters.scim.attributes import AttributePath, Layout
from entrasync.adapters.scim.paging import IncompleteListingError
from entrasync.adapters.scim.target import primary_email, to_target_user

EXT = "urn:ietf:params:scim:schemas:extension:neuraltrust:2.0:User"


@pytest.mark.parametrize(
    ("raw", "schema", "name"),
    [
        ("roles", None, "roles"),
        ("entitlements", None, "entitlements"),
        (f"{EXT}:role", EXT, "role"),
        (f" {EXT}:products ", EXT, "products"),
    ],
    ids=["core roles", "core entitlements", "an extension attribute", "surrounding spaces"],
)
def test_paths_split_into_schema_and_attribute(raw: str, schema: str | None, name: str) -> None:
    path = AttributePath.parse(raw)
    assert (path.schema, path.name) == (schema, name)
    assert path.path == raw.strip()


@pytest.mark.parametrize(
    ("attribute", "resource", "expected"),
    [
        (
            "roles",
            {"roles": [{"value": "member"}, {"value": "admin", "primary": True}]},
            ["admin", "member"],
        ),
        ("roles", {"roles": []}, []),
        ("roles", {}, None),
        ("Roles", {"roles": [{"value": "owner"}]}, ["owner"]),
        ("title", {"title": "admin"}, ["admin"]),
        (f"{EXT}:role", {EXT: {"role": "admin"}}, ["admin"]),
        (f"{EXT}:products", {EXT: {"products": ["b", "a"]}}, ["a", "b"]),
        ("roles", {"roles": [{"value": "member"}, {"value": "admin"}]}, ["admin", "member"]),
        (f"{EXT}:role", {EXT: {"Role": ["admin"]}}, ["admin"]),
        (f"{EXT}:role", {EXT.lower(): {"role": "admin"}}, ["admin"]),
        (f"{EXT}:role", {EXT: {}}, None),
        (f"{EXT}:role", {"roles": [{"value": "x"}]}, None),
    ],
    ids=[
        "the primary core value comes first",
        "an empty core list reads as no values",
        "an absent core attribute reads as None",
        "attribute names are case-insensitive",
        "a single-valued core attribute reads as one value",
        "an extension string",
        "an extension list, in sorted order",
        "values none of which is primary read the same in any order they come",
        "an extension list under a differently-cased name",
        "an extension under its URN in another case",
        "an extension without the attribute reads as None",
        "no extension object reads as None",
    ],
)
def test_reading_values(
    attribute: str, resource: dict[str, Any], expected: list[str] | None
) -> None:
    assert AttributePath.parse(attribute).read(resource) == expected


@pytest.mark.parametrize(
    ("role_attribute", "products_attribute", "expected"),
    [
        (
            "roles",
            "entitlements",
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "roles": [{"value": "member", "primary": True}],
                "entitlements": [{"value": "a"}, {"value": "b"}],
            },
        ),
        (
            f"{EXT}:role",
            f"{EXT}:products",
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", EXT],
                EXT: {"role": "member", "products": ["a", "b"]},
            },
        ),
    ],
    ids=["core attributes", "one extension object holding both"],
)
def test_create_bodies_put_role_and_products_where_configured(
    role_attribute: str, products_attribute: str, expected: dict[str, Any]
) -> None:
    layout = Layout.of(role_attribute, products_attribute)
    body: dict[str, Any] = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]}
    layout.role.put(body, ["member"], single=True)
    layout.products.put(body, ["a", "b"], single=False)
    assert body == expected


@pytest.mark.parametrize(
    ("attribute", "values", "single", "value"),
    [
        ("roles", ["admin"], True, [{"value": "admin", "primary": True}]),
        ("entitlements", [], False, []),
        (f"{EXT}:role", ["admin"], True, "admin"),
        (f"{EXT}:products", ["a"], False, ["a"]),
    ],
    ids=["core role", "no products clears the list", "extension role", "extension products"],
)
def test_patch_operations_replace_the_whole_value(
    attribute: str, values: list[str], single: bool, value: object
) -> None:
    op = AttributePath.parse(attribute).replace_op(values, single=single)
    assert op == {"op": "replace", "path": attribute, "value": value}


@pytest.mark.parametrize(
    ("emails", "expected"),
    [
        ([{"value": "w@x", "type": "work"}, {"value": "p@x", "primary": True}], "p@x"),
        ([{"value": "h@x", "type": "home"}, {"value": "w@x", "type": "work"}], "w@x"),
        ([{"value": "h@x", "type": "home"}, {"value": "o@x", "type": "other"}], "h@x"),
        ([{"value": "o@x", "type": "other"}, {"value": "h@x", "type": "home"}], "h@x"),
        ([{"value": "w2@x", "type": "work"}, {"value": "w1@x", "type": "work"}], "w1@x"),
        ([{"value": "b@x", "primary": True}, {"value": "a@x", "primary": True}], "a@x"),
        ([{"type": "work"}], None),
        ([], None),
        # Sub-attribute names in any case (RFC 7643 §2.1); a boolean sent as text.
        ([{"value": "h@x"}, {"Value": "p@x", "Primary": True}], "p@x"),
        ([{"value": "h@x"}, {"value": "p@x", "primary": "true"}], "p@x"),
        ([{"value": "h@x", "type": "home"}, {"value": "w@x", "Type": "Work"}], "w@x"),
    ],
    ids=[
        "primary wins",
        "else work",
        "else the first in text order",
        "the same whatever order the server sends them in (it read o@x)",
        "the first work one in text order",
        "of two primary ones (against RFC 7643), the first in text order",
        "an email without value is ignored",
        "no email",
        "Primary and Value",
        "primary as text",
        "type Work",
    ],
)
def test_the_email_read_is_primary_then_work_then_any_the_first_in_text_order(
    emails: list[dict[str, Any]], expected: str | None
) -> None:
    assert primary_email({"emails": emails}) == expected


def test_a_scim_user_becomes_a_target_user_with_sorted_products() -> None:
    layout = Layout.of(f"{EXT}:role", f"{EXT}:products")
    user = to_target_user(
        {
            "id": "9",
            "userName": "Ann@Contoso.com",
            "externalId": "e-9",
            "displayName": "Ann",
            EXT: {"role": "member", "products": ["trustlens", "trustgate", "trustlens"]},
        },
        layout,
    )
    assert (user.user_name, user.external_id, user.active) == ("Ann@Contoso.com", "e-9", True)
    assert (user.role, user.products) == ("member", ("trustgate", "trustlens"))
    assert to_target_user({"id": "1", "active": False}, layout).active is False


def test_a_user_is_read_whatever_the_case_of_its_attribute_names() -> None:
    """Read by the letter, an ``ExternalID`` left a leaver unmanaged: never deactivated."""
    layout = Layout.of("roles", "entitlements")
    odd = {
        "id": "7",
        "UserName": "ann@contoso.com",
        "ExternalID": "e-7",
        "DISPLAYNAME": "Ann",
        "Active": False,
        "Emails": [{"value": "ann@contoso.com"}],
        "Roles": [{"value": "member"}],
        "Meta": {"Version": 'W/"3"'},
    }
    user = to_target_user(odd, layout, etags=True)
    assert (user.user_name, user.external_id, user.display_name) == (
        "ann@contoso.com",
        "e-7",
        "Ann",
    )
    assert (user.active, user.active_said, user.email) == (False, True, "ann@contoso.com")
    assert (user.role, user.version) == ("member", 'W/"3"')


def test_role_and_product_values_are_read_whatever_the_case_of_their_names() -> None:
    layout = Layout.of("roles", "entitlements", ("owner", "admin", "member"))
    user = to_target_user(
        {
            "id": "7",
            "roles": [{"Value": "member", "PRIMARY": "true"}, {"value": "zzz", "primary": "false"}],
            "entitlements": [{"Value": "trustgate"}],
        },
        layout,
    )
    assert (user.role, user.role_alone, user.products) == ("member", False, ("trustgate",))
    # "false" is no primary: of two values outside the vocabulary, the sorted first is read.
    odd = {"id": "8", "roles": [{"value": "zzz", "primary": "false"}, {"value": "aaa"}]}
    assert to_target_user(odd, layout).role == "aaa"


def test_an_attribute_sent_twice_in_two_spellings_stops_the_read() -> None:
    with pytest.raises(IncompleteListingError) as caught:
        to_target_user({"id": "7", "active": True, "Active": False}, Layout.of("roles", "x"))
    assert "user 7 with the attribute active twice, as 'active' and 'Active'" in str(caught.value)


EXTENSION = Layout.of(f"{EXT}:role", f"{EXT}:products")


@pytest.mark.parametrize(
    ("sent", "layout"),
    [
        ({"emails": [{"value": "a@x", "Value": "b@x"}]}, Layout.of("roles", "entitlements")),
        ({"roles": [{"value": "owner", "VALUE": "member"}]}, Layout.of("roles", "entitlements")),
        ({"meta": {"version": 'W/"1"', "Version": 'W/"2"'}}, Layout.of("roles", "entitlements")),
        ({EXT: {"role": "owner", "Role": "member"}}, EXTENSION),
        ({EXT: {"role": "owner"}, EXT.upper(): {"role": "member"}}, EXTENSION),
    ],
    ids=["an email's value", "a role's value", "meta.version", "extension role", "extension"],
)
def test_a_value_sent_twice_in_two_spellings_stops_the_read(
    sent: dict[str, Any], layout: Layout
) -> None:
    with pytest.raises(IncompleteListingError, match="twice, as "):
        to_target_user({"id": "7", **sent}, layout, etags=True)


@pytest.mark.parametrize(
    ("active", "read"),
    [
        (True, True),
        (False, False),
        (None, True),
        ("false", False),
        ("False", False),
        ("TRUE", True),
    ],
)
def test_active_is_a_boolean_absent_null_or_the_text_true_or_false(
    active: object, read: bool
) -> None:
    layout = Layout.of("roles", "entitlements")
    said = to_target_user({"id": "7", "active": active}, layout)
    assert (said.active, said.active_said) == (read, active is not None)
    unsaid = to_target_user({"id": "7"}, layout)
    assert (unsaid.active, unsaid.active_said) == (True, False)


@pytest.mark.parametrize(
    ("resource", "said"),
    [
        ({"active": 0}, "with active 0, which is not true or false"),
        ({"active": "no"}, "with active 'no', which is not true or false"),
        ({"active": {}}, "with active {}, which is not true or false"),
        ({"emails": 5}, "with emails 5, which is not a list"),
        (
            {"emails": ["alice@contoso.com"]},
            "with emails ['alice@contoso.com'], which is not a list of objects",
        ),
        (
            {"emails": [{"value": ["alice@contoso.com"], "primary": True}]},
            "with emails [{'value': ['alice@contoso.com'], 'primary': True}], which is not a list "
            "of objects whose value is a string",
        ),
        ({"emails": {}}, "with emails {}, which is not a list"),
        (
            {"emails": [{"value": 0}]},
            "with emails [{'value': 0}], which is not a list of objects whose value is a string",
        ),
        ({"userName": ["a@contoso.com"]}, "with userName ['a@contoso.com'], which is not a string"),
        ({"externalId": ["e-1"]}, "with externalId ['e-1'], which is not a string"),
        ({"displayName": {"x": 1}}, "with displayName {'x': 1}, which is not a string"),
    ],
    ids=[
        "active 0",
        "active 'no'",
        "active an object",
        "emails a number",
        "emails a list of addresses as text (read as none, they matched no one)",
        "an email's value a list",
        "emails an object that reads as false",
        "an email's value a number that reads as false",
        "userName a list",
        "externalId a list",
        "displayName an object",
    ],
)
def test_a_user_in_a_shape_rfc_7643_does_not_allow_stops_the_read(
    resource: dict[str, Any], said: str
) -> None:
    """Read as a truth value, the text "false" or a 0 was an active user: an inactive owner
    counted for min_owners, and a user back in a group was never reactivated."""
    with pytest.raises(IncompleteListingError) as caught:
        to_target_user({"id": "7", **resource}, Layout.of("roles", "entitlements"))
    assert caught.value.message == (
        f"NeuralTrust listed user 7 {said}: entrasync plans nothing on a user it cannot read"
    )


def test_a_null_user_name_is_no_user_name_not_the_text_none() -> None:
    user = to_target_user({"id": "7", "userName": None}, Layout.of("roles", "entitlements"))
    assert user.user_name == ""


@pytest.mark.parametrize(
    ("values", "role"),
    [
        ([{"value": "owner"}, {"value": "member"}], "owner"),
        ([{"value": "member"}, {"value": "owner"}], "owner"),
        ([{"value": "member", "primary": True}, {"value": "admin"}], "admin"),
        ([{"value": "viewer"}, {"value": "member"}], "member"),
        ([{"value": "viewer"}, {"value": "auditor"}], "auditor"),
        ([{"value": "Owner"}, {"value": "member"}], "Owner"),
        ([{"value": "member"}, {"value": "owner "}], "owner "),
        ([{"value": "owner"}, {"value": "Owner"}], "owner"),
    ],
    ids=[
        "owner sent first",
        "owner sent last",
        "a primary member with an admin value beside it",
        "a value outside the vocabulary never beats one in it",
        "of values outside it, the first in sorted order",
        "an owner spelt Owner beside a member",
        "an owner with a blank after it beside a member",
        "the exact spelling before another",
    ],
)
def test_of_several_role_values_the_most_privileged_is_read(
    values: list[dict[str, Any]], role: str
) -> None:
    layout = Layout.of("roles", "entitlements", ("owner", "admin", "member"))
    # Chosen from several, the role is never taken as the one NeuralTrust goes by.
    assert layout.read_role({"roles": values}) == (role, False)


@pytest.mark.parametrize(
    ("values", "read"),
    [
        ([{"value": "owner"}], ("owner", True)),
        ([{"value": "owner"}, {"value": "owner", "primary": True}], ("owner", True)),
        ([{"value": "member", "primary": True}, {"value": "owner"}], ("owner", False)),
        ([], (None, True)),
    ],
    ids=["one value", "one value sent twice", "owner beside a primary member", "none"],
)
def test_a_role_is_read_with_whether_it_came_alone(
    values: list[dict[str, Any]], read: tuple[str | None, bool]
) -> None:
    layout = Layout.of("roles", "entitlements", ("owner", "admin", "member"))
    assert layout.read_role({"roles": values}) == read
    user = to_target_user({"id": "1", "roles": values}, layout)
    assert (user.role, user.role_alone) == read


def test_a_vocabulary_spelt_otherwise_than_the_server_still_reads_the_owner() -> None:
    layout = Layout.of("roles", "entitlements", ("Owner", "Admin", "Member"))
    assert layout.read_role({"roles": [{"value": "member"}, {"value": "owner"}]})[0] == "owner"


def test_a_version_is_read_only_from_a_server_that_announced_etags() -> None:
    """A server may send meta (a full resource, when attributes= was refused) without saying
    it supports ETags: its meta.version is then no entity tag to send as If-Match."""
    resource = {"id": "7", "meta": {"version": 'W/"3"'}}
    layout = Layout.of("roles", "entitlements")
    assert to_target_user(resource, layout).version is None
    assert to_target_user(resource, layout, etags=True).version == 'W/"3"'
    assert to_target_user({"id": "7", "meta": "odd"}, layout, etags=True).version is None
