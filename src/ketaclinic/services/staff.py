"""Organisation set-up: sites, chairs and staff accounts (the director's and the CLI's work)."""

from __future__ import annotations

from ketaclinic.domain.audit import AuditAction
from ketaclinic.domain.errors import InvalidInput, NotFound
from ketaclinic.domain.people import (
    SITE_CODE_PATTERN,
    USERNAME_PATTERN,
    Chair,
    Role,
    Site,
    StaffUser,
)
from ketaclinic.services.audit import Actor, record
from ketaclinic.services.auth import Passwords, check_password_policy, unlock
from ketaclinic.services.ports import Clock, UnitOfWork


def add_site(uow: UnitOfWork, code: str, name: str, timezone: str = "America/New_York") -> Site:
    if not SITE_CODE_PATTERN.match(code):
        raise InvalidInput.for_field("site", code, "2–10 capital letters or digits, e.g. MIA")
    if not name.strip() or len(name) > 200:
        raise InvalidInput.for_field("name", name, "1–200 characters")
    return uow.sites.add(code, name.strip(), timezone)


def add_chair(uow: UnitOfWork, site: Site, code: str, name: str) -> Chair:
    if not code.strip() or len(code) > 20:
        raise InvalidInput.for_field("chair", code, "1–20 characters, e.g. MIA-1")
    return uow.sites.add_chair(site.id, code.strip(), name.strip() or code)


def add_user(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    passwords: Passwords,
    *,
    username: str,
    role: Role,
    site_codes: list[str],
    password: str,
    display_name: str = "",
    email: str = "",
    enforce_policy: bool = True,
) -> StaffUser:
    """Create a staff account assigned to the named sites. ``enforce_policy`` is off only for
    the demo clinic's published passwords."""
    username = username.strip().lower()
    if not USERNAME_PATTERN.match(username):
        raise InvalidInput.for_field(
            "username", username, "3–64 lower-case letters, digits, '.', '_' or '-'"
        )
    if not site_codes:
        raise InvalidInput.for_field("site", "", "at least one site code")
    site_ids: set[int] = set()
    for code in site_codes:
        site = uow.sites.by_code(code.strip().upper())
        if site is None:
            known = ", ".join(s.code for s in uow.sites.all()) or "none yet"
            raise NotFound(f"site: {code!r} does not exist (known: {known})", field="site")
        site_ids.add(site.id)
    if enforce_policy:
        check_password_policy(password)
    user = uow.users.add(
        username=username,
        display_name=display_name.strip() or username,
        role=role,
        site_ids=frozenset(site_ids),
        password_hash=passwords.hash(password),
        email=email,
    )
    record(uow, clock, actor, AuditAction.CREATE, "staff_user", resource_id=user.id)
    return user


def unlock_user(uow: UnitOfWork, clock: Clock, actor: Actor, username: str) -> StaffUser:
    """Lift a sign-in lockout before it runs out (after checking with the person that it was
    them): the failure count goes back to zero. Audited; the caller commits."""
    user = uow.users.by_username(username)
    if user is None:
        raise NotFound(f"username: no staff account named {username!r}", field="username")
    failures, locked_until = uow.users.login_state(user.id)
    unlock(uow, user.id)
    record(
        uow,
        clock,
        actor,
        AuditAction.UPDATE,
        "staff_user",
        resource_id=user.id,
        detail=f"sign-in unlocked (had {failures} failures"
        + (", locked)" if locked_until is not None else ")"),
    )
    return user
