"""SLA what-if: the proposed figures equal those of the report once the target is changed.

A crafted P3 desk on the seeded office-hours calendar (Mon-Fri 08:00-17:00 UTC, P3 targets
4 h response / 27 h resolution). March 2026: the 2nd is a Monday; `now` is Tue 3rd 12:00.
Business time elapsed per clock, worked by hand:

    A  opened Mon 09:00, responded 10:00 (1 h), resolved 12:00 (3 h), closed
    B  opened Mon 15:00, responded Tue 09:00 (2 h Mon + 1 h Tue = 3 h), resolved Tue 10:00
       (4 h), closed
    C  opened Mon 16:00, no response: at now 1 h Mon + 4 h Tue = 5 h on both clocks, running
    D  opened Tue 09:00, responded 11:30 (2.5 h); resolution running, 3 h at now
    also: a cancelled P3 (clocks cancelled: never counted) and a P1 (another policy).

Proposed: response 2 h, resolution 3 h 30 m.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import select

from itsm_tui.services import incidents, sla_admin, slas
from itsm_tui.services.errors import NotFound, PermissionDenied, ValidationFailed
from itsm_tui.services.reports import SlaKindFigures, SlaReportQuery, sla_report
from itsm_tui.services.sla_whatif import Compliance, WhatIfQuery, sla_whatif
from itsm_tui.services.tx import transaction
from itsm_tui.services.validation import validate
from itsm_tui.store.models import Incident
from tests.conftest import Desk
from tests.service_helpers import RESOLUTION, make

POLICY = "P3 moderate"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


NOW = at(3, 12)
PERIOD = {"start": at(2, 0), "end": at(4, 0)}


def _open(desk: Desk, when: datetime, **fields: object) -> str:
    desk.clock.set(when)
    return make(desk, **fields).number


def _respond(desk: Desk, number: str, when: datetime) -> None:
    desk.clock.set(when)
    incidents.add_note(desk.session, desk["alice"], desk.clock, number, "On it", comment=True)


def _move(desk: Desk, number: str, when: datetime, state: str, **extra: str) -> None:
    desk.clock.set(when)
    incidents.transition(desk.session, desk["sue"], desk.clock, number, state, **extra)


def crafted(desk: Desk) -> None:
    slas.ensure_defaults(desk.session, desk.clock, "UTC")
    a = _open(desk, at(2, 9), title="Printer jam")
    _open(desk, at(2, 9, 5), title="Dup", impact=1, urgency=1)  # P1: another policy
    cancelled = _open(desk, at(2, 9, 10), title="Wrong desk")
    _move(desk, cancelled, at(2, 9, 20), "cancelled")
    _respond(desk, a, at(2, 10))
    _move(desk, a, at(2, 12), "resolved", **RESOLUTION)
    _move(desk, a, at(2, 12, 30), "closed")
    b = _open(desk, at(2, 15), title="VPN drops")
    _open(desk, at(2, 16), title="Mailbox full")  # C
    _respond(desk, b, at(3, 9))
    d = _open(desk, at(3, 9), title="Slow share")
    _move(desk, b, at(3, 10), "resolved", **RESOLUTION)
    _move(desk, b, at(3, 10, 30), "closed")
    _respond(desk, d, at(3, 11, 30))
    desk.clock.set(NOW)


def _report_line(desk: Desk) -> tuple[Compliance, Compliance]:
    report = sla_report(desk.session, NOW, validate(SlaReportQuery, **PERIOD))
    (line,) = [p for p in report.policies if p.policy == POLICY]
    return _counts(line.response), _counts(line.resolution)


def _counts(figures: SlaKindFigures) -> Compliance:
    return Compliance(
        count=figures.count,
        met=figures.met,
        breached=figures.breached,
        in_progress=figures.in_progress,
        compliance_percent=figures.compliance_percent,
    )


def test_whatif_equals_the_report_recomputed_with_the_changed_target(desk: Desk) -> None:
    crafted(desk)
    query = validate(
        WhatIfQuery,
        policy=POLICY,
        response_seconds=sla_admin.parse_duration("2h"),
        resolution_seconds=sla_admin.parse_duration("3h30m"),
        **PERIOD,
    )
    whatif = sla_whatif(desk.session, NOW, query)

    assert (whatif.response.target_seconds, whatif.response.proposed_seconds) == (4 * 3600, 7200)
    assert (whatif.resolution.target_seconds, whatif.resolution.proposed_seconds) == (
        27 * 3600,
        12600,
    )
    # Response, 4 h: A 1 h, B 3 h, D 2.5 h met; C 5 h breached.
    assert whatif.response.current == Compliance(
        count=4, met=3, breached=1, in_progress=0, compliance_percent=75.0
    )
    # Response, 2 h: only A met; B 3 h, C 5 h, D 2.5 h breached.
    assert whatif.response.proposed == Compliance(
        count=4, met=1, breached=3, in_progress=0, compliance_percent=25.0
    )
    # Resolution, 27 h: A 3 h and B 4 h met; C 5 h and D 3 h running.
    assert whatif.resolution.current == Compliance(
        count=4, met=2, breached=0, in_progress=2, compliance_percent=100.0
    )
    # Resolution, 3.5 h: A 3 h met; B 4 h and C 5 h breached; D 3 h still running.
    assert whatif.resolution.proposed == Compliance(
        count=4, met=1, breached=2, in_progress=1, compliance_percent=33.3
    )
    # The current figures are today's report.
    assert _report_line(desk) == (whatif.response.current, whatif.resolution.current)

    # An admin applies the proposal through the CLI's update (same validation).
    sla_admin.update_policy(desk.session, desk["root"], desk.clock, POLICY, query.changes())
    # The update re-targets open incidents only: closed B keeps its 4 h response, met.
    response_now, _ = _report_line(desk)
    assert (response_now.met, response_now.breached) == (2, 2)

    # Recompute history with the changed target: re-sync the closed incidents' clocks too.
    with transaction(desk.session):
        for incident in desk.session.exec(select(Incident)).all():
            slas.sync_clocks(desk.session, incident, NOW)
    assert _report_line(desk) == (whatif.response.proposed, whatif.resolution.proposed)
    # And a what-if of the now-current targets changes nothing.
    again = sla_whatif(
        desk.session, NOW, validate(WhatIfQuery, policy=POLICY, response_seconds=7200, **PERIOD)
    )
    assert again.response.current == again.response.proposed == whatif.response.proposed
    assert again.resolution.proposed == whatif.resolution.proposed


def test_whatif_input_and_apply_are_checked(desk: Desk) -> None:
    slas.ensure_defaults(desk.session, desk.clock, "UTC")
    with pytest.raises(ValidationFailed, match="propose a response target"):
        validate(WhatIfQuery, policy=POLICY)
    with pytest.raises(ValidationFailed, match="must be positive"):
        validate(WhatIfQuery, policy=POLICY, response_seconds=0)
    with pytest.raises(ValidationFailed, match="start must be before"):
        validate(WhatIfQuery, policy=POLICY, response_seconds=60, start=at(3, 0), end=at(2, 0))
    with pytest.raises(NotFound, match="no SLA policy 'Nope'"):
        sla_whatif(desk.session, NOW, validate(WhatIfQuery, policy="Nope", response_seconds=60))
    # No history: nothing finished, so no compliance either way; the default period is 30 days.
    empty = sla_whatif(desk.session, NOW, validate(WhatIfQuery, policy=POLICY, response_seconds=60))
    assert empty.response.current == empty.response.proposed == Compliance()
    assert (NOW - empty.start).days == 30 and empty.end == NOW
    assert empty.resolution.proposed_seconds == empty.resolution.target_seconds == 27 * 3600
    # Only an admin may apply.
    changes = validate(WhatIfQuery, policy=POLICY, response_seconds=60).changes()
    with pytest.raises(PermissionDenied):
        sla_admin.update_policy(desk.session, desk["sue"], desk.clock, POLICY, changes)
