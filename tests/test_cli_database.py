"""Which database a command uses: only `init` and `demo` create one, a missing one is an error
that names the path, the default one is named out loud, and the desk asks before creating."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import psycopg
import pytest

from itsm_tui import config
from itsm_tui.cli import main
from itsm_tui.clock import FixedClock
from itsm_tui.first_run import FirstRunApp, FirstRunChoice
from itsm_tui.widgets.desk_header import DeskHeader
from tests.conftest import POSTGRES_ENV, Desk
from tests.pg_pool import conninfo
from tests.tui_helpers import app_for, palette_highlight, settle, until


def run(clock: FixedClock, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv), clock=clock)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def files_under(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*")) if folder.exists() else []


# Every kind of command that opens a database, reading and writing.
COMMANDS = [
    ["incident", "list"],
    ["incident", "new", "--title", "x", "--impact", "2", "--urgency", "2"],
    ["user", "list"],
    ["group", "add", "Ops"],
    ["sla", "report"],
    ["worker", "--once"],
    ["export"],
    ["audit", "verify"],
    ["change", "list"],
    ["problem", "list"],
    ["wall"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda argv: " ".join(argv[:2]))
def test_a_typo_in_the_database_path_creates_nothing(
    command: list[str], tmp_path: Path, clock: FixedClock, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nonexistent" / "dir" / "x.sqlite"
    code, out, err = run(clock, capsys, "--db", f"sqlite:///{missing}", "--user", "u", *command)
    assert code == 1
    assert out == ""
    assert err.startswith(f"itsm: error: there is no database file {missing} (from --db)")
    assert f"itsm --db sqlite:///{missing} init" in err  # the way on
    assert not (tmp_path / "nonexistent").exists()  # no file, no directory


def test_a_missing_file_in_an_existing_folder_is_not_created_either(
    tmp_path: Path, clock: FixedClock, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(clock, capsys, "--db", f"sqlite:///{tmp_path}/typo.sqlite", "user", "list")
    assert code == 1 and "typo.sqlite" in err
    assert files_under(tmp_path) == []


def test_init_creates_the_named_database_and_its_folders(
    tmp_path: Path, clock: FixedClock, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "new" / "desk.sqlite"
    assert run(clock, capsys, "--db", f"sqlite:///{path}", "init")[0] == 0
    assert path.exists()
    code, out, _ = run(clock, capsys, "--db", f"sqlite:///{path}", "--json", "incident", "list")
    assert (code, out.strip()) == (0, "[]")


def test_a_missing_database_named_by_the_environment_says_where_it_came_from(
    tmp_path: Path,
    clock: FixedClock,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ITSM_DATABASE_URL", f"sqlite:///{tmp_path}/gone.sqlite")
    code, _, err = run(clock, capsys, "incident", "list")
    assert code == 1
    assert f"{tmp_path}/gone.sqlite (from ITSM_DATABASE_URL)" in err
    assert "`itsm init`" in err
    assert files_under(tmp_path) == []


@pytest.mark.postgres
def test_an_unknown_postgresql_database_is_an_error_and_is_not_created(
    clock: FixedClock, capsys: pytest.CaptureFixture[str]
) -> None:
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV}")
    name = "itsm_no_such_desk_db"
    url = base.rsplit("/", 1)[0] + "/" + name
    for command in (["incident", "list"], ["init"]):
        code, out, err = run(clock, capsys, "--db", url, "--user", "u", *command)
        assert (code, out) == (1, "")
        assert f"there is no PostgreSQL database {url}" in err
        assert "createdb" in err and "Traceback" not in err
    with psycopg.connect(conninfo(base)) as connection:
        found = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        assert found.fetchone() is None


# ---------------------------------------------------------------------------- the default


def default_path() -> Path:
    return config.data_dir() / config.DEFAULT_DB_FILE


def test_without_any_database_commands_name_both_paths_and_both_ways_on(
    clock: FixedClock, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(clock, capsys, "incident", "list")
    assert (code, out) == (1, "")
    assert f"{default_path()} does not exist; nothing was created" in err
    assert "itsm init" in err and "itsm demo" in err
    assert str(config.demo_database_path()) in err
    assert not config.data_dir().exists()


def test_with_only_a_demo_the_error_shows_the_command_that_uses_it(
    clock: FixedClock, capsys: pytest.CaptureFixture[str]
) -> None:
    demo = config.demo_database_path()
    assert run(clock, capsys, "--db", f"sqlite:///{demo}", "init")[0] == 0
    code, _, err = run(clock, capsys, "user", "list")
    assert code == 1
    assert f"itsm --db sqlite:///{demo} incident list" in err
    assert not default_path().exists()


def test_commands_on_the_default_database_say_which_file_it_is(
    clock: FixedClock, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(clock, capsys, "init")  # init may create the default
    assert code == 0 and default_path().exists()
    notice = f"itsm: database {default_path()} (the default;"
    assert err.startswith(notice)
    code, out, err = run(clock, capsys, "incident", "list")
    assert (code, out.strip()) == (0, "No incidents match.")
    assert err.startswith(notice)
    # JSON output stays machine-clean; a database someone chose is not announced.
    assert run(clock, capsys, "--json", "incident", "list")[2] == ""
    assert run(clock, capsys, "--db", f"sqlite:///{default_path()}", "user", "list")[2] == ""


# ---------------------------------------------------------------------------- the desk


class Launched:
    """Which databases the desk's `run()` (stubbed: no terminal here) would have opened."""

    def __init__(self) -> None:
        self.urls: list[str] = []


@pytest.fixture
def launched(monkeypatch: pytest.MonkeyPatch) -> Launched:
    from itsm_tui.app import ITSMApp

    recorder = Launched()

    def run_desk(app: Any) -> None:
        recorder.urls.append(app.database.url)
        app.database.dispose()

    monkeypatch.setattr(ITSMApp, "run", run_desk)
    return recorder


def choose(monkeypatch: pytest.MonkeyPatch, choice: FirstRunChoice | None) -> list[FirstRunApp]:
    asked: list[FirstRunApp] = []

    def answer(app: FirstRunApp) -> FirstRunChoice | None:
        asked.append(app)
        return choice

    monkeypatch.setattr(FirstRunApp, "run", answer)
    return asked


def test_the_desk_asks_and_quitting_creates_nothing(
    clock: FixedClock,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    launched: Launched,
) -> None:
    asked = choose(monkeypatch, None)
    code, out, _ = run(clock, capsys)
    assert code == 0 and len(asked) == 1
    assert asked[0].demo_path is None  # no demo to offer
    assert out.startswith("Nothing was created.") and "itsm init" in out
    assert launched.urls == [] and not config.data_dir().exists()


def test_the_desk_creates_a_new_empty_desk_only_when_asked_to(
    clock: FixedClock,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    launched: Launched,
) -> None:
    choose(monkeypatch, FirstRunChoice.NEW)
    assert run(clock, capsys)[0] == 0
    assert launched.urls == [config.default_database_url()]
    assert default_path().exists()


def test_the_desk_opens_the_demo_and_says_how_to_reopen_it(
    clock: FixedClock,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    launched: Launched,
) -> None:
    demo = config.demo_database_path()
    assert run(clock, capsys, "--db", f"sqlite:///{demo}", "init")[0] == 0
    asked = choose(monkeypatch, FirstRunChoice.DEMO)
    code, out, _ = run(clock, capsys)
    assert code == 0 and asked[0].demo_path == str(demo)
    assert launched.urls == [f"sqlite:///{demo}"]
    assert f"itsm --db sqlite:///{demo}" in out
    assert not default_path().exists()


def test_an_existing_default_database_opens_without_a_question(
    clock: FixedClock,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    launched: Launched,
) -> None:
    assert run(clock, capsys, "init")[0] == 0
    asked = choose(monkeypatch, None)
    assert run(clock, capsys)[0] == 0
    assert asked == [] and launched.urls == [config.default_database_url()]


async def test_the_first_run_question_offers_the_demo_new_and_quit() -> None:
    app = FirstRunApp(default_path="/data/itsm.sqlite", demo_path="/data/demo.sqlite")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("enter")  # the first offer: the demo
    assert app.return_value is FirstRunChoice.DEMO
    app = FirstRunApp(default_path="/data/itsm.sqlite", demo_path="/data/demo.sqlite")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("down", "enter")
    assert app.return_value is FirstRunChoice.NEW
    app = FirstRunApp(default_path="/data/itsm.sqlite", demo_path=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("down", "enter")  # without a demo: new, then quit
    assert app.return_value is None
    app = FirstRunApp(default_path="/data/itsm.sqlite", demo_path=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("escape")
    assert app.return_value is None


async def test_the_palette_shows_the_whole_database_location_under_the_header(
    desk_db: tuple[str, Desk], clock: FixedClock
) -> None:
    url, _ = desk_db
    app = app_for(url, clock, database_source="default")
    location = app.database.location
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        header = app.screen.query_one(DeskHeader)
        assert location not in str(header.render())
        await pilot.press("ctrl+p", *"Database")
        await until(pilot, lambda: "Database" in palette_highlight(app), "the palette's hit")
        await pilot.press("enter")
        await until(pilot, lambda: bool(header.detail), "the location under the header")
        assert f"Database: {location} (the default" in str(header.render())
        assert header.size.height >= 2  # its own line(s), not cut to fit the first one
        await pilot.press("ctrl+p", *"Database")  # the same command hides it again
        await until(pilot, lambda: "Database" in palette_highlight(app), "the palette's hit")
        await pilot.press("enter")
        await until(pilot, lambda: not header.detail, "the location hidden again")
        assert header.size.height == 1


async def test_the_first_run_question_shows_paths_literally() -> None:
    hostile = "/data/[bold]x\x1b[31m/itsm.sqlite"
    app = FirstRunApp(default_path=hostile, demo_path=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        shown = str(app.query_one("#first-run-message").render())
        assert "/data/[bold]x\\x1b[31m/itsm.sqlite" in shown and "\x1b" not in shown
        await pilot.press("escape")
