"""`itsm sla policy` and `itsm calendar`: the admin commands over the SLA admin service."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from itsm_tui.cli import main
from itsm_tui.clock import FixedClock

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def sqlite_url(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> str:
    """An empty desk: only `itsm init` creates a database."""
    assert main(["--db", sqlite_url, "init"], clock=FixedClock(T0)) == 0
    capsys.readouterr()
    return sqlite_url


def run(url: str, clock: FixedClock, *argv: str, user: str = "boss") -> int:
    return main(["--db", url, "--user", user, *argv], clock=clock)


def test_admin_commands_round_trip(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    clock = FixedClock(T0)
    assert run(sqlite_url, clock, "calendar", "list", "--json") == 0  # boss becomes admin
    names = [c["name"] for c in json.loads(capsys.readouterr().out)]
    assert names == ["24x7", "Office hours"]
    assert run(
        sqlite_url, clock, "calendar", "add", "UK office", "--zone", "Europe/London",
        "--hours", "mon-fri 09:00-17:30", "--holidays", "GB-ENG", "--json",
    ) == 0  # fmt: skip
    calendar = json.loads(capsys.readouterr().out)
    assert (calendar["zone"], calendar["holidays"], calendar["hours"][0]) == (
        "Europe/London",
        "GB-ENG",
        "mon 09:00-17:30",
    )
    assert run(sqlite_url, clock, "service", "add", "Payroll") == 0
    assert run(
        sqlite_url, clock, "sla", "policy", "add", "P2 payroll", "--priority", "2",
        "--service", "Payroll", "--response", "15m", "--resolution", "4h",
        "--calendar", "UK office", "--json",
    ) == 0  # fmt: skip
    capsys.readouterr()
    new = ["incident", "new", "--title", "pay run", "--impact", "1", "--urgency", "2"]
    assert run(sqlite_url, clock, *new, "--service", "Payroll") == 0
    capsys.readouterr()
    assert run(sqlite_url, clock, "incident", "show", "INC0000001", "--json") == 0
    sla = json.loads(capsys.readouterr().out)["sla"]
    assert {c["policy"] for c in sla} == {"P2 payroll"}
    # Changing the policy moves the open incident's clocks at once.
    assert run(sqlite_url, clock, "sla", "policy", "update", "P2 payroll", "--response", "1h") == 0
    capsys.readouterr()
    assert run(sqlite_url, clock, "incident", "show", "INC0000001", "--json") == 0
    response = next(
        c for c in json.loads(capsys.readouterr().out)["sla"] if c["kind"] == "response"
    )
    assert response["target_seconds"] == 3600
    assert run(sqlite_url, clock, "sla", "verify") == 0
    capsys.readouterr()


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["sla", "policy", "add", "x", "--priority", "2", "--response", "0m",
          "--resolution", "1h", "--calendar", "24x7"], "positive"),
        (["sla", "policy", "add", "x", "--priority", "2", "--response", "1h",
          "--resolution", "1h", "--calendar", "Nowhere"], "Nowhere"),
        (["calendar", "add", "x", "--zone", "Mars/Base", "--hours", "mon 09:00-10:00"], "zone"),
        (["calendar", "add", "x", "--zone", "UTC", "--holidays", "ZZ"], "GB"),
        (["calendar", "add", "x", "--zone", "UTC"], "working time"),
        (["calendar", "add", "x", "--zone", "UTC", "--hours", "someday"], "mon-fri"),
    ],
)  # fmt: skip
def test_bad_admin_input_is_exit_2_and_writes_nothing(
    sqlite_url: str, capsys: pytest.CaptureFixture[str], argv: list[str], complaint: str
) -> None:
    clock = FixedClock(T0)
    assert run(sqlite_url, clock, "sla", "policy", "list") == 0
    before = capsys.readouterr().out
    assert run(sqlite_url, clock, *argv) == 2
    assert complaint in capsys.readouterr().err
    assert run(sqlite_url, clock, "sla", "policy", "list") == 0
    assert capsys.readouterr().out == before
    assert run(sqlite_url, clock, "calendar", "list", "--json") == 0
    assert len(json.loads(capsys.readouterr().out)) == 2


def test_only_admins_change_slas(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    clock = FixedClock(T0)
    assert run(sqlite_url, clock, "user", "add", "sue", "--role", "supervisor") == 0
    assert run(sqlite_url, clock, "sla", "policy", "update", "P3 moderate", "--response", "1h",
               user="sue") == 4  # fmt: skip
    assert run(sqlite_url, clock, "calendar", "update", "24x7", "--zone", "Europe/Paris",
               user="sue") == 4  # fmt: skip
