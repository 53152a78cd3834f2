"""The demo tenant: small, hand-written, and telling the story every feature needs.

Contoso maps four Entra groups to NeuralTrust roles. Before the first sync NeuralTrust holds:
- Alice, an owner, and Carol, a platform member, already managed and in sync;
- Bob, managed but still a member although he moved to NT-Admins (an update);
- Heidi, added by hand without an externalId, now in NT-Admins (adopted);
- Frank, a managed leaver in no group any more (an orphan, deactivated);
- the break-glass owner, protected, never touched.
Entra also has people to create (Dan with a mixed-case UPN, the guest Grace, Erin in
the nested contractors group), a disabled account (Ivan, never created), and a device and a
service principal in NT-Platform that the reader must skip.
"""

from __future__ import annotations

from dataclasses import dataclass

from entrasync.sandbox.tenant import (
    SandboxGroup,
    SandboxObject,
    SandboxTenant,
    SandboxUser,
    SeedScimUser,
)

TENANT_ID = "5f1c2c3a-0d6e-4a51-9a36-2d3b1a0c9e11"
CLIENT_ID = "8a4b7c1d-3e2f-4a5b-8c6d-7e8f9a0b1c2d"


def _id(n: int) -> str:
    return f"6d1f0000-5a1e-4c0d-8e00-{n:012d}"


ALICE, BOB, CAROL, DAN, ERIN, FRANK, GRACE, HEIDI, IVAN, BREAKGLASS = (_id(n) for n in range(1, 11))
OWNERS, ADMINS, PLATFORM, CONTRACTORS = (
    "0b3f1c9e-1111-4c1e-9a0b-000000000001",
    "0b3f1c9e-1111-4c1e-9a0b-000000000002",
    "0b3f1c9e-1111-4c1e-9a0b-000000000003",
    "0b3f1c9e-1111-4c1e-9a0b-000000000004",
)
LAPTOP, CI_DEPLOYER = "d3c1ce00-0000-4000-8000-000000000001", _id(99)


def _user(
    object_id: str,
    upn: str,
    given: str,
    surname: str,
    *,
    mail: str | None = None,
    enabled: bool = True,
    guest: bool = False,
) -> SandboxUser:
    return SandboxUser(
        id=object_id,
        user_principal_name=upn,
        mail=mail if mail is not None else upn.lower(),
        display_name=f"{given} {surname}",
        given_name=given,
        surname=surname,
        account_enabled=enabled,
        user_type="Guest" if guest else "Member",
        external_user_state="Accepted" if guest else None,
    )


USERS = (
    _user(ALICE, "alice@contoso.com", "Alice", "Smith"),
    _user(BOB, "bob@contoso.com", "Bob", "Jones"),
    _user(CAROL, "carol@contoso.com", "Carol", "Nguyen"),
    _user(DAN, "Dan.Brown@Contoso.com", "Dan", "Brown"),
    _user(ERIN, "erin@contoso.com", "Erin", "Walsh"),
    _user(FRANK, "frank@contoso.com", "Frank", "Miller"),
    _user(
        GRACE,
        "grace_fabrikam.com#EXT#@contoso.onmicrosoft.com",
        "Grace",
        "Hopper",
        mail="grace@fabrikam.com",
        guest=True,
    ),
    _user(HEIDI, "heidi@contoso.com", "Heidi", "Klum"),
    _user(IVAN, "ivan@contoso.com", "Ivan", "Petrov", enabled=False),
    _user(BREAKGLASS, "breakglass@contoso.com", "Break", "Glass"),
)

GROUPS = (
    SandboxGroup(OWNERS, "NT-Owners", user_ids=(ALICE,), description="NeuralTrust owners"),
    SandboxGroup(ADMINS, "NT-Admins", user_ids=(BOB, HEIDI), description="NeuralTrust admins"),
    SandboxGroup(
        PLATFORM,
        "NT-Platform",
        user_ids=(CAROL, DAN, GRACE, IVAN),
        group_ids=(CONTRACTORS,),
        other_ids=(LAPTOP, CI_DEPLOYER),
        description="Platform engineering",
    ),
    SandboxGroup(CONTRACTORS, "NT-Contractors", user_ids=(ERIN,), description="Contractors"),
)

OTHERS = (
    SandboxObject(LAPTOP, "device", "LAPTOP-7F3K"),
    SandboxObject(CI_DEPLOYER, "servicePrincipal", "ci-deployer"),
)

SCIM_USERS = (
    SeedScimUser("alice@contoso.com", ALICE, "Alice Smith", "alice@contoso.com", role="owner"),
    SeedScimUser(
        "bob@contoso.com",
        BOB,
        "Bob Jones",
        "bob@contoso.com",
        role="member",
        products=("trustgate",),
    ),
    SeedScimUser(
        "carol@contoso.com",
        CAROL,
        "Carol Nguyen",
        "carol@contoso.com",
        role="member",
        products=("trustgate", "trusttest"),
    ),
    SeedScimUser("heidi@contoso.com", None, "Heidi Klum", "heidi@contoso.com", role="member"),
    SeedScimUser(
        "frank@contoso.com",
        FRANK,
        "Frank Miller",
        "frank@contoso.com",
        role="member",
        products=("trustlens",),
    ),
    SeedScimUser(
        "breakglass@contoso.com", None, "Break Glass", "breakglass@contoso.com", role="owner"
    ),
)

CONFIG_YAML = f"""\
# yaml-language-server: $schema=../schemas/mappings.schema.json
# The sandbox's demo mappings: Contoso's Entra groups -> NeuralTrust roles and products.
version: 1

entra:
  tenant_id: {TENANT_ID}
  client_id: {CLIENT_ID}
  nested_groups: true        # Erin reaches NT-Platform through NT-Contractors
  include_guests: true       # Grace, a B2B guest, gets access
  include_disabled: false    # Ivan's disabled account is never created

neuraltrust:
  match_on: userName
  role_attribute: roles
  products_attribute: entitlements

roles: [owner, admin, member]
products: [trustgate, trusttest, trustlens]
product_roles: [member]
precedence: first-match
on_removed: deactivate       # Frank left every group: he is deactivated, not deleted

protected:
  - breakglass@contoso.com   # the emergency owner account: never changed

limits:
  max_deactivations: 10
  max_deactivation_percent: 50
  min_owners: 1

mappings:
  - id: {OWNERS}
    name: NT-Owners
    role: owner
  - id: {ADMINS}
    name: NT-Admins
    role: admin
  - name: NT-Platform
    role: member
    products: [trustgate, trusttest]
  - name: NT-Contractors
    role: member
    products: [trusttest]
"""


@dataclass(frozen=True)
class DemoTenant:
    tenant: SandboxTenant
    scim_users: tuple[SeedScimUser, ...]
    config_yaml: str


def build_demo_tenant() -> DemoTenant:
    tenant = SandboxTenant(TENANT_ID, CLIENT_ID, USERS, GROUPS, OTHERS)
    return DemoTenant(tenant=tenant, scim_users=SCIM_USERS, config_yaml=CONFIG_YAML)
