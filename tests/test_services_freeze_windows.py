"""Freeze windows through the service on both engines: who may manage them, what is refused,
the audit trail, and the overlap query change scheduling uses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select

from itsm_tui.domain import conflicts
from itsm_tui.services import freeze_windows as freezes
from itsm_tui.services.errors import NotFound, PermissionDenied, ValidationFailed
from itsm_tui.services.validation import validate
from itsm_tui.store.models import AuditEntry, FreezeWindow
from tests.conftest import Desk

XMAS = datetime(2026, 12, 20, tzinfo=UTC)


def _data(name: str = "Year end", days: int = 10, **extra: object) -> freezes.FreezeCreate:
    return validate(
        freezes.FreezeCreate,
        name=name,
        starts_at=XMAS,
        ends_at=XMAS + timedelta(days=days),
        **extra,
    )


def test_a_change_manager_adds_lists_and_removes_a_freeze(desk: Desk) -> None:
    record = freezes.add_freeze(desk.session, desk["carl"], desk.clock, _data(reason="peak"))
    assert (record.name, record.service, record.reason) == ("Year end", None, "peak")
    email = freezes.add_freeze(
        desk.session, desk["root"], desk.clock, _data("Mail migration", 2, service="Email")
    )
    assert email.service == "Email"
    assert [f.name for f in freezes.list_freezes(desk.session)] == ["Mail migration", "Year end"]
    freezes.remove_freeze(desk.session, desk["carl"], desk.clock, "Mail migration")
    assert [f.name for f in freezes.list_freezes(desk.session)] == ["Year end"]
    actions = desk.session.exec(
        select(AuditEntry.field, AuditEntry.new_value)
        .where(AuditEntry.record_type == "freeze_window")
        .order_by(col(AuditEntry.id))
    ).all()
    assert ("name", "Year end") in actions and ("name", None) in actions


@pytest.mark.parametrize("user", ["alice", "sue", "vic"])
def test_only_change_managers_and_admins_manage_freezes(desk: Desk, user: str) -> None:
    with pytest.raises(PermissionDenied, match="change managers and admins"):
        freezes.add_freeze(desk.session, desk[user], desk.clock, _data())
    freezes.add_freeze(desk.session, desk["carl"], desk.clock, _data())
    with pytest.raises(PermissionDenied):
        freezes.remove_freeze(desk.session, desk[user], desk.clock, "Year end")
    assert len(freezes.list_freezes(desk.session)) == 1


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"ends_at": XMAS}, "start before it ends"),
        ({"ends_at": XMAS - timedelta(hours=1)}, "start before it ends"),
        ({"starts_at": datetime(2026, 12, 20)}, "time zone"),
        ({"name": "  "}, "name"),
    ],
)
def test_bad_windows_are_refused_and_nothing_is_written(
    desk: Desk, values: dict[str, object], message: str
) -> None:
    fields: dict[str, object] = {
        "name": "Year end",
        "starts_at": XMAS,
        "ends_at": XMAS + timedelta(days=1),
    } | values
    with pytest.raises(ValidationFailed, match=message):
        freezes.add_freeze(
            desk.session, desk["carl"], desk.clock, validate(freezes.FreezeCreate, **fields)
        )
    assert desk.session.exec(select(FreezeWindow)).all() == []


def test_duplicates_unknown_services_and_unknown_names_are_refused(desk: Desk) -> None:
    freezes.add_freeze(desk.session, desk["carl"], desk.clock, _data())
    with pytest.raises(ValidationFailed, match="already exists"):
        freezes.add_freeze(desk.session, desk["carl"], desk.clock, _data())
    with pytest.raises(ValidationFailed):
        freezes.add_freeze(desk.session, desk["carl"], desk.clock, _data("X", service="Nope"))
    with pytest.raises(NotFound):
        freezes.remove_freeze(desk.session, desk["carl"], desk.clock, "Nope")


def test_the_overlap_query_is_half_open_and_feeds_the_conflict_rules(desk: Desk) -> None:
    freezes.add_freeze(desk.session, desk["carl"], desk.clock, _data(days=1))
    freezes.add_freeze(desk.session, desk["carl"], desk.clock, _data("Mail", 1, service="Email"))
    before = conflicts.Window(XMAS - timedelta(hours=2), XMAS)  # ends as the freeze starts
    inside = conflicts.Window(XMAS + timedelta(hours=1), XMAS + timedelta(hours=2))
    assert freezes.conflict_windows(desk.session, before) == []
    found = freezes.conflict_windows(desk.session, inside)
    assert sorted((f.name, f.service) for f in found) == [("Mail", "Email"), ("Year end", None)]
    change = conflicts.PlannedChange(
        number="CHG0000001", window=inside, state="scheduled", service="VPN"
    )
    clashes = conflicts.find_conflicts(change, [], found, {})
    assert [(c.kind, c.with_record) for c in clashes] == [
        (conflicts.ConflictKind.FREEZE, "Year end")  # the Email freeze does not touch VPN
    ]
