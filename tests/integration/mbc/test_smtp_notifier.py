"""The SMTP notifier against a real SMTP server on loopback (aiosmtpd), and the null notifier
used when mail is off."""

from __future__ import annotations

import email
import logging
from pathlib import Path

import pytest

from ketaclinic.adapters.notify.smtp import (
    NullNotifier,
    SmtpNotifier,
    build_notifier,
    notifier_in,
)
from ketaclinic.config import Settings
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.services.mbc_safety import delivers


@pytest.fixture
def smtp_server(smtp_inbox):  # type: ignore[no-untyped-def]
    return smtp_inbox, smtp_inbox.port


def settings(tmp_path: Path, **smtp) -> Settings:
    return Settings(
        data_dir=tmp_path,
        secret_key="s" * 40,
        environment="test",
        _env_file=None,  # type: ignore[call-arg]
        **smtp,
    )


def test_a_message_reaches_the_server_with_sender_recipient_and_body(smtp_server) -> None:
    inbox, port = smtp_server
    notifier = SmtpNotifier("127.0.0.1", port, "ketaclinic@clinic.example")
    notifier.send("prescriber@clinic.example", "A subject", "Open ketaclinic.\n")
    ((mail_from, recipients, message),) = inbox.received
    assert mail_from == "ketaclinic@clinic.example"
    assert recipients == ["prescriber@clinic.example"]
    assert message["Subject"] == "A subject"
    assert message["Message-ID"]
    # SMTP carries lines ending in CRLF.
    assert message.get_payload(decode=True).decode() == "Open ketaclinic.\r\n"


def test_non_ascii_text_is_delivered_intact(smtp_server) -> None:
    inbox, port = smtp_server
    SmtpNotifier("127.0.0.1", port, "k@clinic.example").send(
        "p@clinic.example", "Su clínica", "Abra este enlace: https://x/r/abc — gracias.\n"
    )
    message = inbox.messages[0]
    assert str(email.header.make_header(email.header.decode_header(message["Subject"]))) == (
        "Su clínica"
    )
    assert "— gracias" in message.get_payload(decode=True).decode("utf-8")


def test_the_settings_build_an_smtp_notifier_that_delivers(smtp_server, tmp_path: Path) -> None:
    inbox, port = smtp_server
    notifier = build_notifier(
        settings(tmp_path, smtp_host="127.0.0.1", smtp_port=port, smtp_sender="k@clinic.example")
    )
    assert isinstance(notifier, SmtpNotifier)
    assert delivers(notifier)
    notifier.send("p@clinic.example", "s", "b")
    assert len(inbox.messages) == 1


def test_an_unreachable_server_raises_to_the_caller(unused_port: int) -> None:
    notifier = SmtpNotifier("127.0.0.1", unused_port, "k@clinic.example", timeout_s=2)
    with pytest.raises(ConnectionRefusedError):
        notifier.send("p@clinic.example", "s", "b")


def test_credentials_are_never_sent_unencrypted_to_another_host() -> None:
    with pytest.raises(InvalidInput, match="smtp_starttls"):
        SmtpNotifier("mail.example.org", 587, "k@x", username="u", password="p")
    assert SmtpNotifier("mail.example.org", 587, "k@x", username="u", starttls=True).starttls


def test_without_a_host_mail_is_off_and_says_so_once(tmp_path: Path) -> None:
    notifier = build_notifier(settings(tmp_path))
    assert isinstance(notifier, NullNotifier)
    assert not delivers(notifier)

    # Our own handler on the notifier's logger: the count does not depend on how other tests
    # left the logging tree (propagation, caplog's handlers).
    class Keep(logging.Handler):
        def __init__(self) -> None:
            super().__init__(logging.WARNING)
            self.messages: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.messages.append(record.getMessage())

    keep = Keep()
    logger = logging.getLogger("ketaclinic.notify")
    logger.addHandler(keep)
    try:
        notifier.send("p@clinic.example", "s", "b")
        notifier.send("p@clinic.example", "s", "b")
    finally:
        logger.removeHandler(keep)
    assert [m for m in keep.messages if "mail is off" in m] == [
        "mail is off (KETACLINIC_SMTP_HOST is not set); notification not sent"
    ]


def test_the_container_carries_the_notifier(tmp_path: Path) -> None:
    from ketaclinic.bootstrap import build

    container = build(settings(tmp_path, database_url=f"sqlite:///{tmp_path / 'n.sqlite3'}"))
    try:
        assert isinstance(notifier_in(container.extras), NullNotifier)
    finally:
        container.dispose()
    assert isinstance(notifier_in({}), NullNotifier)
