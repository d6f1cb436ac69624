"""Every monitor profile folder (STYLE.md §15): its samples parse as its expected.json says.

Adding a profile folder with samples and an expected.json adds its tests here; nothing else.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

import ketaclinic.adapters.hl7 as hl7_package
from ketaclinic.adapters.hl7.ack import ack_code_for
from ketaclinic.adapters.hl7.parser import parse_oru
from ketaclinic.adapters.hl7.rejection import MessageRejected

PROFILES = Path(hl7_package.__file__).parent / "profiles"
FOLDERS = sorted(p for p in PROFILES.iterdir() if p.is_dir())
SAMPLES = [(folder.name, sample) for folder in FOLDERS for sample in sorted(folder.glob("*.hl7"))]


def expected_for(sample: Path) -> dict[str, Any]:
    table: dict[str, dict[str, Any]] = json.loads((sample.parent / "expected.json").read_text())
    return table[sample.name]


def test_the_two_shipped_styles_exist() -> None:
    assert {"ihe_pcd01_mdc", "loinc_basic"} <= {folder.name for folder in FOLDERS}
    assert (PROFILES / "README.md").is_file()


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_each_profile_has_a_checklist_samples_and_expectations_for_all_of_them(
    folder: Path,
) -> None:
    assert (folder / "README.md").is_file()
    samples = {p.name for p in folder.glob("*.hl7")}
    assert samples, "a profile needs sample messages"
    assert set(json.loads((folder / "expected.json").read_text())) == samples


@pytest.mark.parametrize(("profile", "sample"), SAMPLES, ids=lambda v: getattr(v, "name", v))
def test_sample_parses_as_expected(profile: str, sample: Path) -> None:
    expected = expected_for(sample)
    payload = sample.read_bytes()  # LF between segments in the files; the parser accepts both
    if "rejected_at" in expected:
        with pytest.raises(MessageRejected) as caught:
            parse_oru(payload)
        assert caught.value.field == expected["rejected_at"]
        assert ack_code_for(caught.value).value == expected["ack"]
        return
    message = parse_oru(payload)
    assert message.control_id == expected["control_id"]
    assert message.header.version == expected["version"]
    assert message.mrn == expected["mrn"]
    assert message.chair == expected["chair"]
    assert message.skipped_obx == expected["skipped_obx"]
    got = [(o.kind.value, o.value, o.reading.observed_at) for o in message.observations]
    want = [(k, v, dt.datetime.fromisoformat(t)) for k, v, t in expected["observations"]]
    assert [g[0] for g in got] == [w[0] for w in want]
    assert [g[2] for g in got] == [w[2] for w in want]
    # Values are exact decimals; unit conversion (°F → °C) may leave binary rounding only.
    assert [g[1] for g in got] == pytest.approx([w[1] for w in want], abs=1e-9)


def test_samples_carry_synthetic_patients_only() -> None:
    for _, sample in SAMPLES:
        text = sample.read_text()
        for line in text.splitlines():
            if line.startswith("PID"):
                assert "DEMO-" in line, sample.name
