"""`itsm` starts cheaply: a command loads only the libraries its own path needs.

Scripts and monitoring hooks call `itsm` in loops; every call used to import the whole desk
(Textual, Alembic, asyncssh, holidays: about 1.2 s of CPU, even for `--help`). These tests
guard the structure, not the clock: each runs `itsm` in a fresh interpreter and lists the
modules it imported. The timings themselves are `benchmarks/cli_start.py`'s job.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from itsm_tui import __version__, cli_transfer
from itsm_tui.cli import main
from itsm_tui.store.database import open_database
from itsm_tui.store.migrate import head_revision
from itsm_tui.store.schema_version import HEAD_REVISION

# Runs `itsm ARGS...` as the console script does, then writes the imported modules' names to
# the file named by ITSM_PROBE_OUT (stdout belongs to the command).
PROBE = """
import json, os, sys
from itsm_tui.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
with open(os.environ["ITSM_PROBE_OUT"], "w") as out:
    json.dump({"code": code, "modules": sorted(sys.modules)}, out)
"""

# Nothing that only the desk, the wall, the servers or a migration needs.
NEVER_FOR_A_COMMAND = (
    "textual",
    "textual_serve",
    "rich",
    "alembic",
    "asyncssh",
    "holidays",
    "itsm_tui.app",
    "itsm_tui.screens",
    "itsm_tui.widgets",
    "itsm_tui.remote.ssh_server",
)
# Parsing alone (`--help`, `--version`, a usage error) needs no database and no models either.
NEVER_FOR_PARSING = (*NEVER_FOR_A_COMMAND, "sqlalchemy", "sqlmodel", "pydantic", "asyncio")


def imported(tmp_path: Path, *argv: str) -> tuple[int, list[str]]:
    """Run `itsm argv...` in a fresh interpreter; its exit code and every module it loaded."""
    out = tmp_path / "probe.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ITSM_")}
    env["ITSM_PROBE_OUT"] = str(out)
    subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        check=True,
        timeout=120,
    )
    result = json.loads(out.read_text())
    return result["code"], result["modules"]


def loaded(modules: list[str], packages: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == p or m.startswith(p + ".") for p in packages)]


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["incident", "list", "--help"]])
def test_parsing_loads_no_database_model_or_ui_library(tmp_path: Path, argv: list[str]) -> None:
    code, modules = imported(tmp_path, *argv)
    assert code == 0
    assert "itsm_tui.cli_changes" in modules  # the whole parser was built, so this means something
    assert loaded(modules, NEVER_FOR_PARSING) == []


def test_incident_list_loads_no_ui_migration_or_ssh_library(
    tmp_path: Path, sqlite_url: str
) -> None:
    open_database(sqlite_url).dispose()  # at head: the list must not need Alembic to know it
    code, modules = imported(
        tmp_path, "--db", sqlite_url, "--user", "root", "--json", "incident", "list"
    )
    assert code == 0
    assert "itsm_tui.services.incidents" in modules
    assert loaded(modules, NEVER_FOR_A_COMMAND) == []


def test_the_schema_head_constant_is_alembics_head() -> None:
    # Opening a database compares alembic_version with HEAD_REVISION instead of loading Alembic.
    assert head_revision() == HEAD_REVISION, (
        "a migration was added: set HEAD_REVISION in itsm_tui/store/schema_version.py to it"
    )


def test_the_transfer_parsers_name_what_the_services_define() -> None:
    from itsm_tui.services.transfer_export import FORMATS
    from itsm_tui.services.transfer_schema import KINDS

    assert cli_transfer.KINDS == KINDS
    assert cli_transfer.FORMATS == FORMATS


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        main(["--version"])
    assert exit.value.code == 0
    assert capsys.readouterr().out == f"itsm {__version__}\n"
