"""Organisation set-up: sites, chairs and staff accounts (the director's and the CLI's work)."""

from __future__ import annotations

import datetime as dt

from ketaclinic.domain.audit import AuditAction
from ketaclinic.domain.errors import Conflict, InvalidInput, NotFound
from ketaclinic.domain.people import (
    SITE_CODE_PATTERN,
    USERNAME_PATTERN,
    Chair,
    Role,
    Site,
    StaffUser,
    check_site_phone,
)
from ketaclinic.services.audit import Actor, deny, record, require_role
from ketaclinic.services.auth import Passwords, check_password_policy, unlock
from ketaclinic.services.ports import Clock, UnitOfWork

# Far enough ahead to hold every booked visit when looking for a chair's future ones.
FAR_FUTURE = dt.datetime(9000, 1, 1, tzinfo=dt.UTC)


def add_site(
    uow: UnitOfWork, code: str, name: str, timezone: str = "America/New_York", phone: str = ""
) -> Site:
    if not SITE_CODE_PATTERN.match(code):
        raise InvalidInput.for_field("site", code, "2–10 capital letters or digits, e.g. MIA")
    if not name.strip() or len(name) > 200:
        raise InvalidInput.for_field("name", name, "1–200 characters")
    return uow.sites.add(code, name.strip(), timezone, check_site_phone(phone))


def set_site_phone(uow: UnitOfWork, clock: Clock, actor: Actor, site_id: int, phone: str) -> Site:
    """Set (``""``: clear) the number patients of a site call, as their discharge instructions
    and appointment e-mails give it (the site's director, or the command line); audited, the
    caller commits."""
    site = _site_in_charge(uow, clock, actor, site_id, "site")
    number = check_site_phone(phone)
    changed = uow.sites.set_phone(site.id, number)
    record(
        uow,
        clock,
        actor,
        AuditAction.UPDATE,
        "site",
        site_id=site.id,
        resource_id=site.id,
        detail=f"site {site.code} phone {'set' if number else 'cleared'}",
    )
    return changed


def add_chair(uow: UnitOfWork, site: Site, code: str, name: str) -> Chair:
    if not code.strip() or len(code) > 20:
        raise InvalidInput.for_field("chair", code, "1–20 characters, e.g. MIA-1")
    if len(name) > 100:
        raise InvalidInput.for_field("name", name[:40] + "…", "at most 100 characters")
    return uow.sites.add_chair(site.id, code.strip(), name.strip() or code.strip())


def _site_in_charge(
    uow: UnitOfWork, clock: Clock, actor: Actor, site_id: int, resource: str
) -> Site:
    """The site, if the actor runs it: a director assigned to it, or the command line (the
    clinic's IT person on the server). Anyone else gets a recorded refusal (404 for a site not
    theirs, so other sites' set-up is not disclosed)."""
    site = uow.sites.get(site_id)
    if actor.principal is not None:
        principal = require_role(uow, clock, actor, resource, {Role.DIRECTOR})
        if site is not None and not principal.can_see_site(site.id):
            site = None
    if site is None:
        raise deny(uow, clock, actor, resource, NotFound(f"site {site_id} not found", field="site"))
    return site


def add_site_chair(
    uow: UnitOfWork, clock: Clock, actor: Actor, site_id: int, code: str, name: str
) -> Chair:
    """Put a new chair into service at a site (its director, or the command line); audited.
    The code is unique across the organisation (it names the chair to monitors, PV1-3)."""
    site = _site_in_charge(uow, clock, actor, site_id, "chair")
    chair = add_chair(uow, site, code.strip().upper(), name)
    record(
        uow,
        clock,
        actor,
        AuditAction.CREATE,
        "chair",
        site_id=site.id,
        resource_id=chair.id,
        detail=f"chair {chair.code} put into service",
    )
    return chair


def find_site_chair(uow: UnitOfWork, chair_code: str) -> Chair | None:
    """The chair with this code, in service or retired, at any site."""
    code = chair_code.strip().upper()
    for site in uow.sites.all():
        for chair in uow.sites.chairs(site.id, retired=True):
            if chair.code.upper() == code:
                return chair
    return None


def retire_chair(uow: UnitOfWork, clock: Clock, actor: Actor, chair: Chair) -> Chair:
    """Take a chair out of service: it is offered for no new visit or session, while the
    visits and sessions it held keep naming it. Refused (Conflict) while a session is open on
    it or a visit is booked on it from now on — those are moved or finished first, never
    silently dropped. Audited; the caller commits."""
    site = _site_in_charge(uow, clock, actor, chair.site_id, "chair")
    if not chair.in_service:
        raise Conflict(f"chair: {chair.code} is already retired", field="chair")
    now = clock.now()
    session = uow.chair.open_session_for_chair(chair.id)
    if session is not None:
        raise Conflict(
            f"chair: {chair.code} has session {session.id} in progress; finish it first",
            field="chair",
        )
    booked = uow.schedule.visits_between(site.id, now, FAR_FUTURE)  # those not over yet
    ahead = [v for v in booked if v.chair_id == chair.id]
    if ahead:
        first = min(ahead, key=lambda v: v.starts_at)
        raise Conflict(
            f"chair: {chair.code} has {len(ahead)} visit(s) booked from "
            f"{first.local_day.isoformat()} on; move them to another chair first",
            field="chair",
        )
    retired = uow.sites.retire_chair(chair.id, now)
    record(
        uow,
        clock,
        actor,
        AuditAction.UPDATE,
        "chair",
        site_id=site.id,
        resource_id=chair.id,
        detail=f"chair {chair.code} retired",
    )
    return retired


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
