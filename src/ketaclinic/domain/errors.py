"""The one exception tree of ketaclinic.

Every error the core raises on purpose is a :class:`KetaclinicError`. Adapters translate the
tree in exactly one place each (HTTP status in ``web/errors.py``, HL7 ACK code in
``adapters/hl7``, CLI exit code in ``cli/main.py``)::

    KetaclinicError                    (generic)             HTTP 400  CLI 1  HL7 AE
    ├── InvalidInput                   bad input at an edge  HTTP 422  CLI 2  HL7 AR
    │   ├── LimitExceeded              a hard clinical limit HTTP 422  CLI 2  HL7 AR
    │   └── MessageRejected            an HL7 message we     (adapters/hl7/rejection.py;
    │                                  cannot read            carries the ERR location)  AR
    ├── NotFound                       no such thing, or not HTTP 404  CLI 2  HL7 AE
    │                                  yours to see
    ├── NotAuthenticated               who are you?          HTTP 401  CLI 2
    ├── PermissionDenied               role may not do this  HTTP 403  CLI 2
    ├── Conflict                       clashes with stored   HTTP 409  CLI 2  HL7 AE
    │   └── IllegalTransition          state machine refusal HTTP 409  CLI 2
    └── OverrideRequired               a soft limit needs a  HTTP 409  CLI 2
                                       reason and a second
                                       person

Messages name the field, the value and what was expected, and never contain health data that
the caller did not send (no names, MRNs or birth dates from storage).
"""

from __future__ import annotations

from typing import Any, Self


class KetaclinicError(Exception):
    """Base of every deliberate ketaclinic error.

    ``code`` is a stable machine-readable identifier; ``field`` names the offending input
    field when there is one.
    """

    code = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def as_dict(self) -> dict[str, Any]:
        """The JSON error body of DESIGN.md §4.3 (without the outer ``error`` key)."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body


class InvalidInput(KetaclinicError):
    """Input that breaks a documented bound or format.

    Build it with :meth:`for_field` so the message always names field, value and expectation.
    """

    code = "invalid_input"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        value: Any = None,
        expected: str | None = None,
    ) -> None:
        super().__init__(message, field=field)
        self.value = value
        self.expected = expected

    @classmethod
    def for_field(cls, field: str, value: Any, expected: str) -> Self:
        shown = _short(value)
        return cls(
            f"{field}: got {shown}, expected {expected}",
            field=field,
            value=value,
            expected=expected,
        )


class LimitExceeded(InvalidInput):
    """A hard clinical limit: refused everywhere, no override exists."""

    code = "hard_limit"


class NotFound(KetaclinicError):
    """The thing does not exist, or exists at a site the caller may not see."""

    code = "not_found"


class NotAuthenticated(KetaclinicError):
    code = "not_authenticated"


class PermissionDenied(KetaclinicError):
    code = "forbidden"


class Conflict(KetaclinicError):
    """The request clashes with what is stored (duplicate MRN, double booking, ...)."""

    code = "conflict"


class IllegalTransition(Conflict):
    """A state machine refused a transition; the message says why."""

    code = "illegal_transition"


class OverrideRequired(KetaclinicError):
    """A soft limit was reached: proceed only with a reason and a second staff member."""

    code = "override_required"


def _short(value: Any, limit: int = 60) -> str:
    """Render a value for an error message, cut so an abusive input cannot flood a response."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
