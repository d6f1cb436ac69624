"""Forms in one language and clinic-loaded content packs (services/mbc_content.py)."""

from __future__ import annotations

import json

import pytest

from ketaclinic.domain.errors import InvalidInput, PermissionDenied
from ketaclinic.domain.instruments import get_instrument
from ketaclinic.services import mbc_content
from ketaclinic.services.audit import SYSTEM


def pack(language: str = "es", **changes) -> str:
    body = {
        "format": "ketaclinic.content-pack/1",
        "instrument": "gad7",
        "language": language,
        "title": f"Official title {language}",
        "instructions": f"Official instructions {language}",
        "items": {f"gad7_{n:02d}": f"Official item {n} {language}" for n in range(1, 8)},
        "anchors": [f"anchor {v} {language}" for v in range(4)],
    }
    body.update(changes)
    return json.dumps(body)


def load(world, text: str, actor=SYSTEM):
    with world.uow() as uow:
        return mbc_content.load_content_pack(uow, world.clock, actor, text)


def form(world, instrument: str, language: str):
    with world.uow() as uow:
        return mbc_content.instrument_form(uow, instrument, language)


def test_without_a_pack_the_form_shows_our_labels_in_that_language(world) -> None:
    definition = get_instrument("gad7")
    spanish = form(world, "gad7", "es")
    assert not spanish.official
    assert [i.text for i in spanish.items] == [i.label.es for i in definition.items]
    assert [o.text for o in spanish.items[0].options] == [a.label.es for a in definition.anchors]
    assert spanish.instructions.startswith("Piense")
    english = form(world, "gad7", "en")
    assert [i.text for i in english.items] == [i.label.en for i in definition.items]
    assert english.instructions.startswith("Think about the past two weeks")


def test_a_loaded_pack_replaces_every_text_of_its_language_only(world) -> None:
    load(world, pack("es"))
    spanish = form(world, "gad7", "es")
    assert spanish.official
    assert spanish.title == "Official title es"
    assert spanish.instructions == "Official instructions es"
    assert [i.text for i in spanish.items] == [f"Official item {n} es" for n in range(1, 8)]
    assert [o.text for o in spanish.items[0].options] == [f"anchor {v} es" for v in range(4)]
    english = form(world, "gad7", "en")
    assert not english.official
    every_text = [english.title, english.instructions] + [
        t for i in english.items for t in (i.text, *(o.text for o in i.options))
    ]
    assert not any("Official" in t or " es" in t for t in every_text)


def test_a_regional_pack_serves_its_base_language_and_the_newest_wins(world) -> None:
    load(world, pack("es-MX"))
    assert form(world, "gad7", "es").pack_language == "es-MX"
    load(world, pack("es", title="Newer"))
    assert form(world, "gad7", "es").title == "Newer"
    load(world, pack("es", title="Newest"))
    assert form(world, "gad7", "es").title == "Newest"


def test_pcl5_form_items_know_their_cluster(world) -> None:
    items = form(world, "pcl5", "en").items
    assert [i.subscale for i in items[:6]] == ["B"] * 5 + ["C"]
    assert items[-1].subscale == "E"
    assert [o.value for o in items[0].options] == [0, 1, 2, 3, 4]


def test_loading_a_pack_is_audited_with_its_attestation(world) -> None:
    stored = load(
        world,
        pack(
            licence={
                "attested_by": "Dr Lee",
                "attested_on": "2026-01-15",
                "statement": "Public domain",
            }
        ),
    )
    assert stored.pack.licence is not None
    assert stored.pack.licence.attested_by == "Dr Lee"
    last = world.uow.store.audit[-1].record
    assert (last.action.value, last.resource, last.detail) == (
        "create",
        "content_pack",
        "gad7 es, licence attested",
    )


def test_an_invalid_pack_lists_its_problems_and_stores_nothing(world) -> None:
    with pytest.raises(InvalidInput, match="7 problems"):  # 6 items missing, 1 anchor list
        load(world, pack(anchors=["only one"], items={"gad7_01": "x"}))
    with pytest.raises(InvalidInput, match="valid JSON"):
        load(world, "{not json")
    with pytest.raises(InvalidInput, match="licence"):
        load(
            world,
            json.dumps(
                {
                    "format": "ketaclinic.content-pack/1",
                    "instrument": "cadss6",
                    "language": "en",
                    "items": {i.id: "text" for i in get_instrument("cadss6").items},
                    "anchors": ["a", "b", "c", "d", "e"],
                }
            ),
        )
    assert world.uow.store.mbc.packs == {}


def test_only_a_director_or_the_operator_loads_packs(world) -> None:
    with pytest.raises(PermissionDenied):
        load(world, pack(), actor=world.actor("prescriber.mia"))
    assert load(world, pack(), actor=world.actor("director.mia")).id > 0


def test_the_catalogue_has_labels_and_only_loaded_wording(world) -> None:
    with world.uow() as uow:
        before = {i["id"]: i for i in mbc_content.catalogue(uow)}
    assert before["pcl5"]["items"][0]["label"]["en"]
    assert before["gad7"]["content_packs"] == []
    load(world, pack())
    with world.uow() as uow:
        after = {i["id"]: i for i in mbc_content.catalogue(uow)}
    (loaded,) = after["gad7"]["content_packs"]
    assert loaded["items"]["gad7_01"] == "Official item 1 es"
    assert after["pcl5"]["content_packs"] == []


def test_an_unknown_form_language_is_bad_input(world) -> None:
    with pytest.raises(InvalidInput, match="language"):
        form(world, "gad7", "fr")
