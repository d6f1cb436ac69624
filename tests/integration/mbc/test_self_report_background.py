"""The server's background sweep sends the scheduled questionnaire links once the clinic's public
address is set, on SQLite and PostgreSQL with the demo clinic and an SMTP server on loopback:
the due link is e-mailed once with that address in it, a second sweep sends nothing more."""

from __future__ import annotations

from pathlib import Path

from ketaclinic.adapters.chair_sweeper import ChairSweeper
from ketaclinic.bootstrap import build
from ketaclinic.config import Settings

ADDRESS = "demo-0005@patients.demo.invalid"


def test_the_sweeper_sends_due_links_with_the_public_address(  # type: ignore[no-untyped-def]
    demo, smtp_inbox, book_tomorrow, tmp_path: Path
) -> None:
    patient_id = book_tomorrow(demo, "DEMO-0005")
    container = build(
        Settings(
            database_url=demo.settings.effective_database_url,
            data_dir=tmp_path,
            secret_key="sweep-secret-" + "q" * 40,
            environment="test",
            smtp_host="127.0.0.1",
            smtp_port=smtp_inbox.port,
            public_url="https://clinic.example.org",
            _env_file=None,  # type: ignore[call-arg]
        ),
        fast_password_hashing=True,
    )
    try:
        sweeper = ChairSweeper(container, 15, reminder_interval_s=0)
        first = sweeper.send_self_reports()
        assert first is not None
        mine = [item for item in first.items if item.patient_id == patient_id]
        assert [item.outcome.value for item in mine] == ["mailed"]
        (mail,) = smtp_inbox.to(ADDRESS)
        assert "https://clinic.example.org/r/" in mail.get_payload(decode=True).decode()
        again = sweeper.send_self_reports()
        assert again is not None
        assert [item for item in again.items if item.patient_id == patient_id] == []
        assert len(smtp_inbox.to(ADDRESS)) == 1
    finally:
        container.dispose()
