"""Questionnaires and rating scales as data, their scoring, and clinic-loaded wording.

- ``definitions/*.json``: one definition per instrument (items with our own short labels,
  anchors, subscales, severity, flag rules, codes, licence status), read by :mod:`.loader`.
- :mod:`.scoring`: :func:`score` with the completeness guard; :mod:`.cssrs`: the
  clinician-entered C-SSRS result (no automated triage).
- :mod:`.content_pack`: validates a clinic's official wording against an instrument's structure.

ketaclinic ships no third-party item wording (REFERENCE.md §10).
"""

from __future__ import annotations

from ketaclinic.domain.instruments.content_pack import (
    ContentPack,
    LicenceAttestation,
    PackProblem,
    content_pack_problems,
    decode_content_pack,
    validate_content_pack,
)
from ketaclinic.domain.instruments.cssrs import CssrsResult, record_cssrs
from ketaclinic.domain.instruments.loader import get_instrument, instrument_ids, parse_instrument
from ketaclinic.domain.instruments.model import Instrument, Item, LicenceStatus, Respondent
from ketaclinic.domain.instruments.scoring import (
    Answers,
    ProvisionalDiagnosis,
    ScoreResult,
    score,
    score_instrument,
    validate_answers,
)

__all__ = [
    "Answers",
    "ContentPack",
    "CssrsResult",
    "Instrument",
    "Item",
    "LicenceAttestation",
    "LicenceStatus",
    "PackProblem",
    "ProvisionalDiagnosis",
    "Respondent",
    "ScoreResult",
    "content_pack_problems",
    "decode_content_pack",
    "get_instrument",
    "instrument_ids",
    "parse_instrument",
    "record_cssrs",
    "score",
    "score_instrument",
    "validate_answers",
    "validate_content_pack",
]
