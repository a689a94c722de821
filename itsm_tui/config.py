"""Where the database is and who is acting, resolved in a fixed order of precedence.

Database URL: `--db`, else `ITSM_DATABASE_URL`, else `database_url` in config.toml (platformdirs
config dir), else SQLite in the platformdirs data dir. User: `--user`, else `ITSM_USER`, else
`user` in config.toml, else the login name.
"""

from __future__ import annotations

import getpass
import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs
from pydantic import BaseModel, ConfigDict, ValidationError

from itsm_tui.config_errors import ConfigError

APP_NAME = "itsm-tui"
DATABASE_ENV = "ITSM_DATABASE_URL"
USER_ENV = "ITSM_USER"
TIMEZONE_ENV = "ITSM_TIMEZONE"
AUTO_CLOSE_ENV = "ITSM_AUTO_CLOSE_DAYS"
LOW_BANDWIDTH_ENV = "ITSM_LOW_BANDWIDTH"
DEFAULT_DB_FILE = "itsm.sqlite"
DEMO_DB_FILE = "demo.sqlite"


MAX_AUTO_CLOSE_DAYS = 3650  # ten years; far beyond it the evaluator's timedelta overflows


class FileConfig(BaseModel):
    """What config.toml may set. Unknown keys are refused so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid")

    database_url: str | None = None
    user: str | None = None
    timezone: str | None = None
    auto_close_days: int | None = None
    cab_moderate_quorum: int | None = None
    cab_high_quorum: int | None = None
    low_bandwidth: bool | None = None
    # `itsm serve ssh`: seconds without input before a session closes (0: never).
    ssh_idle_timeout: float | None = None


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    database_url: str
    username: str
    database_source: str  # "--db", "ITSM_DATABASE_URL", "config.toml" or "default"
    # The desk's home zone: office-hours SLA calendars are seeded in it.
    timezone: str = "UTC"
    # Resolved incidents close after this many days (0: never); desk-wide, so the TUI's
    # in-process evaluator and `itsm worker` agree.
    auto_close_days: int = 7
    # CAB approvals a normal change needs besides the change manager's, per risk (low: none).
    cab_moderate_quorum: int = 1
    cab_high_quorum: int = 2
    # Slow links (SSH, a browser tab): lower frame rate, no animations, ANSI theme.
    low_bandwidth: bool = False


def data_dir() -> Path:
    return platformdirs.user_data_path(APP_NAME)


def config_dir() -> Path:
    return platformdirs.user_config_path(APP_NAME)


def config_file() -> Path:
    return config_dir() / "config.toml"


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def default_database_url() -> str:
    return sqlite_url(data_dir() / DEFAULT_DB_FILE)


def demo_database_path() -> Path:
    return data_dir() / DEMO_DB_FILE


def load_file_config(path: Path | None = None) -> FileConfig:
    path = path or config_file()
    if not path.exists():
        return FileConfig()
    try:
        with path.open("rb") as handle:
            return FileConfig.model_validate(tomllib.load(handle))
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in item['loc']) or 'file'}: {item['msg']}"
            for item in error.errors()
        )
        raise ConfigError(
            f"cannot use {path}: {problems} "
            "(allowed keys: database_url, user, timezone, auto_close_days, cab_moderate_quorum, "
            "cab_high_quorum, low_bandwidth, ssh_idle_timeout)"
        ) from error
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot use {path}: {error}") from error


def login_name() -> str:
    try:
        return getpass.getuser().strip().lower() or "itsm"
    except (KeyError, OSError):
        return "itsm"


def resolve_settings(
    *,
    cli_database_url: str | None = None,
    cli_user: str | None = None,
    cli_low_bandwidth: bool = False,
    environ: Mapping[str, str] | None = None,
    default_url: str | None = None,
) -> Settings:
    environ = os.environ if environ is None else environ
    _refuse_blank_flag("--db", cli_database_url)
    _refuse_blank_flag("--user", cli_user)
    file_config: FileConfig | None = None

    def from_file() -> FileConfig:
        # Read lazily: a broken config.toml must not stop a command that passes every
        # setting as a flag or environment variable.
        nonlocal file_config
        if file_config is None:
            file_config = load_file_config()
        return file_config

    source, url = "default", None
    if _given(cli_database_url):
        source, url = "--db", _given(cli_database_url)
    elif _given(environ.get(DATABASE_ENV)):
        source, url = DATABASE_ENV, _given(environ.get(DATABASE_ENV))
    elif _given(from_file().database_url):
        source, url = "config.toml", _given(from_file().database_url)
    username = (
        _given(cli_user)
        or _given(environ.get(USER_ENV))
        or _given(from_file().user)
        or login_name()
    )
    timezone = _given(environ.get(TIMEZONE_ENV)) or _lazy_file_timezone(from_file)
    if url is not None:
        _check_storable(url, f"the database URL (from {source})")
    _check_storable(username, "the user name (from --user, ITSM_USER or config.toml)")
    return Settings(
        database_url=url or default_url or default_database_url(),
        username=username.lower(),
        database_source=source,
        timezone=_valid_zone(timezone) if timezone else "UTC",
        auto_close_days=_auto_close_days(environ, from_file),
        **_cab_quorums(from_file),
        low_bandwidth=cli_low_bandwidth or _low_bandwidth(environ, from_file),
    )


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _low_bandwidth(environ: Mapping[str, str], from_file: Callable[[], FileConfig]) -> bool:
    """`--low-bandwidth`, else ITSM_LOW_BANDWIDTH (1/0, true/false, yes/no, on/off), else
    config.toml's `low_bandwidth`; a value that is none of these is refused, not guessed."""
    text = _given(environ.get(LOW_BANDWIDTH_ENV))
    if text is None:
        try:
            return bool(from_file().low_bandwidth)
        except ConfigError:
            return False
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise ConfigError(
        f"{LOW_BANDWIDTH_ENV} must be 1 or 0 (true/false, yes/no, on/off), not {text!r}"
    )


def _cab_quorums(from_file: Callable[[], FileConfig]) -> dict[str, int]:
    """The desk's CAB quorums from config.toml; only read when the file is usable."""
    try:
        config = from_file()
    except ConfigError:
        return {}
    moderate = 1 if config.cab_moderate_quorum is None else config.cab_moderate_quorum
    high = 2 if config.cab_high_quorum is None else config.cab_high_quorum
    if moderate < 0 or high < moderate:
        raise ConfigError(
            f"config.toml CAB quorums must be 0 or more with high >= moderate "
            f"(cab_moderate_quorum={moderate}, cab_high_quorum={high})"
        )
    return {"cab_moderate_quorum": moderate, "cab_high_quorum": high}


def _auto_close_days(environ: Mapping[str, str], from_file: Callable[[], FileConfig]) -> int:
    text = _given(environ.get(AUTO_CLOSE_ENV))
    if text is None:
        try:
            value = from_file().auto_close_days
        except ConfigError:
            value = None
        return 7 if value is None else _non_negative(value, "config.toml auto_close_days")
    try:
        days = int(text)
    except ValueError:
        raise ConfigError(
            f"{AUTO_CLOSE_ENV} must be a whole number of days, not {text!r}"
        ) from None
    return _non_negative(days, AUTO_CLOSE_ENV)


def _non_negative(value: int, source: str) -> int:
    if not 0 <= value <= MAX_AUTO_CLOSE_DAYS:
        raise ConfigError(f"{source} must be 0 (never) to {MAX_AUTO_CLOSE_DAYS} days, not {value}")
    return value


def _check_storable(value: str, what: str) -> None:
    """An environment variable or file holding undecodable bytes (lone surrogates) or NUL
    would fail deep in a driver; say which setting is wrong instead."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError(f"{what} is not valid UTF-8") from None
    if "\x00" in value:
        raise ConfigError(f"{what} may not contain NUL characters")


def _valid_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ConfigError(
            f"unknown time zone '{name}' (from {TIMEZONE_ENV} or config.toml); use an IANA "
            "name such as Europe/London or America/New_York"
        ) from error
    return name


def _lazy_file_timezone(from_file: Callable[[], FileConfig]) -> str | None:
    try:
        return _given(from_file().timezone)
    except ConfigError:
        return None  # only the zone was wanted from a broken file: fall back quietly


def _refuse_blank_flag(flag: str, value: str | None) -> None:
    """`--db "$UNSET"` in a script is a mistake; falling back silently would write elsewhere."""
    if value is not None and not value.strip():
        raise ConfigError(f"{flag} was given an empty value; pass a value or leave the flag out")


def _given(value: str | None) -> str | None:
    """A blank environment or file value (`ITSM_USER=`) counts as not set."""
    if value is None:
        return None
    return value.strip() or None
