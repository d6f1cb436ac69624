"""Logs carry ids, never names, MRNs or birth dates (STYLE.md §14)."""

from __future__ import annotations

import io
import logging

from ketaclinic import logs


def test_reading_and_registering_patients_logs_no_identifying_data(client, token_for) -> None:
    stream = io.StringIO()
    logs.configure("DEBUG")
    handler = logging.getLogger("ketaclinic").handlers[0]
    handler.setStream(stream)  # type: ignore[attr-defined]

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
    assert '"route": "/api/v1/patients/{patient_id}"' in output
    for secret in (
        "DEMO-0001",
        patient["family_name"],
        patient["birth_date"],
        "LOGCHK-77",
        "Zelda",
        "1971-07-23",
    ):
        assert secret not in output
