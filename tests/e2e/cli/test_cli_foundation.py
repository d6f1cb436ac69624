"""The ``ketaclinic`` command as an operator runs it: a real process, real environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

BIN = str(Path(sys.executable).with_name("ketaclinic"))
SECRET = "cli-test-secret-" + "y" * 40


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    values = {
        **os.environ,
        "KETACLINIC_DATA_DIR": str(tmp_path / "data"),
        "KETACLINIC_SECRET_KEY": SECRET,
        "KETACLINIC_ENVIRONMENT": "test",
    }
    if request.param == "postgres":
        values["KETACLINIC_DATABASE_URL"] = request.getfixturevalue("fresh_pg_url")
    else:
        values.pop("KETACLINIC_DATABASE_URL", None)
    return values


def run(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BIN, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120, check=False
    )


def database_url(env: dict[str, str]) -> str:
    return (
        env.get("KETACLINIC_DATABASE_URL")
        or f"sqlite:///{env['KETACLINIC_DATA_DIR']}/ketaclinic.sqlite3"
    )


def test_demo_audit_verify_and_tamper_detection(env: dict[str, str]) -> None:
    loaded = run(env, "demo", "--no-serve", "--json")
    assert loaded.returncode == 0, loaded.stderr
    logins = json.loads(loaded.stdout)["logins"]
    assert {x["username"] for x in logins} >= {"nurse.mia", "director.fll"}

    ok = run(env, "audit", "verify", "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["ok"] is True

    from ketaclinic.adapters.db.engine import make_engine

    engine = make_engine(database_url(env))
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_event SET username = 'someone' WHERE seq = 3"))
    engine.dispose()
    broken = run(env, "audit", "verify", "--json")
    assert broken.returncode == 1
    report = json.loads(broken.stdout)
    assert report["ok"] is False
    assert report["first_bad_seq"] == 3


def test_user_add_reads_the_password_from_stdin(env: dict[str, str]) -> None:
    assert run(env, "site-add", "MIA", "--name", "Miami", "--chairs", "2").returncode == 0
    made = run(
        env,
        "user",
        "add",
        "nurse.new",
        "--role",
        "nurse",
        "--site",
        "MIA",
        "--password-stdin",
        "--json",
        stdin="a-long-enough-passphrase\n",
    )
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["role"] == "nurse"


def test_user_unlock_lifts_a_lockout_and_is_audited(env: dict[str, str]) -> None:
    import datetime as dt

    from ketaclinic.adapters.db.engine import make_engine
    from ketaclinic.adapters.db.uow import SqlUnitOfWork

    assert run(env, "site-add", "MIA", "--name", "Miami").returncode == 0
    added = run(
        env,
        *("user", "add", "nurse.locked", "--role", "nurse", "--site", "MIA", "--password-stdin"),
        stdin="a-long-enough-passphrase\n",
    )
    assert added.returncode == 0, added.stderr
    engine = make_engine(database_url(env))
    locked_until = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=15)
    with SqlUnitOfWork(engine) as uow:
        user = uow.users.by_username("nurse.locked")
        assert user is not None
        uow.users.set_login_state(user.id, 5, locked_until)
        uow.commit()

    unlocked = run(env, "user", "unlock", "nurse.locked", "--json")
    assert unlocked.returncode == 0, unlocked.stderr
    assert json.loads(unlocked.stdout) == {
        "id": user.id,
        "username": "nurse.locked",
        "unlocked": True,
    }
    with SqlUnitOfWork(engine) as uow:
        assert uow.users.login_state(user.id) == (0, None)
        details = [
            e.record.detail for e in uow.audit.entries() if e.record.resource == "staff_user"
        ]
    engine.dispose()
    assert "sign-in unlocked (had 5 failures, locked)" in details

    unknown = run(env, "user", "unlock", "nobody.here")
    assert unknown.returncode != 0
    assert "username" in unknown.stderr
    assert "Traceback" not in unknown.stderr


@pytest.mark.parametrize(
    ("args", "stdin", "names"),
    [
        (("--role", "janitor", "--site", "MIA"), "a-long-enough-passphrase\n", "role"),
        (("--role", "nurse", "--site", "XXX"), "a-long-enough-passphrase\n", "site"),
        (("--role", "nurse", "--site", "MIA"), "short\n", "password"),
    ],
)
def test_user_add_bad_input_is_one_line_naming_the_field(
    env: dict[str, str], args: tuple[str, ...], stdin: str, names: str
) -> None:
    run(env, "site-add", "MIA", "--name", "Miami")
    result = run(env, "user", "add", "someone", *args, "--password-stdin", stdin=stdin)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {names}")


def test_backup_then_restore_into_an_empty_database(env: dict[str, str], tmp_path: Path) -> None:
    assert run(env, "demo", "--no-serve").returncode == 0
    backup_file = tmp_path / "clinic.backup.gz"
    made = run(env, "backup", str(backup_file), "--json")
    assert made.returncode == 0, made.stderr
    rows = json.loads(made.stdout)["rows"]
    assert rows["patient"] == 40

    refused = run(env, "restore", str(backup_file))
    assert refused.returncode == 2
    assert "--force" in refused.stderr

    target = {**env, "KETACLINIC_DATA_DIR": str(tmp_path / "restored")}
    target.pop("KETACLINIC_DATABASE_URL", None)
    restored = run(target, "restore", str(backup_file), "--json")
    assert restored.returncode == 0, restored.stderr
    assert json.loads(restored.stdout)["rows"] == rows
    verified = run(target, "audit", "verify", "--json")
    assert json.loads(verified.stdout)["ok"] is True


def test_a_truncated_backup_is_refused_and_changes_nothing(
    env: dict[str, str], tmp_path: Path
) -> None:
    assert run(env, "demo", "--no-serve").returncode == 0
    backup_file = tmp_path / "clinic.backup.gz"
    assert run(env, "backup", str(backup_file)).returncode == 0
    data = backup_file.read_bytes()
    backup_file.write_bytes(data[: len(data) // 2])
    target = {**env, "KETACLINIC_DATA_DIR": str(tmp_path / "other")}
    target.pop("KETACLINIC_DATABASE_URL", None)
    result = run(target, "restore", str(backup_file))
    assert result.returncode == 2
    assert "corrupt or truncated" in result.stderr
    assert (
        not (tmp_path / "other" / "ketaclinic.sqlite3").exists()
        or run(target, "audit", "verify", "--json").returncode == 0
    )


def test_reading_an_unmigrated_database_says_to_upgrade_it(
    env: dict[str, str], tmp_path: Path
) -> None:
    # An empty database (a new data folder, or a PostgreSQL database just created): commands
    # that only read or copy it answer one line and exit 1 instead of failing on a missing table.
    for args in (("audit", "verify", "--json"), ("backup", str(tmp_path / "b.gz"))):
        result = run(env, *args)
        assert result.returncode == 1, (args, result.stderr)
        assert result.stderr.strip() == (
            "error: the database schema is not up to date: run 'ketaclinic db upgrade' first"
        )
        assert result.stdout == ""
    assert not (tmp_path / "b.gz").exists()
    assert run(env, "db", "upgrade").returncode == 0
    verified = run(env, "audit", "verify", "--json")
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["entries_checked"] == 0


def test_the_parsers_own_refusals_are_one_line_too(env: dict[str, str]) -> None:
    # DESIGN.md §4.2: a word for a number, a missing option, an unknown option or command.
    cases = {
        ("dose", "--weight-kg", "abc", "--mg-per-kg", "0.5", "--minutes", "40"): (
            "error: --weight-kg: got 'abc', expected a valid number"
        ),
        ("dose", "--mg-per-kg", "0.5", "--minutes", "40"): (
            "error: --weight-kg: missing, expected measured body weight in kg"
        ),
        ("score", "pcl5", "--answers"): "error: --answers: missing its value",
        ("nosuch",): "error: No such command 'nosuch' (see 'ketaclinic --help')",
    }
    for args, line in cases.items():
        result = run(env, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr == line + "\n", args
        assert result.stdout == ""
    helped = run(env, "dose", "--help")
    assert helped.returncode == 0
    assert "--weight-kg" in helped.stdout
    group = run(env, "chair")  # a group without its command: its help, as click decides (2)
    assert group.returncode == 2
    assert "Usage" in group.stdout
    assert "retire" in group.stdout
    assert group.stderr == ""


def test_a_bad_setting_is_one_line_naming_the_variable(env: dict[str, str]) -> None:
    result = run({**env, "KETACLINIC_TIMEZONE": "Mars/Base"}, "audit", "verify")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: KETACLINIC_TIMEZONE: got 'Mars/Base'; "
        "expected an IANA time zone such as America/New_York"
    )


@pytest.mark.parametrize(
    "command",
    [
        ("site-add", "MIA", "--name", "Miami"),  # sets up: brings the schema up to date
        ("export", "fhir", "--all"),  # only reads: needs a current schema
        ("self-report", "send-due"),
        ("visits", "send-reminders"),
        ("plan", "weekly-9", "--start", "2026-12-01"),  # reads the settings for its own lookup
    ],
    ids=" ".join,
)
def test_every_command_group_reports_a_bad_setting_in_one_line(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    """Each command group opens the clinic the same way (cli/common.py): a setting out of its
    range is one line on stderr, exit 2, and nothing is created."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("KETACLINIC_")},
        "KETACLINIC_DATA_DIR": str(tmp_path / "data"),
        "KETACLINIC_SECRET_KEY": SECRET,
        "KETACLINIC_BOARD_REFRESH_S": "999",
    }
    result = run(env, *command)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        "error: KETACLINIC_BOARD_REFRESH_S: got '999'; Input should be less than or equal to 60"
    ]
    assert not (tmp_path / "data" / "ketaclinic.sqlite3").exists()


def test_chairs_are_added_listed_and_retired_with_their_history_kept(
    env: dict[str, str],
) -> None:
    assert run(env, "site-add", "MIA", "--name", "Miami", "--chairs", "2").returncode == 0
    added = run(env, "chair", "add", "mia", "mia-3", "--name", "Window chair", "--json")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout) == {
        "code": "MIA-3",
        "name": "Window chair",
        "site": "MIA",
        "retired_at": None,
    }
    again = run(env, "chair", "add", "MIA", "MIA-3")
    assert again.returncode == 2
    assert again.stderr.strip() == "error: chair code 'MIA-3' already exists"
    nowhere = run(env, "chair", "add", "XXX", "XXX-1")
    assert nowhere.returncode == 2
    assert nowhere.stderr.startswith("error: site: 'XXX' does not exist (known: MIA)")

    retired = run(env, "chair", "retire", "MIA-3", "--json")
    assert retired.returncode == 0, retired.stderr
    assert json.loads(retired.stdout)["retired_at"] is not None
    listed = json.loads(run(env, "chair", "list", "MIA", "--json").stdout)
    assert [(c["code"], c["retired_at"] is None) for c in listed["chairs"]] == [
        ("MIA-1", True),
        ("MIA-2", True),
        ("MIA-3", False),
    ]
    twice = run(env, "chair", "retire", "MIA-3")
    assert twice.returncode == 2
    assert "already retired" in twice.stderr
    unknown = run(env, "chair", "retire", "MIA-9")
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("error: chair: no chair with code 'MIA-9'")

    verified = json.loads(run(env, "audit", "verify", "--json").stdout)
    assert verified["ok"] is True
    engine = sa.create_engine(database_url(env))
    with engine.connect() as conn:
        details = conn.execute(
            sa.text("SELECT detail FROM audit_event WHERE resource = 'chair' ORDER BY seq")
        ).scalars()
        assert list(details) == ["chair MIA-3 put into service", "chair MIA-3 retired"]
    engine.dispose()


def test_site_phone_is_set_at_creation_changed_and_refused_when_not_a_number(
    env: dict[str, str],
) -> None:
    added = run(env, "site-add", "MIA", "--name", "Miami", "--phone", "+1 305 555 0100")
    assert added.returncode == 0, added.stderr
    changed = run(env, "site-phone", "mia", "305-555-0111 x2", "--json")
    assert changed.returncode == 0, changed.stderr
    assert json.loads(changed.stdout) == {"code": "MIA", "phone": "305-555-0111 x2"}
    refused = run(env, "site-phone", "MIA", "call reception")
    assert refused.returncode == 2
    assert refused.stderr.strip().startswith("error: phone: got 'call reception'")
    assert "Traceback" not in refused.stderr
    unknown = run(env, "site-phone", "XXX", "305 555 0100")
    assert unknown.returncode != 0
    assert "site" in unknown.stderr
    cleared = run(env, "site-phone", "MIA", "")
    assert cleared.returncode == 0, cleared.stderr
    assert "MIA: no phone" in cleared.stdout
