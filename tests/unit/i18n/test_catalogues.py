"""The translation catalogues: every string the code and templates mark is translated into
Spanish, with the same placeholders, nothing stale; and the check really catches a gap."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.catalog import Catalog

from ketaclinic import locale
from ketaclinic.domain.screening import MESSAGES
from ketaclinic.locale.check import check, extract, problems

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def template() -> Catalog:
    return extract(ROOT)


def test_every_marked_string_has_a_spanish_translation(template: Catalog) -> None:
    assert check(ROOT) == []
    # The extraction found the patient pages' strings (an empty template would pass anything).
    ids = {m.id for m in template if m.id}
    assert "Send my answers" in ids  # a template
    assert MESSAGES["screening.notice.crisis"] in ids  # the domain, marked with N_
    assert "Please answer this question." in ids  # a web handler
    assert len(ids) > 100


def test_a_missing_translation_is_reported(template: Catalog) -> None:
    spanish = locale.read_catalogue("es")
    spanish.delete("Send my answers")
    assert problems(template, spanish) == ["es: no translation for 'Send my answers'"]


def test_an_empty_fuzzy_or_stale_entry_is_reported(template: Catalog) -> None:
    spanish = locale.read_catalogue("es")
    spanish["Thank you"].string = ""
    spanish["Print"].flags.add("fuzzy")
    spanish.add("A sentence nobody uses any more", "Una frase que nadie usa")
    found = problems(template, spanish)
    assert "es: empty translation for 'Thank you'" in found
    assert "es: fuzzy (unchecked) translation for 'Print'" in found
    assert "es: 'A sentence nobody uses any more' is translated but no longer used" in found


def test_a_translation_must_keep_the_placeholders(template: Catalog) -> None:
    spanish = locale.read_catalogue("es")
    spanish["Please answer by %(date)s."].string = "Por favor responda pronto."
    (found,) = problems(template, spanish)
    assert "placeholders of 'Please answer by %(date)s.' differ" in found


def test_spanish_is_read_from_the_catalogue_and_english_is_the_source() -> None:
    assert locale.gettext("es", "Send my answers") == "Enviar mis respuestas"
    assert locale.gettext("en", "Send my answers") == "Send my answers"
    assert locale.gettext("es-MX", "Thank you") == "Gracias"
    # An unsupported language, or a string without a translation, shows English, never a key.
    assert locale.gettext("fr", "Thank you") == "Thank you"
    assert locale.gettext("es", "A sentence with no entry") == "A sentence with no entry"


def test_plural_forms_follow_spanish_rules() -> None:
    one = locale.ngettext(
        "es",
        "%(num)s question still needs an answer. Nothing has been sent yet.",
        "%(num)s questions still need an answer. Nothing has been sent yet.",
        1,
    )
    many = locale.ngettext(
        "es",
        "%(num)s question still needs an answer. Nothing has been sent yet.",
        "%(num)s questions still need an answer. Nothing has been sent yet.",
        3,
    )
    assert one % {"num": 1} == "Falta responder 1 pregunta. Todavía no se ha enviado nada."
    assert many % {"num": 3} == "Falta responder 3 preguntas. Todavía no se ha enviado nada."


def test_no_screening_sentence_names_a_diagnosis_in_any_language() -> None:
    # A self-screening must never tell a visitor they have a disorder (PTSD / TEPT).
    for sentence in MESSAGES.values():
        spanish = locale.gettext("es", sentence)
        assert "PTSD" not in sentence
        assert "TEPT" not in spanish
        assert spanish != sentence or sentence in {"No"}, sentence


@pytest.mark.parametrize(
    ("tag", "expected"),
    [("es", "es"), ("es-MX", "es"), ("ES_us", "es"), ("en-GB", "en"), ("fr", None), ("", None)],
)
def test_language_tags_map_to_a_supported_language(tag: str, expected: str | None) -> None:
    assert locale.supported(tag) == expected
