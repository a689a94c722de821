"""The reports screen's figures on both engines, checked against values worked out by hand
from a crafted desk, and the CSV / JSON / Markdown exports read back.

`now` is Tue 2026-03-10 12:00 UTC and the period is 7 days: [Mar 3 12:00, Mar 10 12:00).
The incidents (P3 unless said, told through the services):

  I1 INC1  opened Mar 10 06:00  Service Desk  Email  mail     new          age 6h   (<1d)
  I2 INC2  opened Mar  8 12:00  Network       VPN    network  in progress  age 2d   (1-3d)
  I3 INC3  opened Mar  5 12:00  Network       Email  mail     resolved Mar 6
  I4 INC4  opened Mar  1 12:00  Service Desk  -      -        on hold      age 9d   (7-30d)
  I5 INC5  opened Feb  1 12:00  Service Desk  -      -        new          age 37d  (>30d)
  I6 INC6  opened Mar  9 12:00  Network       -      -        new          age 1d   (1-3d)
  I7 INC7  opened Mar  7 12:00  Network       VPN    network  cancelled

A bucket holds the ages below its bound, so I6 (exactly one day) is in 1-3d.

Changes (standard, no CI): CHG1 successful closed Mar 9, CHG2 successful with issues closed
Mar 8, CHG3 failed closed Mar 7, CHG4 successful closed Feb 20 (before the period), CHG5
only scheduled. I2 and I7 were caused by CHG3, I3 by CHG1, I4 (before the period) by CHG1.

Problems: PRB1 opened Mar 4, a known error, open; PRB2 opened Feb 1, resolved Mar 6; PRB3
opened Mar 9; PRB4 opened Feb 10, a known error, resolved Feb 20.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from itsm_tui.domain.enums import ChangeOutcome, ChangeState, ProblemState
from itsm_tui.services import changes, desk_reports, incidents, problems, reports, slas
from itsm_tui.services.desk_reports import DeskReport, ExportFormat, ReportKey, build_report
from itsm_tui.services.errors import ValidationFailed
from itsm_tui.services.validation import validate
from tests.conftest import Desk
from tests.service_helpers import RESOLUTION, drive, make

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
DAYS = 7


def at(month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def inc(n: int) -> str:
    return f"INC{n:07d}"


def chg(n: int) -> str:
    return f"CHG{n:07d}"


def prb(n: int) -> str:
    return f"PRB{n:07d}"


def _change(desk: Desk, created: datetime, closed: datetime | None, outcome: ChangeOutcome) -> str:
    """A standard change, scheduled at `created` for a window an hour before `closed`, then
    implemented, reviewed with `outcome` and closed at `closed` (None: left scheduled)."""
    desk.clock.set(created)
    start = (closed or created + timedelta(days=1)) - timedelta(hours=1)
    data = validate(
        changes.ChangeCreate,
        title=f"Change {outcome.value}",
        change_type="standard",
        planned_start=start,
        planned_end=start + timedelta(minutes=90),
        assignee="alice",  # a change manager raises a standard change; alice carries it out
    )
    number = changes.create_change(desk.session, desk["carl"], desk.clock, data).number
    steps: list[tuple[ChangeState, dict[str, object]]] = [(ChangeState.SCHEDULED, {})]
    if closed is not None:
        steps += [
            (ChangeState.IMPLEMENT, {}),
            (ChangeState.REVIEW, {"outcome": outcome}),
            (ChangeState.CLOSED, {"review_notes": "reviewed"}),
        ]
    for state, extra in steps:
        if state is ChangeState.IMPLEMENT:
            desk.clock.set(start + timedelta(minutes=10))
        if state is ChangeState.CLOSED:
            desk.clock.set(closed)  # type: ignore[arg-type]
        move = validate(changes.ChangeMove, state=state, **extra)
        changes.move_change(desk.session, desk["alice"], desk.clock, number, move)
    return number


def _caused_by(desk: Desk, incident: str, change: str) -> None:
    changes_ = validate(incidents.IncidentChanges, caused_by=change)
    incidents.update_incident(desk.session, desk["sue"], desk.clock, incident, changes_)


def _problem(desk: Desk, opened: datetime, title: str, **fields: object) -> str:
    desk.clock.set(opened)
    data = validate(problems.ProblemCreate, title=title, **fields)
    return problems.create_problem(desk.session, desk["alice"], desk.clock, data).number


def _resolve_problem(desk: Desk, number: str, when: datetime) -> None:
    desk.clock.set(when)
    problems.update_problem(
        desk.session,
        desk["alice"],
        desk.clock,
        number,
        validate(problems.ProblemUpdate, root_cause="found"),
    )
    for state in ("assess", "root_cause_analysis", "fix_in_progress"):
        move = validate(problems.ProblemMove, state=state)
        problems.move_problem(desk.session, desk["alice"], desk.clock, number, move)
    move = validate(
        problems.ProblemMove, state=ProblemState.RESOLVED, reason="holds", resolution_notes="ok"
    )
    problems.move_problem(desk.session, desk["alice"], desk.clock, number, move)


def crafted(desk: Desk) -> Desk:
    slas.ensure_defaults(desk.session, desk.clock, "UTC")
    assert _change(desk, at(2, 15), at(3, 9), ChangeOutcome.SUCCESSFUL) == chg(1)
    assert _change(desk, at(2, 15), at(3, 8), ChangeOutcome.SUCCESSFUL_WITH_ISSUES) == chg(2)
    assert _change(desk, at(2, 15), at(3, 7), ChangeOutcome.FAILED) == chg(3)
    assert _change(desk, at(2, 15), at(2, 20), ChangeOutcome.SUCCESSFUL) == chg(4)
    assert _change(desk, at(2, 15), None, ChangeOutcome.SUCCESSFUL) == chg(5)
    table = [
        (at(3, 10, 6), "Service Desk", "Email", "mail", "new"),
        (at(3, 8), "Network", "VPN", "network", "in_progress"),
        (at(3, 5), "Network", "Email", "mail", None),  # resolved below
        (at(3, 1), "Service Desk", None, None, "on_hold"),
        (at(2, 1), "Service Desk", None, None, "new"),
        (at(3, 9), "Network", None, None, "new"),
        (at(3, 7), "Network", "VPN", "network", None),  # cancelled below
    ]
    for n, (opened, group, service, category, state) in enumerate(table, start=1):
        desk.clock.set(opened)
        number = make(desk, title=f"Incident {n}", group=group, service=service, category=category)
        assert number.number == inc(n)
        if state not in (None, "new"):
            drive(desk, number.number, state)
    desk.clock.set(at(3, 5, 13))
    _caused_by(desk, inc(2), chg(3))
    _caused_by(desk, inc(7), chg(3))
    _caused_by(desk, inc(3), chg(1))
    _caused_by(desk, inc(4), chg(1))
    desk.clock.set(at(3, 6))
    drive(desk, inc(3), "resolved")
    desk.clock.set(at(3, 7, 13))
    drive(desk, inc(7), "cancelled")
    assert _problem(
        desk, at(3, 4), "Known mail bug", root_cause="bug", workaround="restart"
    ) == prb(1)
    assert _problem(desk, at(2, 1), "Old printer fault") == prb(2)
    _resolve_problem(desk, prb(2), at(3, 6))
    assert _problem(desk, at(3, 9), "Fresh VPN fault") == prb(3)
    assert _problem(
        desk, at(2, 10), "Old known error", root_cause="leak", workaround="reboot"
    ) == prb(4)
    _resolve_problem(desk, prb(4), at(2, 20))
    desk.clock.set(NOW)
    return desk


def build(desk: Desk, key: ReportKey) -> DeskReport:
    return build_report(desk.session, NOW, key, DAYS)


def table(report: DeskReport) -> list[tuple[object, ...]]:
    return [tuple(row.cells) for row in report.rows]


def records(report: DeskReport) -> list[list[str]]:
    return [row.records for row in report.rows]


# ---------------------------------------------------------------------------- figures


def test_backlog_by_age_bucket_and_group(desk: Desk) -> None:
    report = build(crafted(desk), ReportKey.BACKLOG)
    assert [c.title for c in report.columns] == [
        "GROUP", "<1d", "1-3d", "3-7d", "7-30d", ">30d", "TOTAL",
    ]  # fmt: skip
    assert table(report) == [
        ("Network", 0, 2, 0, 0, 0, 2),  # I2 (2d), I6 (exactly 1d); I3 resolved, I7 cancelled
        ("Service Desk", 1, 0, 0, 1, 1, 3),  # I1 (6h), I4 (9d), I5 (37d)
        ("all", 1, 2, 0, 1, 1, 5),
    ]
    assert records(report) == [
        [inc(2), inc(6)],
        [inc(1), inc(4), inc(5)],
        [inc(1), inc(2), inc(4), inc(5), inc(6)],
    ]
    assert report.start is None and report.end == NOW


def test_incidents_per_service_and_category_in_the_period(desk: Desk) -> None:
    crafted(desk)
    # Opened in the period: I1, I2, I3, I6, I7 (I4 and I5 are older).
    services = build(desk, ReportKey.SERVICES)
    assert table(services) == [
        ("Email", 2, 1, 1),  # I1 open, I3 resolved
        ("VPN", 2, 0, 1),  # I2 open, I7 cancelled: neither resolved nor open
        ("(none)", 1, 0, 1),  # I6
        ("all", 5, 1, 3),
    ]
    assert records(services)[:3] == [[inc(1), inc(3)], [inc(2), inc(7)], [inc(6)]]
    categories = build(desk, ReportKey.CATEGORIES)
    assert table(categories) == [
        ("mail", 2, 1, 1),
        ("network", 2, 0, 1),
        ("(none)", 1, 0, 1),
        ("all", 5, 1, 3),
    ]


def test_change_success_rate_and_changes_causing_incidents(desk: Desk) -> None:
    crafted(desk)
    outcomes = build(desk, ReportKey.CHANGE_OUTCOMES)
    # Closed in the period: CHG1 (successful), CHG2 (with issues), CHG3 (failed); CHG4
    # closed before it, CHG5 never closed. Success: 2 of 3.
    assert table(outcomes) == [
        ("successful", 1, 33.3),
        ("successful_with_issues", 1, 33.3),
        ("failed", 1, 33.3),
        ("backed_out", 0, 0.0),
        ("success rate", 2, 66.7),
        ("all", 3, 100.0),
    ]
    assert records(outcomes)[4] == [chg(1), chg(2)]
    causing = build(desk, ReportKey.CAUSING_CHANGES)
    # CHG3 caused I2 and I7; CHG1 caused I3 (I4 was opened before the period).
    assert table(causing) == [
        (chg(3), "closed", "failed", 2, "Change failed"),
        (chg(1), "closed", "successful", 1, "Change successful"),
    ]
    assert records(causing) == [[chg(3), inc(2), inc(7)], [chg(1), inc(3)]]


def test_problems_opened_resolved_and_known_errors(desk: Desk) -> None:
    report = build(crafted(desk), ReportKey.PROBLEMS)
    assert table(report) == [("opened", 2), ("resolved", 1), ("known errors (now)", 1)]
    assert records(report) == [[prb(1), prb(3)], [prb(2)], [prb(1)]]


def test_sla_rows_are_the_sla_report_with_mtta_and_mttr(desk: Desk) -> None:
    """Two P1 incidents on the 24x7 calendar (15 min response, 4 h resolution):
    A opened Mar 9 10:00, responded 10:10 (met), resolved 13:00 (3 h, met);
    B opened Mar 9 12:00, responded 12:30 (30 min: breached), still open at Mar 10 12:00,
    far past its 4 h: breached though running.
    Response: 2 clocks, 1 met, 1 breached, 50%; MTTA mean (600 + 1800) / 2 = 1200 s, p90
    (nearest rank: ceil(0.9 * 2) = 2nd of [600, 1800]) = 1800 s.
    Resolution: 2 clocks, 1 met, 1 breached, 50%; only A stopped: mean = p90 = 10800 s."""
    slas.ensure_defaults(desk.session, desk.clock, "UTC")
    desk.clock.set(at(3, 9, 10))
    a = make(desk, title="A", impact=1, urgency=1).number
    desk.clock.set(at(3, 9, 10, 10))
    incidents.add_note(desk.session, desk["alice"], desk.clock, a, "On it", comment=True)
    desk.clock.set(at(3, 9, 12))
    b = make(desk, title="B", impact=1, urgency=1).number
    desk.clock.set(at(3, 9, 12, 30))
    incidents.add_note(desk.session, desk["alice"], desk.clock, b, "On it", comment=True)
    desk.clock.set(at(3, 9, 13))
    incidents.transition(desk.session, desk["alice"], desk.clock, a, "resolved", **RESOLUTION)
    report = build(desk, ReportKey.SLA)
    assert table(report) == [
        ("P1 critical", "response (MTTA)", 2, 1, 1, 0, 50.0, 1200.0, 1800),
        ("P1 critical", "resolution (MTTR)", 2, 1, 1, 0, 50.0, 10800.0, 10800),
        ("overall", "response (MTTA)", 2, 1, 1, 0, 50.0, 1200.0, 1800),
        ("overall", "resolution (MTTR)", 2, 1, 1, 0, 50.0, 10800.0, 10800),
    ]
    assert records(report) == [[a, b]] * 4
    # The same figures `itsm sla report` prints for the period.
    query = reports.SlaReportQuery(start=NOW - timedelta(days=DAYS), end=NOW)
    overall = reports.sla_report(desk.session, NOW, query).overall
    assert (overall.response.met, overall.resolution.p90_business_seconds) == (1, 10800)


def test_an_unknown_report_or_empty_period_is_refused(desk: Desk) -> None:
    with pytest.raises(ValidationFailed, match="no report"):
        build_report(desk.session, NOW, "nonsense", DAYS)
    with pytest.raises(ValidationFailed, match="at least one day"):
        build_report(desk.session, NOW, ReportKey.PROBLEMS, 0)


# ---------------------------------------------------------------------------- drill-down and export


def test_drill_down_names_the_records_in_order(desk: Desk) -> None:
    crafted(desk)
    found = desk_reports.drill_records(desk.session, [chg(3), inc(2), prb(1), "INC9999999"])
    assert [(r.number, r.kind, r.title, r.state) for r in found] == [
        (chg(3), "change", "Change failed", "closed"),
        (inc(2), "incident", "Incident 2", "in_progress"),
        (prb(1), "problem", "Known mail bug", "new"),
    ]


def test_exports_round_trip(desk: Desk, tmp_path: Path) -> None:
    report = build(crafted(desk), ReportKey.SERVICES)
    written = desk_reports.export_report(
        report, ExportFormat.CSV, tmp_path / "out" / "s.csv", database_url=None
    )
    assert written == (tmp_path / "out" / "s.csv").resolve()
    rows = list(csv.reader(io.StringIO(written.read_text(encoding="utf-8"))))
    assert rows[0] == ["service", "opened", "resolved", "open", "records"]
    assert rows[1] == ["Email", "2", "1", "1", f"{inc(1)} {inc(3)}"]
    assert len(rows) == 1 + len(report.rows)

    path = desk_reports.export_report(
        report, ExportFormat.JSON, tmp_path / "s.json", database_url=None
    )
    assert DeskReport.model_validate(json.loads(path.read_text(encoding="utf-8"))) == report

    sla = build(desk, ReportKey.SLA)
    path = desk_reports.export_report(
        sla, ExportFormat.MARKDOWN, tmp_path / "s.md", database_url=None
    )
    lines = path.read_text(encoding="utf-8").splitlines()
    header = "| POLICY | KIND | COUNT | MET | BREACHED | OPEN | COMPLIANCE | MEAN | P90 |"
    assert header in lines
    assert lines[lines.index(header) + 1] == "|---|---|---|---|---|---|---|---|---|"


def _plain_report(name: str) -> DeskReport:
    return DeskReport(
        key="services",
        title="Incidents per service",
        generated_at=NOW,
        start=NOW - timedelta(days=1),
        end=NOW,
        columns=desk_reports._volume_columns("service"),
        rows=[desk_reports.ReportRow(cells=[name, 1, 0, 1])],
    )


def test_markdown_escapes_user_text_and_a_bad_path_is_refused(tmp_path: Path) -> None:
    report = _plain_report("a|b\x1b[31m")
    text = desk_reports.render_markdown(report)
    assert "| a\\|b" in text and "\x1b" not in text
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValidationFailed, match="cannot write"):
        desk_reports.export_report(
            report, ExportFormat.CSV, tmp_path / "file" / "x.csv", database_url=None
        )


def test_default_export_path_is_stamped_and_falls_back_to_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = _plain_report("Email")
    documents = tmp_path / "Documents"
    monkeypatch.setattr(desk_reports.platformdirs, "user_documents_path", lambda: documents)
    fallback = desk_reports.default_export_path(report, ExportFormat.MARKDOWN, NOW)
    assert fallback.parent == tmp_path / "xdg-data" / "itsm-tui" / "reports"
    assert fallback.name == "itsm-services-20260310-120000.md"
    documents.mkdir()
    chosen = desk_reports.default_export_path(report, ExportFormat.CSV, NOW)
    assert chosen == documents / "itsm-tui" / "itsm-services-20260310-120000.csv"
