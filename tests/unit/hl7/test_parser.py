"""ORU^R01 parsing: what is read, what is skipped, and how refusals name their place."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from ketaclinic.adapters.hl7.parser import MonitorMessage, parse_oru
from ketaclinic.adapters.hl7.rejection import Hl7ErrorCode, MessageRejected
from ketaclinic.adapters.hl7.segments import read_header
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.vitals import VitalKind, VitalSource

T0 = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)


def obx(
    index: int, code: str, value: str, unit: str = "", *, status: str = "F", when: str = ""
) -> str:
    return f"OBX|{index}|NM|{code}||{value}|{unit}|||||{status}|||{when}"


def rejection(payload: bytes) -> MessageRejected:
    with pytest.raises(MessageRejected) as caught:
        parse_oru(payload)
    return caught.value


def test_header_patient_chair_and_observation_are_read(oru) -> None:
    message = parse_oru(oru(control_id="CTL-42"))
    assert isinstance(message, MonitorMessage)
    assert message.control_id == "CTL-42"
    assert message.header.version == "2.5.1"
    assert message.header.sending_application == "MON"
    assert message.header.sending_facility == "DEMO-MIA"
    assert message.message_time == T0
    assert message.mrn == "DEMO-0001"
    assert message.chair == "MIA-1"
    (only,) = message.observations
    assert only.kind is VitalKind.HEART_RATE
    assert only.value == 72
    assert only.reading.source is VitalSource.MONITOR
    assert only.reading.code == "8867-4"
    assert only.status == "F"
    assert only.obx_index == 1
    assert message.skipped_obx == 0


def test_mdc_and_loinc_codes_map_to_the_same_kinds(oru) -> None:
    message = parse_oru(
        oru(
            obx=[
                obx(1, "150456^MDC_PULS_OXIM_SAT_O2^MDC", "97", "262688^MDC_DIM_PERCENT^MDC"),
                obx(2, "59408-5^SpO2^LN", "96", "%"),
                obx(3, "2708-6^SaO2^LN", "95", "%"),
                obx(4, "149530^MDC_PULS_OXIM_PULS_RATE^MDC", "80", "264864^^MDC"),
                obx(5, "151578^MDC_TTHOR_RESP_RATE^MDC", "12", "264928^^MDC"),
            ]
        )
    )
    kinds = [o.kind for o in message.observations]
    assert kinds == [
        VitalKind.SPO2,
        VitalKind.SPO2,
        VitalKind.SPO2,
        VitalKind.HEART_RATE,
        VitalKind.RESPIRATORY_RATE,
    ]
    assert [o.reading.code for o in message.observations][:3] == ["150456", "59408-5", "2708-6"]


def test_code_from_a_local_system_is_found_through_the_alternate_identifier(oru) -> None:
    message = parse_oru(oru(obx=[obx(1, "HR^Heart rate^99LOCAL^8867-4^Heart rate^LN", "70")]))
    assert message.observations[0].kind is VitalKind.HEART_RATE


def test_local_code_that_looks_like_an_mdc_code_is_not_trusted(oru) -> None:
    message = parse_oru(oru(obx=[obx(1, "150456^Something else^99LOCAL", "70")]))
    assert message.observations == ()
    assert message.skipped_obx == 1


def test_unrecognised_codes_are_skipped_and_counted(oru) -> None:
    message = parse_oru(
        oru(
            obx=[
                obx(1, "69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC", ""),
                obx(2, "8867-4^Heart rate^LN", "75", "/min"),
                "OBX|3|ST|8601-7^EKG impression^LN||sinus rhythm||||||F",
            ]
        )
    )
    assert [o.value for o in message.observations] == [75]
    assert message.skipped_obx == 2


@pytest.mark.parametrize("status", ["X", "D", "W", "N", "I", "O"])
def test_results_that_are_not_values_are_skipped(oru, status: str) -> None:
    message = parse_oru(oru(obx=[obx(1, "8867-4^HR^LN", "", status=status)]))
    assert message.observations == ()
    assert message.skipped_obx == 1


@pytest.mark.parametrize("status", ["F", "R", "C", "P", "", "f"])
def test_measured_results_are_kept_whatever_their_status(oru, status: str) -> None:
    assert len(parse_oru(oru(obx=[obx(1, "8867-4^HR^LN", "70", status=status)])).observations) == 1


def test_unknown_result_status_is_refused_naming_obx_11(oru) -> None:
    error = rejection(
        oru(obx=[obx(1, "8867-4^HR^LN", "70"), obx(2, "8867-4^HR^LN", "71", status="Q")])
    )
    assert error.field == "OBX[2]-11"
    assert error.hl7_code is Hl7ErrorCode.TABLE_VALUE_NOT_FOUND


@pytest.mark.parametrize("value", ["abc", "", "1e3", "nan", "inf", "12,5", "--3", "٧٢"])
def test_non_numeric_value_is_refused_naming_the_obx_segment(oru, value: str) -> None:
    error = rejection(
        oru(obx=[obx(1, "8867-4^HR^LN", "70"), obx(2, "59408-5^SpO2^LN", value, "%")])
    )
    assert isinstance(error, InvalidInput)
    assert error.field == "OBX[2]-5"
    assert "OBX[2]-5" in error.message
    assert error.location is not None
    assert (error.location.segment, error.location.sequence, error.location.field) == ("OBX", 2, 5)
    assert error.hl7_code is Hl7ErrorCode.DATA_TYPE


@pytest.mark.parametrize(
    ("text", "expected"), [("+72", 72.0), ("72.", 72.0), (".5", 0.5), ("036.85", 36.85)]
)
def test_numbers_in_hl7_nm_form_are_read(oru, text: str, expected: float) -> None:
    message = parse_oru(oru(obx=[obx(1, "8867-4^HR^LN", text)]))
    assert message.observations[0].value == expected


def test_structured_numeric_with_equals_is_read(oru) -> None:
    message = parse_oru(oru(obx=["OBX|1|SN|8867-4^HR^LN||=^77|/min|||||F"]))
    assert message.observations[0].value == 77


@pytest.mark.parametrize("value", ["<^90", "^60^-^80", ">^100"])
def test_structured_numeric_comparisons_and_ranges_are_refused(oru, value: str) -> None:
    assert rejection(oru(obx=[f"OBX|1|SN|8867-4^HR^LN||{value}|/min|||||F"])).field == "OBX[1]-5"


def test_value_outside_the_storable_range_is_refused_at_obx_5(oru) -> None:
    error = rejection(oru(obx=[obx(1, "59408-5^SpO2^LN", "150", "%")]))
    assert error.field == "OBX[1]-5"
    assert "SpO2 between 0 and 110" in error.message


def test_fahrenheit_is_converted_to_celsius(oru) -> None:
    message = parse_oru(oru(obx=[obx(1, "8310-5^Temp^LN", "98.6", "[degF]")]))
    # (98.6 - 32) * 5/9 = 37 exactly in decimal; the tolerance absorbs binary rounding only.
    assert message.observations[0].value == pytest.approx(37.0, abs=1e-9)
    assert message.observations[0].unit_sent == "[degF]"


@pytest.mark.parametrize(
    "unit", ["mm[Hg]", "mmHg", "266016^MDC_DIM_MMHG^MDC", "^MDC_DIM_MMHG^MDC", ""]
)
def test_pressure_units_known_under_several_spellings_are_accepted(oru, unit: str) -> None:
    assert parse_oru(oru(obx=[obx(1, "8480-6^SBP^LN", "120", unit)])).observations[0].value == 120


def test_unknown_unit_is_refused_rather_than_guessed(oru) -> None:
    error = rejection(oru(obx=[obx(1, "8480-6^SBP^LN", "16", "kPa")]))
    assert error.field == "OBX[1]-6"
    assert "mm[Hg]" in error.message
    assert error.hl7_code is Hl7ErrorCode.TABLE_VALUE_NOT_FOUND


def test_observation_time_comes_from_obx_14_then_obr_7_then_msh_7(oru) -> None:
    message = parse_oru(
        oru(
            obr="OBR|1|||85353-1^Vitals^LN|||20261120095900+0000",
            obx=[
                obx(1, "8867-4^HR^LN", "70", when="20261120095830+0000"),
                obx(2, "9279-1^RR^LN", "14"),
            ],
        )
    )
    times = [o.reading.observed_at for o in message.observations]
    assert times == [T0 - dt.timedelta(seconds=90), T0 - dt.timedelta(minutes=1)]
    without_obr = parse_oru(oru(obx=[obx(1, "9279-1^RR^LN", "14")]))
    assert without_obr.observations[0].reading.observed_at == T0


def test_times_with_an_offset_are_converted_to_utc(oru) -> None:
    message = parse_oru(oru(msh_time="202611200500-0500"))
    assert message.message_time == T0
    assert message.message_time.tzinfo is dt.UTC


def test_times_without_an_offset_are_read_in_the_clinic_zone(oru) -> None:
    message = parse_oru(oru(msh_time="20261120050000.25"), local_tz=ZoneInfo("America/New_York"))
    assert message.message_time == T0 + dt.timedelta(milliseconds=250)


@pytest.mark.parametrize(
    "text", ["20261120", "2026112010", "20261320100000", "20261120100000+2500", "x"]
)
def test_malformed_or_imprecise_message_time_is_refused_naming_msh_7(oru, text: str) -> None:
    assert rejection(oru(msh_time=text)).field == "MSH-7"


def test_missing_message_time_is_a_missing_required_field(oru) -> None:
    error = rejection(oru(msh_time=""))
    assert error.field == "MSH-7"
    assert error.hl7_code is Hl7ErrorCode.REQUIRED_FIELD_MISSING


def test_mrn_is_taken_from_the_repetition_typed_mr(oru) -> None:
    message = parse_oru(oru(pid="PID|||X-9^^^OLD^PI~DEMO-0002^^^DEMO^MR"))
    assert message.mrn == "DEMO-0002"


def test_mrn_falls_back_to_the_first_identifier(oru) -> None:
    assert parse_oru(oru(pid="PID|||DEMO-0003~X-9^^^OLD^PI")).mrn == "DEMO-0003"


def test_escaped_separators_in_the_mrn_are_unescaped(oru) -> None:
    assert parse_oru(oru(pid="PID|||DEMO\\T\\0004^^^DEMO^MR")).mrn == "DEMO&0004"


def test_missing_pid_is_refused(oru) -> None:
    error = rejection(oru(pid=None))
    assert error.field == "PID"
    assert error.hl7_code is Hl7ErrorCode.SEGMENT_SEQUENCE


def test_empty_pid_3_is_refused(oru) -> None:
    error = rejection(oru(pid="PID|1||"))
    assert error.field == "PID-3"
    assert error.hl7_code is Hl7ErrorCode.REQUIRED_FIELD_MISSING


def test_refusal_of_an_overlong_mrn_does_not_repeat_it(oru) -> None:
    mrn = "SECRET" + "9" * 80
    error = rejection(oru(pid=f"PID|||{mrn}^^^DEMO^MR"))
    assert error.field == "PID-3"
    assert "SECRET" not in error.message
    assert "86 characters" in error.message


def test_chair_prefers_the_bed_component_of_pv1_3(oru) -> None:
    assert parse_oru(oru(pv1="PV1||O|MIA^^MIA-2")).chair == "MIA-2"
    assert parse_oru(oru(pv1="PV1||O|MIA-3")).chair == "MIA-3"
    assert parse_oru(oru(pv1="PV1||O|")).chair is None
    assert parse_oru(oru(pv1=None)).chair is None


def test_missing_msh_is_refused(oru) -> None:
    error = rejection(oru(msh=None))
    assert error.field == "MSH"
    assert error.hl7_code is Hl7ErrorCode.SEGMENT_SEQUENCE


def test_missing_control_id_is_refused(oru) -> None:
    error = rejection(oru(control_id=""))
    assert error.field == "MSH-10"
    assert error.hl7_code is Hl7ErrorCode.REQUIRED_FIELD_MISSING


@pytest.mark.parametrize(
    ("message_type", "code"),
    [
        ("ADT^A01^ADT_A01", Hl7ErrorCode.UNSUPPORTED_MESSAGE_TYPE),
        ("ORU^R30", Hl7ErrorCode.UNSUPPORTED_EVENT),
        ("", Hl7ErrorCode.UNSUPPORTED_MESSAGE_TYPE),
    ],
)
def test_other_message_types_are_refused(oru, message_type: str, code: Hl7ErrorCode) -> None:
    error = rejection(oru(message_type=message_type))
    assert error.field == "MSH-9"
    assert error.hl7_code is code


@pytest.mark.parametrize("version", ["2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6"])
def test_versions_from_2_3_to_2_6_are_accepted(oru, version: str) -> None:
    assert parse_oru(oru(version=version)).header.version == version


@pytest.mark.parametrize("version", ["2.2", "2.7", "2.8", ""])
def test_other_versions_are_refused(oru, version: str) -> None:
    error = rejection(oru(version=version))
    assert error.field == "MSH-12"
    assert error.hl7_code is Hl7ErrorCode.UNSUPPORTED_VERSION


@pytest.mark.parametrize("processing_id", ["T", "D"])
def test_training_and_debug_messages_are_refused(oru, processing_id: str) -> None:
    error = rejection(oru(processing_id=processing_id))
    assert error.field == "MSH-11"
    assert error.hl7_code is Hl7ErrorCode.UNSUPPORTED_PROCESSING_ID


def test_newline_separated_segments_are_accepted(oru) -> None:
    message = parse_oru(oru().replace(b"\r", b"\n"))
    assert message.mrn == "DEMO-0001"
    assert len(message.observations) == 1


def test_custom_separators_from_msh_2_are_used(oru) -> None:
    payload = (
        b"MSH#*@!%#MON#DEMO#KC#DEMO#20261120100000##ORU*R01#C-9#P#2.4\r"
        b"PID###DEMO-0005*@*@*DEMO*MR\r"
        b"OBX#1#NM#8867-4*HR*LN##88#/min#####F"
    )
    message = parse_oru(payload)
    assert (message.control_id, message.mrn, message.observations[0].value) == (
        "C-9",
        "DEMO-0005",
        88,
    )


def test_latin_1_text_is_read_when_msh_18_says_so(oru) -> None:
    payload = oru(charset="8859/1", pid="PID|||DEMO-0001||M\xfcller^Demo").replace(
        b"\xc3\xbc", b"\xfc"
    )
    assert parse_oru(payload).mrn == "DEMO-0001"


def test_bytes_that_are_not_utf_8_are_refused_naming_msh_18(oru) -> None:
    payload = oru(pid="PID|||DEMO-0001||M\xfcller").replace(b"\xc3\xbc", b"\xfc")
    assert rejection(payload).field == "MSH-18"


def test_unknown_character_set_is_refused(oru) -> None:
    error = rejection(oru(charset="ISO IR87"))
    assert error.field == "MSH-18"
    assert error.hl7_code is Hl7ErrorCode.TABLE_VALUE_NOT_FOUND


@pytest.mark.parametrize(
    "payload",
    [b"", b"\x00\xff\xfe", b"MSH", b"MSH|", b"MSH|^~\\&", b"PID|||DEMO-0001", b"MSHa^~\\&|"],
)
def test_things_that_are_not_messages_are_refused_with_a_typed_error(payload: bytes) -> None:
    error = rejection(payload)
    assert isinstance(error, InvalidInput)
    assert error.hl7_code in set(Hl7ErrorCode)


def test_dedup_key_is_sender_and_control_id(oru) -> None:
    message = parse_oru(oru(control_id="C-1"))
    assert message.dedup_key == ("MON", "DEMO-MIA", "C-1")


def test_header_of_a_broken_message_can_still_be_read(oru) -> None:
    header = read_header(oru(control_id="C-77")[:120])
    assert header is not None
    assert header.control_id == "C-77"
    assert header.version == "2.5.1"
    assert header.trigger_event == "R01"


@pytest.mark.parametrize("payload", [b"", b"garbage", b"\x0b\x1c", b"MSH"])
def test_header_of_non_messages_is_none(payload: bytes) -> None:
    assert read_header(payload) is None
