"""A real ``ketaclinic serve --hl7-port`` in a subprocess, on loopback, with the demo clinic
loaded into a database of its own (SQLite file, or a fresh PostgreSQL database). For the tests
that must kill the process mid-stream. Only the processes started here are ever signalled."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

START_TIMEOUT_S = 90.0  # a cold start migrates and imports numpy/matplotlib on a loaded machine
KETACLINIC = str(Path(sys.executable).with_name("ketaclinic"))


@dataclass
class ServedClinic:
    """The demo clinic served by a subprocess; ``start``/``kill``/``stop`` it at will."""

    database_url: str
    workdir: Path
    port: int
    hl7_port: int
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KETACLINIC_")}
        env.update(
            KETACLINIC_DATABASE_URL=self.database_url,
            KETACLINIC_DATA_DIR=str(self.workdir / "data"),
            KETACLINIC_SECRET_KEY="served-clinic-secret-" + "k" * 40,
            KETACLINIC_LOG_LEVEL="WARNING",
        )
        return env

    def load_demo(self) -> None:
        subprocess.run(
            [KETACLINIC, "demo", "--no-serve", "--json"],
            env=self.env,
            cwd=self.workdir,
            check=True,
            capture_output=True,
            timeout=START_TIMEOUT_S,
        )

    def start(self) -> None:
        self.starts += 1
        log_path = self.workdir / f"serve-{self.starts}.log"
        with log_path.open("wb") as log:  # the child keeps its own copy of the descriptor
            self.process = self._spawn(log)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"ketaclinic serve exited: see {log_path}")
            if self._ready():
                return
            time.sleep(0.2)
        raise RuntimeError("ketaclinic serve did not become ready")

    def _spawn(self, log: object) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                KETACLINIC,
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--hl7-port",
                str(self.hl7_port),
            ],
            env=self.env,
            cwd=self.workdir,
            stdout=log,  # type: ignore[arg-type]
            stderr=subprocess.STDOUT,
        )

    def _ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.hl7_port), timeout=1):
                pass
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a power cut of the process."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def served_clinic(
    tmp_path: Path, provision_db: Callable[[str], str], pick_port: Callable[[], int]
) -> Iterator[Callable[[str], ServedClinic]]:
    """``served_clinic("sqlite" | "postgres")``: the demo clinic loaded, not yet started."""
    made: list[ServedClinic] = []

    def make(kind: str) -> ServedClinic:
        url = f"sqlite:///{tmp_path / 'clinic.sqlite3'}" if kind == "sqlite" else provision_db(kind)
        clinic = ServedClinic(url, tmp_path, pick_port(), pick_port())
        clinic.load_demo()
        made.append(clinic)
        return clinic

    yield make
    for clinic in made:
        clinic.stop()
