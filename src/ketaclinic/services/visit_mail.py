"""The words of the appointment e-mails a patient gets: the confirmation of a booked series, of
a moved or a cancelled visit, and the reminder before a visit. Pure functions: no storage, no
clock, no sending (services/visit_confirmations.py and services/visit_reminders.py send them).

Every message is in the patient's language (the catalogues in ``ketaclinic/locale``; English
when a language is not supported), with dates and times written as that language writes them
("Tuesday, November 24, 2026 at 8:00 AM", "martes, 24 de noviembre de 2026, a las 8:00") in the
site's time zone. A message names the clinic, the site and the times, and says how to prepare;
it carries no health data: no diagnosis, score, drug, dose or reason for a change, and not even
the patient's name (the address may be shared or read by others).

How to prepare, in our own words from REFERENCE.md §7: about three hours on site each time
(Albott 2018), a responsible adult to take the patient home (Ketalar US PI; UK SmPC), and no
driving for 24 hours afterwards (Nervana Medical). The e-mail says "visit", not the treatment's
name, for the same reason it has no name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

from babel.dates import format_time

from ketaclinic.locale import N_, SOURCE_LANGUAGE, format_date, gettext, supported, translations


class MailKind(StrEnum):
    BOOKED = "booked"
    MOVED = "moved"
    CANCELLED = "cancelled"
    REMINDER = "reminder"


@dataclass(frozen=True, slots=True)
class Mail:
    """One e-mail, ready to send: subject and plain-text body in ``language``."""

    kind: MailKind
    language: str
    subject: str
    body: str


@dataclass(frozen=True, slots=True)
class Place:
    """Where the visits are: the clinic (organisation) and the site by name, the site's time
    zone (an IANA name) in which every time is written, and the number patients call ("" when
    the site has none; then the mail has no phone line)."""

    clinic: str
    site: str
    timezone: str
    phone: str = ""


CLINIC_FALLBACK = N_("Your clinic")
GREETING = N_("Hello,")
FOOTER = N_("If you did not expect this message, please contact the clinic.")
PHONE_LINE = N_("Clinic phone: %(phone)s")

SUBJECT_MOVED = N_("%(clinic)s: your appointment has been moved")
SUBJECT_CANCELLED = N_("%(clinic)s: your appointment has been cancelled")
SUBJECT_REMINDER = N_("%(clinic)s: reminder of your appointment on %(date)s")

MOVED_INTRO = N_("Your appointment at %(clinic)s (%(site)s) has been moved to:")
UPCOMING = N_("Your upcoming appointments are now:")
CANCELLED_INTRO = N_("Your appointment at %(clinic)s (%(site)s) has been cancelled:")
REMAINING = N_("Your other appointments stay as they were:")
NONE_LEFT = N_("You have no other appointments booked with us at the moment.")
REBOOK = N_("If you would like a new appointment, please call the clinic.")
REMINDER_INTRO = N_("This is a reminder of your appointment at %(clinic)s (%(site)s):")

ADVICE_TITLE = N_("Before you come:")
ADVICE = (
    N_("Plan to be with us for about 3 hours."),
    N_("Bring a photo ID and a list of the medicines you take. Wear comfortable clothes."),
    N_(
        "Come with an adult who can take you home: after each visit you must not drive, cycle "
        "or operate machinery for 24 hours."
    ),
    N_("If you cannot come, please call the clinic as soon as you can."),
)


def language_of(preferred: str) -> str:
    """The language a patient's e-mail is written in: their preferred one if ketaclinic speaks
    it, else English."""
    return supported(preferred) or SOURCE_LANGUAGE


def when(moment: dt.datetime, language: str, timezone: str) -> str:
    """A visit's start as ``language`` writes it, in ``timezone``: the full date (with the
    weekday) and the short time, "Tuesday, November 24, 2026 at 8:00 AM" or "martes, 24 de
    noviembre de 2026, a las 8:00". ``moment`` is timezone-aware."""
    lang = language_of(language)
    local = moment.astimezone(ZoneInfo(timezone))
    # Spanish says "a la 1:00" but "a las 8:00": the plural form chosen by the hour gives the
    # article (English has one form for both).
    pattern = translations(lang).ngettext(
        "%(date)s at %(time)s", "%(date)s at %(time)s", local.hour
    )
    return pattern % {
        "date": format_date(local.date(), lang, "full"),
        "time": format_time(local, format="short", locale=lang),
    }


def _visit_list(starts: Sequence[dt.datetime], language: str, timezone: str) -> str:
    return "\n".join(f"- {when(s, language, timezone)}" for s in sorted(starts))


def _advice(language: str) -> str:
    lines = [gettext(language, ADVICE_TITLE), *(f"- {gettext(language, a)}" for a in ADVICE)]
    return "\n".join(lines)


def _names(place: Place, language: str) -> dict[str, str]:
    return {"clinic": place.clinic or gettext(language, CLINIC_FALLBACK), "site": place.site}


def _body(language: str, place: Place, *paragraphs: str) -> str:
    parts = [gettext(language, GREETING), *paragraphs]
    if place.phone:
        parts.append(gettext(language, PHONE_LINE) % {"phone": place.phone})
    parts.append(gettext(language, FOOTER))
    return "\n\n".join(parts) + "\n"


def booked(place: Place, language: str, starts: Sequence[dt.datetime]) -> Mail:
    """The confirmation of a booked series: every visit's start (UTC, any order), how to
    prepare."""
    lang = language_of(language)
    names = _names(place, lang)
    tr = translations(lang)
    subject = tr.ngettext(
        "%(clinic)s: your appointment is booked",
        "%(clinic)s: your appointments are booked",
        len(starts),
    )
    intro = tr.ngettext(
        "Your appointment at %(clinic)s (%(site)s) is booked:",
        "Your appointments at %(clinic)s (%(site)s) are booked:",
        len(starts),
    )
    body = _body(
        lang, place, intro % names, _visit_list(starts, lang, place.timezone), _advice(lang)
    )
    return Mail(MailKind.BOOKED, lang, subject % names, body)


def moved(
    place: Place, language: str, new_start: dt.datetime, upcoming: Sequence[dt.datetime]
) -> Mail:
    """The confirmation of a moved visit: its new start, then every upcoming visit of the
    patient (the moved one among them), and how to prepare."""
    lang = language_of(language)
    names = _names(place, lang)
    body = _body(
        lang,
        place,
        gettext(lang, MOVED_INTRO) % names,
        when(new_start, lang, place.timezone),
        gettext(lang, UPCOMING),
        _visit_list(upcoming, lang, place.timezone),
        _advice(lang),
    )
    return Mail(MailKind.MOVED, lang, gettext(lang, SUBJECT_MOVED) % names, body)


def cancelled(
    place: Place, language: str, old_start: dt.datetime, remaining: Sequence[dt.datetime]
) -> Mail:
    """The confirmation of a cancelled visit: when it would have been, the patient's other
    upcoming visits (or that there are none), and how to book again. No reason is given: the
    reason staff record may be clinical."""
    lang = language_of(language)
    names = _names(place, lang)
    others = (
        [gettext(lang, REMAINING), _visit_list(remaining, lang, place.timezone)]
        if remaining
        else [gettext(lang, NONE_LEFT)]
    )
    body = _body(
        lang,
        place,
        gettext(lang, CANCELLED_INTRO) % names,
        when(old_start, lang, place.timezone),
        *others,
        gettext(lang, REBOOK),
    )
    return Mail(MailKind.CANCELLED, lang, gettext(lang, SUBJECT_CANCELLED) % names, body)


def reminder(place: Place, language: str, start: dt.datetime) -> Mail:
    """The reminder before one visit: its start and how to prepare."""
    lang = language_of(language)
    names = _names(place, lang)
    local_day = start.astimezone(ZoneInfo(place.timezone)).date()
    subject = gettext(lang, SUBJECT_REMINDER) % {
        **names,
        "date": format_date(local_day, lang, "full"),
    }
    body = _body(
        lang,
        place,
        gettext(lang, REMINDER_INTRO) % names,
        when(start, lang, place.timezone),
        _advice(lang),
    )
    return Mail(MailKind.REMINDER, lang, subject, body)
