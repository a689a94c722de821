"""`itsm backup`: a consistent copy of a SQLite desk taken while another thread writes, the
refusal to overwrite without --force, and on PostgreSQL the pg_dump command line (exit 2)."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from pathlib import Path

import pytest

from itsm_tui.clock import FixedClock
from itsm_tui.services import directory, incidents
from itsm_tui.services.incident_inputs import IncidentCreate
from itsm_tui.services.validation import validate
from itsm_tui.store.database import open_database
from tests.cli_helpers import Cli
from tests.conftest import _postgres_database_url, postgres_base_url


def test_a_backup_taken_while_another_thread_writes_is_whole_and_consistent(
    sqlite_url: str, tmp_path: Path, clock: FixedClock, capsys: pytest.CaptureFixture[str]
) -> None:
    cli = Cli(sqlite_url, clock, capsys)
    cli.ok("init")
    # One incident, then an open that gathers the planner statistics, before the writer runs.
    committed = [cli.new_incident()["number"]]
    cli.ok("init")
    stop = threading.Event()
    started = threading.Event()

    def write() -> None:
        database = open_database(sqlite_url)
        try:
            with database.session() as session:
                root = directory.resolve_actor(session, clock, "root")
                data = validate(IncidentCreate, title="load", impact=3, urgency=3)
                while not stop.is_set() and len(committed) < 3000:
                    committed.append(incidents.create_incident(session, root, clock, data).number)
                    if len(committed) == 21:
                        started.set()
        finally:
            started.set()
            database.dispose()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert started.wait(30)
        before = len(committed)
        target = tmp_path / "backup.sqlite"
        result = cli.json("backup", str(target))
        after = len(committed)
    finally:
        stop.set()
        writer.join(30)
    assert result["path"] == str(target) and result["bytes"] == target.stat().st_size
    with closing(sqlite3.connect(target)) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        numbers = [n for (n,) in copy.execute("SELECT number FROM incidents ORDER BY id")]
        audited = copy.execute(
            "SELECT count(DISTINCT record_id) FROM audit_entries WHERE record_type = 'incident'"
        ).fetchone()[0]
    # Every write committed before the copy began is in it; the copy is one committed state
    # (a prefix of the writes, each incident with its audit trail), whatever came after.
    assert before <= len(numbers) <= after + 1
    assert numbers == committed[: len(numbers)]
    assert audited == len(numbers)

    refused = cli.run("backup", str(target))
    assert refused.code == 2 and "--force" in refused.err
    assert cli.json("backup", str(target), "--force")["path"] == str(target)
    assert cli.run("backup", str(tmp_path / "no" / "dir.sqlite")).code == 2


@pytest.mark.postgres
def test_on_postgres_backup_gives_the_pg_dump_command_and_exits_2(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    clock: FixedClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = postgres_base_url()
    if base is None:
        pytest.skip("PostgreSQL tests need ITSM_TEST_POSTGRES_URL")
    urls = _postgres_database_url(base, request.getfixturevalue("_postgres_template"))
    url = next(urls)
    try:
        target = tmp_path / "desk.dump"
        result = Cli(url, clock, capsys).run("backup", str(target))
    finally:
        for _ in urls:
            pass
    assert result.code == 2 and result.out == ""
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    assert f"pg_dump --format=custom --file={target} --dbname={plain}" in result.err
    assert "pg_restore" in result.err
    assert not target.exists()
