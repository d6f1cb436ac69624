"""Crash safety with real process kills (SIGKILL): what was acknowledged survives, nothing is
half-written, and the audit chain still verifies. (HL7 ingestion under SIGKILL is tested with
the infusion chair.)"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from ketaclinic.adapters.db import tables as t
from ketaclinic.adapters.db.engine import make_engine

BIN = str(Path(sys.executable).with_name("ketaclinic"))
pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def env(request: pytest.FixtureRequest, tmp_path: Path, provision_db) -> dict[str, str]:
    """The demo clinic on each engine: a copy of the session's template."""
    return {
        **os.environ,
        "KETACLINIC_DATA_DIR": str(tmp_path / "data"),
        "KETACLINIC_SECRET_KEY": "crash-test-secret-" + "q" * 40,
        "KETACLINIC_ENVIRONMENT": "test",
        "KETACLINIC_DATABASE_URL": provision_db(request.param, with_demo=True),
    }


def url_of(env: dict[str, str]) -> str:
    return (
        env.get("KETACLINIC_DATABASE_URL")
        or f"sqlite:///{env['KETACLINIC_DATA_DIR']}/ketaclinic.sqlite3"
    )


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [BIN, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not start")


def audit_ok(env: dict[str, str]) -> bool:
    result = subprocess.run(
        [BIN, "audit", "verify", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return bool(json.loads(result.stdout)["ok"])


def test_registrations_acknowledged_before_a_kill_survive_it(
    env: dict[str, str], pick_port: Callable[[], int]
) -> None:
    port = pick_port()
    server = start_server(env, port)
    base = f"http://127.0.0.1:{port}"
    token = httpx.post(
        f"{base}/api/v1/auth/token", data={"username": "nurse.mia", "password": "demo-clinic-2026"}
    ).json()["access_token"]
    acknowledged: list[str] = []
    stop = threading.Event()

    def register(worker: int) -> None:
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=5
        ) as http:
            n = 0
            while not stop.is_set() and n < 500:
                n += 1
                mrn = f"K{worker}-{n}"
                body = {
                    "site": "MIA",
                    "mrn": mrn,
                    "given_name": "Kay",
                    "family_name": "Lune",
                    "birth_date": "1985-05-05",
                    "sex": "female",
                    "weight_kg": 70.5,
                }
                try:
                    response = http.post("/api/v1/patients", json=body)
                except httpx.HTTPError:
                    return
                if response.status_code == 201:
                    acknowledged.append(mrn)

    workers = [threading.Thread(target=register, args=(w,)) for w in range(4)]
    for w in workers:
        w.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.send_signal(signal.SIGKILL)
    server.wait(timeout=10)
    stop.set()
    for w in workers:
        w.join(timeout=10)
    assert len(acknowledged) >= 40

    engine = make_engine(url_of(env))
    with engine.connect() as conn:
        stored = set(
            conn.execute(sa.select(t.patient.c.mrn).where(t.patient.c.mrn.like("K%"))).scalars()
        )
        without_weight = conn.execute(
            sa.select(sa.func.count())
            .select_from(t.patient.outerjoin(t.body_measurement))
            .where(t.patient.c.mrn.like("K%"), t.body_measurement.c.id.is_(None))
        ).scalar()
    engine.dispose()
    assert set(acknowledged) <= stored, "an acknowledged registration was lost"
    assert without_weight == 0, "a registration was half-written (patient without its weight)"
    assert audit_ok(env)

    restarted = start_server(env, port)
    try:
        assert httpx.get(f"{base}/healthz").status_code == 200
    finally:
        restarted.terminate()
        restarted.wait(timeout=10)


def test_a_backup_killed_midway_leaves_no_backup_file_and_the_database_intact(
    env: dict[str, str], tmp_path: Path
) -> None:
    engine = make_engine(url_of(env))
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        site_id = conn.execute(sa.select(t.site.c.id).where(t.site.c.code == "MIA")).scalar()
        conn.execute(
            t.patient.insert(),
            [
                {
                    "site_id": site_id,
                    "mrn": f"BULK-{i}",
                    "given_name": "Bo",
                    "family_name": "Ulk",
                    "birth_date": dt.date(1980, 1, 1),
                    "sex": "male",
                    "created_at": now,
                }
                for i in range(20_000)
            ],
        )
    engine.dispose()
    target = tmp_path / "killed.backup.gz"
    process = subprocess.Popen(
        [BIN, "backup", str(target)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    partial = target.with_name(target.name + ".partial")
    deadline = time.monotonic() + 30
    while not partial.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    if process.returncode == 0:
        pytest.skip("the backup finished before it could be killed")  # fails the run under CI=true
    assert not target.exists(), "a killed backup left a file under the final name"
    assert audit_ok(env)
    again = subprocess.run(
        [BIN, "backup", str(target)], env=env, capture_output=True, timeout=300, check=False
    )
    assert again.returncode == 0
    assert target.exists()
