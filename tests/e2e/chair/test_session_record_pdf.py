"""The session record as a PDF (``/sessions/{id}/record.pdf``) on SQLite and PostgreSQL: a
real PDF with the vitals chart and the session's key facts, audited as a read, refused to
those who may not read the session; and the document writer's own promises (plain text only,
every character printable).

The PDF is read back without a PDF library: the page tree's count and the strings the content
streams show, decoded with the standard library (zlib for FlateDecode, base64 for
ASCII85Decode). Enough to check what a record says; not a general PDF parser (it assumes one
string per text-showing operator, as ReportLab writes them)."""

from __future__ import annotations

import base64
import re
import zlib

import sqlalchemy as sa

from ketaclinic.adapters.db import tables as t
from ketaclinic.adapters.db import tables_chair as c
from ketaclinic.adapters.pdf.document import Document, Section, Table, Text, markup, render_pdf

# An object's dictionary (from "obj" to "stream": dictionaries nest) and its stream data.
_STREAM = re.compile(
    rb"\bobj\s*(?P<dict><<(?:(?!\bendobj\b).)*?)\bstream\r?\n(?P<data>.*?)(?:\r?\n)?endstream",
    re.S,
)
_SHOW = re.compile(rb"\((?P<text>(?:\\.|[^\\)])*)\)\s*Tj|\bT\*|\bET\b", re.S)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def streams(pdf: bytes) -> list[tuple[bytes, bytes]]:
    """(dictionary, decoded data) of every stream, filters undone in order."""
    found = []
    for match in _STREAM.finditer(pdf):
        head, data = match.group("dict"), match.group("data")
        filters = re.findall(rb"/(ASCII85Decode|FlateDecode)", head)
        for name in filters:
            if name == b"ASCII85Decode":
                data = base64.a85decode(data.strip().removesuffix(b"~>"), adobe=False)
            else:
                data = zlib.decompress(data)
        found.append((head, data))
    return found


def _unescape(raw: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i < len(raw):
        char = raw[i : i + 1]
        if char != b"\\":
            out += char
            i += 1
            continue
        following = raw[i + 1 : i + 2]
        octal = re.match(rb"[0-7]{1,3}", raw[i + 1 : i + 4])
        if octal:
            out.append(int(octal.group(0), 8))
            i += 1 + len(octal.group(0))
        else:
            out += _ESCAPES.get(following, following)
            i += 2
    return bytes(out)


def text(pdf: bytes) -> str:
    """The strings the pages show (standard fonts, Windows-1252), a line break at each new
    line of text (``T*``) or text object's end (``ET``)."""
    out = []
    for _head, data in streams(pdf):
        for match in _SHOW.finditer(data):
            if match.group("text") is not None:
                out.append(_unescape(match.group("text")).decode("cp1252", "replace"))
            else:
                out.append("\n")
    return re.sub(r"\n+", "\n", "".join(out))


def page_count(pdf: bytes) -> int:
    """The /Count of the root page tree."""
    counts = re.findall(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)", pdf, re.S)
    counts += re.findall(rb"/Count\s+(\d+)[^>]*?/Type\s*/Pages\b", pdf, re.S)
    return max(int(n) for n in counts)


def images(pdf: bytes) -> int:
    """How many image XObjects the file holds."""
    return len(re.findall(rb"/Subtype\s*/Image", pdf))


# --- the record -------------------------------------------------------------------------------


def running_session(demo) -> int:
    with demo.engine.connect() as conn:
        return conn.execute(
            sa.select(c.infusion_session.c.id)
            .join(t.patient, t.patient.c.id == c.infusion_session.c.patient_id)
            .where(t.patient.c.mrn == "DEMO-0001", c.infusion_session.c.state == "running")
        ).scalar_one()


def record_reads(demo, session_id: int) -> list[str]:
    with demo.uow() as uow:
        return [
            e.record.detail
            for e in uow.audit.entries()
            if e.record.resource == "infusion_session"
            and e.record.action.value == "read"
            and e.record.resource_id == str(session_id)
        ]


def test_it_serves_the_record_as_a_pdf_with_the_sessions_key_facts(client, login_as, demo) -> None:
    login_as("nurse.mia")
    sid = running_session(demo)
    with demo.uow() as uow:
        row = uow.chair.get_session(sid)
        patient = uow.patients.get(row.patient_id)
        lot = next(
            e.entry.event.lot_number
            for e in uow.chair.mar_entries(sid)
            if e.entry.event.kind.value == "start"
        )
    response = client.get(f"/sessions/{sid}/record.pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('inline; filename="session-')
    assert "DEMO" not in disposition  # the file name carries no MRN or name
    assert response.headers["cache-control"] == "no-store"
    pdf = response.content
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert page_count(pdf) >= 2  # the vital signs start on a page of their own
    assert images(pdf) == 1  # the vitals chart
    shown = text(pdf)
    for fact in (
        "Infusion session record",
        patient.display_name,
        "DEMO-0001",
        patient.birth_date.strftime("%d %b %Y"),  # as on the printable page
        f"session {sid}",
        "chair MIA-1",
        "Infusing",
        "Timeline",
        "Pre-infusion checklist",
        "Administration record",
        "mg delivered",
        lot,
        "Vital signs",
        "Alerts",
        "SpO2 below the alarm level",  # the demo's acknowledged alert
        "Side effects",
        "CADSS-6",
        "Pre-dose",
        "Discharge",
        "No discharge assessment.",
        "Readings from bedside monitors are a secondary aid",
    ):
        assert fact in shown, fact
    assert "page 2" in shown


def test_the_pdf_is_audited_as_a_read_of_the_record(client, login_as, demo) -> None:
    login_as("prescriber.mia")
    sid = running_session(demo)
    before = record_reads(demo, sid)
    assert client.get(f"/sessions/{sid}/record.pdf").status_code == 200
    assert record_reads(demo, sid)[len(before) :] == ["record.pdf"]


def test_the_printable_record_links_to_the_pdf(client, login_as, demo) -> None:
    login_as("nurse.mia")
    sid = running_session(demo)
    page = client.get(f"/sessions/{sid}/record")
    assert f'href="/sessions/{sid}/record.pdf"' in page.text


def test_other_sites_and_the_front_desk_get_no_pdf(client, login_as, demo) -> None:
    sid = running_session(demo)
    login_as("nurse.fll")
    other_site = client.get(f"/sessions/{sid}/record.pdf")
    assert other_site.status_code == 404
    assert not other_site.content.startswith(b"%PDF")
    login_as("frontdesk.mia")
    front_desk = client.get(f"/sessions/{sid}/record.pdf")
    assert front_desk.status_code == 403
    assert not front_desk.content.startswith(b"%PDF")


def test_a_discharged_session_prints_its_discharge(client, login_as, demo) -> None:
    login_as("nurse.mia")
    with demo.engine.connect() as conn:
        sid = conn.execute(
            sa.select(c.infusion_session.c.id)
            .join(t.patient, t.patient.c.id == c.infusion_session.c.patient_id)
            .where(t.patient.c.mrn == "DEMO-0015", c.infusion_session.c.state == "discharged")
            .order_by(c.infusion_session.c.checked_in_at.desc())  # today's (earlier visits too)
            .limit(1)
        ).scalar_one()
    response = client.get(f"/sessions/{sid}/record.pdf")
    assert response.status_code == 200
    shown = text(response.content)
    assert "Discharged " in shown
    assert "Modified Aldrete 10" in shown
    assert "Discharged" in shown.split("Discharge\n", 1)[1]


# --- the document writer ------------------------------------------------------------------------


def test_text_is_escaped_never_taken_as_markup() -> None:
    assert markup("<b>a & b</b>") == "&lt;b&gt;a &amp; b&lt;/b&gt;"
    pdf = render_pdf(
        Document("T", ("<b>not bold</b> & co",), (Section("S", (Text("x < y"),)),)),
        compress=False,
    )
    shown = text(pdf)
    assert "<b>not bold</b> & co" in shown
    assert "x < y" in shown


def test_characters_outside_helvetica_are_set_in_the_fallback_font() -> None:
    wrapped = markup("BP ≥ 180 → pause, Łukasz")
    assert wrapped.count('<font name="DejaVuSans">') == 3
    pdf = render_pdf(
        Document(
            "Record",
            ("Łukasz Żółć · José Müller",),
            (Section("Alerts", (Table(("Rule", "Value"), (("BP ≥ 180", "→ 185"),)),)),),
        ),
        compress=False,
    )
    assert b"+DejaVuSans" in pdf  # a subset of the fallback font is embedded
    shown = text(pdf)
    assert "Jos\u00e9 M\u00fcller" in shown  # Windows-1252 text stays in Helvetica
    assert "BP " in shown


def test_an_empty_table_prints_its_empty_text_and_compression_is_optional() -> None:
    document = Document(
        "Record", (), (Section("Side effects", (Table(("Onset", "Kind"), (), empty="None."),)),)
    )
    plain = render_pdf(document, compress=False)
    packed = render_pdf(document)
    assert "None." in text(plain)
    assert "None." in text(packed)
    assert b"FlateDecode" in packed
    assert b"FlateDecode" not in plain
    assert page_count(plain) == 1
