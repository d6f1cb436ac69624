"""The shape of an instrument definition: frozen values built from the JSON files in
``definitions/``.

An :class:`Instrument` holds everything the scoring engine, the forms and the content-pack
validator need: items with their ranges and our own short labels (never official wording,
REFERENCE.md §10), response anchors, subscales, severity, flag rules, codes, licence status and
who completes it. Each scoring rule carries the :class:`~ketaclinic.domain.provenance.Provenance`
of the clinical fact behind it so the UI can show it beside the result.

Nothing here reads files or scores answers; see ``loader.py`` and ``scoring.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.provenance import Provenance, Threshold

LANGUAGES = ("en", "es")
LABEL_MAX_CHARS = 60
"""A label is a short name, not a question: this bound keeps official wording out (§10)."""


class Respondent(StrEnum):
    """Who completes the instrument."""

    PATIENT = "patient"
    CLINICIAN = "clinician"


class LicenceStatus(StrEnum):
    """Whether official item wording may be redistributed (REFERENCE.md §10).

    ketaclinic ships no third-party wording either way; a restricted instrument additionally
    needs a licence attestation before a clinic may load its wording as a content pack.
    """

    PUBLIC_DOMAIN = "public_domain"
    RESTRICTED = "restricted"


class RecallPeriod(StrEnum):
    PAST_MONTH = "past_month"
    PAST_WEEK = "past_week"
    PAST_TWO_WEEKS = "past_two_weeks"
    CURRENT_STATE = "current_state"
    """Rated for the moment of assessment (e.g. during or after an infusion)."""
    CLINICIAN_SPECIFIED = "clinician_specified"
    """The form used (e.g. since last contact) is recorded with each result."""


class ScoringMethod(StrEnum):
    SUM = "sum"
    """Total = sum of all items; every item must be answered (no prorating)."""
    CLINICIAN_ENTERED = "clinician_entered"
    """No computed score: the clinician's own result is recorded (C-SSRS, §8.4)."""


class CodeStatus(StrEnum):
    VERIFIED = "verified"
    """A standard code (LOINC) that REFERENCE.md §9 marks as cited."""
    LOCAL = "local"
    """ketaclinic's own code; ``note`` says what is known about standard candidates."""


LOINC_SYSTEM = "http://loinc.org"
LOCAL_SYSTEM = "urn:ketaclinic:instrument"


@dataclass(frozen=True, slots=True)
class Text:
    """A short label in every shipped language (our own words, never official wording)."""

    en: str
    es: str

    def get(self, language: str) -> str:
        """The label in ``language`` (``"en"`` or ``"es"``; a region such as ``es-MX`` is
        accepted and mapped to its base language)."""
        base = language.split("-", 1)[0].lower()
        if base == "en":
            return self.en
        if base == "es":
            return self.es
        raise InvalidInput.for_field("language", language, f"one of {', '.join(LANGUAGES)}")


@dataclass(frozen=True, slots=True)
class Code:
    """A terminology code for the panel, the total, a subscale or an item."""

    system: str
    code: str
    display: str
    status: CodeStatus
    provenance: Provenance
    note: str = ""


@dataclass(frozen=True, slots=True)
class Anchor:
    """One point of the response scale: a numeric value and our own short label for it."""

    value: int
    label: Text


@dataclass(frozen=True, slots=True)
class Condition:
    """An item is asked only if another item has a given answer (form skip logic)."""

    item_id: str
    equals: int


@dataclass(frozen=True, slots=True)
class Item:
    """One item: a neutral id (``pcl5_07``), our own short label, and its valid range."""

    id: str
    label: Text
    min_value: int
    max_value: int
    code: Code | None = None
    asked_if: Condition | None = None


@dataclass(frozen=True, slots=True)
class Subscale:
    """A named sum over some items (e.g. PCL-5 cluster ``B``, items 1–5)."""

    id: str
    name: Text
    item_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SeverityBand:
    """A closed range of totals with a band id (``moderate``) and label."""

    id: str
    min_total: int
    max_total: int
    label: Text


@dataclass(frozen=True, slots=True)
class BandSeverity:
    """Severity = the band whose closed range contains the total; bands tile the total range."""

    bands: tuple[SeverityBand, ...]
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class PercentageSeverity:
    """Severity = total × ``multiplier`` as a whole-number percentage (WHO-5: raw × 4)."""

    multiplier: int
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class ItemFlag:
    """Raise ``flag`` when item ``item_id`` is at least ``min_value``, whatever the total."""

    item_id: str
    min_value: int
    flag: str
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class ClusterRule:
    """A symptom-cluster diagnostic rule: an item counts as endorsed when it is at least
    ``endorse_min``; the rule is met when every subscale has at least its minimum of endorsed
    items (PCL-5: B≥1, C≥1, D≥2, E≥2 with item ≥2 endorsed, REFERENCE.md §8.1)."""

    endorse_min: int
    minimum_endorsed: tuple[tuple[str, int], ...]
    flag: str
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class CutPoint:
    """Total ≥ ``threshold.value`` raises ``flag``; the clinic may set its own threshold."""

    threshold: Threshold
    flag: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class SyndromeCriterion:
    """One counted symptom: item ``item_id`` at least ``min_value``; ``core`` marks the
    symptoms of which at least some must be present (PHQ-9 items 1 and 2)."""

    item_id: str
    min_value: int
    core: bool


@dataclass(frozen=True, slots=True)
class SyndromeOutcome:
    """``flag`` is raised when the number of core symptoms present is at least ``core_min`` and
    the number of all symptoms present lies in ``count_min..count_max``."""

    flag: str
    core_min: int
    count_min: int
    count_max: int


@dataclass(frozen=True, slots=True)
class SyndromeRule:
    """A symptom-count algorithm (PHQ-9 major / other depressive syndrome, §8.2)."""

    criteria: tuple[SyndromeCriterion, ...]
    outcomes: tuple[SyndromeOutcome, ...]
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class Scoring:
    """How answers become a :class:`~ketaclinic.domain.instruments.scoring.ScoreResult`."""

    method: ScoringMethod
    provenance: Provenance
    subscales: tuple[Subscale, ...] = ()
    severity: BandSeverity | PercentageSeverity | None = None
    item_flags: tuple[ItemFlag, ...] = ()
    cluster_rule: ClusterRule | None = None
    cut_point: CutPoint | None = None
    syndrome: SyndromeRule | None = None


@dataclass(frozen=True, slots=True)
class Licence:
    status: LicenceStatus
    basis: str
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class ResultOption:
    """A value a clinician may enter for a clinician-entered instrument (C-SSRS risk level or
    form). ketaclinic stores the choice; it never computes it."""

    id: str
    label: Text


@dataclass(frozen=True, slots=True)
class Instrument:
    """One instrument definition, as loaded from ``definitions/<id>.json``.

    ``missing_values`` are answers that mean "not assessed" (BPRS 0): they are recorded but
    count as missing, so the score cannot be computed. ``anchors`` cover every value an item may
    take, missing values included.
    """

    id: str
    name: str
    short_name: str
    version: str
    recall_period: RecallPeriod
    recall_note: str
    completed_by: Respondent
    licence: Licence
    items: tuple[Item, ...]
    anchors: tuple[Anchor, ...]
    missing_values: tuple[int, ...]
    scoring: Scoring
    codes: tuple[tuple[str, Code], ...]
    labels_note: str
    risk_levels: tuple[ResultOption, ...] = ()
    forms: tuple[ResultOption, ...] = ()

    @property
    def item_ids(self) -> tuple[str, ...]:
        return tuple(item.id for item in self.items)

    def item(self, item_id: str) -> Item:
        """The item with this id; :class:`InvalidInput` if the instrument has none."""
        for item in self.items:
            if item.id == item_id:
                return item
        raise InvalidInput.for_field("item", item_id, f"an item id of {self.id}")

    def code(self, role: str) -> Code | None:
        """The code for ``role`` (``"panel"``, ``"total"`` or a subscale id), if any."""
        return dict(self.codes).get(role)

    @property
    def total_range(self) -> tuple[int, int]:
        """Smallest and largest possible total of a complete, summed answer set."""
        return (
            sum(item.min_value for item in self.items),
            sum(item.max_value for item in self.items),
        )

    @property
    def restricted(self) -> bool:
        return self.licence.status is LicenceStatus.RESTRICTED
