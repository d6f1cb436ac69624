"""The session record as a PDF (``/sessions/{id}/record.pdf``): the printable record's content
— timeline, checklist, administration record, vital signs with their chart, alerts and their
escalations, side effects, CADSS-6 scores, discharge — written as a document for
``adapters/pdf/document.py`` to lay out.

Same words and figures as ``chair/record.html``; times in the site's zone. The read is audited
by ``chair_views.session_detail`` (purpose ``record.pdf``).
"""

from __future__ import annotations

from collections.abc import Sequence

from ketaclinic.adapters.pdf.document import Document, Picture, Section, Table, Text, render_pdf
from ketaclinic.adapters.plots.chair_vitals import ThresholdLine, render_vitals_chart
from ketaclinic.domain.administration import (
    Bolus,
    Correction,
    Event,
    Pause,
    RateChange,
    StartInfusion,
    Stop,
)
from ketaclinic.domain.vitals import VitalKind
from ketaclinic.services.chair_ports import CADSS6_ITEMS
from ketaclinic.services.chair_views import SessionDetail
from ketaclinic.web.pages.chair_board import STATE_LABELS
from ketaclinic.web.pages.chair_support import Fmt, notice_text
from ketaclinic.web.pages.chair_view import RecordRow, record_rows
from ketaclinic.web.templating import zone

MONITOR_NOTE = (
    "Readings from bedside monitors are a secondary aid; the nurse's measurements are the record."
)


def _words(value: str) -> str:
    return value.replace("_", " ")


def event_text(event: Event, fmt: Fmt) -> str:
    """One administration event's values, as the printed record shows them."""
    if isinstance(event, StartInfusion):
        return (
            f"{fmt.num(event.dose_mg, 2)} mg in {fmt.num(event.volume_ml)} mL "
            f"({fmt.num(event.concentration_mg_per_ml, 4)} mg/mL) at "
            f"{fmt.num(event.rate_ml_per_h)} mL/h · lot {event.lot_number} · pump {event.pump_id}"
        )
    if isinstance(event, RateChange):
        return f"to {fmt.num(event.rate_ml_per_h)} mL/h"
    if isinstance(event, Bolus):
        return f"{fmt.num(event.dose_mg, 2)} mg"
    if isinstance(event, (Pause, Stop)) and event.reason:
        return f"— {event.reason}"
    return ""


def _who(d: SessionDetail, user_id: int | None) -> str:
    return d.staff.get(user_id, "") if user_id is not None else ""


def _timeline(d: SessionDetail, fmt: Fmt) -> Section:
    row = d.row
    rows = [(fmt.datetime(row.checked_in_at), "checked in", _who(d, row.checked_in_by), "")]
    for r in d.timeline.records:
        reason = r.reason + (f" Override: {r.override_reason}" if r.override_reason else "")
        rows.append(
            (
                fmt.datetime(r.at),
                f"{_words(r.transition.value)} → {_words(r.to_state.value)}",
                f"{_who(d, r.by.user_id)} ({r.by.role.value})",
                reason.strip(),
            )
        )
    return Section(
        "Timeline", (Table(("Time", "Step", "By", "Reason"), tuple(rows), (2, 3, 2, 4)),)
    )


def _checklist(d: SessionDetail, fmt: Fmt) -> Section:
    rows = tuple(
        (
            fmt.time(r.at),
            r.item.label,
            r.outcome.value + (" (hard)" if r.hard else ""),
            r.note,
            _who(d, r.by.user_id),
        )
        for r in d.checklist.results
    )
    b = d.row.baseline
    baseline = (
        f"Baseline: BP {fmt.num(b.systolic_mmhg, 0)}/{fmt.num(b.diastolic_mmhg, 0)} mmHg, "
        f"HR {fmt.num(b.heart_rate_per_min, 0)}/min, SpO2 {fmt.num(b.spo2_percent, 0)} % "
        f"at {fmt.time(b.at)}"
        if b
        else "Baseline: —"
    )
    escort = f"Escort: {d.row.escort_name or '—'} {d.row.escort_phone}".rstrip()
    return Section(
        "Pre-infusion checklist",
        (
            Table(
                ("Time", "Item", "Answer", "Note", "By"),
                rows,
                (1, 4, 2, 3, 2),
                empty="No checks recorded.",
            ),
            Text(f"{baseline} · {escort}", "small"),
        ),
    )


def _administration(d: SessionDetail, fmt: Fmt) -> Section:
    rows: list[tuple[str, ...]] = []
    for stored in d.mar_entries:
        entry = stored.entry
        event = entry.event
        if isinstance(event, Correction):
            what = f"correction of #{event.corrects_id}: " + (
                "entered in error"
                if event.replacement is None
                else event_text(event.replacement, fmt)
            )
            if event.corrected_at:
                what += f" · time → {fmt.time(event.corrected_at)}"
            what += f" — {event.reason}"
        else:
            what = f"{_words(event.kind.value)} {event_text(event, fmt)}".strip()
            check = stored.check
            if check and check.override_reason:
                what += (
                    f" · soft-limit override: {check.override_reason} "
                    f"(confirmed by {_who(d, check.override_confirmed_by)})"
                )
        rows.append(
            (
                str(entry.id),
                fmt.time(entry.at),
                what,
                _who(d, entry.by.user_id),
                fmt.time(stored.recorded_at),
            )
        )
    return Section(
        "Administration record",
        (
            Text(
                f"{fmt.num(d.delivered_mg, 2)} mg delivered ({fmt.num(d.delivered_ml)} mL).",
                "strong",
            ),
            Table(
                ("#", "Time", "Entry", "By", "Charted"),
                tuple(rows),
                (0.6, 1.2, 7, 2, 1.3),
                empty="Nothing charted.",
            ),
        ),
    )


def _value(values: dict[VitalKind, float], kind: VitalKind, fmt: Fmt, digits: int = 0) -> str:
    return fmt.num(values[kind], digits) if kind in values else ""


def _vitals(
    d: SessionDetail,
    fmt: Fmt,
    chart_png: bytes,
    rows: Sequence[RecordRow],
    left_out: int,
) -> Section:
    table_rows: list[tuple[str, ...]] = []
    set_aside: set[int] = set()
    for i, r in enumerate(rows):
        v = r.values
        bp = ""
        if VitalKind.BP_SYSTOLIC in v:
            systolic = fmt.num(v[VitalKind.BP_SYSTOLIC], 0)
            bp = f"{systolic}/{fmt.num(v.get(VitalKind.BP_DIASTOLIC), 0)}"
        source = ", ".join(sorted(r.sources)) + (" · set aside" if r.set_aside else "")
        if r.set_aside:
            set_aside.add(i)
        table_rows.append(
            (
                fmt.time(r.at),
                bp,
                _value(v, VitalKind.HEART_RATE, fmt),
                _value(v, VitalKind.SPO2, fmt),
                _value(v, VitalKind.RESPIRATORY_RATE, fmt),
                _value(v, VitalKind.TEMPERATURE, fmt, 1),
                source,
            )
        )
    blocks: list[Text | Table | Picture] = [
        Picture(chart_png, 180, "Chart of the session's vital signs"),
        Table(
            ("Time", "BP (mmHg)", "HR", "SpO2", "RR", "Temp", "From"),
            tuple(table_rows),
            (1.2, 1.6, 1, 1, 1, 1, 3),
            empty="No readings.",
            highlight=frozenset(set_aside),
        ),
    ]
    if left_out:
        blocks.append(
            Text(
                f"{left_out} monitor-only measurements are not printed (one every 5 minutes "
                "is); every reading is kept and available through the API.",
                "small",
            )
        )
    blocks.append(Text(MONITOR_NOTE, "small"))
    return Section("Vital signs", tuple(blocks), new_page=True)


def _alerts(d: SessionDetail, fmt: Fmt) -> Section:
    rows: list[tuple[str, ...]] = []
    for stored in d.alerts:
        a = stored.alert
        times = f", ×{a.occurrences}" if a.occurrences > 1 else ""
        level = f"; escalated to level {a.escalation_level}" if a.escalation_level else ""
        acknowledged = ""
        if a.acknowledged_at and a.acknowledged_by:
            acknowledged = (
                f"{fmt.time(a.acknowledged_at)} {_who(d, a.acknowledged_by.user_id)}: "
                f"{a.action_taken}"
            )
        resolved = f"{fmt.time(a.resolved_at)} {a.resolution_note}".strip() if a.resolved_at else ""
        rows.append(
            (
                fmt.time(a.raised_at),
                f"{a.first.label} ({a.tier.value}{times}{level})",
                f"{fmt.num(a.first.value)} → {fmt.num(a.latest.value)} {a.first.unit} "
                f"{a.first.comparison.value} {fmt.num(a.first.threshold.value)}",
                a.first.source.label(),
                acknowledged,
                resolved,
            )
        )
    labels = {s.id: s.alert.first.label for s in d.alerts}
    escalations = tuple(
        (
            fmt.time(n.escalated_at),
            f"{labels.get(n.alert_id, f'alert {n.alert_id}')} (alert {n.alert_id})",
            str(n.level),
            notice_text(n),
        )
        for n in d.escalations
    )
    blocks: list[Text | Table | Picture] = [
        Table(
            ("Raised", "Alert", "Value / threshold", "Source", "Acknowledged", "Resolved"),
            tuple(rows),
            (1, 3, 2.4, 3, 3, 2),
            empty="No alerts.",
        )
    ]
    if escalations:
        blocks += [
            Text("Escalations of unacknowledged alerts", "strong"),
            Table(("Time", "Alert", "Level", "Notification"), escalations, (1, 4, 0.8, 4)),
        ]
    return Section("Alerts", tuple(blocks))


def _side_effects(d: SessionDetail, fmt: Fmt) -> Section:
    rows: list[tuple[str, ...]] = []
    for s in d.side_effects:
        e = s.entry
        kind = _words(e.kind.value) + (f" ({e.other_text})" if e.other_text else "")
        severity = e.severity.value
        if e.serious_criteria:
            severity += "; serious: " + ", ".join(sorted(c.value for c in e.serious_criteria))
        interventions = ", ".join(sorted(i.value for i in e.interventions))
        if e.intervention_text:
            interventions += f" ({e.intervention_text})"
        prescriber = ""
        if e.flagged_for_prescriber:
            prescriber = "flagged" + (
                f", reviewed {fmt.time(s.reviewed_at)}" if s.reviewed_at else ""
            )
        rows.append(
            (
                fmt.time(e.onset_at),
                kind,
                severity,
                interventions,
                fmt.time(e.resolved_at),
                prescriber,
            )
        )
    return Section(
        "Side effects",
        (
            Table(
                ("Onset", "Kind", "Severity", "Interventions", "Resolved", "Prescriber"),
                tuple(rows),
                (1, 2.4, 2.4, 2.6, 1, 1.6),
                empty="None charted.",
            ),
        ),
    )


def _scores(d: SessionDetail, fmt: Fmt) -> Section:
    rows = tuple(
        (
            f"{s.timepoint.label} {fmt.time(s.scored_at)}",
            *(str(v) for v in s.items),
            f"{s.total}/24",
            _who(d, s.scored_by.user_id),
        )
        for s in d.dissociation
    )
    headers = ("When", *(f"Item {n}" for n in CADSS6_ITEMS), "Total", "By")
    widths = (2.6, *(0.8 for _ in CADSS6_ITEMS), 1, 1.8)
    return Section("CADSS-6", (Table(headers, rows, widths, empty="Not scored."),))


def _discharge(d: SessionDetail, fmt: Fmt) -> Section:
    blocks: list[Text | Table | Picture] = []
    for a in d.assessments:
        scores = []
        if a.aldrete:
            scores.append(f"Modified Aldrete {a.aldrete.total}")
        if a.padss:
            scores.append(f"PADSS {a.padss.total}")
        line = (
            f"{fmt.time(a.assessed_at)} · {_who(d, a.assessed_by.user_id)} · "
            f"{' · '.join(scores) or 'no score'} · escort "
            f"{'yes' if a.escort_confirmed else 'no'} · {'ready' if a.ready else 'not ready'}"
        )
        blocks.append(Text(line))
        blocks += [Text(f"— {u}", "small") for u in a.unmet]
    if not d.assessments:
        blocks.append(Text("No discharge assessment.", "small"))
    for r in d.timeline.records:
        if r.transition.value == "discharge":
            override = (
                f" with a prescriber's override: {r.override_reason}" if r.override_reason else ""
            )
            blocks.append(
                Text(
                    f"Discharged {fmt.datetime(r.at)} by {_who(d, r.by.user_id)}{override}.",
                    "strong",
                )
            )
    return Section("Discharge", tuple(blocks))


def record_document(
    d: SessionDetail,
    chart_png: bytes,
    rows: Sequence[RecordRow],
    left_out: int,
) -> Document:
    """What the PDF says, section by section."""
    fmt = Fmt(zone(d.site.timezone), d.now)
    row = d.row
    header = (
        f"{d.patient.display_name} · MRN {d.patient.mrn} · born "
        f"{d.patient.birth_date.strftime('%d %b %Y')}",
        f"{d.site.name} ({d.site.code}) · chair {d.chair.code} · protocol {row.protocol_id} · "
        f"session {row.id} · {STATE_LABELS.get(row.state, row.state.value)}",
        f"Times are {d.site.timezone}. Printed {fmt.datetime(d.now)}.",
    )
    return Document(
        title="Infusion session record",
        header=header,
        sections=(
            _timeline(d, fmt),
            _checklist(d, fmt),
            _administration(d, fmt),
            _vitals(d, fmt, chart_png, rows, left_out),
            _alerts(d, fmt),
            _side_effects(d, fmt),
            _scores(d, fmt),
            _discharge(d, fmt),
        ),
        footer=f"Infusion session record · session {row.id} · MRN {d.patient.mrn} · "
        f"printed {fmt.datetime(d.now)}",
        subject=f"Infusion session {row.id}",
    )


def render_record_pdf(
    d: SessionDetail, thresholds: Sequence[ThresholdLine], *, compress: bool = True
) -> bytes:
    """The session record of ``d`` as PDF bytes."""
    tz = zone(d.site.timezone)
    chart = render_vitals_chart(
        d.readings,
        tz=tz,
        infusion_start=d.row.infusion_started_at,
        infusion_end=d.row.infusion_ended_at,
        now=d.row.closed_at or d.now,  # a closed session's chart ends with the session
        thresholds=thresholds,
        title="",
        image_format="png",
    )
    alert_times = frozenset(
        t for a in d.alerts for t in (a.alert.first.observed_at, a.alert.latest.observed_at)
    )
    rows, left_out = record_rows(d.readings, alert_times)
    return render_pdf(record_document(d, chart, rows, left_out), compress=compress)


def filename(d: SessionDetail) -> str:
    """The download's name: the session id and date, never the patient's name or MRN."""
    day = d.row.checked_in_at.astimezone(zone(d.site.timezone)).date()
    return f"session-{d.row.id}-{day.isoformat()}.pdf"
