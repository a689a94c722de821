"""CLI test helpers shared by test_cli.py and test_cli_bad_input.py: `Cli` runs `itsm` in-process,
`build_desk` seeds a database through the CLI, `copy_database` copies a seeded template and
`nothing_written` proves a refused command wrote nothing.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from itsm_tui.cli import main
from itsm_tui.clock import FixedClock


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class Cli:
    """Runs `itsm` in-process against one database, by default as `root`."""

    def __init__(
        self, url: str, clock: FixedClock, capsys: pytest.CaptureFixture[str], user: str = "root"
    ) -> None:
        self.url, self.clock, self.capsys, self.user = url, clock, capsys, user

    def raw(self, *argv: str) -> Result:
        """Exactly these arguments, nothing added."""
        code = main(list(argv), clock=self.clock)
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def run(self, *argv: str, user: str | None = None) -> Result:
        return self.raw("--db", self.url, "--user", user or self.user, *argv)

    def ok(self, *argv: str, user: str | None = None) -> Result:
        result = self.run(*argv, user=user)
        assert result.code == 0, result.err
        assert result.err == ""
        return result

    def json(self, *argv: str, user: str | None = None) -> Any:
        return self.ok(*argv, "--json", user=user).json()

    def usage_error(self, *argv: str, user: str | None = None) -> str:
        """An argparse refusal: exit status 2, usage on stderr, nothing on stdout."""
        with pytest.raises(SystemExit) as exit_info:
            self.run(*argv, user=user)
        captured = self.capsys.readouterr()
        assert exit_info.value.code == 2
        assert captured.out == ""
        return captured.err

    def new_incident(self, *flags: str, user: str | None = None, **values: str) -> dict[str, Any]:
        """`incident new` with sensible defaults; keyword values become `--flag value`."""
        values = {"title": "Mail is down", "impact": "2", "urgency": "2", **values}
        args = [a for k, v in values.items() for a in (f"--{k.replace('_', '-')}", v)]
        return self.json("incident", "new", *args, *flags, user=user)

    def show(self, number: str, user: str | None = None) -> dict[str, Any]:
        return self.json("incident", "show", number, user=user)


def db_state(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to prove a refused command wrote nothing."""
    with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as connection:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        return {
            t: connection.execute(f'SELECT * FROM "{t}" ORDER BY rowid').fetchall() for t in tables
        }


@contextmanager
def nothing_written(url: str) -> Iterator[None]:
    before = db_state(url)
    yield
    after = db_state(url)
    changed = [t for t in before if before[t] != after.get(t)]
    assert changed == [], f"a refused command wrote to {changed}"


DESK_COMMANDS = [
    ["init"],  # only init (and demo) may create a database
    # The first user of the empty database (root) becomes its admin.
    ["group", "add", "Security"],
    ["group", "add", "Network", "--escalates-to", "Security"],
    ["group", "add", "Service Desk", "--escalates-to", "Network"],
    ["user", "add", "sue", "--role", "supervisor", "--group", "Service Desk", "--group", "Network"],
    ["user", "add", "alice", "--role", "agent", "--group", "Service Desk"],
    ["user", "add", "bob", "--role", "agent", "--group", "Network"],
    ["user", "add", "vic", "--role", "viewer"],
    ["service", "add", "Email", "--criticality", "high"],
    ["ci", "add", "mail-01", "--service", "Email"],
    ["service", "add", "VPN"],
    ["ci", "add", "vpn-gw-01", "--service", "VPN", "--class", "gateway"],
]
DESK_TIME = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)  # the day before the `clock` fixture's T0


def build_desk(db_file: Path, *more: list[str]) -> None:
    """Desk: root (admin), sue (supervisor: Service Desk, Network), alice (agent: Service Desk),
    bob (agent: Network), vic (viewer). Groups Service Desk -> Network -> Security.
    Services Email (CI mail-01), VPN (CI vpn-gw-01). `more` commands run after, as root."""
    clock = FixedClock(DESK_TIME)
    for argv in [*DESK_COMMANDS, *more]:
        code = main(["--db", f"sqlite:///{db_file}", "--user", "root", *argv], clock=clock)
        assert code == 0, argv


def built_desk(factory: pytest.TempPathFactory, name: str, *more: list[str]) -> Path:
    """`build_desk` once per test process, in a folder of its own and away from the real
    user's config and environment (the autouse isolation is per test, this runs for many);
    tests copy the file with `copy_database`."""
    folder = factory.mktemp(name)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CONFIG_HOME", str(folder / "config"))
        patch.setenv("XDG_DATA_HOME", str(folder / "data"))
        patch.delenv("ITSM_DATABASE_URL", raising=False)
        patch.delenv("ITSM_USER", raising=False)
        build_desk(folder / "desk.sqlite", *more)
    return folder / "desk.sqlite"


def fresh_cli(
    template: Path, url: str, clock: FixedClock, capsys: pytest.CaptureFixture[str]
) -> Cli:
    """The CLI on a fresh copy of `template` (a `built_desk`), acting as root unless told."""
    copy_database(template, url)
    capsys.readouterr()
    return Cli(url, clock, capsys)


def copy_database(template: Path, url: str) -> None:
    target = Path(url.removeprefix("sqlite:///"))
    for suffix in ("", "-wal", "-shm"):
        source = template.with_name(template.name + suffix)
        if source.exists():
            shutil.copyfile(source, target.with_name(target.name + suffix))
