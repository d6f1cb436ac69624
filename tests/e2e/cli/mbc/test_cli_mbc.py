"""``ketaclinic instruments load`` and ``ketaclinic self-report send`` on SQLite and PostgreSQL
(the demo clinic loaded), with a loopback SMTP server for the e-mailed link."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
import typer
from typer.testing import CliRunner

from ketaclinic.adapters.db import tables as t
from ketaclinic.adapters.db import tables_mbc as m
from ketaclinic.cli import mbc as mbc_cli
from ketaclinic.cli import scoring as scoring_cli
from ketaclinic.services.mbc_self_report import token_hash

runner = CliRunner()


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    scoring_cli.register(app)  # owns the "instruments" group with "validate"
    mbc_cli.register(app)
    return app


@pytest.fixture
def env(demo, tmp_path: Path) -> dict[str, str]:
    return {
        "KETACLINIC_DATABASE_URL": demo.settings.effective_database_url,
        "KETACLINIC_DATA_DIR": str(tmp_path / "data"),
        "KETACLINIC_SECRET_KEY": "cli-secret-" + "q" * 40,
        "KETACLINIC_ENVIRONMENT": "test",
        "KETACLINIC_SMTP_HOST": "",
        "KETACLINIC_PUBLIC_URL": "",
    }


def rows(demo, table, *where) -> list:
    with demo.engine.connect() as conn:
        return conn.execute(sa.select(table).where(*where)).all()


PACK = {
    "format": "ketaclinic.content-pack/1",
    "instrument": "phq9",
    "language": "es",
    "licence": {
        "attested_by": "Dr. Ana Ruiz",
        "attested_on": "2026-10-01",
        "statement": "Public domain; no permission needed",
    },
    "title": "Título de prueba",
    "items": {f"phq9_{n:02d}": f"Texto de prueba {n}" for n in range(1, 10)},
    "anchors": ["cero", "uno", "dos", "tres"],
}


def test_load_stores_a_pack_with_its_attestation_and_audits_it(app, env, demo, tmp_path):
    file = tmp_path / "phq9-es.json"
    file.write_text(json.dumps(PACK), encoding="utf-8")
    result = runner.invoke(app, ["instruments", "load", str(file), "--json"], env=env)
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert (body["instrument"], body["language"], body["items"]) == ("phq9", "es", 9)
    assert body["licence"]["attested_by"] == "Dr. Ana Ruiz"
    (row,) = rows(demo, m.content_pack)
    assert row.licence_attested_on.isoformat() == "2026-10-01"
    audited = rows(demo, t.audit_event, t.audit_event.c.resource == "content_pack")
    assert [(a.action, a.detail) for a in audited] == [("create", "phq9 es, licence attested")]


def test_validate_and_load_live_side_by_side(app, env, tmp_path):
    file = tmp_path / "pack.json"
    file.write_text(json.dumps(PACK), encoding="utf-8")
    checked = runner.invoke(app, ["instruments", "validate", str(file), "--json"], env=env)
    assert checked.exit_code == 0
    assert json.loads(checked.stdout)["valid"] is True


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ({**PACK, "anchors": ["solo uno"]}, "anchors"),
        ({**PACK, "items": {"phq9_01": "x"}}, "items.phq9_02"),
        ({**PACK, "instrument": "nope"}, "instrument"),
    ],
)
def test_an_invalid_pack_is_one_line_exit_2_and_stores_nothing(
    app, env, demo, tmp_path, content, field
):
    file = tmp_path / "bad.json"
    file.write_text(json.dumps(content), encoding="utf-8")
    result = runner.invoke(app, ["instruments", "load", str(file)], env=env)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: content pack has")
    assert field in lines[0]
    assert rows(demo, m.content_pack) == []


def test_an_unreadable_file_is_bad_input(app, env, tmp_path):
    result = runner.invoke(app, ["instruments", "load", str(tmp_path / "missing.json")], env=env)
    assert result.exit_code == 2
    assert "FILE" in result.stderr


def test_send_prints_a_working_link_and_says_mail_is_off(app, env, demo):
    result = runner.invoke(
        app,
        [
            "self-report",
            "send",
            "--mrn",
            "DEMO-0005",
            "--instrument",
            "pcl5",
            "--instrument",
            "gad7",
            "--base-url",
            "https://clinic.example.org/",
            "--due",
            (dt.date.today() + dt.timedelta(days=3)).isoformat(),
            "--json",
        ],
        env=env,
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["url"].startswith("https://clinic.example.org/r/")
    assert body["instruments"] == ["pcl5", "gad7"]
    assert body["mail"] == "off"
    token = body["url"].rsplit("/", 1)[1]
    (link,) = rows(demo, m.self_report_link, m.self_report_link.c.token_hash == token_hash(token))
    assert link.created_by is None  # the system operator
    assert link.instrument_ids == "pcl5,gad7"


def test_human_output_prints_the_link(app, env):
    result = runner.invoke(
        app, ["self-report", "send", "--mrn", "DEMO-0005", "--instrument", "phq9"], env=env
    )
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:8000/r/" in result.stdout
    assert "SMTP is not configured" in " ".join(result.stdout.split())


def test_send_mails_the_link_when_smtp_is_configured(app, env, demo, smtp_inbox):
    inbox = smtp_inbox
    result = runner.invoke(
        app,
        ["self-report", "send", "--mrn", "DEMO-0005", "--instrument", "phq9", "--json"],
        env={
            **env,
            "KETACLINIC_SMTP_HOST": "127.0.0.1",
            "KETACLINIC_SMTP_PORT": str(inbox.port),
            "KETACLINIC_PUBLIC_URL": "https://clinic.example.org",
        },
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["mail"] == "sent"
    (message,) = inbox.messages
    assert message["To"] == "demo-0005@patients.demo.invalid"
    text = message.get_payload(decode=True).decode("utf-8")
    assert body["url"] in text
    assert "DEMO-0005" not in text
    (link,) = rows(demo, m.self_report_link)
    assert link.mailed_at is not None


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--mrn", "NOPE-1", "--instrument", "pcl5"], "--mrn"),
        (["--mrn", "DEMO-0005", "--instrument", "cssrs"], "instruments"),
        (["--mrn", "DEMO-0005", "--instrument", "pcl5", "--due", "soon"], "--due"),
        (["--mrn", "DEMO-0005", "--instrument", "pcl5", "--base-url", "clinic"], "--base-url"),
    ],
)
def test_bad_send_arguments_are_one_line_exit_2_and_store_nothing(app, env, demo, args, field):
    result = runner.invoke(app, ["self-report", "send", *args], env=env)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {field}")
    assert rows(demo, m.self_report_link) == []


def test_send_due_mails_due_links_once_and_says_what_it_did(
    app, env, demo, smtp_inbox, book_tomorrow
):
    patient_id = book_tomorrow(demo, "DEMO-0005")
    inbox = smtp_inbox
    smtp = {**env, "KETACLINIC_SMTP_HOST": "127.0.0.1", "KETACLINIC_SMTP_PORT": str(inbox.port)}
    first = runner.invoke(
        app,
        ["self-report", "send-due", "--base-url", "https://clinic.example.org", "--json"],
        env=smtp,
    )
    again = runner.invoke(app, ["self-report", "send-due", "--json"], env=smtp)
    assert first.exit_code == 0, first.output
    body = json.loads(first.stdout)
    mine = [i for i in body["items"] if i["patient_id"] == patient_id]
    assert [(i["kind"], i["instruments"], i["outcome"]) for i in mine] == [
        ("before_infusion", ["pcl5", "phq9"], "mailed")
    ]
    assert body["by_outcome"]["mailed"] == len(inbox.messages) >= 1
    assert all(
        "https://clinic.example.org/r/" in m.get_payload(decode=True).decode()
        for m in inbox.messages
    )
    assert "DEMO-" not in first.stdout  # ids only, no MRN or name
    links = rows(demo, m.self_report_link, m.self_report_link.c.patient_id == patient_id)
    assert len(links) == 1
    assert links[0].mailed_at is not None
    (request,) = rows(demo, m.self_report_request, m.self_report_request.c.patient_id == patient_id)
    assert (request.outcome, request.link_id) == ("mailed", links[0].id)
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["items"] == []
    assert len(rows(demo, m.self_report_link)) == len(links) + sum(
        1 for i in body["items"] if i["patient_id"] != patient_id and i["outcome"] == "mailed"
    )


def test_send_due_with_mail_off_leaves_notices_and_makes_no_link(app, env, demo, book_tomorrow):
    patient_id = book_tomorrow(demo, "DEMO-0005")
    result = runner.invoke(app, ["self-report", "send-due"], env=env)
    assert result.exit_code == 0, result.output
    assert "mail is off (front desk notified)" in " ".join(result.stdout.split())
    (request,) = rows(demo, m.self_report_request, m.self_report_request.c.patient_id == patient_id)
    assert (request.outcome, request.link_id) == ("mail_off", None)
    assert rows(demo, m.self_report_link) == []


def test_send_due_refuses_a_bad_base_url_in_one_line(app, env):
    result = runner.invoke(app, ["self-report", "send-due", "--base-url", "clinic"], env=env)
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert "--base-url" in line


def test_report_outcomes_is_the_directors_report_audited_under_their_name(
    app, env, demo, tmp_path: Path
) -> None:
    from ketaclinic.services import mbc_cohort
    from ketaclinic.services.audit import Actor
    from ketaclinic.services.auth import principal_of

    csv_file = tmp_path / "outcomes.csv"
    args = ["report", "outcomes", "--as", "director.mia", "--csv", str(csv_file), "--json"]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    with demo.uow() as uow:
        director = uow.users.by_username("director.mia")
        expected = mbc_cohort.outcome_report(uow, demo.clock, Actor(principal_of(director)))
    assert shown == json.loads(json.dumps(expected.as_dict()))
    everyone = shown["groups"][0]
    assert (everyone["grouping"], everyone["group"]) == ("all", "All sites")
    assert everyone["summary"]["n"] > 0  # the demo clinic's past series have follow-up scores
    lines = csv_file.read_text(encoding="utf-8").splitlines()
    assert lines[0] == ",".join(mbc_cohort.CSV_COLUMNS)
    assert len(lines) == 1 + len(shown["groups"])
    reads = rows(demo, t.audit_event, t.audit_event.c.resource == "outcome_report")
    assert reads[-1].user_id == director.id

    human = runner.invoke(app, ["report", "outcomes", "--as", "director.mia"], env=env)
    assert human.exit_code == 0
    assert "All sites" in human.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--as", "nurse.mia"], "outcome_report: your role may not do this"),
        (["--as", "nobody.here"], "--as: no active staff account named 'nobody.here'"),
        (["--as", "director.mia", "--from", "2026-13-01"], "--from: got '2026-13-01'"),
        (["--as", "director.mia", "--from", "2026-05-01", "--to", "2026-04-01"], "to: got"),
    ],
)
def test_report_outcomes_refuses_bad_input_in_one_line(app, env, args, message) -> None:
    result = runner.invoke(app, ["report", "outcomes", *args], env=env)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output
