"""Questionnaires inside other staff pages (the intake baseline, the chair's CADSS-6): the same
form as score entry (``templates/mbc/_instrument.html`` with ``static/mbc.js`` live totals),
showing the clinic's official wording when a content pack is loaded
(``services/mbc_content.instrument_form``), under the page's own field names so the page's
handler reads the answers as before."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ketaclinic.services import mbc_content
from ketaclinic.services.mbc_content import InstrumentForm
from ketaclinic.services.ports import UnitOfWork


@dataclass(frozen=True, slots=True)
class EmbeddedForm:
    """What ``instrument_fieldset`` needs: the form, the page's field name of each item id,
    the answers to show again (by field name) and a problem message by field name."""

    form: InstrumentForm
    names: Mapping[str, str]
    values: Mapping[str, int]
    problems: Mapping[str, str]


def embedded_form(
    uow: UnitOfWork,
    instrument_id: str,
    fields: Sequence[str],
    typed: Mapping[str, Any],
    *,
    problem_field: str | None = None,
    problem: str | None = None,
    language: str = "en",
) -> EmbeddedForm:
    """The form of ``instrument_id`` whose items are named ``fields`` (in item order) on the
    page. ``typed`` holds what was submitted (text); whole numbers in an item's range are
    shown checked again. ``problem`` is shown at ``problem_field`` when that is one of
    ``fields``."""
    form = mbc_content.instrument_form(uow, instrument_id, language)
    if len(fields) != len(form.items):  # only reached by a programming error in a page
        raise ValueError(f"{instrument_id}: {len(fields)} field names for {len(form.items)} items")
    names = {item.id: name for item, name in zip(form.items, fields, strict=True)}
    values: dict[str, int] = {}
    for item in form.items:
        text = typed.get(names[item.id])
        if isinstance(text, str) and text.strip().isdigit() and len(text) < 4:
            value = int(text)
            if any(option.value == value for option in item.options):
                values[names[item.id]] = value
    problems: dict[str, str] = {}
    if problem and problem_field is not None and problem_field in fields:
        problems[problem_field] = problem
    return EmbeddedForm(form, names, values, problems)
