"""Instrument forms in one language, and the content packs clinics load to show official wording.

A form is built for one instrument and one language and never mixes languages: when the clinic
has loaded a content pack for that language (an exact tag such as ``es``, else a regional one such
as ``es-MX``), every item, answer and the instructions come from the pack; otherwise every text
comes from our own short labels in that language, with our own instructions (REFERENCE.md §10:
ketaclinic ships no third-party wording). Loading a pack validates it against the instrument's
structure (domain/instruments/content_pack.py), records the licence attestation and is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ketaclinic.domain.audit import AuditAction
from ketaclinic.domain.errors import InvalidInput, NotFound
from ketaclinic.domain.instruments import (
    Instrument,
    decode_content_pack,
    get_instrument,
    instrument_ids,
    validate_content_pack,
)
from ketaclinic.domain.instruments.model import LANGUAGES, RecallPeriod, Respondent
from ketaclinic.domain.people import Role
from ketaclinic.locale import N_, gettext
from ketaclinic.services.audit import SYSTEM, Actor, record, require_role
from ketaclinic.services.mbc_model import StoredContentPack
from ketaclinic.services.ports import Clock, UnitOfWork

PACK_MAX_CHARS = 1_000_000

# Our own instructions, used when no official wording is loaded (not an instrument's text).
# English source text; the other languages come from the catalogues (ketaclinic/locale).
_OWN_INSTRUCTIONS = {
    RecallPeriod.PAST_MONTH: N_(
        "Think about the past month. For each topic, choose the answer that fits best."
    ),
    RecallPeriod.PAST_WEEK: N_(
        "Think about the past week. For each topic, choose the answer that fits best."
    ),
    RecallPeriod.PAST_TWO_WEEKS: N_(
        "Think about the past two weeks. For each topic, choose the answer that fits best."
    ),
    RecallPeriod.CURRENT_STATE: N_("Rate each item as it is now."),
    RecallPeriod.CLINICIAN_SPECIFIED: N_("Rate each item for the period of the form used."),
}


def check_language(language: str) -> str:
    """``language`` if it is one of the form languages (``en``, ``es``)."""
    if language not in LANGUAGES:
        raise InvalidInput.for_field("language", language, f"one of {', '.join(LANGUAGES)}")
    return language


@dataclass(frozen=True, slots=True)
class FormOption:
    value: int
    text: str


@dataclass(frozen=True, slots=True)
class FormItem:
    id: str
    number: int
    text: str
    options: tuple[FormOption, ...]
    subscale: str | None


@dataclass(frozen=True, slots=True)
class InstrumentForm:
    """Everything a page needs to show one instrument in one language.

    ``official`` tells whether the texts are the clinic's official wording (a content pack) or
    our own short labels.
    """

    instrument_id: str
    short_name: str
    version: str
    language: str
    title: str
    instructions: str
    items: tuple[FormItem, ...]
    official: bool
    pack_language: str | None
    total_range: tuple[int, int]


def patient_instruments() -> tuple[Instrument, ...]:
    """Item-scored instruments a patient completes (what a self-report link may ask for)."""
    found = (get_instrument(i) for i in instrument_ids())
    return tuple(i for i in found if i.completed_by is Respondent.PATIENT)


def known_instrument(instrument_id: str, field: str = "instrument") -> Instrument:
    """The definition, or :class:`InvalidInput` naming ``field`` (an unknown id in a request is
    bad input, not a missing resource)."""
    try:
        return get_instrument(instrument_id)
    except NotFound:
        raise InvalidInput.for_field(
            field, instrument_id, "one of " + ", ".join(instrument_ids())
        ) from None


def pack_for(uow: UnitOfWork, instrument_id: str, language: str) -> StoredContentPack | None:
    """The newest pack in ``language`` (exact tag first, then a regional tag of it)."""
    exact = uow.content_packs.latest(instrument_id, language)
    if exact is not None:
        return exact
    regional = [
        p
        for p in uow.content_packs.all_latest()
        if p.pack.instrument_id == instrument_id and p.pack.language.startswith(f"{language}-")
    ]
    return max(regional, key=lambda p: p.id, default=None)


def instrument_form(uow: UnitOfWork, instrument_id: str, language: str) -> InstrumentForm:
    """The form for ``instrument_id`` in ``language`` (``en``/``es``): official wording if the
    clinic loaded it for that language, otherwise our labels; never a mix."""
    instrument = known_instrument(instrument_id)
    check_language(language)
    subscale_of = {i: s.id for s in instrument.scoring.subscales for i in s.item_ids}
    stored = pack_for(uow, instrument.id, language)
    if stored is not None:
        pack = stored.pack
        anchors = {a.value: text for a, text in zip(instrument.anchors, pack.anchors, strict=True)}
        title = pack.title or instrument.short_name
        instructions = pack.instructions or _own_instructions(instrument, language)
        texts = {item.id: pack.item_text[item.id] for item in instrument.items}
    else:
        anchors = {a.value: a.label.get(language) for a in instrument.anchors}
        title = instrument.short_name
        instructions = _own_instructions(instrument, language)
        texts = {item.id: item.label.get(language) for item in instrument.items}
    items = tuple(
        FormItem(
            id=item.id,
            number=number,
            text=texts[item.id],
            options=tuple(
                FormOption(v, anchors[v]) for v in range(item.min_value, item.max_value + 1)
            ),
            subscale=subscale_of.get(item.id),
        )
        for number, item in enumerate(instrument.items, start=1)
    )
    return InstrumentForm(
        instrument_id=instrument.id,
        short_name=instrument.short_name,
        version=instrument.version,
        language=language,
        title=title,
        instructions=instructions,
        items=items,
        official=stored is not None,
        pack_language=stored.pack.language if stored is not None else None,
        total_range=instrument.total_range,
    )


def _own_instructions(instrument: Instrument, language: str) -> str:
    return gettext(language, _OWN_INSTRUCTIONS[instrument.recall_period])


def load_content_pack(uow: UnitOfWork, clock: Clock, actor: Actor, text: str) -> StoredContentPack:
    """Validate and store a clinic's content pack (raw JSON text); audited.

    The system operator (CLI) or a director may load packs. Raises :class:`InvalidInput`
    listing every problem of an invalid pack; nothing is stored then.
    """
    if actor != SYSTEM:
        require_role(uow, clock, actor, "content_pack", {Role.DIRECTOR})
    if len(text) > PACK_MAX_CHARS:
        raise InvalidInput.for_field(
            "content_pack", f"{len(text)} characters", f"at most {PACK_MAX_CHARS} characters"
        )
    pack = validate_content_pack(decode_content_pack(text))
    stored = uow.content_packs.add(pack, clock.now())
    attested = "licence attested" if pack.licence is not None else "no licence attestation"
    record(
        uow,
        clock,
        actor,
        AuditAction.CREATE,
        "content_pack",
        resource_id=stored.id,
        detail=f"{pack.instrument_id} {pack.language}, {attested}",
    )
    uow.commit()
    return stored


def catalogue(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Every shipped instrument as JSON-ready data: structure, our labels, and the official
    wording of the content packs this clinic loaded (none otherwise)."""
    packs: dict[str, list[StoredContentPack]] = {}
    for stored in uow.content_packs.all_latest():
        packs.setdefault(stored.pack.instrument_id, []).append(stored)
    return [_describe(get_instrument(i), packs.get(i, [])) for i in instrument_ids()]


def describe_instrument(uow: UnitOfWork, instrument_id: str) -> dict[str, Any]:
    """One shipped instrument as :func:`catalogue` gives it. Raises :class:`NotFound` naming
    the id and the known ids for an unknown one."""
    instrument = get_instrument(instrument_id)
    packs = [p for p in uow.content_packs.all_latest() if p.pack.instrument_id == instrument.id]
    return _describe(instrument, packs)


def _describe(ins: Instrument, packs: list[StoredContentPack]) -> dict[str, Any]:
    low, high = ins.total_range
    return {
        "id": ins.id,
        "name": ins.name,
        "short_name": ins.short_name,
        "version": ins.version,
        "recall_period": ins.recall_period.value,
        "completed_by": ins.completed_by.value,
        "scoring": ins.scoring.method.value,
        "total_range": [low, high],
        "licence": {"status": ins.licence.status.value, "basis": ins.licence.basis},
        "labels_note": ins.labels_note,
        "items": [
            {
                "linkId": item.id,
                "label": {"en": item.label.en, "es": item.label.es},
                "min": item.min_value,
                "max": item.max_value,
                "code": item.code.code if item.code else None,
            }
            for item in ins.items
        ],
        "anchors": [
            {"value": a.value, "label": {"en": a.label.en, "es": a.label.es}} for a in ins.anchors
        ],
        "subscales": [{"id": s.id, "items": list(s.item_ids)} for s in ins.scoring.subscales],
        "content_packs": [
            {
                "language": p.pack.language,
                "title": p.pack.title,
                "instructions": p.pack.instructions,
                "items": dict(p.pack.item_text),
                "anchors": list(p.pack.anchors),
                "loaded_at": p.loaded_at.isoformat(),
                "licence_attested": p.pack.licence is not None,
            }
            for p in packs
        ],
    }
