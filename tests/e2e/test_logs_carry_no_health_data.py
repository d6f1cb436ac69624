"""Logs carry ids, never names, MRNs or birth dates (STYLE.md §14)."""

from __future__ import annotations

import io
import logging

from ketaclinic import logs


def test_reading_and_registering_patients_logs_no_identifying_data(client, token_for) -> None:
    stream = io.StringIO()
    logger = logging.getLogger("ketaclinic")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    logs.configure("DEBUG")
    handler = logger.handlers[-1]
    handler.setStream(stream)  # type: ignore[attr-defined]
    try:
        output = _drive(client, token_for, stream)
    finally:
        logger.handlers[:], logger.level, logger.propagate = saved
    assert '"route": "/api/v1/patients/{patient_id}"' in output


def _drive(client, token_for, stream: io.StringIO) -> str:

    headers = token_for("nurse.mia")
    patient = client.get("/api/v1/patients?mrn=DEMO-0001", headers=headers).json()["items"][0]
    client.get(f"/api/v1/patients/{patient['id']}", headers=headers)
    client.post(
        "/api/v1/patients",
        json={
            "site": "MIA",
            "mrn": "LOGCHK-77",
            "given_name": "Zelda",
            "family_name": "Umberland",
            "birth_date": "1971-07-23",
            "sex": "female",
        },
        headers=headers,
    )
    output = stream.getvalue()
    for secret in (
        "DEMO-0001",
        patient["family_name"],
        patient["birth_date"],
        "LOGCHK-77",
        "Zelda",
        "1971-07-23",
    ):
        assert secret not in output
    return output
