"""The rules a JSON Schema cannot state: they depend on the file's own vocabulary.

They run on the raw YAML data, even when the schema found problems, so a file with several
mistakes shows them all at once; every access is guarded because the data may be any shape.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Sequence
from typing import Any

from entrasync.config.located import Document, KeyPath, Problem
from entrasync.config.patterns import ATTRIBUTE_PATTERN, UPN_PATTERN, unseen_in_address
from entrasync.config.problems import show, unseen_message
from entrasync.core.model import USER_SCHEMA_PREFIX
from entrasync.core.urls import (
    SENT_AUTHORITY,
    SENT_GRAPH,
    SENT_SCIM,
    UnsafeUrlError,
    check_url,
    is_loopback_host,
)


def _strings(container: Any, key: str) -> list[tuple[int, str]]:
    value = container.get(key) if isinstance(container, dict) else None
    return (
        [(i, v) for i, v in enumerate(value) if isinstance(v, str)]
        if isinstance(value, list)
        else []
    )


def semantic_problems(
    doc: Document, default_roles: tuple[str, ...], default_products: tuple[str, ...]
) -> list[Problem]:
    """Rules about the file's own vocabulary, run even when the schema found problems."""
    data = doc.data
    if not isinstance(data, dict):
        return []
    out: list[Problem] = []
    roles = (
        list(dict.fromkeys(r for _, r in _strings(data, "roles")))
        if "roles" in data
        else list(default_roles)
    )
    products = (
        [p for _, p in _strings(data, "products")] if "products" in data else list(default_products)
    )

    # Looked up as sets: a file of 95,000 roles and 19,000 mappings took 24 s as lists.
    role_set, product_set = frozenset(roles), frozenset(products)

    def vocabulary(path: KeyPath, word: str, allowed: list[str]) -> None:
        if word in (product_set if allowed is products else role_set):
            return
        if allowed:
            out.append(
                doc.problem(
                    path, f"{show(word)} is not one of {_listed(allowed)}" + _guess(word, allowed)
                )
            )
        elif allowed is products:
            # An empty product vocabulary allows no product at all; an empty (or unreadable)
            # roles list is the schema's problem, so roles say nothing more here.
            out.append(
                doc.problem(
                    path,
                    f"{show(word)} is not a product: the products list is empty; "
                    f"add {word} to products or remove it here",
                )
            )

    for i, product_role in _strings(data, "product_roles"):
        vocabulary(("product_roles", i), product_role, roles)
    product_roles = (
        [r for _, r in _strings(data, "product_roles")]
        if isinstance(data.get("product_roles"), list)
        else roles[-1:]
    )
    product_role_set = frozenset(product_roles)
    mappings = data.get("mappings")
    seen: dict[str, int] = {}
    for m, mapping in enumerate(mappings if isinstance(mappings, list) else []):
        if not isinstance(mapping, dict):
            continue
        here: KeyPath = ("mappings", m)
        role = mapping.get("role")
        if isinstance(role, str):
            vocabulary((*here, "role"), role, roles)
        for p, product in _strings(mapping, "products"):
            vocabulary((*here, "products", p), product, products)
        takes_none = isinstance(role, str) and role in role_set and role not in product_role_set
        if mapping.get("products") is not None and takes_none:
            out.append(
                doc.problem(
                    (*here, "products"),
                    f"role {role} takes no products ({_product_roles_named(product_roles)}); "
                    f"remove products here or add {role} to product_roles",
                    at_key=True,
                )
            )
        out.extend(_duplicate_group(doc, here, mapping, seen))
    out.extend(_roles_alike(doc, data))
    out.extend(_url_problems(doc, data))
    out.extend(_attribute_problems(doc, data))
    out.extend(_unseen_in_protected(doc, data))
    return out


def _roles_alike(doc: Document, data: dict[str, Any]) -> Iterator[Problem]:
    """Two roles that differ only in case (``owner``, ``Owner``), or one with blanks around it
    (``owner ``): NeuralTrust may take either for the other (``may_be_role``), so which one a
    user holds, and who counts as an owner, would be a guess. (Equal ones are the schema's
    problem.)"""
    first: dict[str, str] = {}
    for i, role in _strings(data, "roles"):
        if role != role.strip():
            yield doc.problem(
                ("roles", i),
                f"{show(role)} has blanks around it: NeuralTrust may read the role without them "
                "(may_be_role), so who holds it would be a guess; write it without them",
            )
            continue
        earlier = first.setdefault(role.strip().casefold(), role)
        if earlier != role:
            yield doc.problem(
                ("roles", i),
                f"{show(role)} and {show(earlier)} differ only in case or blanks, and role values "
                "are not case-exact (RFC 7643 §8.7.1): NeuralTrust may take one for the other; "
                "keep one of them",
            )


def _unseen_in_protected(doc: Document, data: dict[str, Any]) -> Iterator[Problem]:
    """An entry of `protected` the schema's pattern passes that holds a character that may not
    show (:func:`unseen_in_address`: the pattern names the common ones, not every format or
    private-use character, nor any past U+FFFF, where regex engines differ): it would match no
    user."""
    for i, entry in _strings(data, "protected"):
        unseen = unseen_in_address(entry) if re.fullmatch(UPN_PATTERN, entry) else None
        if unseen is not None:
            yield doc.problem(("protected", i), unseen_message(entry, unseen))


# The User attributes entrasync itself reads or writes (RFC 7643 section 4.1), and what they are:
# the role or the products kept in one of them would overwrite it, or be overwritten.
_OWN_ATTRIBUTES = {
    "id": "the SCIM id",
    "externalid": "the Entra object id",
    "meta": "the server's metadata",
    "schemas": "the schemas",
    "username": "the user name",
    "name": "the user's names",
    "displayname": "the display name",
    "emails": "the mail",
    "active": "whether the user is active",
    "password": "the password",
}
DEFAULT_ROLE_ATTRIBUTE = "roles"
DEFAULT_PRODUCTS_ATTRIBUTE = "entitlements"


def _attribute_problems(doc: Document, data: dict[str, Any]) -> Iterator[Problem]:
    """role_attribute and products_attribute: neither one of entrasync's own attributes, and
    not the same attribute for both."""
    part = data.get("neuraltrust", {})
    if not isinstance(part, dict):
        return
    chosen: list[tuple[str, str]] = []  # (key, folded core name) of each usable attribute
    for key, holds, default in (
        ("role_attribute", "role", DEFAULT_ROLE_ATTRIBUTE),
        ("products_attribute", "products", DEFAULT_PRODUCTS_ATTRIBUTE),
    ):
        value = part.get(key, default)
        if not isinstance(value, str) or not re.fullmatch(ATTRIBUTE_PATTERN, value):
            continue  # the schema reports it
        core = value.strip().casefold().removeprefix(USER_SCHEMA_PREFIX)
        what = None if core.startswith("urn:") else _OWN_ATTRIBUTES.get(core.split(".")[0])
        if what is not None:
            yield doc.problem(
                ("neuraltrust", key),
                f"{show(value)} is where entrasync keeps {what}; name the attribute "
                f"NeuralTrust keeps the {holds} in (roles, entitlements or an extension path)",
            )
        else:
            chosen.append((key, core))
    if len(chosen) == 2 and chosen[0][1] == chosen[1][1]:
        # Said where the file wrote it: at products_attribute, unless only role_attribute is set.
        key, other = chosen[1][0], chosen[0][0]
        if key not in part:
            key, other = other, key
        default = "" if other in part else " by default"
        yield doc.problem(
            ("neuraltrust", key),
            f"{show(part[key])} is also the {other}{default}: the role and the products each "
            "need an attribute of their own",
        )


def _duplicate_group(
    doc: Document, here: KeyPath, mapping: dict[str, Any], seen: dict[str, int]
) -> Iterator[Problem]:
    clashes = []
    for key in ("id", "name"):
        value = mapping.get(key)
        if not isinstance(value, str) or not value:
            continue
        ident = f"{key}:{value.casefold()}"
        if ident in seen:
            clashes.append((key, value, seen[ident]))
        else:
            seen[ident] = here[-1]
    # One problem per mapping: the same group by id and by name would say it twice.
    for key, value, other in clashes[:1]:
        line = doc.line_of(("mappings", other))
        yield doc.problem(
            (*here, key),
            f"group {show(value)} is already mapped by mappings[{other}] (line {line}); "
            "map each group once",
        )


def _url_problems(doc: Document, data: dict[str, Any]) -> Iterator[Problem]:
    """The credential-routing URLs: the shape every source of them is held to (user info,
    query, fragment, port, host; entrasync.core.urls, which never echoes the value), then plain
    http off loopback."""
    for section, key, sent in (
        ("entra", "graph_url", SENT_GRAPH),
        ("entra", "authority_host", SENT_AUTHORITY),
        ("neuraltrust", "scim_url", SENT_SCIM),
    ):
        part = data.get(section)
        url = part.get(key) if isinstance(part, dict) else None
        if not isinstance(url, str) or not re.match(r"^https?://", url):
            continue  # the schema reports a value that is not a URL at all
        try:
            parsed = check_url(url, "this URL", sent=sent)
        except UnsafeUrlError as exc:
            yield doc.problem((section, key), exc.message)
            continue
        if parsed.scheme == "http" and not is_loopback_host(parsed.hostname or ""):
            yield doc.problem(
                (section, key),
                f"{show(url)} is plain http://; credentials only travel over https:// "
                "(plain http only to localhost, 127.0.0.1 or [::1])",
            )


_MAX_LISTED = 20  # words of a vocabulary named in one problem; and guessed among, at most 200


def _listed(allowed: list[str]) -> str:
    """The vocabulary for a message: 3,000 declared roles named in each of 3,000 problems made
    60 MB of output."""
    if len(allowed) <= _MAX_LISTED:
        return ", ".join(allowed)
    return f"{', '.join(allowed[:_MAX_LISTED])}, … ({len(allowed) - _MAX_LISTED} more)"


def _guess(word: str, allowed: list[str]) -> str:
    """`` (did you mean admin?)`` for a misspelt or miscased word of the vocabulary (of 200
    words at most: difflib over 3,000 for each of 3,000 problems took 20 s)."""
    if not isinstance(word, str) or len(allowed) > 10 * _MAX_LISTED:
        return ""
    folded = {a.casefold(): a for a in allowed}
    close = difflib.get_close_matches(word.casefold(), list(folded), n=1, cutoff=0.6)
    return f" (did you mean {folded[close[0]]}?)" if close else ""


def _product_roles_named(product_roles: Sequence[str]) -> str:
    if not product_roles:
        return "product_roles is empty: no role takes products"
    return f"product roles: {', '.join(product_roles)}"
