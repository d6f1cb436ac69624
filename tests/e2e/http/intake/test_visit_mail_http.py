"""Appointment e-mails end to end, on SQLite and PostgreSQL with the demo clinic and a real SMTP
server on loopback (aiosmtpd): booking a series, moving and cancelling a visit over the API
e-mail a Spanish-speaking patient in Spanish, in Miami time; without an e-mail address nothing is
sent and the API and the staff page say so."""

from __future__ import annotations

import datetime as dt
import email
import email.header
import re
from collections.abc import Callable
from email.message import Message
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from ketaclinic.adapters.db import tables as t
from ketaclinic.bootstrap import Container, build
from ketaclinic.config import Settings

MIAMI = ZoneInfo("America/New_York")
PASSWORD = "demo-clinic-2026"
ADDRESS = "demo-0005@patients.demo.invalid"
# Spanish names written out here, not taken from the code under test.
DIAS = ["lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"]
MESES = [
    "enero", "febrero", "marzo", "abril", "mayo", "junio",
    "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre",
]  # fmt: skip


@pytest.fixture
def mailing(demo, smtp_inbox, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The demo clinic's database served by an app whose mail goes to the loopback server."""
    from ketaclinic.web.app import create_app
    from ketaclinic.web.throttle import login_throttle

    box, port = smtp_inbox, smtp_inbox.port
    settings = Settings(
        database_url=demo.settings.effective_database_url,
        data_dir=tmp_path / "mail-data",
        secret_key="mail-secret-" + "m" * 40,
        environment="test",
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_sender="citas@clinic.example",
        _env_file=None,  # type: ignore[call-arg]
    )
    container = build(settings, fast_password_hashing=True)
    login_throttle.reset()
    try:
        with TestClient(create_app(container)) as client:
            yield container, client, box
    finally:
        container.dispose()


def token(client: TestClient, username: str) -> dict[str, str]:
    answer = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def patient_id(container: Container, mrn: str) -> int:
    with container.engine.connect() as conn:
        return conn.execute(sa.select(t.patient.c.id).where(t.patient.c.mrn == mrn)).scalar_one()


def prefers_spanish(container: Container, mrn: str) -> int:
    pid = patient_id(container, mrn)
    with container.uow() as uow:
        uow.patients.set_preferred_language(pid, "es")
        uow.commit()
    return pid


def subject(message: Message) -> str:
    return str(email.header.make_header(email.header.decode_header(message["Subject"])))


def text(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode("utf-8").replace("\r\n", "\n")


def spanish(local_start: str) -> str:
    """How the e-mail should write an API ``local_start`` (Miami time, with its offset)."""
    moment = dt.datetime.fromisoformat(local_start).astimezone(MIAMI)
    day = f"{DIAS[moment.weekday()]}, {moment.day} de {MESES[moment.month - 1]} de {moment.year}"
    article = "la" if moment.hour == 1 else "las"
    return f"{day}, a {article} {moment.hour}:{moment.minute:02d}"


def book(client: TestClient, pid: int, headers: dict[str, str]) -> dict:
    start = dt.datetime.now(MIAMI).date() + dt.timedelta(days=35)
    booked = client.post(
        f"/api/v1/patients/{pid}/series", json={"start_date": start.isoformat()}, headers=headers
    )
    assert booked.status_code == 201, booked.text
    return booked.json()


def test_booking_a_series_e_mails_a_spanish_speaker_in_spanish(mailing) -> None:
    container, client, box = mailing
    pid = prefers_spanish(container, "DEMO-0005")
    series = book(client, pid, token(client, "frontdesk.mia"))
    assert series["confirmation"] == {
        "outcome": "sent",
        "message": "confirmation e-mailed to the patient",
    }
    ((_, recipients, message),) = box.received
    assert recipients == [ADDRESS]
    assert message["From"] == "citas@clinic.example"
    assert subject(message) == "Demo Ketamine Clinic: sus citas están confirmadas"
    body = text(message)
    lines = body.splitlines()
    assert lines[0] == "Hola:"
    assert "Sus citas en Demo Ketamine Clinic (Miami) están confirmadas:" in lines
    listed = [line for line in lines if line.startswith("- ") and " de 20" in line]
    assert listed == [f"- {spanish(v['local_start'])}" for v in series["visits"]]
    assert len(listed) == 6
    assert "Venga con un adulto que pueda llevarle a casa" in body
    assert "durante 24 horas" in body
    # Nothing that identifies the patient or the treatment.
    with container.uow() as uow:
        patient = uow.patients.get(pid)
    for private in (patient.mrn, patient.given_name, patient.family_name, "ketamin", "feder"):
        assert private not in body.replace("Demo Ketamine Clinic", "")
    with container.engine.connect() as conn:
        audited = conn.execute(
            sa.select(t.audit_event.c.detail, t.audit_event.c.username).where(
                t.audit_event.c.resource == "visit_mail"
            )
        ).all()
    assert [tuple(a) for a in audited] == [("booked (es): sent", "frontdesk.mia")]


def test_moving_and_cancelling_a_visit_e_mail_the_patient_in_spanish(mailing) -> None:
    container, client, box = mailing
    pid = prefers_spanish(container, "DEMO-0005")
    headers = token(client, "frontdesk.mia")
    series = book(client, pid, headers)
    url = f"/api/v1/patients/{pid}/series/{series['id']}/visits"
    moved = client.post(f"{url}/2/move", json={"at": "15:00"}, headers=headers)
    assert moved.status_code == 200, moved.text
    assert moved.json()["confirmation"]["outcome"] == "sent"
    new_start = moved.json()["visits"][1]["local_start"]
    assert spanish(new_start).endswith("a las 15:00")
    move_mail = box.messages[-1]
    assert subject(move_mail) == "Demo Ketamine Clinic: su cita ha cambiado"
    assert spanish(new_start) in text(move_mail).splitlines()
    cancelled = client.post(
        f"{url}/3/cancel", json={"reason": "Blood pressure too high last time"}, headers=headers
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["confirmation"]["outcome"] == "sent"
    gone = cancelled.json()["cancelled"][0]["local_start"]
    cancel_mail = box.messages[-1]
    assert subject(cancel_mail) == "Demo Ketamine Clinic: se ha cancelado su cita"
    body = text(cancel_mail)
    assert spanish(gone) in body.splitlines()
    assert f"- {spanish(gone)}" not in body.splitlines()  # not among the remaining visits
    assert "Blood" not in body
    assert len(box.messages) == 3


def test_without_an_e_mail_address_nothing_is_sent_and_the_api_says_so(mailing) -> None:
    container, client, box = mailing
    pid = patient_id(container, "DEMO-0005")
    with container.engine.begin() as conn:
        conn.execute(t.patient.update().where(t.patient.c.id == pid).values(email=""))
    series = book(client, pid, token(client, "frontdesk.mia"))
    assert series["confirmation"] == {
        "outcome": "no_email",
        "message": "the patient has no e-mail address on file: no confirmation was sent",
    }
    assert len(series["visits"]) == 6  # booked all the same
    assert box.messages == []


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def sign_in(client: TestClient, username: str) -> None:
    page = client.get("/login")
    answer = client.post(
        "/login",
        data={
            "username": username,
            "password": PASSWORD,
            "csrf_token": csrf(page.text),
            "next": "/",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


@pytest.mark.parametrize(
    ("email_on_file", "notice"),
    [
        ("", "The patient has no e-mail address on file: no confirmation was sent."),
        (ADDRESS, "Confirmation e-mailed to the patient."),
    ],
)
def test_the_series_page_says_whether_the_patient_was_e_mailed(
    mailing, email_on_file: str, notice: str
) -> None:
    container, client, box = mailing
    pid = patient_id(container, "DEMO-0005")
    with container.engine.begin() as conn:
        conn.execute(t.patient.update().where(t.patient.c.id == pid).values(email=email_on_file))
    sign_in(client, "frontdesk.mia")
    page = client.get(f"/patients/{pid}/series")
    start = dt.datetime.now(MIAMI).date() + dt.timedelta(days=28)
    booked = client.post(
        f"/patients/{pid}/series",
        data={"csrf_token": csrf(page.text), "start_date": start.isoformat()},
    )
    assert booked.status_code == 200
    assert "Series booked: 6 visits" in booked.text
    assert notice in booked.text
    assert len(box.messages) == (1 if email_on_file else 0)


def test_mail_off_is_said_too(client, demo, token_for: Callable[[str], dict[str, str]]) -> None:
    # The suite's own app has no SMTP server configured.
    with demo.engine.connect() as conn:
        pid = conn.execute(
            sa.select(t.patient.c.id).where(t.patient.c.mrn == "DEMO-0005")
        ).scalar_one()
    series = book(client, pid, token_for("frontdesk.mia"))
    assert series["confirmation"]["outcome"] == "mail_off"
    assert "e-mail is not set up at this clinic" in series["confirmation"]["message"]
