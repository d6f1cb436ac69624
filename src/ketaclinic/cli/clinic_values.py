"""The clinic's own values for the calculators of the command line.

``ketaclinic dose`` checks the clinic's drug library and ``ketaclinic eligibility`` applies the
clinic's eligibility thresholds when a database is configured (``KETACLINIC_DATABASE_URL``, or
the SQLite file in ``KETACLINIC_DATA_DIR`` once it exists) and can be read. Otherwise they fall
back to the shipped defaults and say why: a calculator should answer, and say which values it
used. Reading needs no sign-in (these settings hold no health data), only reads, and never
creates or migrates a database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

from ketaclinic.config import load_settings

if TYPE_CHECKING:
    from ketaclinic.services.ports import UnitOfWork

T = TypeVar("T")

CLINIC = "clinic"
SHIPPED = "shipped"
# design: how long a calculator waits for a PostgreSQL server before it falls back to the
# shipped values.
DB_CONNECT_TIMEOUT_S = 5


@dataclass(frozen=True, slots=True)
class ClinicValues(Generic[T]):
    """What a calculator uses: the values, whose they are (``clinic`` or ``shipped``), why the
    shipped ones when so (``reason``), and the database read (password hidden)."""

    values: T
    source: str
    reason: str = ""
    database: str = ""


def bounded_url(url: str) -> str:
    """A PostgreSQL URL that gives up connecting after DB_CONNECT_TIMEOUT_S (libpq would wait
    as long as the network lets it), unless it sets its own ``connect_timeout``."""
    from ketaclinic.adapters.db.engine import is_sqlite

    if is_sqlite(url) or "connect_timeout" in url:
        return url
    return url + ("&" if "?" in url else "?") + f"connect_timeout={DB_CONNECT_TIMEOUT_S}"


def read_clinic_values(read: Callable[[UnitOfWork], T], shipped: T) -> ClinicValues[T]:
    """``read`` in a read-only unit of work on the configured database, or ``shipped`` with the
    reason none could be read."""
    import sqlalchemy as sa

    from ketaclinic.adapters.db.engine import is_sqlite, make_engine, normalise_url
    from ketaclinic.adapters.db.uow import SqlUnitOfWorkFactory

    try:
        settings = load_settings()
    except ValueError as error:  # a malformed setting (pydantic): the calculator still answers
        reason = " ".join(str(error).split())[:200]
        return ClinicValues(shipped, SHIPPED, f"the settings are invalid ({reason})")
    configured = normalise_url(settings.effective_database_url)
    where = sa.engine.make_url(configured).render_as_string(hide_password=True)
    if is_sqlite(configured):
        path = Path(sa.engine.make_url(configured).database or "")
        if not path.is_file():  # connecting would create an empty database file
            unset = "" if settings.database_url else "KETACLINIC_DATABASE_URL is unset and "
            return ClinicValues(shipped, SHIPPED, f"no database configured ({unset}no {path})")
    engine = make_engine(bounded_url(configured))
    try:
        with SqlUnitOfWorkFactory(engine)(readonly=True) as uow:
            values = read(uow)
    except sa.exc.SQLAlchemyError as error:
        cause = getattr(error, "orig", None) or error
        reason = " ".join(str(cause).split())[:200]
        return ClinicValues(shipped, SHIPPED, f"the database {where} could not be read ({reason})")
    finally:
        engine.dispose()
    return ClinicValues(values, CLINIC, database=where)
