"""Where the database is and who is acting: --db/--user > environment > config.toml > defaults.

The autouse `_isolated_dirs` fixture points XDG_CONFIG_HOME and XDG_DATA_HOME at per-test
directories and clears ITSM_DATABASE_URL and ITSM_USER, so these tests never see the real ones.
"""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from itsm_tui import config
from itsm_tui.cli import main
from itsm_tui.clock import FixedClock
from itsm_tui.config import ConfigError, Settings, resolve_settings

CLI_URL = "sqlite:////tmp/from-cli.sqlite"
ENV_URL = "sqlite:////tmp/from-env.sqlite"
FILE_URL = "sqlite:////tmp/from-file.sqlite"


@pytest.fixture(autouse=True)
def _login_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """A predictable login name; getpass reads LOGNAME/USER first, then the password database."""
    monkeypatch.setattr(config.getpass, "getuser", lambda: "Login.Name")


def write_config(text: str) -> Path:
    path = config.config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_config_and_data_dirs_follow_platformdirs() -> None:
    xdg_config = Path(os.environ["XDG_CONFIG_HOME"])
    xdg_data = Path(os.environ["XDG_DATA_HOME"])
    assert config.config_file() == xdg_config / "itsm-tui" / "config.toml"
    assert config.data_dir() == xdg_data / "itsm-tui"
    assert config.demo_database_path() == xdg_data / "itsm-tui" / "demo.sqlite"


def test_defaults_are_sqlite_in_the_data_dir_and_the_login_name() -> None:
    settings = resolve_settings()
    data_file = Path(os.environ["XDG_DATA_HOME"]) / "itsm-tui" / "itsm.sqlite"
    assert settings == Settings(
        database_url=f"sqlite:///{data_file}", username="login.name", database_source="default"
    )


def test_a_caller_supplied_default_url_replaces_the_data_dir_default() -> None:
    settings = resolve_settings(default_url="sqlite:////tmp/demo.sqlite")
    assert settings.database_url == "sqlite:////tmp/demo.sqlite"
    assert settings.database_source == "default"


def test_login_name_falls_back_when_it_cannot_be_read(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_login() -> str:
        raise OSError("no login name")

    monkeypatch.setattr(config.getpass, "getuser", no_login)
    assert config.login_name() == "itsm"
    assert resolve_settings().username == "itsm"


# (--db, ITSM_DATABASE_URL, config.toml database_url) -> (expected URL, source)
URL_CASES = [
    ((CLI_URL, ENV_URL, FILE_URL), (CLI_URL, "--db")),
    ((CLI_URL, None, None), (CLI_URL, "--db")),
    ((CLI_URL, None, FILE_URL), (CLI_URL, "--db")),
    ((None, ENV_URL, FILE_URL), (ENV_URL, "ITSM_DATABASE_URL")),
    ((None, ENV_URL, None), (ENV_URL, "ITSM_DATABASE_URL")),
    ((None, None, FILE_URL), (FILE_URL, "config.toml")),
]


@pytest.mark.parametrize(("given", "expected"), URL_CASES)
def test_database_url_precedence(
    given: tuple[str | None, str | None, str | None],
    expected: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cli_url, env_url, file_url = given
    if env_url:
        monkeypatch.setenv("ITSM_DATABASE_URL", env_url)
    if file_url:
        write_config(f'database_url = "{file_url}"\n')
    settings = resolve_settings(cli_database_url=cli_url)
    assert (settings.database_url, settings.database_source) == expected


# (--user, ITSM_USER, config.toml user) -> expected username (login name is "login.name")
USER_CASES = [
    (("cli", "env", "file"), "cli"),
    (("cli", None, "file"), "cli"),
    ((None, "env", "file"), "env"),
    ((None, None, "file"), "file"),
    ((None, None, None), "login.name"),
]


@pytest.mark.parametrize(("given", "expected"), USER_CASES)
def test_user_precedence(
    given: tuple[str | None, str | None, str | None],
    expected: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cli_user, env_user, file_user = given
    if env_user:
        monkeypatch.setenv("ITSM_USER", env_user)
    if file_user:
        write_config(f'user = "{file_user}"\n')
    assert resolve_settings(cli_user=cli_user).username == expected


def test_an_explicit_environ_mapping_replaces_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITSM_USER", "from-os")
    settings = resolve_settings(environ={"ITSM_USER": "from-mapping", "ITSM_DATABASE_URL": ENV_URL})
    assert settings.username == "from-mapping"
    assert settings.database_url == ENV_URL
    assert resolve_settings(environ={}).username == "login.name"


@pytest.mark.parametrize("blank", ["", "   "])
def test_blank_environment_and_file_values_count_as_unset(
    blank: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ITSM_USER", blank)
    monkeypatch.setenv("ITSM_DATABASE_URL", blank)
    write_config(f'user = "{blank}"\ndatabase_url = "{blank}"\n')
    settings = resolve_settings()
    assert settings.username == "login.name"
    assert settings.database_source == "default"


@pytest.mark.parametrize("blank", ["", "   "])
def test_blank_flags_are_refused_not_skipped(blank: str) -> None:
    """`--db "$UNSET_VAR"` must not quietly write to the default database instead."""
    with pytest.raises(ConfigError, match="--db was given an empty value"):
        resolve_settings(cli_database_url=blank)
    with pytest.raises(ConfigError, match="--user was given an empty value"):
        resolve_settings(cli_user=blank)


def test_flags_and_environment_bypass_a_broken_config_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_config('databse_url = "typo"\n')
    settings = resolve_settings(cli_database_url=CLI_URL, cli_user="cli")
    assert (settings.database_url, settings.username) == (CLI_URL, "cli")
    monkeypatch.setenv("ITSM_USER", "env")
    monkeypatch.setenv("ITSM_DATABASE_URL", ENV_URL)
    assert resolve_settings().username == "env"


def test_values_are_trimmed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITSM_USER", "  alice \n")
    assert resolve_settings().username == "alice"


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("database_url = \n", "Invalid"),  # not TOML
        ('databse_url = "sqlite:///x"\n', "databse_url"),  # a typo is refused, not ignored
        ("user = 5\n", "user"),  # wrong type
        ("[database]\nurl = 'x'\n", "database"),  # a table nobody reads
    ],
)
def test_a_broken_config_file_is_a_clear_error(text: str, complaint: str) -> None:
    path = write_config(text)
    with pytest.raises(ConfigError) as error:
        resolve_settings()
    message = str(error.value)
    assert str(path) in message
    assert complaint in message


def test_an_unreadable_config_path_is_a_clear_error() -> None:
    config.config_file().mkdir(parents=True)  # a directory where the file should be
    with pytest.raises(ConfigError, match=r"config\.toml"):
        resolve_settings()


def test_an_empty_config_file_is_fine() -> None:
    write_config("# nothing set yet\n")
    assert resolve_settings().database_source == "default"


# ---------------------------------------------------------------------------- through the CLI


def run(argv: list[str], clock: FixedClock, capsys: pytest.CaptureFixture[str]):
    code = main(argv, clock=clock)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def usernames(db_file: Path) -> list[tuple[str, str]]:
    with closing(sqlite3.connect(db_file)) as connection:
        return connection.execute("SELECT username, role FROM users ORDER BY id").fetchall()


def test_cli_defaults_to_sqlite_in_the_data_dir_and_the_login_name(
    clock: FixedClock, capsys: pytest.CaptureFixture[str]
) -> None:
    db_file = Path(os.environ["XDG_DATA_HOME"]) / "itsm-tui" / "itsm.sqlite"
    code, out, _ = run(["--json", "init"], clock, capsys)  # only init creates the default
    assert (code, json.loads(out)["status"]) == (0, "ok")
    code, out, err = run(["--json", "group", "add", "Ops"], clock, capsys)
    assert (code, err) == (0, "")  # JSON output: no note on stderr either
    assert json.loads(out)["name"] == "Ops"
    assert db_file.exists()
    # The first user of an empty database (here: the login name) becomes its admin.
    assert usernames(db_file) == [("login.name", "admin")]


def test_cli_reads_database_and_user_from_the_environment(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clock: FixedClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db_file = tmp_path / "env.sqlite"
    monkeypatch.setenv("ITSM_DATABASE_URL", f"sqlite:///{db_file}")
    monkeypatch.setenv("ITSM_USER", "envadmin")
    assert run(["init"], clock, capsys)[0] == 0
    code, _, err = run(["group", "add", "Ops"], clock, capsys)
    assert (code, err) == (0, "")
    assert usernames(db_file) == [("envadmin", "admin")]
    assert not (Path(os.environ["XDG_DATA_HOME"]) / "itsm-tui" / "itsm.sqlite").exists()


def test_cli_reads_database_and_user_from_config_toml(
    tmp_path: Path, clock: FixedClock, capsys: pytest.CaptureFixture[str]
) -> None:
    db_file = tmp_path / "file.sqlite"
    write_config(f'database_url = "sqlite:///{db_file}"\nuser = "fileadmin"\n')
    assert run(["init"], clock, capsys)[0] == 0
    code, _, err = run(["group", "add", "Ops"], clock, capsys)
    assert (code, err) == (0, "")
    assert usernames(db_file) == [("fileadmin", "admin")]


def test_cli_flags_beat_environment_and_config_toml(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clock: FixedClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env_file, file_file, cli_file = (tmp_path / f"{n}.sqlite" for n in ("env", "file", "cli"))
    monkeypatch.setenv("ITSM_DATABASE_URL", f"sqlite:///{env_file}")
    monkeypatch.setenv("ITSM_USER", "envuser")
    write_config(f'database_url = "sqlite:///{file_file}"\nuser = "fileuser"\n')
    assert run(["init", "--db", f"sqlite:///{cli_file}"], clock, capsys)[0] == 0
    argv = ["group", "add", "Ops", "--db", f"sqlite:///{cli_file}", "--user", "cliuser"]
    code, _, err = run(argv, clock, capsys)
    assert (code, err) == (0, "")
    assert usernames(cli_file) == [("cliuser", "admin")]
    assert not env_file.exists() and not file_file.exists()


def test_cli_with_a_broken_config_file_exits_2_and_writes_nothing(
    clock: FixedClock, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config("database_url = [unclosed\n")
    code, out, err = run(["--user", "root", "init"], clock, capsys)
    assert code == 2
    assert out == ""
    assert str(path) in err and err.startswith("itsm: error:")
    assert not config.data_dir().exists()


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("not a url", "database URL"),
        ("nosuchdb://host/db", "database URL"),
    ],
)
@pytest.mark.parametrize(
    "command", [["incident", "list"], ["init"], ["demo", "--no-launch", "--incidents", "1"]]
)
def test_cli_with_an_unusable_database_url_exits_2(
    url: str,
    complaint: str,
    command: list[str],
    clock: FixedClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(["--db", url, "--user", "root", *command], clock, capsys)
    assert code == 2
    assert out == ""
    assert complaint in err
    assert "Traceback" not in err


def test_cli_names_the_source_of_a_bad_url(
    monkeypatch: pytest.MonkeyPatch, clock: FixedClock, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ITSM_DATABASE_URL", "::nonsense::")
    code, _, err = run(["--user", "root", "init"], clock, capsys)
    assert code == 2
    assert "ITSM_DATABASE_URL" in err


def test_cli_with_a_missing_database_driver_exits_2_and_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, clock: FixedClock, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_driver(url: str, **_: object) -> None:
        raise ModuleNotFoundError("No module named 'psycopg'", name="psycopg")

    monkeypatch.setattr("itsm_tui.store.database.open_database", no_driver)
    argv = ["--db", "postgresql://db.example/itsm", "--user", "root", "init"]
    code, out, err = run(argv, clock, capsys)
    assert (code, out) == (2, "")
    assert "psycopg" in err and "itsm-tui[postgres]" in err


def test_auto_close_days_is_a_desk_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_settings().auto_close_days == 7
    write_config("auto_close_days = 0\n")
    assert resolve_settings().auto_close_days == 0
    monkeypatch.setenv("ITSM_AUTO_CLOSE_DAYS", "3")
    assert resolve_settings().auto_close_days == 3
    for bad in ("x", "-1"):
        monkeypatch.setenv("ITSM_AUTO_CLOSE_DAYS", bad)
        with pytest.raises(ConfigError, match="ITSM_AUTO_CLOSE_DAYS"):
            resolve_settings()


def test_timezone_setting_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_settings().timezone == "UTC"
    monkeypatch.setenv("ITSM_TIMEZONE", "Europe/London")
    assert resolve_settings().timezone == "Europe/London"
    monkeypatch.setenv("ITSM_TIMEZONE", "Mars/Base")
    with pytest.raises(ConfigError, match="unknown time zone"):
        resolve_settings()


def test_cab_quorums_are_a_desk_setting() -> None:
    settings = resolve_settings()
    assert (settings.cab_moderate_quorum, settings.cab_high_quorum) == (1, 2)
    write_config("cab_moderate_quorum = 2\ncab_high_quorum = 3\n")
    settings = resolve_settings()
    assert (settings.cab_moderate_quorum, settings.cab_high_quorum) == (2, 3)
    write_config("cab_moderate_quorum = 3\ncab_high_quorum = 1\n")
    with pytest.raises(ConfigError, match="high >= moderate"):
        resolve_settings()
