"""`itsm demo` through the CLI: it never wipes work done in its demo without asking, tells how
to come back to the demo after the desk quits, and shows its progress only on a terminal.

The demo under the data directory is a copy of the shared test demo (conftest's
`demo_template`, built with the build mark) wherever a test does not need a fresh build; the
builds that prove a rebuild load the smallest demo (`--incidents 1`).
"""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from itsm_tui import config
from itsm_tui.app import ITSMApp
from itsm_tui.cli import main
from itsm_tui.clock import FixedClock
from itsm_tui.demo_progress import demo_progress
from itsm_tui.services.demo import STAGES, DemoOptions, changed_since_built, load_demo
from itsm_tui.services.demo_problems import story_incident_count
from itsm_tui.store.database import open_database
from tests.cli_helpers import Cli, Result, nothing_written
from tests.conftest import DEMO_TIME

DEMO_USER = "ada"  # the demo's admin


class _Terminal(io.StringIO):
    """Standard input (or a stream) that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def own_demo(demo_template: Path) -> Path:
    """The demo under the (isolated) data directory, as `itsm demo` left it."""
    path = config.demo_database_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(demo_template, path)
    return path


def _url(path: Path) -> str:
    return f"sqlite:///{path}"


def _demo(capsys: pytest.CaptureFixture[str], clock: FixedClock, *argv: str) -> Result:
    code = main(["--user", DEMO_USER, "demo", "--no-launch", *argv], clock=clock)
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def _work_in(path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """Someone logs an incident in the demo; its number."""
    cli = Cli(_url(path), FixedClock(DEMO_TIME), capsys, user=DEMO_USER)
    return cli.new_incident(title="Printer on fire")["number"]


def _incident_count(path: Path, capsys: pytest.CaptureFixture[str]) -> int:
    cli = Cli(_url(path), FixedClock(DEMO_TIME), capsys, user=DEMO_USER)
    return len(cli.json("incident", "list", "--limit", "1000"))


# ---------------------------------------------------------------------------- rebuilding


def test_without_a_terminal_a_demo_someone_worked_in_is_kept_and_the_refusal_names_reset(
    own_demo: Path,
    clock: FixedClock,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    number = _work_in(own_demo, capsys)
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))  # not a terminal: nobody to ask
    with nothing_written(_url(own_demo)):
        result = _demo(capsys, clock, "--incidents", "1")
    assert result.code == 2
    assert result.out == ""
    assert "changes since it was built" in result.err
    assert "itsm demo --reset" in result.err
    assert str(own_demo) in result.err
    cli = Cli(_url(own_demo), clock, capsys, user=DEMO_USER)
    assert cli.show(number)["title"] == "Printer on fire"


def test_reset_rebuilds_a_demo_someone_worked_in_without_asking(
    own_demo: Path,
    clock: FixedClock,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _work_in(own_demo, capsys)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    result = _demo(capsys, clock, "--incidents", "1", "--reset", "--json")
    assert result.code == 0, result.err
    assert result.json()["rebuilt"] is True
    assert _incident_count(own_demo, capsys) == 1 + story_incident_count()
    assert not changed_since_built(own_demo)  # a fresh build, marked as such


def test_an_untouched_demo_is_rebuilt_without_asking(
    own_demo: Path,
    clock: FixedClock,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[str] = []
    monkeypatch.setattr("sys.stdin", _Terminal(""))
    monkeypatch.setattr("builtins.input", lambda prompt="": asked.append(prompt) or "n")
    result = _demo(capsys, clock, "--incidents", "1")
    assert result.code == 0, result.err
    assert asked == []
    assert "Loading demo data (1 incidents, seed 1)" in result.err
    assert _incident_count(own_demo, capsys) == 1 + story_incident_count()


@pytest.mark.parametrize(("answer", "kept"), [("n\n", True), ("\n", True), ("yes\n", False)])
def test_on_a_terminal_it_asks_and_only_yes_rebuilds(
    answer: str,
    kept: bool,
    own_demo: Path,
    clock: FixedClock,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    number = _work_in(own_demo, capsys)
    monkeypatch.setattr("sys.stdin", _Terminal(answer))
    result = _demo(capsys, clock, "--incidents", "1", "--json")
    assert result.code == 0, result.err
    prompt, _, document = result.out.partition("[y/N] ")
    assert "has changes since it was built. Rebuild it and lose them?" in prompt
    assert json.loads(document)["rebuilt"] is not kept
    cli = Cli(_url(own_demo), clock, capsys, user=DEMO_USER)
    listed = {i["number"] for i in cli.json("incident", "list", "--limit", "1000")}
    if kept:
        assert number in listed
    else:
        assert number not in listed
        assert len(listed) == 1 + story_incident_count()


def test_the_sla_evaluators_own_writes_do_not_count_as_work(
    own_demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Opening the desk runs the evaluator, which journals and notifies as nobody: that is not
    someone's work, and a rebuild makes it again."""
    assert not changed_since_built(own_demo)
    feed_before = _feed_size(own_demo)
    later = FixedClock(DEMO_TIME)
    later.advance(days=2)
    code = main(["--db", _url(own_demo), "--user", DEMO_USER, "worker", "--once"], clock=later)
    worker = capsys.readouterr()
    assert code == 0, worker.err
    assert "fired" in worker.out
    assert _feed_size(own_demo) > feed_before  # it did write
    assert not changed_since_built(own_demo)
    _work_in(own_demo, capsys)
    assert changed_since_built(own_demo)


def test_a_demo_without_a_build_mark_counts_as_worked_in(
    sqlite_url: str, clock: FixedClock
) -> None:
    """Built before marks existed (or loaded another way): nothing is wiped on a guess."""
    database = open_database(sqlite_url)
    try:
        with database.session() as session:
            load_demo(session, clock, DemoOptions(incidents=0))
    finally:
        database.dispose()
    assert changed_since_built(Path(sqlite_url.removeprefix("sqlite:///")))


def _feed_size(path: Path) -> int:
    with closing(sqlite3.connect(path)) as connection:
        return connection.execute("SELECT count(*) FROM feed_events").fetchone()[0]


# ---------------------------------------------------------------------------- quitting


def test_quitting_the_demo_desk_says_where_it_is_and_how_to_reopen_it(
    own_demo: Path,
    clock: FixedClock,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _work_in(own_demo, capsys)
    monkeypatch.setattr("sys.stdin", _Terminal("n\n"))  # keep it: no rebuild needed here
    monkeypatch.setattr(ITSMApp, "run", lambda self: None)  # the desk opens and is quit
    code = main(["--user", DEMO_USER, "demo"], clock=clock)
    out = capsys.readouterr().out
    assert code == 0
    last = out.strip().splitlines()[-1]
    assert str(own_demo) in last
    command = last.split("open it again with: ", 1)[1]
    assert command == f"itsm --db sqlite:///{own_demo}"
    argv = command.split()[1:]
    cli = Cli("", clock, capsys)
    listed = cli.raw(*argv, "--user", DEMO_USER, "--json", "incident", "list", "--limit", "5")
    assert listed.code == 0 and len(listed.json()) == 5


def test_the_reopen_command_is_shell_quoted(
    tmp_path: Path,
    demo_template: Path,
    clock: FixedClock,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "my data"))
    path = config.demo_database_path()
    path.parent.mkdir(parents=True)
    shutil.copyfile(demo_template, path)
    _work_in(path, capsys)
    monkeypatch.setattr("sys.stdin", _Terminal("n\n"))
    result = _demo(capsys, clock)
    assert result.out.strip().endswith(f"open it again with: itsm --db 'sqlite:///{path}'")


# ---------------------------------------------------------------------------- progress


def test_stages_are_told_in_order_and_incidents_count_up(
    sqlite_url: str, clock: FixedClock
) -> None:
    from itsm_tui.services.demo import prepare_demo_database

    told: list[tuple[str, int, int]] = []
    prepare_demo_database(
        sqlite_url, DemoOptions(incidents=3), clock, lambda *step: told.append(step)
    )
    stages = list(dict.fromkeys(stage for stage, _, _ in told))
    assert stages == list(STAGES)
    assert [s for s in told if s[0] == "incidents"] == [("incidents", n, 3) for n in range(4)]
    for stage in STAGES:
        steps = [(done, total) for name, done, total in told if name == stage]
        assert steps[0][0] == 0 and steps[-1][0] == steps[-1][1] > 0, stage


def test_a_terminal_gets_bars_with_the_stages_and_anything_else_one_line() -> None:
    plain = io.StringIO()
    with demo_progress(plain, "Loading demo data…") as tell:
        tell("incidents", 0, 300)
        tell("incidents", 300, 300)
    assert plain.getvalue() == "Loading demo data…\n"

    terminal = _Terminal()
    with demo_progress(terminal, "Loading demo data…") as tell:
        for stage in STAGES:
            tell(stage, 0, 20)
            tell(stage, 20, 20)
    shown = terminal.getvalue()
    assert shown.startswith("Loading demo data…\n")
    for label in ("Database", "People, groups, services", "Changes", "Incidents", "Problems"):
        assert label in shown
    assert "20/20" in shown
