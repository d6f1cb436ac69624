"""Side effects, CADSS-6 scores and discharge assessments of the chair's SQL storage (part of
``SqlChairRepository``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ketaclinic.adapters.db import tables_chair as c
from ketaclinic.adapters.db.repositories import as_utc, utc
from ketaclinic.domain.discharge import AldreteScore, DischargeScale, PadssScore
from ketaclinic.domain.people import Role
from ketaclinic.domain.session_lifecycle import (
    Actor,
)
from ketaclinic.domain.side_effects import (
    Intervention,
    SeriousCriterion,
    Severity,
    SideEffectEntry,
    SideEffectKind,
)
from ketaclinic.services.chair_ports import (
    DissociationScore,
    StoredAssessment,
    StoredSideEffect,
    Timepoint,
)


def staff_actor(user_id: int, role: str) -> Actor:
    """A stored staff id and role as the domain's actor."""
    return Actor(user_id, Role(role))


class ChairRecordsStore:
    """Mixed into ``SqlChairRepository``; works on its connection."""

    conn: Connection

    def add_side_effect(
        self, session_id: int, entry: SideEffectEntry, recorded_at: dt.datetime
    ) -> StoredSideEffect:
        new_id = self.conn.execute(
            c.side_effect.insert()
            .values(
                session_id=session_id,
                kind=entry.kind.value,
                severity=entry.severity.value,
                onset_at=entry.onset_at,
                resolved_at=entry.resolved_at,
                interventions=",".join(sorted(i.value for i in entry.interventions)),
                serious_criteria=",".join(sorted(s.value for s in entry.serious_criteria)),
                other_text=entry.other_text,
                intervention_text=entry.intervention_text,
                recorded_by=entry.recorded_by.user_id,
                recorded_role=entry.recorded_by.role.value,
                recorded_at=recorded_at,
                flagged=entry.flagged_for_prescriber,
            )
            .returning(c.side_effect.c.id)
        ).scalar_one()
        return StoredSideEffect(new_id, session_id, entry, recorded_at)

    def get_side_effect(self, effect_id: int) -> StoredSideEffect | None:
        row = self.conn.execute(
            sa.select(c.side_effect).where(c.side_effect.c.id == effect_id)
        ).first()
        return _side_effect(row) if row else None

    def side_effects(self, session_id: int) -> list[StoredSideEffect]:
        return self.side_effects_of([session_id]).get(session_id, [])

    def side_effects_of(self, session_ids: Collection[int]) -> dict[int, list[StoredSideEffect]]:
        if not session_ids:
            return {}
        rows = self.conn.execute(
            sa.select(c.side_effect)
            .where(c.side_effect.c.session_id.in_(sorted(set(session_ids))))
            .order_by(c.side_effect.c.onset_at, c.side_effect.c.id)
        )
        found: dict[int, list[StoredSideEffect]] = {}
        for r in rows:
            found.setdefault(r.session_id, []).append(_side_effect(r))
        return found

    def review_side_effect(self, effect_id: int, by_user_id: int, at: dt.datetime) -> None:
        self.conn.execute(
            c.side_effect.update()
            .where(c.side_effect.c.id == effect_id)
            .values(reviewed_by=by_user_id, reviewed_at=at)
        )

    def add_dissociation(self, score: DissociationScore) -> DissociationScore:
        items = dict(zip(_CADSS_COLUMNS, score.items, strict=True))
        new_id = self.conn.execute(
            c.dissociation_score.insert()
            .values(
                session_id=score.session_id,
                timepoint=score.timepoint.value,
                total=score.total,
                scored_by=score.scored_by.user_id,
                scored_role=score.scored_by.role.value,
                scored_at=score.scored_at,
                **items,
            )
            .returning(c.dissociation_score.c.id)
        ).scalar_one()
        return DissociationScore(
            score.session_id,
            score.timepoint,
            score.items,
            score.total,
            score.scored_by,
            score.scored_at,
            new_id,
        )

    def dissociation_scores(self, session_id: int) -> list[DissociationScore]:
        rows = self.conn.execute(
            sa.select(c.dissociation_score)
            .where(c.dissociation_score.c.session_id == session_id)
            .order_by(c.dissociation_score.c.scored_at, c.dissociation_score.c.id)
        )
        return [
            DissociationScore(
                r.session_id,
                Timepoint(r.timepoint),
                tuple(getattr(r, name) for name in _CADSS_COLUMNS),
                r.total,
                staff_actor(r.scored_by, r.scored_role),
                utc(r.scored_at),
                r.id,
            )
            for r in rows
        ]

    def add_assessment(self, assessment: StoredAssessment) -> StoredAssessment:
        a, p = assessment.aldrete, assessment.padss
        new_id = self.conn.execute(
            c.discharge_assessment.insert()
            .values(
                session_id=assessment.session_id,
                assessed_at=assessment.assessed_at,
                assessed_by=assessment.assessed_by.user_id,
                assessed_role=assessment.assessed_by.role.value,
                scale=assessment.scale.value,
                aldrete_activity=a.activity if a else None,
                aldrete_respiration=a.respiration if a else None,
                aldrete_circulation=a.circulation if a else None,
                aldrete_consciousness=a.consciousness if a else None,
                aldrete_spo2=a.spo2 if a else None,
                padss_vital_signs=p.vital_signs if p else None,
                padss_activity_mental_status=p.activity_mental_status if p else None,
                padss_pain_nausea_vomiting=p.pain_nausea_vomiting if p else None,
                padss_intake_output=p.intake_output if p else None,
                padss_surgical_bleeding=p.surgical_bleeding if p else None,
                escort_confirmed=assessment.escort_confirmed,
                mental_status_attested=assessment.mental_status_attested,
                dissociation_attested=assessment.dissociation_attested,
                ready=assessment.ready,
                unmet="\n".join(assessment.unmet)[:2000],
            )
            .returning(c.discharge_assessment.c.id)
        ).scalar_one()
        return StoredAssessment(
            session_id=assessment.session_id,
            assessed_at=assessment.assessed_at,
            assessed_by=assessment.assessed_by,
            scale=assessment.scale,
            aldrete=assessment.aldrete,
            padss=assessment.padss,
            escort_confirmed=assessment.escort_confirmed,
            mental_status_attested=assessment.mental_status_attested,
            dissociation_attested=assessment.dissociation_attested,
            ready=assessment.ready,
            unmet=assessment.unmet,
            id=new_id,
        )

    def assessments(self, session_id: int) -> list[StoredAssessment]:
        rows = self.conn.execute(
            sa.select(c.discharge_assessment)
            .where(c.discharge_assessment.c.session_id == session_id)
            .order_by(c.discharge_assessment.c.assessed_at, c.discharge_assessment.c.id)
        )
        return [_assessment(r) for r in rows]

    # live updates --------------------------------------------------------------------------


_CADSS_COLUMNS = ("cadss_01", "cadss_02", "cadss_06", "cadss_07", "cadss_15", "cadss_22")


def _side_effect(r: Any) -> StoredSideEffect:
    entry = SideEffectEntry(
        kind=SideEffectKind(r.kind),
        severity=Severity(r.severity),
        onset_at=utc(r.onset_at),
        recorded_by=staff_actor(r.recorded_by, r.recorded_role),
        interventions=frozenset(Intervention(i) for i in r.interventions.split(",") if i),
        serious_criteria=frozenset(SeriousCriterion(s) for s in r.serious_criteria.split(",") if s),
        other_text=r.other_text,
        intervention_text=r.intervention_text,
        resolved_at=as_utc(r.resolved_at),
    )
    return StoredSideEffect(
        r.id, r.session_id, entry, utc(r.recorded_at), r.reviewed_by, as_utc(r.reviewed_at)
    )


def _assessment(r: Any) -> StoredAssessment:
    aldrete = None
    if r.aldrete_activity is not None:
        aldrete = AldreteScore(
            r.aldrete_activity,
            r.aldrete_respiration,
            r.aldrete_circulation,
            r.aldrete_consciousness,
            r.aldrete_spo2,
        )
    padss = None
    if r.padss_vital_signs is not None:
        padss = PadssScore(
            r.padss_vital_signs,
            r.padss_activity_mental_status,
            r.padss_pain_nausea_vomiting,
            r.padss_intake_output,
            r.padss_surgical_bleeding,
        )
    return StoredAssessment(
        session_id=r.session_id,
        assessed_at=utc(r.assessed_at),
        assessed_by=staff_actor(r.assessed_by, r.assessed_role),
        scale=DischargeScale(r.scale),
        aldrete=aldrete,
        padss=padss,
        escort_confirmed=bool(r.escort_confirmed),
        mental_status_attested=bool(r.mental_status_attested),
        dissociation_attested=bool(r.dissociation_attested),
        ready=bool(r.ready),
        unmet=tuple(line for line in r.unmet.split("\n") if line),
        id=r.id,
    )
