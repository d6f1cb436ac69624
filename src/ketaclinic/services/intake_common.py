"""What the intake use cases share: who may do what, site-local time, the protocol catalog, and
a patient's clearance for treatment (signed eligibility, current consent, signed plan).

:func:`clearance` is also the seam for the infusion chair's pre-infusion checklist: it reads,
it does not audit (the caller records its own read).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ketaclinic.domain.eligibility import Decision
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.people import Role, Site
from ketaclinic.domain.protocols import Protocol, protocol_catalog
from ketaclinic.services.intake_models import (
    ConsentVersion,
    EligibilitySignoff,
    PatientConsent,
    StoredIntake,
    TreatmentPlan,
)
from ketaclinic.services.ports import Clock, UnitOfWork

# Who does what (DESIGN.md §1): the front desk handles leads and scheduling and sees no clinical
# detail; clinicians record intakes and consent; only a prescriber signs eligibility and plans.
LEAD_ROLES = frozenset({Role.FRONT_DESK, Role.DIRECTOR})
CLINICAL = frozenset({Role.NURSE, Role.PRESCRIBER, Role.DIRECTOR})
PRESCRIBER = frozenset({Role.PRESCRIBER})
DIRECTOR = frozenset({Role.DIRECTOR})
SCHEDULING = frozenset(Role)


# --- site-local time ------------------------------------------------------------------------


def zone(site: Site) -> ZoneInfo:
    try:
        return ZoneInfo(site.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput.for_field("timezone", site.timezone, "an IANA time zone") from None


def local_now(clock: Clock, site: Site) -> dt.datetime:
    """The site's wall-clock time now, as a naive datetime (the scheduling core's time)."""
    return clock.now().astimezone(zone(site)).replace(tzinfo=None)


def local_today(clock: Clock, site: Site) -> dt.date:
    return local_now(clock, site).date()


def to_utc(local: dt.datetime, site: Site) -> dt.datetime:
    """A naive site-local time as an aware UTC time."""
    return local.replace(tzinfo=zone(site)).astimezone(dt.UTC)


def to_local(moment: dt.datetime, site: Site) -> dt.datetime:
    """An aware time as naive site-local time."""
    return moment.astimezone(zone(site)).replace(tzinfo=None)


# --- protocols ------------------------------------------------------------------------------


def catalog(uow: UnitOfWork) -> dict[str, Protocol]:
    """The built-in protocols and the clinic's own, by id."""
    return protocol_catalog(uow.schedule.protocols())


# --- clearance ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Clearance:
    """Whether a patient may be booked for a series, and what is missing if not.

    ``intake`` is the latest intake and ``signoff`` its signature; ``current_version`` the
    consent version in force and ``consent`` the patient's signature on it; ``plan`` the latest
    signed treatment plan.
    """

    intake: StoredIntake | None
    signoff: EligibilitySignoff | None
    current_version: ConsentVersion | None
    consent: PatientConsent | None
    plan: TreatmentPlan | None

    @property
    def eligibility_signed(self) -> bool:
        """The latest intake is signed ``eligible`` by a prescriber."""
        return self.signoff is not None and self.signoff.decision is Decision.ELIGIBLE

    @property
    def consent_current(self) -> bool:
        return self.consent is not None

    def problems(self) -> list[str]:
        """Why the patient cannot be booked yet, in words for staff (no clinical detail)."""
        found: list[str] = []
        if self.intake is None:
            found.append("no intake has been recorded")
        elif self.signoff is None:
            found.append("the eligibility decision is not signed by a prescriber")
        elif not self.eligibility_signed:
            found.append("the signed eligibility decision does not clear the patient")
        if self.current_version is None:
            found.append("the clinic has no consent text yet")
        elif self.consent is None:
            found.append(f"consent version {self.current_version.version} is not signed")
        if self.plan is None:
            found.append("no treatment plan is signed")
        return found


def clearance(uow: UnitOfWork, patient_id: int) -> Clearance:
    """The patient's clearance as stored now (no audit entry; the caller records its read)."""
    intakes = uow.intake.intakes(patient_id)
    intake = intakes[0] if intakes else None
    signoff = uow.intake.signoff(intake.id) if intake is not None else None
    versions = uow.intake.consent_versions()
    current = versions[0] if versions else None
    consent = None
    if current is not None:
        consent = next(
            (c for c in uow.intake.consents(patient_id) if c.version_id == current.id), None
        )
    plans = uow.schedule.plans(patient_id)
    return Clearance(intake, signoff, current, consent, plans[0] if plans else None)
