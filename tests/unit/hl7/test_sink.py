"""InMemorySink: the reference behaviour of the sink port."""

from __future__ import annotations

import pytest

from ketaclinic.adapters.hl7.parser import parse_oru
from ketaclinic.adapters.hl7.sink import InMemorySink, StoreOutcome, StoreStatus
from ketaclinic.domain.errors import KetaclinicError, NotFound


def test_new_messages_are_stored_in_order(oru) -> None:
    sink = InMemorySink()
    batch = [parse_oru(oru(control_id=f"C-{i}")) for i in range(3)]
    assert sink.store(batch) == [StoreOutcome.stored()] * 3
    assert [m.control_id for m in sink.messages] == ["C-0", "C-1", "C-2"]
    assert sink.batch_sizes == [3]


def test_repeat_of_a_control_id_is_a_duplicate_stored_once(oru) -> None:
    sink = InMemorySink()
    message = parse_oru(oru(control_id="C-1"))
    assert sink.store([message]) == [StoreOutcome.stored()]
    assert sink.store([message]) == [StoreOutcome.duplicate()]
    assert len(sink.messages) == 1


def test_repeat_inside_one_batch_is_a_duplicate(oru) -> None:
    sink = InMemorySink()
    message = parse_oru(oru(control_id="C-1"))
    statuses = [o.status for o in sink.store([message, message])]
    assert statuses == [StoreStatus.STORED, StoreStatus.DUPLICATE]
    assert len(sink.messages) == 1


def test_same_control_id_from_another_sender_is_not_a_duplicate(oru) -> None:
    sink = InMemorySink()
    first = parse_oru(oru(control_id="1"))
    other = parse_oru(oru(control_id="1").replace(b"|MON|", b"|MON2|"))
    assert sink.store([first, other]) == [StoreOutcome.stored()] * 2


def test_unknown_patient_is_rejected_without_naming_the_mrn(oru) -> None:
    sink = InMemorySink(known_mrns={"DEMO-0002"})
    (outcome,) = sink.store([parse_oru(oru())])
    assert outcome.status is StoreStatus.REJECTED
    assert isinstance(outcome.error, NotFound)
    assert "DEMO-0001" not in outcome.error.message
    assert sink.messages == []


def test_outcome_has_an_error_exactly_when_rejected() -> None:
    with pytest.raises(KetaclinicError):
        StoreOutcome(StoreStatus.STORED, NotFound("x"))
    with pytest.raises(KetaclinicError):
        StoreOutcome(StoreStatus.REJECTED)
