"""Protocol templates and the dates of an infusion series.

A protocol is a clinic-approved template for a series: how many infusions, on which weekdays (or
how many days apart), within how many weeks, at what dose per kg, and how long each visit keeps a
chair (setup + infusion + observation). The built-in templates follow the trials of REFERENCE.md
§1; a clinic adds its own (validated on construction, prescriber sign-off happens elsewhere).

:func:`plan` turns a protocol and a start date into the series dates; :func:`spacing_problem`
says whether a list of series dates (after a visit was moved) still keeps the protocol's spacing.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from ketaclinic.domain.errors import Conflict, InvalidInput
from ketaclinic.domain.provenance import Provenance, cited, design, unverified

WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
PROTOCOL_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,39}$")
NAME_MAX = 120

# Bounds on clinic-defined templates. The dose range spans the published starting doses:
# 0.1 mg/kg is the bottom of the depression-trial range [cited: Andrade 2017, REFERENCE §3.1] and
# 1 mg/kg the top of the ASKP3 starting range [cited: ASKP3, §3.1]. The dosing engine applies the
# real soft and hard limits; these only keep a template sane.
DOSE_MG_PER_KG_RANGE = (0.1, 1.0)
# 40 min is the clinic minimum infusion time (design default, REFERENCE §3.1 and §3.4).
INFUSION_MIN_RANGE = (40, 120)
OBSERVATION_MIN_RANGE = (30, 480)  # design
SETUP_MIN_RANGE = (0, 120)  # design
INFUSION_COUNT_RANGE = (1, 60)  # design
DURATION_WEEKS_RANGE = (1, 104)  # design
SPACING_DAYS_RANGE = (1, 365)  # design

STANDARD_DOSE_SOURCE = cited("Feder 2014; Feder 2021; Abdallah 2022", "§3.1")
# REFERENCE §1 leaves the 40-min duration of the repeated-infusion trials unverified (§11 item 3).
FORTY_MINUTES_SOURCE = unverified(
    "40 min in Feder 2021 and Abdallah 2022 (open question §11)", "§1"
)
# Chair time after the infusion: 2 h (esketamine-label analogue) [unverified]; with 20 min of
# setup and a 40-min infusion it matches the ~3 h on site of Albott 2018 [cited, §7].
OBSERVATION_DEFAULT_MIN = 120
OBSERVATION_SOURCE = unverified("esketamine-label analogue ≥2 h; ~3 h on site: Albott 2018", "§7")
SETUP_DEFAULT_MIN = 20
SETUP_SOURCE = design("chair preparation, check-in and pre-infusion checks")


def _check_whole(name: str, value: int, bounds: tuple[int, int]) -> None:
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int) or not (low <= value <= high):
        raise InvalidInput.for_field(name, value, f"a whole number {low}–{high}")


@dataclass(frozen=True, slots=True)
class Protocol:
    """A series template.

    Exactly one of ``weekdays`` (allowed weekdays, 0 = Monday, ascending) or ``spacing_days``
    (fixed interval) sets the rhythm. ``duration_weeks`` bounds the series: the last infusion
    falls fewer than ``7 × duration_weeks`` days after the first, whatever the start weekday.
    ``min_gap_days`` is the shortest allowed interval when a visit is moved; by default the
    shortest interval the rhythm itself produces. Minutes are whole minutes.

    Raises :class:`InvalidInput` naming the field when any bound or the fit above fails.
    """

    id: str
    name: str
    infusion_count: int
    duration_weeks: int
    dose_mg_per_kg: float
    infusion_min: int
    source: Provenance
    weekdays: tuple[int, ...] = ()
    spacing_days: int | None = None
    min_gap_days: int | None = None
    observation_min: int = OBSERVATION_DEFAULT_MIN
    setup_min: int = SETUP_DEFAULT_MIN
    dose_source: Provenance = STANDARD_DOSE_SOURCE
    infusion_source: Provenance = FORTY_MINUTES_SOURCE
    observation_source: Provenance = OBSERVATION_SOURCE
    other_doses_mg_per_kg: tuple[float, ...] = ()
    note: str = ""

    def __post_init__(self) -> None:
        if not PROTOCOL_ID_PATTERN.match(self.id):
            raise InvalidInput.for_field(
                "id", self.id, "2–40 lowercase letters, digits or '-', starting alphanumeric"
            )
        if not self.name.strip() or len(self.name) > NAME_MAX:
            raise InvalidInput.for_field("name", self.name, f"1–{NAME_MAX} characters")
        _check_whole("infusion_count", self.infusion_count, INFUSION_COUNT_RANGE)
        _check_whole("duration_weeks", self.duration_weeks, DURATION_WEEKS_RANGE)
        _check_whole("infusion_min", self.infusion_min, INFUSION_MIN_RANGE)
        _check_whole("observation_min", self.observation_min, OBSERVATION_MIN_RANGE)
        _check_whole("setup_min", self.setup_min, SETUP_MIN_RANGE)
        for index, dose in enumerate((self.dose_mg_per_kg, *self.other_doses_mg_per_kg)):
            field = "dose_mg_per_kg" if index == 0 else f"other_doses_mg_per_kg[{index - 1}]"
            low, high = DOSE_MG_PER_KG_RANGE
            if not (low <= dose <= high):
                raise InvalidInput.for_field(field, dose, f"{low:g}–{high:g} mg/kg")
        if bool(self.weekdays) == (self.spacing_days is not None):
            raise InvalidInput.for_field(
                "weekdays", list(self.weekdays), "either weekdays or spacing_days, not both/neither"
            )
        if self.weekdays and (
            list(self.weekdays) != sorted(set(self.weekdays))
            or not all(0 <= day <= 6 for day in self.weekdays)
        ):
            raise InvalidInput.for_field(
                "weekdays", list(self.weekdays), "distinct weekdays 0 (Mon)–6 (Sun), ascending"
            )
        if self.spacing_days is not None:
            _check_whole("spacing_days", self.spacing_days, SPACING_DAYS_RANGE)
        natural = self._natural_gap_days()
        if self.min_gap_days is not None:
            _check_whole("min_gap_days", self.min_gap_days, (1, natural))
        span = self._longest_span_days()
        if span >= self.window_days:
            raise InvalidInput.for_field(
                "duration_weeks",
                self.duration_weeks,
                f"enough weeks for {self.infusion_count} infusions "
                f"(the series can span {span + 1} days)",
            )

    @property
    def chair_min(self) -> int:
        """Minutes one visit occupies a chair: setup + infusion + observation."""
        return self.setup_min + self.infusion_min + self.observation_min

    @property
    def window_days(self) -> int:
        """The series must end fewer than this many days after its first infusion."""
        return 7 * self.duration_weeks

    @property
    def gap_days(self) -> int:
        """The shortest allowed interval between two consecutive infusions."""
        return self.min_gap_days if self.min_gap_days is not None else self._natural_gap_days()

    @property
    def rhythm(self) -> str:
        """A short human description: ``Mon/Wed/Fri`` or ``every 28 days``."""
        if self.weekdays:
            return "/".join(WEEKDAY_NAMES[day] for day in self.weekdays)
        return f"every {self.spacing_days} days"

    def _natural_gap_days(self) -> int:
        if self.spacing_days is not None:
            return self.spacing_days
        days = self.weekdays
        # Cyclic differences, including the wrap from the last weekday into the next week.
        return min((days[(i + 1) % len(days)] - day) % 7 or 7 for i, day in enumerate(days))

    def _longest_span_days(self) -> int:
        """Days from first to last infusion, for the least favourable start weekday."""
        if self.spacing_days is not None:
            return (self.infusion_count - 1) * self.spacing_days
        spans = []
        for start_weekday in self.weekdays:
            start = _MONDAY + dt.timedelta(days=start_weekday)
            dates = plan(self, start)
            spans.append((dates[-1] - dates[0]).days)
        return max(spans)


_MONDAY = dt.date(2024, 1, 1)  # any Monday: only weekday arithmetic depends on it


def plan(protocol: Protocol, start_date: dt.date) -> list[dt.date]:
    """The dates of a series under ``protocol``.

    With a weekday rhythm the series starts on the first allowed weekday on or after
    ``start_date`` and takes every allowed weekday after it; with ``spacing_days`` it starts on
    ``start_date`` and steps by the interval. Returns ``infusion_count`` ascending dates.
    """
    if protocol.spacing_days is not None:
        step = dt.timedelta(days=protocol.spacing_days)
        return [start_date + i * step for i in range(protocol.infusion_count)]
    allowed = frozenset(protocol.weekdays)
    dates: list[dt.date] = []
    day = start_date
    while len(dates) < protocol.infusion_count:
        if day.weekday() in allowed:
            dates.append(day)
        day += dt.timedelta(days=1)
    return dates


def spacing_problem(protocol: Protocol, dates: Sequence[dt.date]) -> str | None:
    """Why ``dates`` (a series, in visit order) breaks the protocol's spacing, or ``None``.

    Checked: no more dates than infusions, strictly later each time, at least
    ``protocol.gap_days`` apart, and the last fewer than ``protocol.window_days`` days after the
    first. Weekdays are not re-checked: a moved visit may fall on another weekday.
    """
    if len(dates) > protocol.infusion_count:
        return f"{len(dates)} visits for a protocol of {protocol.infusion_count} infusions"
    for number, (earlier, later) in enumerate(itertools.pairwise(dates), start=1):
        if later <= earlier:
            return (
                f"visit {number + 1} ({later.isoformat()}) is not after visit {number} "
                f"({earlier.isoformat()})"
            )
        gap = (later - earlier).days
        if gap < protocol.gap_days:
            return (
                f"visits {number} and {number + 1} are {gap} day(s) apart; {protocol.id} needs "
                f"at least {protocol.gap_days}"
            )
    if dates and (dates[-1] - dates[0]).days >= protocol.window_days:
        return (
            f"the series would run from {dates[0].isoformat()} to {dates[-1].isoformat()}; "
            f"{protocol.id} must finish within {protocol.duration_weeks} week(s)"
        )
    return None


FEDER_2021 = Protocol(
    id="feder-2021",
    name="Six infusions, Mon/Wed/Fri over two weeks (Feder 2021)",
    infusion_count=6,
    weekdays=(0, 2, 4),
    duration_weeks=2,
    dose_mg_per_kg=0.5,
    infusion_min=40,
    source=cited("Feder 2021", "§1"),
)

ABDALLAH_2022 = Protocol(
    id="abdallah-2022",
    name="Eight infusions, twice weekly over four weeks (Abdallah 2022)",
    infusion_count=8,
    # The trial gave two infusions a week; Monday and Thursday is our spacing of them (design).
    weekdays=(0, 3),
    duration_weeks=4,
    dose_mg_per_kg=0.5,
    infusion_min=40,
    source=cited("Abdallah 2022", "§1"),
    other_doses_mg_per_kg=(0.2,),
    note=(
        "The trial also had a 0.2 mg/kg arm [cited: Abdallah 2022]. Neither dose separated from "
        "placebo on PCL-5 or CAPS-5; 0.5 mg/kg improved MADRS."
    ),
)

MAINTENANCE = Protocol(
    id="maintenance",
    name="Maintenance boosters, every four weeks",
    infusion_count=3,
    spacing_days=28,
    min_gap_days=21,
    duration_weeks=12,
    dose_mg_per_kg=0.5,
    infusion_min=40,
    source=design(
        "booster rhythm near the median loss of response (27.5 d) in Feder 2021 [cited, §1]"
    ),
    note="A clinic template, not a trial regimen: the prescriber adjusts it to the response.",
)

BUILTIN_PROTOCOLS: Mapping[str, Protocol] = MappingProxyType(
    {p.id: p for p in (FEDER_2021, ABDALLAH_2022, MAINTENANCE)}
)


def protocol_catalog(clinic_protocols: Iterable[Protocol] = ()) -> dict[str, Protocol]:
    """The built-in templates plus the clinic's own, by id.

    Raises :class:`Conflict` when a clinic protocol reuses an id already in the catalog.
    """
    catalog = dict(BUILTIN_PROTOCOLS)
    for protocol in clinic_protocols:
        if protocol.id in catalog:
            raise Conflict(
                f"id: got {protocol.id!r}, expected an id not already in the protocol catalog",
                field="id",
            )
        catalog[protocol.id] = protocol
    return catalog


def find_protocol(
    protocol_id: str, catalog: Mapping[str, Protocol] = BUILTIN_PROTOCOLS
) -> Protocol:
    """The protocol with this id; :class:`InvalidInput` naming the known ids otherwise."""
    try:
        return catalog[protocol_id]
    except KeyError:
        known = ", ".join(sorted(catalog))
        raise InvalidInput.for_field("protocol", protocol_id, f"one of {known}") from None
