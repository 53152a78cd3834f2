"""Two tenants for ``entrasync init``: one whose groups and roles line up, one with misfits.

Fabrikam already runs NeuralTrust, its users made by hand (some adopted already, some not),
and keeps ``APP-`` groups in Entra that say who should have what:
- APP-Owners (Olivia), APP-Admins (Adam, Amir), APP-Engineers (Mia, Max, and APP-Interns
  nested: Ivy), APP-Analysts (Mo); a ``Finance`` group that no ``APP-`` search finds;
- NeuralTrust holds each of them with the role and products their group implies, plus a
  break-glass owner that is in no group.

:func:`misfit_tenant` adds what a first mappings file has to explain: Sam, an APP-Admins
member who is a plain member in NeuralTrust; Nina, an engineer not yet in NeuralTrust; Lee,
an analyst deactivated in NeuralTrust; APP-Contractors, whose two members disagree; Frank, a
managed user who left every group.
"""

from __future__ import annotations

from entrasync.sandbox.tenant import SandboxGroup, SandboxTenant, SandboxUser, SeedScimUser

TENANT_ID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
CLIENT_ID = "2b1c4d5e-6f70-4a8b-9c0d-1e2f3a4b5c6d"
DOMAIN = "fabrikam.com"
GATE_TEST = ("trustgate", "trusttest")
LENS = ("trustlens",)


def user_id(n: int) -> str:
    return f"a11ce000-0000-4000-8000-{n:012d}"


def group_id(n: int) -> str:
    return f"9a0b0000-0000-4000-8000-{n:012d}"


OWNERS, ADMINS, ENGINEERS, INTERNS, ANALYSTS, FINANCE, CONTRACTORS = (
    group_id(n) for n in range(1, 8)
)


def _person(n: int, name: str) -> SandboxUser:
    upn = f"{name}@{DOMAIN}"
    return SandboxUser(user_id(n), upn, upn, name.title(), name.title(), "Fabrikam")


def _nt(
    n: int,
    name: str,
    role: str,
    products: tuple[str, ...] | None = None,
    *,
    adopted: bool = True,
    active: bool = True,
) -> SeedScimUser:
    upn = f"{name}@{DOMAIN}"
    return SeedScimUser(
        upn,
        user_id(n) if adopted else None,
        name.title(),
        upn,
        active=active,
        role=role,
        products=products,
    )


OLIVIA, ADAM, AMIR, MIA, MAX, IVY, MO, BEA = (
    _person(n, name)
    for n, name in enumerate(("olivia", "adam", "amir", "mia", "max", "ivy", "mo", "bea"), 1)
)
SAM, NINA, LEE, CARL, CLEO, FRANK = (
    _person(n, name) for n, name in enumerate(("sam", "nina", "lee", "carl", "cleo", "frank"), 20)
)


def _groups(*, misfits: bool) -> tuple[SandboxGroup, ...]:
    extra = misfits
    return (
        SandboxGroup(OWNERS, "APP-Owners", user_ids=(OLIVIA.id,)),
        SandboxGroup(
            ADMINS, "APP-Admins", user_ids=(ADAM.id, AMIR.id, *([SAM.id] if extra else []))
        ),
        SandboxGroup(
            ENGINEERS,
            "APP-Engineers",
            user_ids=(MIA.id, MAX.id, *([NINA.id] if extra else [])),
            group_ids=(INTERNS,),
        ),
        SandboxGroup(INTERNS, "APP-Interns", user_ids=(IVY.id,)),
        SandboxGroup(ANALYSTS, "APP-Analysts", user_ids=(MO.id, *([LEE.id] if extra else []))),
        SandboxGroup(FINANCE, "Finance", user_ids=(BEA.id,)),
        *(
            [SandboxGroup(CONTRACTORS, "APP-Contractors", user_ids=(CARL.id, CLEO.id))]
            if extra
            else []
        ),
    )


ALIGNED_SCIM = (
    _nt(1, "olivia", "owner"),
    _nt(2, "adam", "admin", adopted=False),
    _nt(3, "amir", "admin"),
    _nt(4, "mia", "member", GATE_TEST, adopted=False),
    _nt(5, "max", "member", GATE_TEST),
    _nt(6, "ivy", "member", GATE_TEST),
    _nt(7, "mo", "member", LENS, adopted=False),
    _nt(8, "bea", "admin", adopted=False),  # in Finance only: no APP- mapping wants her
    SeedScimUser("breakglass@fabrikam.com", None, "Break Glass", None, role="owner"),
)
MISFIT_SCIM = (
    *ALIGNED_SCIM,
    _nt(20, "sam", "member", GATE_TEST, adopted=False),
    _nt(22, "lee", "member", LENS, active=False),
    _nt(23, "carl", "admin", adopted=False),
    _nt(24, "cleo", "member", LENS, adopted=False),
    _nt(25, "frank", "member", LENS),
)


def aligned_tenant() -> tuple[SandboxTenant, tuple[SeedScimUser, ...]]:
    """Groups and NeuralTrust roles that line up: a plan of init's file only adopts."""
    users = (OLIVIA, ADAM, AMIR, MIA, MAX, IVY, MO, BEA)
    tenant = SandboxTenant(TENANT_ID, CLIENT_ID, users, _groups(misfits=False), domain=DOMAIN)
    return tenant, ALIGNED_SCIM


def misfit_tenant() -> tuple[SandboxTenant, tuple[SeedScimUser, ...]]:
    """The aligned tenant and the misfits of the module docstring."""
    users = (OLIVIA, ADAM, AMIR, MIA, MAX, IVY, MO, BEA, SAM, NINA, LEE, CARL, CLEO, FRANK)
    tenant = SandboxTenant(TENANT_ID, CLIENT_ID, users, _groups(misfits=True), domain=DOMAIN)
    return tenant, MISFIT_SCIM
