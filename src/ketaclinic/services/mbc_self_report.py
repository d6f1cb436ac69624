"""Patient self-report by one-time link.

Staff ask a patient to answer one or more instruments: :func:`request_self_report` makes a link
``/r/{token}`` whose token is 256 random bits (``secrets.token_urlsafe``); only its SHA-256 is
stored, so a database copy cannot be turned into working links. A link expires (default 7 days)
and works once: :func:`submit_self_report` stores every answered instrument as a ``self_report``
response in one transaction with the link marked used, so a repeated or concurrent submission
stores nothing more. An unknown, altered, expired or used link is :class:`LinkNotUsable` and
changes nothing. Safety routing applies to self-reports as to staff entries.

Schedules ("before each infusion", "weekly for N weeks after a series") are computed from the
booked series by services/mbc_schedule.py; services/mbc_sweep.py calls :func:`request_self_report`
with each slot's ``due_at``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from ketaclinic.domain.audit import AuditAction
from ketaclinic.domain.errors import InvalidInput, NotFound
from ketaclinic.domain.people import CLINICAL_ROLES
from ketaclinic.locale import N_, format_date, gettext
from ketaclinic.services import mbc_safety
from ketaclinic.services.audit import SYSTEM, Actor, record, require_role
from ketaclinic.services.mbc import score_with_clinic_values, store_response
from ketaclinic.services.mbc_content import check_language, known_instrument, patient_instruments
from ketaclinic.services.mbc_model import (
    QuestionnaireResponse,
    ResponseSource,
    SafetyTask,
    SelfReportLink,
)
from ketaclinic.services.patients import load_visible
from ketaclinic.services.ports import Clock, Notifier, UnitOfWork

log = logging.getLogger("ketaclinic.mbc")

TOKEN_BYTES = 32
"""256 random bits per link (at least 128 are required)."""
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")
"""What ``secrets.token_urlsafe(32)`` produces; anything else is refused before any lookup."""
DEFAULT_TTL = dt.timedelta(days=7)
MIN_TTL = dt.timedelta(hours=1)
MAX_TTL = dt.timedelta(days=60)
MAX_INSTRUMENTS = 5


class LinkNotUsable(NotFound):
    """The link cannot be used; ``reason`` is ``invalid``, ``expired`` or ``used``.
    ``site_id`` is the issuing site of a genuine link (expired or used), so the page can give
    its phone number; ``None`` for a token that matches no link."""

    code = "link_not_usable"

    def __init__(self, reason: str, site_id: int | None = None) -> None:
        messages = {
            "invalid": "this questionnaire link is not valid",
            "expired": "this questionnaire link has expired",
            "used": "this questionnaire link has already been used",
        }
        super().__init__(messages[reason], field="token")
        self.reason = reason
        self.site_id = site_id


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedLink:
    """A new link and its token. The token exists only here: show or send it, never store it."""

    link: SelfReportLink
    token: str

    @property
    def path(self) -> str:
        return f"/r/{self.token}"


def request_self_report(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    patient_id: int,
    instrument_ids: Sequence[str],
    due_at: dt.datetime | None = None,
    *,
    ttl: dt.timedelta = DEFAULT_TTL,
    commit: bool = True,
) -> IssuedLink:
    """Make a one-time link asking the patient to answer ``instrument_ids`` (patient-completed
    instruments, 1–5 of them, no repeats), optionally by ``due_at``, expiring after ``ttl``
    (1 hour – 60 days). Clinical roles, or the system operator (CLI). Audited. With
    ``commit=False`` the caller commits (the scheduled sweep stores its claim of the slot in
    the same transaction).
    """
    if actor == SYSTEM:
        patient = uow.patients.get(patient_id)
        if patient is None:
            raise NotFound(f"patient {patient_id} not found")
        created_by = None
    else:
        principal = require_role(uow, clock, actor, "self_report_link", CLINICAL_ROLES)
        patient = load_visible(uow, clock, actor, patient_id, "self_report_link")
        created_by = principal.user_id
    instruments = _checked_instruments(instrument_ids)
    if not MIN_TTL <= ttl <= MAX_TTL:
        raise InvalidInput.for_field(
            "expires_in", str(ttl), f"between {MIN_TTL} and {MAX_TTL.days} days"
        )
    now = clock.now()
    if due_at is not None and due_at.tzinfo is None:
        raise InvalidInput.for_field("due_at", str(due_at), "a time with its UTC offset")
    if due_at is not None and due_at > now + ttl:
        expires = (now + ttl).astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        raise InvalidInput.for_field(
            "due_at",
            due_at.isoformat(timespec="minutes"),
            f"a time before the link expires ({expires}); choose a longer expiry",
        )
    token = secrets.token_urlsafe(TOKEN_BYTES)
    link = uow.self_report_links.add(
        patient_id=patient.id,
        site_id=patient.site_id,
        token_hash=token_hash(token),
        instrument_ids=instruments,
        created_by=created_by,
        created_at=now,
        expires_at=now + ttl,
        language=patient.preferred_language,
        due_at=due_at.astimezone(dt.UTC) if due_at is not None else None,
    )
    record(
        uow,
        clock,
        actor,
        AuditAction.CREATE,
        "self_report_link",
        site_id=patient.site_id,
        patient_id=patient.id,
        resource_id=link.id,
        detail=",".join(instruments),
    )
    if commit:
        uow.commit()
    return IssuedLink(link, token)


def _checked_instruments(instrument_ids: Sequence[str]) -> tuple[str, ...]:
    allowed = [i.id for i in patient_instruments()]
    if isinstance(instrument_ids, str) or not 1 <= len(instrument_ids) <= MAX_INSTRUMENTS:
        raise InvalidInput.for_field(
            "instruments", instrument_ids, f"1–{MAX_INSTRUMENTS} of {', '.join(allowed)}"
        )
    if len(set(instrument_ids)) != len(instrument_ids):
        raise InvalidInput.for_field("instruments", list(instrument_ids), "each instrument once")
    for instrument_id in instrument_ids:
        if instrument_id not in allowed:
            raise InvalidInput.for_field(
                "instruments",
                instrument_id,
                "an instrument the patient completes: " + ", ".join(allowed),
            )
    return tuple(instrument_ids)


MAIL_SUBJECT = N_("Your clinic asks you to answer a short questionnaire")
MAIL_BODY = N_(
    "Hello,\n\n%(org)s asks you to answer a short questionnaire.\n%(due)s"
    "Open this link on your phone or computer:\n\n%(url)s\n\n"
    "The link works once and expires on %(expires)s. If you did not expect this message, "
    "please contact the clinic.\n"
)
MAIL_DUE = N_("Please answer by %(date)s.\n")


def mail_link(
    uow: UnitOfWork, clock: Clock, notifier: Notifier, issued: IssuedLink, url: str
) -> bool:
    """E-mail the link to the patient in their language (the link's, taken from the patient's
    preferred language; text from the catalogues in ``ketaclinic/locale``, dates written as that
    language writes them, in the site's time zone). The message names the clinic and the link
    only (no instrument, no health data). Returns whether it was sent; a failure is logged and
    the link still works."""
    patient = uow.patients.get(issued.link.patient_id)
    if patient is None or not patient.email or not mbc_safety.delivers(notifier):
        return False
    lang = issued.link.language
    site = uow.sites.get(issued.link.site_id)
    zone = ZoneInfo(site.timezone if site is not None else "UTC")
    due = issued.link.due_at
    due_text = ""
    if due is not None:
        due_text = gettext(lang, MAIL_DUE) % {
            "date": format_date(due.astimezone(zone).date(), lang)
        }
    text = gettext(lang, MAIL_BODY) % {
        "org": uow.sites.organisation_name() or gettext(lang, N_("Your clinic")),
        "due": due_text,
        "url": url,
        "expires": format_date(issued.link.expires_at.astimezone(zone).date(), lang),
    }
    try:
        notifier.send(patient.email, gettext(lang, MAIL_SUBJECT), text)
    except Exception as error:  # any delivery failure: the link is shown to staff anyway
        log.error(
            "self-report link e-mail failed",
            extra={"patient_id": patient.id, "error_type": type(error).__name__},
        )
        return False
    uow.self_report_links.mark_mailed(issued.link.id, clock.now())
    uow.commit()
    return True


def usable_link(uow: UnitOfWork, clock: Clock, token: str) -> SelfReportLink:
    """The link behind ``token`` if it can still be answered, else :class:`LinkNotUsable`."""
    if not isinstance(token, str) or not TOKEN_PATTERN.match(token):
        raise LinkNotUsable("invalid")
    link = uow.self_report_links.by_token_hash(token_hash(token))
    if link is None:
        raise LinkNotUsable("invalid")
    if link.used_at is not None:
        raise LinkNotUsable("used", link.site_id)
    if clock.now() >= link.expires_at:
        raise LinkNotUsable("expired", link.site_id)
    return link


SelfReportAnswers = Mapping[str, Mapping[str, int | None]]
"""Answers by instrument id, then by item id (``None`` = not answered)."""


def answer_problems(link: SelfReportLink, answers: SelfReportAnswers) -> dict[str, str]:
    """Every missing or invalid answer, by item id (empty when all can be scored), so a form
    can show each problem next to its item."""
    problems: dict[str, str] = {}
    for instrument_id in link.instrument_ids:
        instrument = known_instrument(instrument_id)
        given = answers.get(instrument_id, {})
        for item in instrument.items:
            value = given.get(item.id)
            if value is None:
                problems[item.id] = "missing"
            elif not item.min_value <= value <= item.max_value:
                problems[item.id] = f"expected {item.min_value}–{item.max_value}"
    return problems


@dataclass(frozen=True, slots=True)
class Submitted:
    responses: list[QuestionnaireResponse]
    tasks: list[SafetyTask]


def submit_self_report(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    token: str,
    answers: SelfReportAnswers,
    *,
    language: str,
    notifier: Notifier,
) -> Submitted:
    """Store the patient's answers for every instrument of the link and use the link up.

    All instruments must be complete (:class:`InvalidInput` naming the first problem, nothing
    stored, the link still usable). An unusable link raises :class:`LinkNotUsable`. The actor
    is the public caller (no principal); the audit trail records their address.
    """
    link = usable_link(uow, clock, token)
    check_language(language)
    results = [
        score_with_clinic_values(uow, known_instrument(i), answers.get(i, {}))
        for i in link.instrument_ids
    ]
    patient = uow.patients.get(link.patient_id)
    if patient is None:  # a link outlives nothing: patients are never deleted
        raise LinkNotUsable("invalid")
    now = clock.now()
    if not uow.self_report_links.mark_used(link.id, now):
        raise LinkNotUsable("used", link.site_id)
    stored: list[QuestionnaireResponse] = []
    tasks: list[SafetyTask] = []
    for result in results:
        response = QuestionnaireResponse.scored(
            result,
            patient_id=patient.id,
            source=ResponseSource.SELF_REPORT,
            entered_by=None,
            completed_at=now,
            language=language,
            self_report_id=link.id,
        )
        saved, task = store_response(uow, clock, actor, patient, response, "self_report")
        stored.append(saved)
        if task is not None:
            tasks.append(task)
    uow.commit()
    for task in tasks:
        mbc_safety.notify(uow, clock, notifier, task)
    return Submitted(stored, tasks)
