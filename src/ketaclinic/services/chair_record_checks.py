"""Pre-infusion checks the chair reads from the patient's record instead of asking the nurse.

Three items of the checklist (``domain/session_lifecycle.py``) are facts stored by other
capabilities, so the chair derives them, shows what it found, and refuses the start while one
fails:

==========================  ===========================================  =====================
item                        passes when                                  a failure is
==========================  ===========================================  =====================
``consent_current``         the patient signed the consent version in    hard: no consent, no
                            force (intake, ``services/intake_consent``)  infusion
``eligibility_signed``      the latest intake's decision is signed       hard when excluded;
                            ``eligible`` by a prescriber                 otherwise soft
``safety_screen_reviewed``  no safety task of the patient is open        not overridable here:
                            (measurement-based care: a positive PHQ-9    a prescriber closes
                            item 9 or C-SSRS raises one the same day)    the task
==========================  ===========================================  =====================

*Hard*: nobody overrides it at the chair (no consent: REFERENCE.md §2, off-label consent
[cited: ASKP3]; an excluded patient: §2, "Block"). *Soft*: a prescriber may release it with a
reason (for example an intake kept on paper), the same override as a BP hold. An open safety
review is resolved where it lives: the prescriber closes the task with what was done (the
same-day suicide-risk assessment before dosing, REFERENCE.md §5 [unverified]); an override at the
chair would bypass that record *(design)*.

A prescriber's override releases the finding it was given for: the failed finding is stored
beside the override, and the override stops counting once the record says something else.

Nothing here commits or audits: the session page and the start record their own read or write
of the session, which these findings are part of.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ketaclinic.domain.eligibility import Action, Decision
from ketaclinic.domain.people import Patient, Site
from ketaclinic.domain.session_lifecycle import (
    Actor,
    CheckItem,
    CheckOutcome,
    CheckResult,
    PreInfusionChecklist,
)
from ketaclinic.services.intake_common import Clearance, clearance, to_local
from ketaclinic.services.mbc_model import QuestionnaireResponse, SafetyTask
from ketaclinic.services.mbc_safety import REASON_LABELS
from ketaclinic.services.ports import UnitOfWork

RECORD_ITEMS = (
    CheckItem.CONSENT_CURRENT,
    CheckItem.ELIGIBILITY_SIGNED,
    CheckItem.SAFETY_SCREEN_REVIEWED,
)
NOTE_MAX = 500  # a check's note, as domain/session_lifecycle.require_text bounds it
PHQ9 = "phq9"
PHQ9_ITEM9 = "phq9_09"


@dataclass(frozen=True, slots=True)
class RecordFinding:
    """What the record says about one checklist item.

    ``note`` says what was found (shown on the checklist, stored with the check); ``fix`` says
    where the record is put right when the item fails. ``hard`` failures have no override at
    the chair.
    """

    item: CheckItem
    passed: bool
    note: str
    hard: bool = False
    fix: str = ""

    @property
    def overridable(self) -> bool:
        return not self.passed and not self.hard

    def as_result(self, by: Actor, at: dt.datetime) -> CheckResult:
        """The finding as a checklist answer given by ``by`` at ``at``."""
        outcome = CheckOutcome.PASSED if self.passed else CheckOutcome.FAILED
        return CheckResult(self.item, outcome, by, at, self.note[:NOTE_MAX], hard=self.hard)

    def blocking_line(self) -> str:
        """Why the start is refused, in the words of ``PreInfusionChecklist.blocking``."""
        kind = " (no override)" if self.hard else ""
        fix = f" — {self.fix}" if self.fix else ""
        return f"{self.item.value}: failed{kind}: {self.note}{fix}"


def read_record(
    uow: UnitOfWork, patient: Patient, now: dt.datetime
) -> dict[CheckItem, RecordFinding]:
    """The findings of every record item for ``patient`` at ``now`` (no audit, no commit)."""
    site = uow.sites.get(patient.site_id)
    assert site is not None  # a patient's site always exists (foreign key)
    names = _Names(uow)
    status = clearance(uow, patient.id)
    return {
        CheckItem.CONSENT_CURRENT: _consent(uow, status, patient, site, names),
        CheckItem.ELIGIBILITY_SIGNED: _eligibility(status, site, names),
        CheckItem.SAFETY_SCREEN_REVIEWED: _safety(uow, patient, site, now, names),
    }


class _Names:
    """Staff usernames by id, looked up once each."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.known: dict[int, str] = {}

    def __call__(self, user_id: int | None) -> str:
        if user_id is None:
            return "—"
        if user_id not in self.known:
            user = self.uow.users.get(user_id)
            self.known[user_id] = user.username if user else f"user {user_id}"
        return self.known[user_id]


def _day(at: dt.datetime, site: Site) -> str:
    return to_local(at, site).date().isoformat()


def _time(at: dt.datetime, site: Site) -> str:
    return to_local(at, site).strftime("%H:%M")


def _consent(
    uow: UnitOfWork, status: Clearance, patient: Patient, site: Site, names: _Names
) -> RecordFinding:
    item = CheckItem.CONSENT_CURRENT
    current, consent = status.current_version, status.consent
    if current is None:
        return RecordFinding(
            item,
            False,
            "the clinic has no consent text yet",
            hard=True,
            fix="the clinic director writes one (Set-up → Consent texts)",
        )
    if consent is None:
        earlier = uow.intake.consents(patient.id)
        before = (
            f"; the patient signed version {earlier[0].version} on "
            f"{_day(earlier[0].signed_at, site)}"
            if earlier
            else "; the patient has signed no version"
        )
        return RecordFinding(
            item,
            False,
            f"no consent to version {current.version}, the version in force{before}",
            hard=True,
            fix="record the patient's consent (patient page → Consent)",
        )
    return RecordFinding(
        item,
        True,
        f"Consent v{consent.version} signed {_day(consent.signed_at, site)} "
        f"({consent.language}), witnessed by {names(consent.witness_id)}",
    )


def _eligibility(status: Clearance, site: Site, names: _Names) -> RecordFinding:
    item = CheckItem.ELIGIBILITY_SIGNED
    intake, signoff = status.intake, status.signoff
    sign_it = "a prescriber signs it (patient page → Eligibility)"
    if intake is None:
        return RecordFinding(item, False, "no intake recorded", fix="record the intake; " + sign_it)
    assessed = intake.record.assessment_date.isoformat()
    excluded = intake.decision is Decision.EXCLUDED or (
        signoff is not None and signoff.decision is Decision.EXCLUDED
    )
    if excluded:
        codes = ", ".join(r.code for r in intake.reasons if r.action == Action.EXCLUDE.value)
        return RecordFinding(
            item,
            False,
            f"intake of {assessed}: excluded" + (f" ({codes})" if codes else ""),
            hard=True,
            fix="an exclusion has no override",
        )
    if signoff is None:
        return RecordFinding(
            item,
            False,
            f"intake of {assessed} ({intake.decision.value.replace('_', ' ')}) is not signed "
            "by a prescriber",
            fix=sign_it,
        )
    signed = f"by {names(signoff.signed_by)} on {_day(signoff.signed_at, site)}"
    if signoff.decision is Decision.ELIGIBLE:
        override = (
            f" (override of needs review: {signoff.override_reason})" if signoff.overridden else ""
        )
        return RecordFinding(item, True, f"Intake of {assessed} signed eligible {signed}{override}")
    return RecordFinding(
        item,
        False,
        f"intake of {assessed} signed not cleared ({signoff.decision.value.replace('_', ' ')}) "
        f"{signed}",
        fix="a newer intake, signed eligible",
    )


def _safety(
    uow: UnitOfWork, patient: Patient, site: Site, now: dt.datetime, names: _Names
) -> RecordFinding:
    item = CheckItem.SAFETY_SCREEN_REVIEWED
    tasks = uow.safety_tasks.for_patient(patient.id)  # newest first
    still_open = [t for t in tasks if t.is_open]
    if still_open:
        task = still_open[0]
        overdue = ", overdue" if task.overdue(now) else ""
        more = f" (and {len(still_open) - 1} more)" if len(still_open) > 1 else ""
        return RecordFinding(
            item,
            False,
            f"open safety review: {REASON_LABELS.get(task.reason, task.reason)}, raised "
            f"{_day(task.raised_at, site)} {_time(task.raised_at, site)}{overdue}{more}",
            hard=True,
            fix="a prescriber closes the safety task with what was done (patient page)",
        )
    today = to_local(now, site).date()
    closed_today = [
        t for t in tasks if t.closed_at is not None and to_local(t.closed_at, site).date() == today
    ]
    screen = _phq9_today(uow.responses.for_patient(patient.id, [PHQ9]), site, today)
    parts = [screen]
    if closed_today:
        parts.append(_closed(closed_today[0], site, names))
    return RecordFinding(item, True, "no open safety review; " + "; ".join(parts))


def _closed(task: SafetyTask, site: Site, names: _Names) -> str:
    assert task.closed_at is not None
    return (
        f"today's review ({REASON_LABELS.get(task.reason, task.reason)}) closed "
        f"{_time(task.closed_at, site)} by {names(task.closed_by)}: {task.action}"
    )


def _phq9_today(responses: Sequence[QuestionnaireResponse], site: Site, today: dt.date) -> str:
    """Today's PHQ-9 item 9, or the latest one's date when there is none today."""
    if not responses:
        return "no PHQ-9 on record"
    latest = responses[-1]  # oldest first
    item9 = latest.answers.get(PHQ9_ITEM9)
    answer = f"item 9 = {item9}" if item9 is not None else "item 9 not answered"
    if to_local(latest.completed_at, site).date() == today:
        return f"today's PHQ-9 ({_time(latest.completed_at, site)}): {answer}"
    return f"no PHQ-9 today (latest {_day(latest.completed_at, site)}: {answer})"


# --- the checklist as it stands --------------------------------------------------------------


def override_holds(stored: PreInfusionChecklist, finding: RecordFinding) -> CheckResult | None:
    """The prescriber's override of ``finding``'s item, if one released this very finding.

    An override is stored right after the failed finding it released; it holds while it is
    the item's latest answer, the record still says the same (same note) and the failure is
    soft."""
    if not finding.overridable:
        return None
    mine = [r for r in stored.results if r.item is finding.item]
    if len(mine) < 2:
        return None
    before, latest = mine[-2], mine[-1]
    released = (
        latest.outcome is CheckOutcome.OVERRIDDEN
        and before.outcome is CheckOutcome.FAILED
        and before.note == finding.note[:NOTE_MAX]
    )
    return latest if released else None


def current_results(
    stored: PreInfusionChecklist,
    findings: Mapping[CheckItem, RecordFinding],
    by: Actor,
    at: dt.datetime,
) -> dict[CheckItem, CheckResult]:
    """The answer that counts now for each record item: a prescriber's override that still
    holds, else the finding itself (given by ``by`` at ``at``)."""
    current: dict[CheckItem, CheckResult] = {}
    for item, finding in findings.items():
        current[item] = override_holds(stored, finding) or finding.as_result(by, at)
    return current


def blocking(
    stored: PreInfusionChecklist, findings: Mapping[CheckItem, RecordFinding]
) -> list[str]:
    """Why the infusion may not start, one line per item, in checklist order: the record items
    from ``findings`` (unless an override holds), the others from the stored answers."""
    answered = stored.latest()
    lines: list[str] = []
    for item in CheckItem:
        finding = findings.get(item)
        if finding is not None:
            if not finding.passed and override_holds(stored, finding) is None:
                lines.append(finding.blocking_line())
            continue
        result = answered.get(item)
        if result is None:
            lines.append(f"{item.value}: not checked")
        elif not result.clears:
            hard = " (hard limit: no infusion today)" if result.hard else ""
            note = f": {result.note}" if result.note else ""
            lines.append(f"{item.value}: failed{hard}{note}")
    return lines
