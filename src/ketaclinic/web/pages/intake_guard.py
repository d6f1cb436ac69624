"""What keeps the public screening and inquiry forms usable for people and costly for bots,
without any third party: per-client throttles, a honeypot field and a signed form token that
carries the time the form was served.

- **Throttles** (``web/throttle.SlidingWindow``), one set per application instance (kept on
  ``app.state``): screening evaluations and inquiry submissions per client address.
- **Honeypot**: the field ``website`` is hidden from people (CSS, ``aria-hidden``, no tab stop);
  a bot that fills it is answered as if all went well and nothing is stored.
- **Form token**: ``issue_form_token`` signs the serving time with the app's secret key
  (itsdangerous). A submission faster than :data:`MIN_FILL_S` seconds after serving, older than
  :data:`MAX_AGE_S`, or with a token that does not verify is refused.

The visitor's language is decided by ``web/i18n.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from itsdangerous import BadSignature, URLSafeSerializer

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.web.deps import container
from ketaclinic.web.throttle import SlidingWindow

MIN_FILL_S = 3.0  # design: no person reads and fills the inquiry form in under three seconds
MAX_AGE_S = 2 * 3600.0  # design: a form left open longer is served again with a fresh token
HONEYPOT = "website"
_SALT = "ketaclinic.intake.inquiry-form"

# design: generous for a person, tight for a flood from one address.
SCREENING_LIMIT = (60, 600.0)  # evaluations per 10 minutes
INQUIRY_LIMIT = (10, 3600.0)  # submissions per hour


class FormTooFast(InvalidInput):
    """Submitted sooner after serving than a person could have filled the form."""


class FormExpired(InvalidInput):
    """The form was served too long ago; serve it again."""


@dataclass(frozen=True, slots=True)
class PublicThrottles:
    screening: SlidingWindow
    inquiry: SlidingWindow


def throttles(request: Request) -> PublicThrottles:
    """The throttles of this application instance (created on first use)."""
    found: PublicThrottles | None = getattr(request.app.state, "intake_throttles", None)
    if found is None:
        found = PublicThrottles(SlidingWindow(*SCREENING_LIMIT), SlidingWindow(*INQUIRY_LIMIT))
        request.app.state.intake_throttles = found
    return found


def _now_s(request: Request) -> float:
    return container(request).clock.now().timestamp()


def _secret(request: Request) -> str:
    return container(request).settings.effective_secret_key()


def issue_form_token(secret: str, issued_at_s: float) -> str:
    """A token saying "this form was served at ``issued_at_s``" (Unix seconds), signed."""
    return URLSafeSerializer(secret, salt=_SALT).dumps({"t": round(issued_at_s, 3)})


def verify_form_token(secret: str, token: str, now_s: float) -> None:
    """Refuse a token that does not verify (:class:`InvalidInput`), or whose age at ``now_s`` is
    below :data:`MIN_FILL_S` (:class:`FormTooFast`) or above :data:`MAX_AGE_S`
    (:class:`FormExpired`)."""
    expected = "the form token served with the inquiry form"
    try:
        payload = URLSafeSerializer(secret, salt=_SALT).loads(token)
    except BadSignature:
        raise InvalidInput.for_field("form_token", token, expected) from None
    issued = payload.get("t") if isinstance(payload, dict) else None
    if isinstance(issued, bool) or not isinstance(issued, int | float):
        raise InvalidInput.for_field("form_token", token, expected)
    age = now_s - float(issued)
    if age < MIN_FILL_S:
        raise FormTooFast.for_field(
            "form_token", f"{max(age, 0):.1f} s old", f"at least {MIN_FILL_S:g} s after serving"
        )
    if age > MAX_AGE_S:
        raise FormExpired.for_field(
            "form_token", f"{age:.0f} s old", f"at most {MAX_AGE_S:.0f} s after serving"
        )


def new_form_token(request: Request) -> str:
    return issue_form_token(_secret(request), _now_s(request))


def check_form_token(request: Request, token: str) -> None:
    """:func:`verify_form_token` with this app's secret key and clock."""
    verify_form_token(_secret(request), token, _now_s(request))


def client_key(request: Request) -> str:
    return request.client.host if request.client else "unknown"
