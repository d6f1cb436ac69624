"""Settings from the environment (or a ``.env`` file), validated once at start-up.

Outside development the settings refuse unsafe defaults: a secret key must be given and be long
enough, and session cookies are marked Secure.
"""

from __future__ import annotations

import secrets
from enum import StrEnum
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_SECRET_KEY_LENGTH = 32
DEFAULT_CHAIR_SWEEP_S = 15.0  # design: NIBP-overdue granularity well under a minute
DEFAULT_VISIT_REMINDER_SWEEP_S = 300.0  # design: a reminder a day ahead need not be to the minute
DEFAULT_VISIT_REMINDER_LEAD_H = 24.0  # services/visit_notice_ports.DEFAULT_REMINDER_LEAD


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class UnsafeConfiguration(RuntimeError):
    """The settings would run a clinic unsafely; the message says which and how to fix it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KETACLINIC_", env_file=".env", extra="ignore", frozen=True
    )

    environment: Environment = Environment.DEVELOPMENT
    data_dir: Path = Path("./var")
    database_url: str = ""  # empty: SQLite file in data_dir
    secret_key: str = ""  # empty in development: generated into data_dir on first run

    session_max_age_s: int = Field(default=8 * 3600, ge=300, le=7 * 24 * 3600)
    token_max_age_s: int = Field(default=8 * 3600, ge=60, le=7 * 24 * 3600)
    login_max_failures: int = Field(default=5, ge=1, le=100)
    login_lockout_s: int = Field(default=15 * 60, ge=10, le=24 * 3600)

    smtp_host: str = ""
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_sender: str = "ketaclinic@localhost"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False

    # The infusion chair's background sweep (NIBP overdue, escalation of unacknowledged alerts
    # and the e-mails that tell people of it; docs/chair.md). Seconds between sweeps; 0 turns it
    # off; unset means every 15 s, except in the test environment, where it is off unless a test
    # asks for it (design).
    chair_sweep_s: float | None = Field(default=None, ge=0, le=3600)
    # Minutes an unacknowledged clinical alert waits before each escalation level (design
    # default 2 min, domain/alerts.py DEFAULT_RULES; REFERENCE.md §5 has no published figure).
    alert_escalate_after_min: float = Field(default=2.0, gt=0, le=240)
    # Seconds between a live chair board's own re-renders when nothing changed (its clocks and
    # elapsed times); a change shows at once, from this process or another (design).
    board_refresh_s: float = Field(default=5.0, ge=1, le=60)
    # Appointment reminders (docs/intake.md): hours before a visit its reminder e-mail goes out
    # (1 h – 7 days), and seconds between the reminder sweeps that the background sweeper runs
    # beside the chair's (0 turns them off; unset means every 5 minutes, except in the test
    # environment, where they are off unless a test asks). ``ketaclinic visits send-reminders``
    # does the same from cron.
    visit_reminder_lead_h: float = Field(default=DEFAULT_VISIT_REMINDER_LEAD_H, ge=1, le=168)
    visit_reminder_sweep_s: float | None = Field(default=None, ge=0, le=86400)
    # The address patients reach ketaclinic at, e.g. https://clinic.example.org (links in
    # e-mails). When set, the reminder sweep also sends the scheduled questionnaire links that
    # are due (``ketaclinic self-report send-due``), so no cron job is needed; unset, a link
    # could only point at this machine, so they go out from the command alone.
    public_url: str = ""

    log_level: str = "INFO"
    # The zone of times that bedside monitors send without a UTC offset (HL7 TS without "+hhmm").
    timezone: str = "UTC"

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        value = value.strip()
        if value and (not value.startswith(("https://", "http://")) or len(value) > 200):
            raise ValueError("an http(s):// address of at most 200 characters, or empty")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("expected an IANA time zone such as America/New_York") from None
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("log_level must be DEBUG, INFO, WARNING or ERROR")
        return value

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION

    @property
    def effective_chair_sweep_s(self) -> float:
        """Seconds between the chair's background sweeps; 0 when it is off."""
        if self.chair_sweep_s is not None:
            return self.chair_sweep_s
        return 0.0 if self.environment is Environment.TEST else DEFAULT_CHAIR_SWEEP_S

    @property
    def effective_visit_reminder_sweep_s(self) -> float:
        """Seconds between the background reminder sweeps; 0 when they are off."""
        if self.visit_reminder_sweep_s is not None:
            return self.visit_reminder_sweep_s
        return 0.0 if self.environment is Environment.TEST else DEFAULT_VISIT_REMINDER_SWEEP_S

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'ketaclinic.sqlite3').resolve()}"

    def effective_secret_key(self) -> str:
        """The signing key. In development a random key is generated once into the data dir."""
        if self.secret_key:
            if self.is_production and len(self.secret_key) < MIN_SECRET_KEY_LENGTH:
                raise UnsafeConfiguration(
                    f"KETACLINIC_SECRET_KEY: got {len(self.secret_key)} characters, expected at "
                    f"least {MIN_SECRET_KEY_LENGTH} in production"
                )
            return self.secret_key
        if self.is_production:
            raise UnsafeConfiguration(
                "KETACLINIC_SECRET_KEY: not set, expected a random secret of at least "
                f"{MIN_SECRET_KEY_LENGTH} characters in production"
            )
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key

    def check_safe(self) -> None:
        """Raise :class:`UnsafeConfiguration` for settings no clinic should run with."""
        self.effective_secret_key()
        if self.is_production and self.effective_database_url.startswith("sqlite:///:memory:"):
            raise UnsafeConfiguration(
                "KETACLINIC_DATABASE_URL: an in-memory database loses every record on restart"
            )


def load_settings() -> Settings:
    """Settings from the environment; a bad value raises :class:`UnsafeConfiguration` naming the
    variable, the value and what was expected (one line, no traceback for the operator)."""
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as error:
        first = error.errors()[0]
        name = "KETACLINIC_" + "_".join(str(p) for p in first.get("loc", ())).upper()
        message = str(first.get("msg", "is not valid")).removeprefix("Value error, ")
        raise UnsafeConfiguration(f"{name}: got {first.get('input')!r}; {message}") from None
