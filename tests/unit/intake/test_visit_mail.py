"""The words of the appointment e-mails (services/visit_mail.py): each kind in English and in
Spanish, times in the site's zone written as each language writes them, how to prepare, and
nothing clinical."""

from __future__ import annotations

import datetime as dt

import pytest

from ketaclinic.services import visit_mail
from ketaclinic.services.visit_mail import MailKind, Place

MIAMI = Place("Harbor Clinic", "Miami Beach", "America/New_York")
# 13:00 UTC: 8:00 in Miami in winter (EST, UTC-5).
MON_8AM = dt.datetime(2026, 11, 23, 13, 0, tzinfo=dt.UTC)
WED_1_30PM = dt.datetime(2026, 11, 25, 18, 30, tzinfo=dt.UTC)

NNBSP = "\u202f"  # CLDR puts a narrow no-break space before AM/PM in English


def lines(text: str) -> list[str]:
    return text.splitlines()


def test_the_booking_lists_every_visit_in_english_in_miami_time() -> None:
    mail = visit_mail.booked(MIAMI, "en", [WED_1_30PM, MON_8AM])
    assert (mail.kind, mail.language) == (MailKind.BOOKED, "en")
    assert mail.subject == "Harbor Clinic: your appointments are booked"
    body = lines(mail.body)
    assert body[0] == "Hello,"
    assert "Your appointments at Harbor Clinic (Miami Beach) are booked:" in body
    # In order, with the weekday, in the site's zone (not UTC).
    visits = [line for line in body if line.startswith("- ") and "2026" in line]
    assert visits == [
        f"- Monday, November 23, 2026 at 8:00{NNBSP}AM",
        f"- Wednesday, November 25, 2026 at 1:30{NNBSP}PM",
    ]
    assert body[-1] == "If you did not expect this message, please contact the clinic."


def test_the_booking_is_in_spanish_for_a_spanish_speaker() -> None:
    mail = visit_mail.booked(MIAMI, "es", [MON_8AM, WED_1_30PM])
    assert mail.language == "es"
    assert mail.subject == "Harbor Clinic: sus citas están confirmadas"
    body = lines(mail.body)
    assert body[0] == "Hola:"
    assert "Sus citas en Harbor Clinic (Miami Beach) están confirmadas:" in body
    assert "- lunes, 23 de noviembre de 2026, a las 8:00" in body
    assert "- miércoles, 25 de noviembre de 2026, a las 13:30" in body
    assert "Antes de venir:" in body
    assert body[-1] == "Si no esperaba este mensaje, comuníquese con la clínica."
    assert "Hello" not in mail.body  # never a mix of languages


def test_one_visit_is_singular_in_both_languages() -> None:
    assert visit_mail.booked(MIAMI, "en", [MON_8AM]).subject == (
        "Harbor Clinic: your appointment is booked"
    )
    spanish = visit_mail.booked(MIAMI, "es", [MON_8AM])
    assert spanish.subject == "Harbor Clinic: su cita está confirmada"
    assert "Su cita en Harbor Clinic (Miami Beach) está confirmada:" in spanish.body


def test_spanish_says_a_la_for_one_oclock_and_a_las_otherwise() -> None:
    one_am = dt.datetime(2026, 11, 24, 6, 15, tzinfo=dt.UTC)  # 1:15 in Miami
    assert visit_mail.when(one_am, "es", MIAMI.timezone) == (
        "martes, 24 de noviembre de 2026, a la 1:15"
    )
    assert visit_mail.when(MON_8AM, "es", MIAMI.timezone).endswith(", a las 8:00")


def test_times_follow_the_sites_zone_across_the_change_of_clocks() -> None:
    # The same 13:00 UTC is 9:00 before New York leaves summer time (1 November 2026) and 8:00
    # after; in Madrid it is 14:00.
    before = dt.datetime(2026, 10, 30, 13, 0, tzinfo=dt.UTC)
    after = dt.datetime(2026, 11, 2, 13, 0, tzinfo=dt.UTC)
    assert visit_mail.when(before, "en", "America/New_York") == (
        f"Friday, October 30, 2026 at 9:00{NNBSP}AM"
    )
    assert visit_mail.when(after, "en", "America/New_York") == (
        f"Monday, November 2, 2026 at 8:00{NNBSP}AM"
    )
    assert visit_mail.when(after, "es", "Europe/Madrid") == (
        "lunes, 2 de noviembre de 2026, a las 14:00"
    )


def test_every_e_mail_but_the_cancellation_says_how_to_prepare() -> None:
    for mail in (
        visit_mail.booked(MIAMI, "en", [MON_8AM]),
        visit_mail.moved(MIAMI, "en", MON_8AM, [MON_8AM]),
        visit_mail.reminder(MIAMI, "en", MON_8AM),
    ):
        body = mail.body
        assert "Plan to be with us for about 3 hours." in body
        assert "Bring a photo ID and a list of the medicines you take." in body
        assert "Come with an adult who can take you home" in body
        assert "must not drive, cycle or operate machinery for 24 hours" in body
    spanish = visit_mail.reminder(MIAMI, "es", MON_8AM).body
    assert "Venga con un adulto que pueda llevarle a casa" in spanish
    assert "no debe conducir, montar en bicicleta ni manejar maquinaria durante 24 horas" in spanish
    cancelled = visit_mail.cancelled(MIAMI, "en", MON_8AM, []).body
    assert "drive" not in cancelled
    assert "If you would like a new appointment, please call the clinic." in cancelled


def test_a_move_gives_the_new_time_and_every_upcoming_visit() -> None:
    mail = visit_mail.moved(MIAMI, "es", WED_1_30PM, [MON_8AM, WED_1_30PM])
    assert mail.subject == "Harbor Clinic: su cita ha cambiado"
    body = lines(mail.body)
    intro = body.index("Hemos cambiado su cita en Harbor Clinic (Miami Beach). Nueva fecha y hora:")
    assert body[intro + 2] == "miércoles, 25 de noviembre de 2026, a las 13:30"
    upcoming = body.index("Sus próximas citas quedan así:")
    assert body[upcoming + 2 : upcoming + 4] == [
        "- lunes, 23 de noviembre de 2026, a las 8:00",
        "- miércoles, 25 de noviembre de 2026, a las 13:30",
    ]


def test_a_cancellation_names_the_visit_and_what_remains_or_that_nothing_does() -> None:
    some = visit_mail.cancelled(MIAMI, "en", MON_8AM, [WED_1_30PM])
    assert some.subject == "Harbor Clinic: your appointment has been cancelled"
    assert f"Monday, November 23, 2026 at 8:00{NNBSP}AM" in lines(some.body)
    assert "Your other appointments stay as they were:" in some.body
    assert f"- Wednesday, November 25, 2026 at 1:30{NNBSP}PM" in lines(some.body)
    none = visit_mail.cancelled(MIAMI, "es", MON_8AM, [])
    assert none.subject == "Harbor Clinic: se ha cancelado su cita"
    assert "Por ahora no tiene otras citas con nosotros." in none.body
    assert "Sus demás citas" not in none.body


def test_the_reminder_names_the_day_in_its_subject() -> None:
    english = visit_mail.reminder(MIAMI, "en", MON_8AM)
    assert (
        english.subject
        == "Harbor Clinic: reminder of your appointment on Monday, November 23, 2026"
    )
    spanish = visit_mail.reminder(MIAMI, "es", MON_8AM)
    assert spanish.subject == (
        "Harbor Clinic: recordatorio de su cita del lunes, 23 de noviembre de 2026"
    )
    assert "Le recordamos su cita en Harbor Clinic (Miami Beach):" in spanish.body


@pytest.mark.parametrize("language", ["fr", "", "xx-YY"])
def test_an_unsupported_language_gets_english(language: str) -> None:
    mail = visit_mail.reminder(MIAMI, language, MON_8AM)
    assert mail.language == "en"
    assert mail.body.startswith("Hello,\n")


def test_a_clinic_without_a_name_is_your_clinic() -> None:
    unnamed = Place("", "Miami Beach", "America/New_York")
    assert visit_mail.booked(unnamed, "en", [MON_8AM]).subject == (
        "Your clinic: your appointment is booked"
    )
    assert visit_mail.booked(unnamed, "es", [MON_8AM]).subject == (
        "Su clínica: su cita está confirmada"
    )


def test_no_e_mail_names_the_treatment_or_anything_clinical() -> None:
    mails = [visit_mail.booked(MIAMI, lang, [MON_8AM, WED_1_30PM]) for lang in ("en", "es")] + [
        visit_mail.moved(MIAMI, "en", MON_8AM, [MON_8AM]),
        visit_mail.cancelled(MIAMI, "en", MON_8AM, []),
        visit_mail.reminder(MIAMI, "es", MON_8AM),
    ]
    for mail in mails:
        text = (mail.subject + mail.body).lower()
        for word in ("ketamin", "infusi", "dose", "dosis", "ptsd", "tept", "score", "pcl", "phq"):
            assert word not in text, (mail.kind, word)


def test_every_e_mail_gives_the_sites_phone_when_it_has_one() -> None:
    with_phone = Place("Harbor Clinic", "Miami Beach", "America/New_York", "+1 305 555 0142")
    mails = [
        visit_mail.booked(with_phone, "en", [MON_8AM]),
        visit_mail.moved(with_phone, "en", MON_8AM, [MON_8AM]),
        visit_mail.cancelled(with_phone, "en", MON_8AM, []),
        visit_mail.reminder(with_phone, "en", MON_8AM),
    ]
    for mail in mails:
        assert "Clinic phone: +1 305 555 0142" in lines(mail.body), mail.kind
    spanish = visit_mail.reminder(with_phone, "es", MON_8AM)
    assert "Teléfono de la clínica: +1 305 555 0142" in lines(spanish.body)
    assert "phone" not in visit_mail.booked(MIAMI, "en", [MON_8AM]).body.lower()
