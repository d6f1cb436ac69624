"""Signing staff in: passwords, lockout, API bearer tokens.

Login failures never say whether the username exists (no user enumeration): unknown users,
wrong passwords and locked accounts all get the same answer, and an unknown user still costs one
password verification so timing does not tell either.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer

from ketaclinic.domain.audit import AuditAction, AuditOutcome
from ketaclinic.domain.errors import InvalidInput, NotAuthenticated
from ketaclinic.domain.people import Principal, StaffUser
from ketaclinic.services.audit import Actor, record
from ketaclinic.services.ports import Clock, UnitOfWork

LOGIN_REFUSED = (
    "username or password not accepted (accounts lock for a while after repeated failures)"
)
PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 256


def check_password_policy(password: str) -> None:
    """At least 12 characters, not all one character class of digits (NIST SP 800-63B style:
    length over composition rules)."""
    if not (PASSWORD_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH):
        raise InvalidInput.for_field(
            "password",
            f"<{len(password)} characters>",
            f"{PASSWORD_MIN_LENGTH}–{PASSWORD_MAX_LENGTH} characters",
        )
    if password.isdigit() or len(set(password)) < 4:
        raise InvalidInput.for_field(
            "password", "<hidden>", "a passphrase, not digits only or a repeated character"
        )


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    max_failures: int = 5
    lockout: dt.timedelta = dt.timedelta(minutes=15)


class Passwords:
    """argon2id hashing with parameters chosen by the composition root."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher()
        self._dummy = self.hasher.hash(secrets.token_hex(16))

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, stored_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def burn(self, password: str) -> None:
        """Spend one verification on nothing, so an unknown user costs as much as a known one."""
        self.verify(self._dummy, password)


def authenticate(
    uow: UnitOfWork,
    clock: Clock,
    passwords: Passwords,
    policy: LoginPolicy,
    username: str,
    password: str,
    client: str,
) -> StaffUser:
    """The staff member, if the credentials are right and the account is neither locked nor
    inactive. Commits the login-state change and its audit entry either way."""
    now = clock.now()
    plausible = len(username) <= 64 and username.isprintable()
    user = uow.users.by_username(username.strip().lower()) if plausible else None
    if user is None:
        passwords.burn(password)
        _refuse(uow, clock, client, None, "unknown user")
    assert user is not None
    failures, locked_until = uow.users.login_state(user.id)
    if locked_until is not None and locked_until > now:
        passwords.burn(password)
        _refuse(uow, clock, client, user, "locked")
    good = passwords.verify(uow.users.password_hash(user.id), password)
    if not good or not user.active:
        failures += 1
        lock = now + policy.lockout if failures >= policy.max_failures else None
        uow.users.set_login_state(user.id, 0 if lock else failures, lock)
        _refuse(uow, clock, client, user, "locked now" if lock else "wrong password")
    uow.users.set_login_state(user.id, 0, None)
    actor = Actor(principal_of(user), client)
    record(uow, clock, actor, AuditAction.LOGIN, "session", resource_id=user.id)
    uow.commit()
    return user


def _refuse(uow: UnitOfWork, clock: Clock, client: str, user: StaffUser | None, why: str) -> None:
    actor = Actor(principal_of(user) if user else None, client)
    record(
        uow,
        clock,
        actor,
        AuditAction.LOGIN_FAILED,
        "session",
        outcome=AuditOutcome.DENIED,
        resource_id=user.id if user else "",
        detail=why,
    )
    uow.commit()
    raise NotAuthenticated(LOGIN_REFUSED)


def unlock(uow: UnitOfWork, user_id: int) -> None:
    uow.users.set_login_state(user_id, 0, None)


def principal_of(user: StaffUser) -> Principal:
    return Principal(user.id, user.username, user.role, user.site_ids)


class Tokens:
    """Signed bearer tokens. The signature proves we issued it; the stored ``jti`` row lets us
    expire and revoke it."""

    def __init__(self, secret_key: str, max_age: dt.timedelta) -> None:
        self.serializer = URLSafeTimedSerializer(secret_key, salt="ketaclinic.api-token")
        self.max_age = max_age

    def issue(self, uow: UnitOfWork, clock: Clock, user: StaffUser) -> str:
        jti = secrets.token_urlsafe(24)
        now = clock.now()
        uow.users.add_token(jti, user.id, now, now + self.max_age)
        return self.serializer.dumps({"uid": user.id, "jti": jti})

    def principal(self, uow: UnitOfWork, clock: Clock, token: str) -> Principal:
        try:
            data = self.serializer.loads(token, max_age=int(self.max_age.total_seconds()))
        except BadSignature:
            raise NotAuthenticated("the bearer token is not valid or has expired") from None
        if not isinstance(data, dict) or not isinstance(data.get("jti"), str):
            raise NotAuthenticated("the bearer token is not valid")
        if not uow.users.token_valid(data["jti"], clock.now()):
            raise NotAuthenticated("the bearer token has expired or was revoked")
        user = uow.users.get(int(data["uid"]))
        if user is None or not user.active:
            raise NotAuthenticated("the bearer token's user no longer exists")
        return principal_of(user)

    def revoke(self, uow: UnitOfWork, clock: Clock, token: str) -> None:
        try:
            data = self.serializer.loads(token)
        except BadSignature:
            return
        if isinstance(data, dict) and isinstance(data.get("jti"), str):
            uow.users.revoke_token(data["jti"], clock.now())
