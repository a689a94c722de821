"""Issue 16, points 1, 5, 8 and 14, below the desk: where exports and backups may write, with
what mode, and what `itsm backup` prints for PostgreSQL.

- A local report export refuses the database, its -wal/-shm/-journal and the config
  directory, however named (symlink, `..`), and writes nothing; a remote desk's export goes
  to `<data>/exports/<user>/` under a made-up name, and no typed path is written at all.
- `itsm backup` refuses the database and its companions, `--force` or not (exit 2).
- Database, backup, export and report export files are 0600 under a umask of 022.
- `itsm export list` (admins) lists the remote exports; `itsm export` is unchanged.
- The pg_dump hint carries no password.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest

from itsm_tui.clock import FixedClock
from itsm_tui.config import config_dir
from itsm_tui.services import backup, desk_reports, remote_exports
from itsm_tui.services.desk_reports import DeskReport, ExportFormat
from itsm_tui.services.errors import ValidationFailed
from itsm_tui.session_kind import REMOTE_ENV
from itsm_tui.store.database import open_database
from tests.cli_helpers import Cli
from tests.conftest import T0

COMPANIONS = ("", "-wal", "-shm", "-journal")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """The usual umask: files a library creates without a mode come out 0644."""
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


def _report() -> DeskReport:
    return DeskReport(
        key="services",
        title="Incidents per service",
        generated_at=T0,
        start=T0 - timedelta(days=1),
        end=T0,
        columns=desk_reports._volume_columns("service"),
        rows=[desk_reports.ReportRow(cells=["Email", 1, 0, 1])],
    )


def _live_database(tmp_path: Path) -> tuple[str, Path]:
    """A WAL-mode desk with an open connection, so its -wal and -shm are on disk."""
    path = tmp_path / "desk" / "itsm.sqlite"
    url = f"sqlite:///{path}"
    open_database(url).dispose()
    return url, path


def _files_under(folder: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# ---------------------------------------------------------------------------- point 1, local


def test_a_local_export_refuses_the_database_its_companions_and_the_config_dir(
    tmp_path: Path,
) -> None:
    url, database = _live_database(tmp_path)
    config = config_dir()
    config.mkdir(parents=True)
    (config / "config.toml").write_text('user = "alice"\n')
    links = tmp_path / "links"
    links.mkdir()
    (links / "to-wal").symlink_to(database.with_name(database.name + "-wal"))
    (links / "to-config").symlink_to(config)
    dotted = database.parent / ".." / "desk" / f"{database.name}-journal"
    chosen = [
        *(database.with_name(database.name + suffix) for suffix in COMPANIONS),
        dotted,
        links / "to-wal",
        config / "config.toml",
        config / "new" / "report.csv",
        links / "to-config" / "report.csv",
    ]
    before = _files_under(tmp_path)
    for path in chosen:
        with pytest.raises(ValidationFailed) as refused:
            desk_reports.export_report(_report(), ExportFormat.CSV, path, database_url=url)
        assert str(path) in str(refused.value)
        assert "database" in str(refused.value) or "configuration directory" in str(refused.value)
    assert _files_under(tmp_path) == before  # not a byte written, no folder made
    assert not (config / "new").exists()
    with closing(sqlite3.connect(database)) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_remote_desk_never_writes_a_typed_path_and_exports_to_the_users_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, permissive_umask: None
) -> None:
    monkeypatch.setenv(REMOTE_ENV, "ssh")
    chosen = tmp_path / "home" / ".bashrc"
    with pytest.raises(ValidationFailed, match="remote desk"):
        desk_reports.export_report(_report(), ExportFormat.CSV, chosen, database_url=None)
    assert not chosen.parent.exists()

    first = desk_reports.export_for_remote_user(_report(), ExportFormat.MARKDOWN, "vic", T0)
    again = desk_reports.export_for_remote_user(_report(), ExportFormat.MARKDOWN, "vic", T0)
    folder = tmp_path / "xdg-data" / "itsm-tui" / "exports" / "vic"
    assert first == folder / "services-20260302-090000.md"
    assert again == folder / "services-20260302-090000-2.md"  # same second: a new file
    assert "| Email |" in first.read_text(encoding="utf-8")
    assert _mode(first) == 0o600 and _mode(folder) == 0o700
    with pytest.raises(ValidationFailed):
        desk_reports.export_for_remote_user(_report(), ExportFormat.CSV, "../root", T0)


def test_a_users_export_folder_keeps_only_their_newest_exports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A remote user scripting the export key cannot fill the server's disk."""
    monkeypatch.setenv(REMOTE_ENV, "ssh")
    folder = tmp_path / "xdg-data" / "itsm-tui" / "exports" / "vic"
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("an admin's file")  # not the desk's: left alone
    made = [
        desk_reports.export_for_remote_user(
            _report(), ExportFormat.CSV, "vic", T0 + timedelta(seconds=second // 2)
        )
        for second in range(remote_exports.KEPT_PER_USER + 3)
    ]  # two a second: "-2" names order after their first
    kept = sorted(p.name for p in folder.iterdir())
    assert kept == sorted([p.name for p in made[3:]] + ["notes.txt"])
    # made[2] (xx:01) went before made[3] (xx:01-2): within a second, by attempt.
    assert made[3].name.endswith("-2.csv") and made[3].exists() and not made[2].exists()


# ---------------------------------------------------------------------------- point 8


def test_backup_refuses_the_live_database_and_its_companions_even_with_force(
    tmp_path: Path, clock: FixedClock, capsys: pytest.CaptureFixture[str]
) -> None:
    url, database = _live_database(tmp_path)
    cli = Cli(url, clock, capsys)
    cli.ok("init")
    holder = sqlite3.connect(database)  # keeps the -wal and -shm in place
    try:
        holder.execute("PRAGMA journal_mode").fetchone()
        holder.execute("SELECT count(*) FROM incidents").fetchone()
        link = tmp_path / "innocent.sqlite"
        link.symlink_to(database.with_name(database.name + "-wal"))
        targets = [
            *(str(database.with_name(database.name + suffix)) for suffix in COMPANIONS),
            str(link),
            f"{database.parent}/../desk/{database.name}-shm",
        ]
        before = _files_under(tmp_path)
        for target in targets:
            result = cli.run("backup", target, "--force")
            assert result.code == 2, (target, result)
            assert "live database" in result.err and "Traceback" not in result.err
            assert result.out == ""
        assert _files_under(tmp_path).keys() == before.keys()  # no partial copy left either
        assert database.read_bytes() == before[database]
    finally:
        holder.close()
    assert cli.new_incident()["number"]  # every new connection still works


# ---------------------------------------------------------------------------- point 14


def test_database_backup_and_export_files_are_owner_only_under_umask_022(
    tmp_path: Path,
    clock: FixedClock,
    capsys: pytest.CaptureFixture[str],
    permissive_umask: None,
) -> None:
    url = f"sqlite:///{tmp_path / 'fresh' / 'itsm.sqlite'}"
    cli = Cli(url, clock, capsys)
    cli.ok("init")
    database = tmp_path / "fresh" / "itsm.sqlite"
    holder = sqlite3.connect(database)
    try:
        holder.execute("SELECT count(*) FROM incidents").fetchone()  # -wal and -shm exist now
        for suffix in ("", "-wal", "-shm"):
            assert _mode(database.with_name(database.name + suffix)) == 0o600, suffix
    finally:
        holder.close()

    copy = tmp_path / "backup.sqlite"
    cli.ok("backup", str(copy))
    assert _mode(copy) == 0o600
    exported = tmp_path / "export.json"
    cli.ok("export", "--output", str(exported))
    assert _mode(exported) == 0o600
    report = tmp_path / "reports" / "services.csv"
    desk_reports.export_report(_report(), ExportFormat.CSV, report, database_url=url)
    assert _mode(report) == 0o600


# ---------------------------------------------------------------------------- export list


def test_export_list_shows_remote_exports_to_admins_only_and_export_is_unchanged(
    cli: Cli, tmp_path: Path
) -> None:
    assert cli.ok("export", "list").out.startswith("No exports in ")
    assert cli.json("export", "list") == []
    made = desk_reports.export_for_remote_user(_report(), ExportFormat.CSV, "vic", T0)
    listed = cli.json("export", "list")
    assert listed == [
        {
            "user": "vic",
            "name": "services-20260302-090000.csv",
            "bytes": made.stat().st_size,
            "modified_at": listed[0]["modified_at"],
            "path": str(made),
        }
    ]
    table = cli.ok("export", "list").out.splitlines()
    assert table[0].split() == ["USER", "FILE", "BYTES", "MODIFIED", "PATH"]
    assert table[1].split()[:2] == ["vic", "services-20260302-090000.csv"]
    refused = cli.run("export", "list", user="vic")
    assert refused.code == 4 and "admin" in refused.err

    # The export itself is as it was: JSON on stdout, or --output with a summary.
    assert set(cli.json("export", "--what", "groups")) >= {"groups"}
    out = tmp_path / "groups.csv"
    done = cli.ok("export", "--format", "csv", "--what", "groups", "--output", str(out))
    assert done.out.startswith("Exported ") and out.read_text().startswith("name")
    wal = cli.run("export", "--output", f"{cli.url.removeprefix('sqlite:///')}-wal")
    assert wal.code == 2 and "live database" in wal.err


def test_export_list_refuses_the_export_flags_it_would_ignore(cli: Cli, tmp_path: Path) -> None:
    """`itsm export list -o FILE` wrote nothing and said nothing about it: a script expecting
    the file learned nothing was made only when it went to read it."""
    out = tmp_path / "list.json"
    for flags in (["--output", str(out)], ["--format", "csv"], ["--what", "users"]):
        refused = cli.run("export", "list", *flags)
        assert refused.code == 2, flags
        assert flags[0] in refused.err and "export list" in refused.err
    assert not out.exists()


# ---------------------------------------------------------------------------- point 5


def test_the_pg_dump_hint_never_carries_the_password() -> None:
    url = "postgresql+psycopg://desk:s3cret-pw@db.example:5433/itsm?sslmode=require"
    hint = backup.pg_dump_hint(url, Path("/backups/desk.dump"))
    assert "s3cret-pw" not in hint
    plain = "postgresql://desk@db.example:5433/itsm?sslmode=require"
    assert f"--dbname={plain}" in hint and "PGPASSWORD" in hint


@pytest.mark.postgres
def test_itsm_backup_on_postgres_prints_no_password(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    clock: FixedClock,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.conftest import _postgres_database_url, postgres_base_url

    base = postgres_base_url()
    if base is None:
        pytest.skip("PostgreSQL tests need ITSM_TEST_POSTGRES_URL")
    urls = _postgres_database_url(base, request.getfixturevalue("_postgres_template"))
    url = next(urls)
    try:
        # The server trusts local connections, so any password is accepted and must not show.
        with_password = url.replace("://postgres@", "://postgres:s3cret-pw@")
        assert "s3cret-pw" in with_password
        monkeypatch.setenv("ITSM_DATABASE_URL", with_password)
        cli = Cli(with_password, clock, capsys)
        result = cli.raw("--user", "root", "backup", str(tmp_path / "desk.dump"))
    finally:
        for _ in urls:
            pass
    assert result.code == 2 and "pg_dump" in result.err
    assert "s3cret-pw" not in result.out + result.err
