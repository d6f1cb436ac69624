"""Content packs: the official wording a clinic is entitled to use, checked against our structure.

ketaclinic ships no third-party item wording (REFERENCE.md §10). A clinic loads the official
text of an instrument, in one language, from a JSON file of this shape::

    {
      "format": "ketaclinic.content-pack/1",
      "instrument": "pcl5",
      "language": "en",
      "licence": {"attested_by": "...", "attested_on": "2026-01-15", "statement": "..."},
      "title": "...",                       (optional)
      "instructions": "...",                (optional)
      "items": {"pcl5_01": "...", ...},     every item id exactly once
      "anchors": ["...", ...]               one per response value, lowest value first
    }

:func:`content_pack_problems` lists every problem (each names the field, e.g. ``items.pcl5_07``,
the value and what was expected); :func:`validate_content_pack` returns the validated
:class:`ContentPack` or raises :class:`InvalidInput` listing them all. A licence attestation is
required for restricted instruments. Storing a pack (per clinic, never redistributed) is the job
of the caller. Use :func:`decode_content_pack` on raw JSON text so duplicate keys are caught.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.instruments.loader import get_instrument, instrument_ids
from ketaclinic.domain.instruments.model import Instrument

FORMAT = "ketaclinic.content-pack/1"
TEXT_MAX_CHARS = 2000
INSTRUCTIONS_MAX_CHARS = 5000
NAME_MAX_CHARS = 100
ANCHOR_MAX_CHARS = 200
# BCP 47 in its usual canonical case: language, optional script, optional region (en, es-MX,
# es-419, zh-Hant-TW). Private-use and extension subtags are not needed for questionnaires.
LANGUAGE_PATTERN = re.compile(r"^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?$")
_KEYS = ("format", "instrument", "language", "licence", "title", "instructions", "items", "anchors")
_LICENCE_KEYS = ("attested_by", "attested_on", "statement")


@dataclass(frozen=True, slots=True)
class PackProblem:
    """One thing wrong with a content pack."""

    field: str
    value: Any
    expected: str

    @property
    def message(self) -> str:
        return InvalidInput.for_field(self.field, self.value, self.expected).message

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "expected": self.expected, "message": self.message}


@dataclass(frozen=True, slots=True)
class LicenceAttestation:
    """Who said, and when, that the clinic may use this wording."""

    attested_by: str
    attested_on: dt.date
    statement: str


@dataclass(frozen=True, slots=True)
class ContentPack:
    """Validated official wording for one instrument in one language."""

    instrument_id: str
    instrument_version: str
    language: str
    licence: LicenceAttestation | None
    title: str
    instructions: str
    item_text: Mapping[str, str]
    anchors: tuple[str, ...]

    def text_for(self, item_id: str) -> str:
        try:
            return self.item_text[item_id]
        except KeyError:
            raise InvalidInput.for_field(
                "item", item_id, f"an item id of {self.instrument_id}"
            ) from None


class _PackObject(dict[str, Any]):
    """A decoded JSON object that remembers keys given more than once."""

    duplicate_keys: tuple[str, ...] = ()


def decode_content_pack(text: str) -> Any:
    """Decode JSON text, keeping track of duplicate keys (plain ``json.loads`` keeps the last
    one silently). Raises :class:`InvalidInput` if ``text`` is not JSON."""

    def pairs_hook(pairs: list[tuple[str, Any]]) -> _PackObject:
        obj = _PackObject()
        seen: list[str] = []
        for key, value in pairs:
            if key in obj:
                seen.append(key)
            obj[key] = value
        obj.duplicate_keys = tuple(seen)
        return obj

    try:
        return json.loads(text, object_pairs_hook=pairs_hook)
    except json.JSONDecodeError as error:
        raise InvalidInput.for_field(
            "content_pack", f"line {error.lineno} column {error.colno}", "valid JSON"
        ) from None


def validate_content_pack(data: Any) -> ContentPack:
    """The validated :class:`ContentPack`, or :class:`InvalidInput` listing every problem."""
    problems = content_pack_problems(data)
    if problems:
        listed = "; ".join(p.message for p in problems)
        count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
        raise InvalidInput(
            f"content pack has {count}: {listed}",
            field=problems[0].field,
            value=problems[0].value,
            expected=problems[0].expected,
        )
    instrument = get_instrument(data["instrument"])
    licence = data.get("licence")
    return ContentPack(
        instrument_id=instrument.id,
        instrument_version=instrument.version,
        language=data["language"],
        licence=(
            LicenceAttestation(
                attested_by=licence["attested_by"],
                attested_on=dt.date.fromisoformat(licence["attested_on"]),
                statement=licence["statement"],
            )
            if licence is not None
            else None
        ),
        title=data.get("title", ""),
        instructions=data.get("instructions", ""),
        item_text=MappingProxyType({i: data["items"][i] for i in instrument.item_ids}),
        anchors=tuple(data["anchors"]),
    )


def content_pack_problems(data: Any) -> tuple[PackProblem, ...]:
    """Every problem with ``data`` (decoded JSON), in a stable order; empty if it is valid."""
    if not isinstance(data, Mapping):
        return (PackProblem("content_pack", data, "a JSON object"),)
    problems: list[PackProblem] = []
    add = problems.append
    problems.extend(_duplicates(data, ""))
    for key in data:
        if key not in _KEYS:
            add(PackProblem(str(key), key, f"only the keys {', '.join(_KEYS)}"))
    if data.get("format") != FORMAT:
        add(PackProblem("format", data.get("format"), repr(FORMAT)))
    language = data.get("language")
    if not isinstance(language, str) or not LANGUAGE_PATTERN.match(language):
        add(PackProblem("language", language, "a BCP 47 language tag such as en, es or es-MX"))
    for key, limit in (("title", TEXT_MAX_CHARS), ("instructions", INSTRUCTIONS_MAX_CHARS)):
        if key in data and not _text_ok(data[key], limit):
            add(PackProblem(key, data[key], f"text of 1–{limit} characters"))

    instrument: Instrument | None = None
    if data.get("instrument") in instrument_ids():
        instrument = get_instrument(data["instrument"])
    else:
        add(
            PackProblem(
                "instrument", data.get("instrument"), "one of " + ", ".join(instrument_ids())
            )
        )

    problems.extend(_licence_problems(data.get("licence"), instrument))
    if instrument is not None:
        problems.extend(_item_problems(data.get("items"), instrument))
        problems.extend(_anchor_problems(data.get("anchors"), instrument))
    return tuple(problems)


def _licence_problems(licence: Any, instrument: Instrument | None) -> list[PackProblem]:
    if licence is None:
        if instrument is not None and instrument.restricted:
            return [
                PackProblem(
                    "licence",
                    None,
                    f"a licence attestation: {instrument.short_name} wording is restricted "
                    f"({instrument.licence.basis})",
                )
            ]
        return []
    if not isinstance(licence, Mapping):
        return [PackProblem("licence", licence, "an object with " + ", ".join(_LICENCE_KEYS))]
    problems = _duplicates(licence, "licence.")
    for key in licence:
        if key not in _LICENCE_KEYS:
            problems.append(PackProblem(f"licence.{key}", key, ", ".join(_LICENCE_KEYS)))
    if not _text_ok(licence.get("attested_by"), NAME_MAX_CHARS):
        problems.append(
            PackProblem(
                "licence.attested_by",
                licence.get("attested_by"),
                f"the name of the person attesting (1–{NAME_MAX_CHARS} characters)",
            )
        )
    if not _date_ok(licence.get("attested_on")):
        problems.append(
            PackProblem("licence.attested_on", licence.get("attested_on"), "a date YYYY-MM-DD")
        )
    if not _text_ok(licence.get("statement"), TEXT_MAX_CHARS):
        problems.append(
            PackProblem(
                "licence.statement",
                licence.get("statement"),
                f"the licence or permission relied on (1–{TEXT_MAX_CHARS} characters)",
            )
        )
    return problems


def _item_problems(items: Any, instrument: Instrument) -> list[PackProblem]:
    if not isinstance(items, Mapping):
        return [PackProblem("items", items, f"an object keyed by the {instrument.id} item ids")]
    problems = _duplicates(items, "items.")
    known = instrument.item_ids
    for key in items:
        if key not in known:
            problems.append(PackProblem(f"items.{key}", key, f"an item id of {instrument.id}"))
    for item_id in known:
        if item_id not in items:
            problems.append(PackProblem(f"items.{item_id}", None, "the item's official text"))
        elif not _text_ok(items[item_id], TEXT_MAX_CHARS):
            problems.append(
                PackProblem(
                    f"items.{item_id}", items[item_id], f"text of 1–{TEXT_MAX_CHARS} characters"
                )
            )
    return problems


def _anchor_problems(anchors: Any, instrument: Instrument) -> list[PackProblem]:
    count = len(instrument.anchors)
    values = f"{instrument.anchors[0].value}–{instrument.anchors[-1].value}"
    if not isinstance(anchors, list) or len(anchors) != count:
        shown = len(anchors) if isinstance(anchors, list) else anchors
        return [
            PackProblem(
                "anchors",
                shown,
                f"a list of {count} anchor texts for the values {values}, lowest first",
            )
        ]
    return [
        PackProblem(f"anchors[{n}]", text, f"text of 1–{ANCHOR_MAX_CHARS} characters")
        for n, text in enumerate(anchors)
        if not _text_ok(text, ANCHOR_MAX_CHARS)
    ]


def _duplicates(obj: Mapping[str, Any], prefix: str) -> list[PackProblem]:
    return [
        PackProblem(f"{prefix}{key}", key, "each key once (this one appears more than once)")
        for key in getattr(obj, "duplicate_keys", ())
    ]


def _text_ok(value: Any, limit: int) -> bool:
    return isinstance(value, str) and bool(value.strip()) and len(value) <= limit


def _date_ok(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == len("YYYY-MM-DD")
