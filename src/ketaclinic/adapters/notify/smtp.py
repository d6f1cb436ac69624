"""E-mail notifications over SMTP (the :class:`~ketaclinic.services.ports.Notifier` port).

:func:`build_notifier` is what ``bootstrap.py`` calls: an :class:`SmtpNotifier` when
``KETACLINIC_SMTP_HOST`` is set, otherwise a :class:`NullNotifier` that delivers nothing and
logs once that mail is off. Messages carry no health data beyond what the caller put in them;
the services send only an internal patient id and "open ketaclinic" (docs/mbc.md).

The SMTP conversation uses the standard library only: a connection per message (notifications
are rare), STARTTLS when configured (and required before sending credentials), a timeout so an
unreachable server cannot hang a request for long.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import cast

from ketaclinic.config import Settings
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.services.ports import Notifier

log = logging.getLogger("ketaclinic.notify")

TIMEOUT_S = 10.0
EXTRAS_KEY = "notifier"
"""Where ``bootstrap.build`` keeps the notifier in ``Container.extras``."""


class NullNotifier:
    """Mail is off: nothing is sent. The first attempt logs that mail is not configured.
    ``enabled`` is false, so the services know not to count anything as sent."""

    def __init__(self) -> None:
        self._warned = False

    @property
    def enabled(self) -> bool:
        return False

    def send(self, to: str, subject: str, body: str) -> None:
        del to, subject, body
        if not self._warned:
            log.warning("mail is off (KETACLINIC_SMTP_HOST is not set); notification not sent")
            self._warned = True


class SmtpNotifier:
    """Sends each message in its own SMTP session; raises ``OSError``/``smtplib`` errors to the
    caller, who decides what a failed notification means."""

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        username: str = "",
        password: str = "",
        starttls: bool = False,
        timeout_s: float = TIMEOUT_S,
    ) -> None:
        if not host:
            raise InvalidInput.for_field("smtp_host", host, "a mail server host name")
        if username and not starttls and host not in {"localhost", "127.0.0.1", "::1"}:
            # Credentials over an unencrypted connection to another machine are refused.
            raise InvalidInput.for_field(
                "smtp_starttls", starttls, "true when a username and password are set"
            )
        self.host = host
        self.port = port
        self.sender = sender
        self.username = username
        self.password = password
        self.starttls = starttls
        self.timeout_s = timeout_s

    @property
    def enabled(self) -> bool:
        return True

    def send(self, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or None)
        message.set_content(body)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password)
            smtp.send_message(message)


def build_notifier(settings: Settings) -> Notifier:
    """The notifier for these settings: SMTP when a host is configured, else mail is off."""
    if not settings.smtp_host:
        return NullNotifier()
    return SmtpNotifier(
        settings.smtp_host,
        settings.smtp_port,
        settings.smtp_sender,
        username=settings.smtp_username,
        password=settings.smtp_password,
        starttls=settings.smtp_starttls,
    )


def notifier_in(extras: Mapping[str, object]) -> Notifier:
    """The notifier ``bootstrap.build`` put into ``Container.extras`` (mail off if none)."""
    found = extras.get(EXTRAS_KEY)
    if found is None:
        return NullNotifier()
    send = getattr(found, "send", None)
    if not callable(send):
        raise TypeError(f"Container.extras[{EXTRAS_KEY!r}] is not a notifier")
    return cast(Notifier, found)
