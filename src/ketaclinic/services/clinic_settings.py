"""The clinic's values for the chair's alert rules and the outcome definitions (issues 3 and 6).

Like the drug library (services/dosing_library.py), the director approves a clinic value in
place of a shipped default, with a reason, effective today; a reset returns to the default.
Every change is audited (resource ``clinic_setting``). Clinical staff may read the settings.
The chair and measurement-based care read the effective values with :func:`clinic_alert_rules`
and :func:`clinic_outcome_definitions`: one query each, inside the caller's unit of work.
"""

from __future__ import annotations

from dataclasses import dataclass

from ketaclinic.domain.alerts import AlertRules
from ketaclinic.domain.audit import AuditAction
from ketaclinic.domain.clinic_settings import (
    CATALOGUE,
    Adjustable,
    ApprovedValue,
    SettingKind,
    adjustable,
    apply_alert_values,
    apply_cut_point_value,
    apply_eligibility_values,
    apply_outcome_values,
    check_alert_order,
    check_value,
    clinic_threshold,
    parse_kind,
)
from ketaclinic.domain.drug_library import MIN_REASON_CHARS
from ketaclinic.domain.eligibility import EligibilitySettings
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.outcomes import OutcomeDefinitions
from ketaclinic.domain.people import CLINICAL_ROLES, Role
from ketaclinic.domain.provenance import Threshold
from ketaclinic.services.audit import Actor, record, require_role
from ketaclinic.services.ports import Clock, UnitOfWork
from ketaclinic.services.settings_ports import ThresholdSetting

RESOURCE = "clinic_setting"
REASON_MAX = 500
DIRECTOR_ONLY = frozenset({Role.DIRECTOR})


@dataclass(frozen=True, slots=True)
class SettingRow:
    """One adjustable number as the settings page shows it."""

    item: Adjustable
    effective: Threshold
    current: ThresholdSetting | None  # the newest approval or reset, if any

    @property
    def overridden(self) -> bool:
        return self.current is not None and self.current.value is not None


@dataclass(frozen=True, slots=True)
class SettingsView:
    kind: SettingKind
    rows: tuple[SettingRow, ...]
    history: tuple[ThresholdSetting, ...]  # newest first
    notes: tuple[str, ...] = ()  # what the director should know about these values together


def _latest(history: list[ThresholdSetting]) -> dict[str, ThresholdSetting]:
    latest: dict[str, ThresholdSetting] = {}
    for setting in history:  # oldest first: the newest of each key wins
        latest[setting.key] = setting
    return latest


def _approved(history: list[ThresholdSetting]) -> dict[str, ApprovedValue]:
    return {
        key: ApprovedValue(key, s.value, s.approved_by_username, s.effective_from)
        for key, s in _latest(history).items()
    }


def clinic_alert_rules(uow: UnitOfWork) -> AlertRules:
    """The chair's clinical alert rules with the clinic's values (no health data; not audited)."""
    return apply_alert_values(_approved(uow.clinic_settings.history(SettingKind.ALERT.value)))


def clinic_outcome_definitions(uow: UnitOfWork) -> OutcomeDefinitions:
    """The outcome definitions with the clinic's values (no health data; not audited)."""
    return apply_outcome_values(_approved(uow.clinic_settings.history(SettingKind.OUTCOME.value)))


def clinic_pcl5_cut_point(uow: UnitOfWork) -> Threshold:
    """The PCL-5 scoring cut-point ("probable PTSD") with the clinic's value, if approved (no
    health data; not audited). Staff entry and self-reports score with it."""
    return apply_cut_point_value(_approved(uow.clinic_settings.history(SettingKind.OUTCOME.value)))


def clinic_eligibility_settings(uow: UnitOfWork) -> EligibilitySettings:
    """The eligibility engine's thresholds with the clinic's values (no health data; not
    audited). Intake evaluates every new record against these."""
    history = uow.clinic_settings.history(SettingKind.ELIGIBILITY.value)
    return apply_eligibility_values(_approved(history))


def settings_view(uow: UnitOfWork, clock: Clock, actor: Actor, kind: str) -> SettingsView:
    """Every adjustable number of ``kind`` with default, source and clinic value (clinical
    roles; the read is audited)."""
    chosen = parse_kind(kind)
    require_role(uow, clock, actor, RESOURCE, CLINICAL_ROLES)
    history = uow.clinic_settings.history(chosen.value)
    latest = _latest(history)
    approved = _approved(history)
    rows = tuple(
        SettingRow(
            item, clinic_threshold(item.default, approved.get(item.key)), latest.get(item.key)
        )
        for item in CATALOGUE[chosen]
    )
    notes = cut_point_notes(uow) if chosen in (SettingKind.ELIGIBILITY, SettingKind.OUTCOME) else ()
    record(uow, clock, actor, AuditAction.READ, RESOURCE, detail=chosen.value)
    uow.commit()
    return SettingsView(chosen, rows, tuple(reversed(history)), notes)


def cut_point_notes(uow: UnitOfWork) -> tuple[str, ...]:
    """A note when the two PCL-5 cut-points differ: intake's (eligibility ``pcl5_cut_point``)
    and scoring's "probable PTSD" mark (outcome ``pcl5.cut_point``). Both default to 33; a
    clinic may set them apart on purpose, but should see that it has."""
    intake = clinic_eligibility_settings(uow).pcl5_cut_point
    scoring = clinic_pcl5_cut_point(uow)
    if intake.value == scoring.value:
        return ()
    return (
        f"The PCL-5 cut-points differ: intake reviews the indication below {intake.value:g}"
        f" (Eligibility rules, {intake.key}), while scores are marked probable PTSD from"
        f" {scoring.value:g} (Outcome definitions, {scoring.key}). A patient can be marked"
        " probable PTSD and still be sent to review at intake, or the other way round; set both"
        " to the same value unless the difference is intended.",
    )


def set_value(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    *,
    kind: str,
    key: str,
    value: float | None,
    reason: str,
) -> ThresholdSetting:
    """Approve a clinic value for ``key`` (``value`` ``None``: reset to the default), director
    only, effective today. Raises :class:`InvalidInput` naming the field for an unknown kind or
    key, a value out of range, on the unsafe side or out of order with the other values of its
    kind, or a reason of the wrong length; nothing is stored then."""
    chosen = parse_kind(kind)
    principal = require_role(uow, clock, actor, RESOURCE, DIRECTOR_ONLY)
    item = adjustable(chosen, key)
    checked = None if value is None else check_value(item, value)
    if chosen in (SettingKind.ELIGIBILITY, SettingKind.ALERT):
        # The values must agree with each other (e.g. a hold limit below the exclusion or
        # no-infusion limit): check the whole set as it would be, before anything is stored.
        approved = _approved(uow.clinic_settings.history(chosen.value))
        today = clock.now().date()
        approved[item.key] = ApprovedValue(item.key, checked, principal.username, today)
        if chosen is SettingKind.ELIGIBILITY:
            apply_eligibility_values(approved)
        else:
            check_alert_order(approved, item.key)
    text = " ".join(reason.split())
    if not MIN_REASON_CHARS <= len(text) <= REASON_MAX:
        raise InvalidInput.for_field(
            "reason", reason, f"a reason of {MIN_REASON_CHARS}–{REASON_MAX} characters"
        )
    now = clock.now()
    stored = uow.clinic_settings.add(
        ThresholdSetting(
            kind=chosen.value,
            key=item.key,
            value=checked,
            unit=item.default.unit,
            reason=text,
            approved_by=principal.user_id,
            approved_by_username=principal.username,
            approved_at=now,
            effective_from=now.date(),
        )
    )
    shown = "default" if checked is None else f"{checked:g} {item.default.unit}"
    record(
        uow,
        clock,
        actor,
        AuditAction.UPDATE,
        RESOURCE,
        resource_id=stored.id,
        detail=f"{chosen.value}.{item.key} = {shown}",
    )
    uow.commit()
    return stored
