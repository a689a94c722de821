"""Which database a command uses, said out loud, and never created by accident.

A newcomer ran `itsm demo`, quit, typed `itsm` and landed in a different, empty desk; a typo
in `--db` quietly made a directory tree and a 400 KB database. So: only `itsm init` and
`itsm demo` create databases; every other command on a missing one exits 1 naming the path;
and a command on the default database (nobody chose it) says which file that is.
"""

from __future__ import annotations

import shlex

from itsm_tui.config import Settings, demo_database_path, sqlite_url
from itsm_tui.store.database import DatabaseMissing, database_exists, describe_location

# Commands that may bring a database into being; every other one needs it to exist.
CREATING_COMMANDS = frozenset({"init", "demo"})


def uses_default(settings: Settings) -> bool:
    """True when nobody chose the database (no --db, ITSM_DATABASE_URL or config.toml)."""
    return settings.database_source == "default"


def default_is_missing(settings: Settings) -> bool:
    return uses_default(settings) and not database_exists(settings.database_url)


def demo_exists() -> bool:
    return demo_database_path().exists()


def demo_command(*more: str) -> str:
    """The exact command line that opens the demo database, shell-quoted."""
    return shlex.join(["itsm", "--db", sqlite_url(demo_database_path()), *more])


def demo_whereabouts() -> str:
    """What quitting the demo desk prints: `itsm` alone opens another database."""
    return f"The demo desk is in {demo_database_path()}; open it again with: {demo_command()}"


def default_notice(settings: Settings) -> str | None:
    """The line a command prints when it works on the default database, else None."""
    if not uses_default(settings):
        return None
    return (
        f"itsm: database {describe_location(settings.database_url)} (the default; "
        "--db, ITSM_DATABASE_URL or database_url in config.toml choose another)"
    )


def missing_default_message(settings: Settings) -> str:
    """Why a command cannot run before there is any desk, and the two ways on."""
    default = describe_location(settings.database_url)
    demo = demo_database_path()
    lines = [
        f"there is no desk database yet: {default} does not exist; nothing was created.",
        "  itsm init    creates an empty desk there (its first user becomes the admin)",
    ]
    if demo_exists():
        lines += [
            f"  itsm demo    rebuilds the demo desk in {demo}; it is there now, use it with",
            f"               {demo_command('incident', 'list')}",
        ]
    else:
        lines.append(f"  itsm demo    builds the demo desk in {demo} and opens it")
    return "\n".join(lines)


def missing_message(settings: Settings, error: DatabaseMissing) -> str:
    """A database that was named (flag, environment, config.toml) but is not there."""
    if uses_default(settings):
        return missing_default_message(settings)
    source = f"from {settings.database_source}"
    if error.postgres:
        return (
            f"{error} ({source}); nothing was created. Check the name, or create it "
            "(createdb NAME) and run `itsm init`"
        )
    create = shlex.join(["itsm", "--db", settings.database_url, "init"])
    if settings.database_source != "--db":
        create = "itsm init"
    return (
        f"{error} ({source}); nothing was created. Check the path, or create an empty desk "
        f"there with `{create}`"
    )
