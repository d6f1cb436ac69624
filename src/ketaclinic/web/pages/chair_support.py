"""Helpers of the chair's pages: clinic-local time for display and form input, parsing form
fields into typed values (bad input names the field), and the error a form re-renders with.

Times are stored in UTC; nurses read and type the site's local time (``Site.timezone``).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Annotated

from fastapi import Form

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.services.chair_ports import EscalationNotice, NoticeState

NUMBER_TEXT_MAX = 20

# Every chair form field is bounded text until parsed.
F = Annotated[str, Form(max_length=200)]
LongF = Annotated[str, Form(max_length=600)]


@dataclass(frozen=True, slots=True)
class Fmt:
    """Formatting for templates, in one site's time zone."""

    tz: dt.tzinfo
    now: dt.datetime

    def time(self, value: dt.datetime | None) -> str:
        return value.astimezone(self.tz).strftime("%H:%M") if value else ""

    def datetime(self, value: dt.datetime | None) -> str:
        return value.astimezone(self.tz).strftime("%d %b %Y %H:%M") if value else ""

    def iso(self, value: dt.datetime | None) -> str:
        return value.isoformat() if value else ""

    def ago(self, value: dt.datetime | None) -> str:
        if value is None:
            return ""
        minutes = (self.now - value).total_seconds() / 60.0
        if minutes < 1:
            return "just now"
        if minutes < 90:
            return f"{minutes:.0f} min ago"
        return f"{minutes / 60:.1f} h ago"

    def minutes(self, value: float | None) -> str:
        """Elapsed minutes as h:mm (or m min)."""
        if value is None:
            return ""
        whole = max(int(value), 0)
        return f"{whole // 60}:{whole % 60:02d}" if whole >= 60 else f"{whole} min"

    def num(self, value: float | None, digits: int = 1) -> str:
        if value is None:
            return "—"
        text = f"{value:.{digits}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass(frozen=True, slots=True)
class FormError:
    """Why a form was refused, shown next to it: ``form`` names the form, ``field`` the input
    (when the error names one), ``override`` asks for a soft-limit override."""

    form: str
    message: str
    field: str | None = None
    override: bool = False


def number(field: str, text: str, *, required: bool = True) -> float | None:
    text = text.strip()
    if not text:
        if required:
            raise InvalidInput.for_field(field, text, "a number")
        return None
    if len(text) > NUMBER_TEXT_MAX:
        raise InvalidInput.for_field(field, text, "a number")
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        raise InvalidInput.for_field(field, text, "a number") from None
    if not math.isfinite(value):
        raise InvalidInput.for_field(field, text, "a finite number")
    return value


def required_number(field: str, text: str) -> float:
    value = number(field, text)
    assert value is not None
    return value


def whole(field: str, text: str, low: int, high: int) -> int:
    value = number(field, text)
    if value is None or value != int(value) or not low <= value <= high:
        raise InvalidInput.for_field(field, text, f"a whole number {low}–{high}")
    return int(value)


def local_time(field: str, text: str, tz: dt.tzinfo, now: dt.datetime) -> dt.datetime | None:
    """``HH:MM`` (today, site time) or ``YYYY-MM-DDTHH:MM`` (a datetime-local input) → UTC;
    empty means now (None)."""
    text = text.strip()
    if not text:
        return None
    try:
        if "T" in text:
            naive = dt.datetime.fromisoformat(text)
        else:
            clock = dt.time.fromisoformat(text)
            naive = dt.datetime.combine(now.astimezone(tz).date(), clock)
    except ValueError:
        raise InvalidInput.for_field(field, text, "a time as HH:MM") from None
    if naive.tzinfo is not None:
        return naive.astimezone(dt.UTC)
    return naive.replace(tzinfo=tz).astimezone(dt.UTC)


def checked(value: str) -> bool:
    """An HTML checkbox: present (any value but "") means ticked."""
    return value.strip().lower() not in {"", "0", "false", "off", "no"}


def notice_text(notice: EscalationNotice) -> str:
    """How the e-mail about one escalation went, without addresses."""
    if notice.state is NoticeState.SENT:
        text = f"e-mailed to {notice.sent} of {notice.recipients}"
    elif notice.state is NoticeState.PENDING:
        text = "e-mail pending"
    else:
        text = f"e-mail {notice.state.value}"
    return f"{text} ({notice.outcome})" if notice.outcome else text
