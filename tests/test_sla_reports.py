"""`itsm sla report` on the service side: figures per policy and overall, the clocks at risk,
and the table, CSV, Markdown and JSON renderings.

Incidents are driven through the incident services at chosen fixed-clock times, so every
expected figure below is worked out by hand in the comments next to it. Calendars are the
seeded defaults in UTC: P1 runs 24x7 (15 min / 4 h), P2 and P3 Monday to Friday 08:00-17:00
(P2 30 min / 8 h, P3 4 h / 27 h). March 2026: the 2nd is a Monday.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlmodel import select

from itsm_tui.clock import FixedClock
from itsm_tui.domain.sla import SlaStage
from itsm_tui.services import incidents, reports, slas
from itsm_tui.services.errors import ValidationFailed
from itsm_tui.services.reports import SlaReport, SlaReportQuery, nearest_rank, sla_report
from itsm_tui.services.validation import validate
from itsm_tui.store.database import Database
from itsm_tui.store.models import Incident, SlaClockRow
from tests.conftest import Desk
from tests.service_helpers import HOLD, RESOLUTION, footprint, make

MINUTE, HOUR = 60, 3600


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


# ---------------------------------------------------------------------------- helpers


def seeded(desk: Desk) -> Desk:
    slas.ensure_defaults(desk.session, desk.clock, "UTC")
    return desk


def open_at(desk: Desk, when: datetime, *, p1: bool = False, **fields: object) -> str:
    desk.clock.set(when)
    if p1:
        fields = {"impact": 1, "urgency": 1, **fields}
    return make(desk, **fields).number


def respond(desk: Desk, number: str, when: datetime) -> None:
    """A first customer comment from an agent: the response."""
    desk.clock.set(when)
    incidents.add_note(desk.session, desk["alice"], desk.clock, number, "On it", comment=True)


def move(desk: Desk, number: str, when: datetime, state: str, **extra: str) -> None:
    desk.clock.set(when)
    incidents.transition(desk.session, desk["alice"], desk.clock, number, state, **extra)


def resolve(desk: Desk, number: str, when: datetime) -> None:
    move(desk, number, when, "resolved", **RESOLUTION)


def report(desk: Desk, now: datetime, **query: object) -> SlaReport:
    desk.clock.set(now)
    return sla_report(desk.session, desk.clock.now(), validate(SlaReportQuery, **query))


def counts(figures: reports.SlaKindFigures) -> tuple[int, int, int, int, float | None]:
    return (
        figures.count,
        figures.met,
        figures.breached,
        figures.in_progress,
        figures.compliance_percent,
    )


def times(figures: reports.SlaKindFigures) -> tuple[object, ...]:
    return (
        figures.timed,
        figures.mean_business_seconds,
        figures.p90_business_seconds,
        figures.mean_wall_seconds,
        figures.p90_wall_seconds,
    )


def mtta_mttr_desk(desk: Desk) -> SlaReport:
    """Three P3 incidents on office hours (Mon-Fri 08:00-17:00 UTC), all within target.

    A: opened Mon 09:00, responded 10:00, resolved 12:00.
    B: opened Mon 15:00, responded Tue 09:00, resolved Tue 10:00 (overnight).
    C: opened Mon 16:00, responded and put on hold for the caller 16:30, back in progress
       Tue 09:00, resolved Tue 11:00: paused 16:30-17:00 + 08:00-09:00 = 1.5 business hours.
    """
    seeded(desk)
    a = open_at(desk, at(2, 9), title="Printer jam")
    respond(desk, a, at(2, 10))
    resolve(desk, a, at(2, 12))
    b = open_at(desk, at(2, 15), title="VPN drops")
    c = open_at(desk, at(2, 16), title="Mailbox full")
    respond(desk, c, at(2, 16, 30))
    move(desk, c, at(2, 16, 30), "on_hold", **HOLD)
    respond(desk, b, at(3, 9))
    move(desk, c, at(3, 9), "in_progress")
    resolve(desk, b, at(3, 10))
    resolve(desk, c, at(3, 11))
    return report(desk, at(3, 12), start=at(2, 0), end=at(4, 0))


# ---------------------------------------------------------------------------- the query


def test_nearest_rank_percentile() -> None:
    assert nearest_rank([], 90) is None
    assert nearest_rank([7], 90) == 7
    assert nearest_rank([3, 1, 2], 90) == 3  # rank ceil(2.7) = 3
    assert nearest_rank(list(range(1, 11)), 90) == 9  # rank 9 of 10
    assert nearest_rank(list(range(11, 0, -1)), 90) == 10  # rank ceil(9.9) = 10 of 11
    assert nearest_rank([5, 1, 4, 2, 3], 50) == 3


def test_query_defaults_to_the_last_30_days() -> None:
    now = at(31, 12)
    assert SlaReportQuery().period(now) == (now - timedelta(days=30), now)
    assert SlaReportQuery(end=at(10, 0)).period(now) == (at(10, 0) - timedelta(days=30), at(10, 0))
    assert SlaReportQuery(start=at(1, 0)).period(now) == (at(1, 0), now)
    with pytest.raises(ValidationFailed, match="before its end"):
        SlaReportQuery(start=at(31, 13)).period(now)  # starts after the default end (now)


def test_query_validation() -> None:
    with pytest.raises(ValidationFailed, match="start must be before its end"):
        validate(SlaReportQuery, start=at(3, 0), end=at(2, 0))
    with pytest.raises(ValidationFailed, match="start must be before its end"):
        validate(SlaReportQuery, start=at(3, 0), end=at(3, 0))
    for bad in ({"priority": 0}, {"priority": 6}, {"service": "  "}, {"colour": "red"}):
        with pytest.raises(ValidationFailed):
            validate(SlaReportQuery, **bad)
    # Dates and zone-less times as typed on a command line are UTC; other zones converted.
    query = validate(SlaReportQuery, start="2026-03-01", end="2026-03-02T10:00:00+02:00")
    assert (query.start, query.end) == (at(1, 0), at(2, 8))
    assert query.start is not None and query.start.tzinfo is UTC
    assert validate(SlaReportQuery, priority=3).priority == 3


def test_unknown_service_is_refused(desk: Desk) -> None:
    seeded(desk)
    with pytest.raises(ValidationFailed, match="unknown service 'Nope'"):
        report(desk, at(2, 12), service="Nope")


def test_an_empty_period_has_no_figures(desk: Desk) -> None:
    seeded(desk)
    result = report(desk, at(2, 12))
    assert result.policies == [] and result.at_risk == []
    for figures in result.overall.kinds():
        assert counts(figures) == (0, 0, 0, 0, None)
        assert times(figures) == (0, None, None, None, None)
    assert "none" in reports.render_table(result)
    assert "overall" in reports.render_markdown(result)
    assert len(reports.render_csv(result).splitlines()) == 3  # header + two overall rows


# ---------------------------------------------------------------------------- figures


def test_met_breached_in_progress_and_compliance(desk: Desk, database: Database) -> None:
    """P1, 24x7: 15 min to respond, 4 h to resolve."""
    seeded(desk)
    x4 = open_at(desk, at(2, 5), p1=True)
    respond(desk, x4, at(2, 5, 5))  # 5 min: met
    x1, x2, _x3, x5, x6 = (open_at(desk, at(2, 9), p1=True) for _ in range(5))
    move(desk, x6, at(2, 9, 5), "on_hold", **HOLD)  # both clocks paused at 5 min
    respond(desk, x1, at(2, 9, 10))  # 10 min: met
    respond(desk, x5, at(2, 9, 10))  # 10 min: met
    respond(desk, x2, at(2, 9, 20))  # 20 min: breached
    resolve(desk, x4, at(2, 9, 30))  # 4 h 30: breached
    resolve(desk, x5, at(2, 9, 40))  # 40 min: met
    resolve(desk, x1, at(2, 10))  # 1 h: met
    before = footprint(database)
    result = report(desk, at(2, 10, 30), start=at(2, 0), end=at(3, 0))
    assert footprint(database) == before  # a report writes nothing

    # Response: met x1 x4 x5; breached x2 (late) and _x3 (never answered, 90 min running);
    # x6 paused at 5 min is still in progress. 3 / (3 + 2) = 60 %.
    assert counts(result.overall.response) == (6, 3, 2, 1, 60.0)
    # Resolution: met x1 x5; breached x4; x2 x3 running at 90 min and x6 paused: in progress.
    assert counts(result.overall.resolution) == (6, 2, 1, 3, 66.7)
    # 24x7: business time is wall time. Responses that stopped: 10, 20, 5, 10 min.
    assert times(result.overall.response) == (4, 675.0, 1200, 675.0, 1200)
    # Resolutions that stopped: 1 h, 4 h 30, 40 min -> mean 7400 s, p90 = 4 h 30.
    assert times(result.overall.resolution) == (3, 7400.0, 16200, 7400.0, 16200)
    assert [(p.policy, p.priority) for p in result.policies] == [("P1 critical", 1)]
    assert result.policies[0].response == result.overall.response
    assert result.policies[0].resolution == result.overall.resolution


def test_mtta_and_mttr_in_business_and_wall_time(desk: Desk) -> None:
    result = mtta_mttr_desk(desk)
    # Response, business: A 1 h; B Mon 15-17 + Tue 08-09 = 3 h; C 30 min -> mean 1.5 h.
    # Wall: A 1 h; B 18 h; C 30 min -> mean 6.5 h. p90 of three is the largest.
    assert counts(result.overall.response) == (3, 3, 0, 0, 100.0)
    assert times(result.overall.response) == (3, 5400.0, 3 * HOUR, 23400.0, 18 * HOUR)
    # Resolution, business: A 3 h; B Mon 2 h + Tue 2 h = 4 h; C Mon 1 h + Tue 3 h minus
    # 1.5 h paused = 2.5 h -> mean 3 h 10 min. Wall: A 3 h; B 19 h; C 19 h -> mean 13 h 40.
    assert counts(result.overall.resolution) == (3, 3, 0, 0, 100.0)
    assert times(result.overall.resolution) == (3, 11400.0, 4 * HOUR, 49200.0, 19 * HOUR)
    assert [p.policy for p in result.policies] == ["P3 moderate"]


def test_filters_by_service_and_priority(desk: Desk) -> None:
    seeded(desk)
    open_at(desk, at(2, 9), service="Email")  # P3
    open_at(desk, at(2, 9), service="VPN")  # P3
    open_at(desk, at(2, 9))  # P3, no service
    open_at(desk, at(2, 9), service="Email", impact=1, urgency=2)  # P2
    open_at(desk, at(2, 9), p1=True, service="VPN")  # P1

    def policies(**query: object) -> dict[str, int]:
        result = report(desk, at(2, 10), start=at(2, 0), end=at(3, 0), **query)
        assert result.overall.response.count == result.overall.resolution.count
        return {p.policy: p.response.count for p in result.policies} | {
            "overall": result.overall.response.count
        }

    assert policies() == {"P1 critical": 1, "P2 high": 1, "P3 moderate": 3, "overall": 5}
    assert policies(service="Email") == {"P2 high": 1, "P3 moderate": 1, "overall": 2}
    assert policies(priority=3) == {"P3 moderate": 3, "overall": 3}
    assert policies(service="VPN", priority=1) == {"P1 critical": 1, "overall": 1}
    assert policies(service="VPN", priority=2) == {"overall": 0}
    echoed = report(desk, at(2, 10), service="Email", priority=2)
    assert (echoed.service, echoed.priority) == ("Email", 2)


def test_only_incidents_opened_within_the_period_count(desk: Desk) -> None:
    seeded(desk)
    open_at(desk, at(2, 8, 59), title="too early")
    open_at(desk, at(2, 9), title="at the start")
    open_at(desk, at(2, 12), title="inside")
    open_at(desk, at(3, 9), title="at the end")
    result = report(desk, at(3, 10), start=at(2, 9), end=at(3, 9))
    assert (result.start, result.end) == (at(2, 9), at(3, 9))
    assert result.overall.response.count == 2  # [start, end): the start in, the end out
    # Default: the 30 days before now, Mon 2 09:30 to Wed 1 April 09:30.
    result = report(desk, datetime(2026, 4, 1, 9, 30, tzinfo=UTC))
    assert result.start == at(2, 9, 30)
    assert result.overall.response.count == 2  # "inside" and "at the end"


def test_cancelled_clocks_are_left_out(desk: Desk) -> None:
    seeded(desk)
    retargeted = open_at(desk, at(2, 9))
    cancelled = open_at(desk, at(2, 9))
    move(desk, cancelled, at(2, 9, 30), "cancelled")
    desk.clock.set(at(2, 10))
    incidents.update_incident(
        desk.session,
        desk["alice"],
        desk.clock,
        retargeted,
        validate(incidents.IncidentChanges, urgency=1),
    )  # P3 -> P2: the P3 clocks are cancelled, P2 clocks run from 09:00
    stages = desk.session.exec(select(SlaClockRow.stage)).all()
    assert sorted(stages).count(SlaStage.CANCELLED.value) == 4
    result = report(desk, at(2, 10, 30), start=at(2, 0), end=at(3, 0))
    assert [p.policy for p in result.policies] == ["P2 high"]
    # P2 response (30 min) breached at 09:30; resolution (8 h) 1.5 h in.
    assert counts(result.overall.response) == (1, 0, 1, 0, 0.0)
    assert counts(result.overall.resolution) == (1, 0, 0, 1, None)


# ---------------------------------------------------------------------------- at risk


def test_at_risk_lists_running_clocks_past_75_percent_soonest_due_first(desk: Desk) -> None:
    """P3 responses (4 business hours) looked at on Monday 13:00, plus one P1."""
    seeded(desk)
    i1 = open_at(desk, at(2, 9), title="i1")  # 4 h used: 100 %, breached, due 13:00
    i6 = open_at(desk, at(2, 9, 10), title="i6")  # paused at 3 h (75 %): not running
    i5 = open_at(desk, at(2, 9, 15), title="i5")
    respond(desk, i5, at(2, 9, 20))  # stopped: not at risk
    i2 = open_at(desk, at(2, 9, 30), title="i2")  # 3.5 h: 87.5 %, due 13:30
    i3 = open_at(desk, at(2, 10), title="i3")  # 3 h: exactly 75 %, due 14:00
    open_at(desk, at(2, 10, 1), title="i4")  # 2 h 59: 74.6 %, not yet
    i7 = open_at(desk, at(2, 12), p1=True, title="i7")  # P1 15 min, 1 h in: 400 %, 12:15
    move(desk, i6, at(2, 12, 10), "on_hold", **HOLD)
    result = report(desk, at(2, 13), start=at(2, 0), end=at(3, 0))
    assert [
        (c.number, c.kind, c.policy, c.stage, c.due_at, c.percent_used) for c in result.at_risk
    ] == [
        (i7, "response", "P1 critical", "breached", at(2, 12, 15), 400.0),
        (i1, "response", "P3 moderate", "breached", at(2, 13), 100.0),
        (i2, "response", "P3 moderate", "in_progress", at(2, 13, 30), 87.5),
        (i3, "response", "P3 moderate", "in_progress", at(2, 14), 75.0),
    ]
    assert [c.title for c in result.at_risk] == ["i7", "i1", "i2", "i3"]
    assert [c.priority for c in result.at_risk] == [1, 3, 3, 3]
    # The filters apply to the at-risk list; the period does not (it is about now).
    assert [c.number for c in report(desk, at(2, 13), priority=3).at_risk] == [i1, i2, i3]
    old_period = report(desk, at(2, 13), start=at(1, 0), end=at(2, 0))
    assert old_period.overall.response.count == 0
    assert [c.number for c in old_period.at_risk] == [i7, i1, i2, i3]


# ---------------------------------------------------------------------------- rendering


def test_renderers_show_the_figures(desk: Desk) -> None:
    result = mtta_mttr_desk(desk)

    table = reports.render_table(result)
    assert "2026-03-02 00:00 UTC to 2026-03-04 00:00 UTC" in table
    header, *figure_lines = table.splitlines()[2:7]
    assert re.split(r"\s{2,}", header) == list(reports.FIGURE_HEADERS)
    counts_ok = ["3", "3", "0", "0", "100.0%"]
    mtta = ["1:30:00", "3:00:00", "6:30:00", "18:00:00"]
    mttr = ["3:10:00", "4:00:00", "13:40:00", "19:00:00"]
    assert [re.split(r"\s{2,}", line.strip()) for line in figure_lines] == [
        ["P3 moderate", "response", *counts_ok, *mtta],
        ["P3 moderate", "resolution", *counts_ok, *mttr],
        ["overall", "response", *counts_ok, *mtta],
        ["overall", "resolution", *counts_ok, *mttr],
    ]
    widths = {len(line) for line in [header, *figure_lines]}
    assert len(widths) == 1  # aligned: numbers right-justified to the header's width

    rows = list(csv.DictReader(io.StringIO(reports.render_csv(result))))
    assert [(r["scope"], r["policy"], r["kind"]) for r in rows] == [
        ("policy", "P3 moderate", "response"),
        ("policy", "P3 moderate", "resolution"),
        ("overall", "", "response"),
        ("overall", "", "resolution"),
    ]
    assert {k: rows[2][k] for k in ("count", "met", "compliance_percent", "priority")} == {
        "count": "3",
        "met": "3",
        "compliance_percent": "100.0",
        "priority": "",
    }
    assert [rows[3][k] for k in reports.CSV_HEADERS[-4:]] == [
        "11400.0",
        "14400",
        "49200.0",
        "68400",
    ]

    markdown = reports.render_markdown(result)
    assert "| P3 moderate | response | 3 | 3 | 0 | 0 | 100.0% | 1:30:00 | 3:00:00 |" in markdown
    assert "| overall | resolution | 3 | 3 | 0 | 0 | 100.0% | 3:10:00 |" in markdown

    data = json.loads(json.dumps(result.model_dump(mode="json")))
    assert data["start"] == "2026-03-02T00:00:00Z"
    assert data["overall"]["response"]["mean_wall_seconds"] == 23400.0
    assert data["policies"][0]["resolution"]["p90_business_seconds"] == 14400
    assert SlaReport.model_validate(data) == result


def test_days_are_shown_in_durations() -> None:
    assert reports.duration(None) == "-"
    assert reports.duration(59.6) == "0:01:00"
    assert reports.duration(26 * HOUR + 61) == "1d 02:01:01"


def split_markdown_row(line: str) -> list[str]:
    """Cells of a GFM table row, undoing backslash escapes, so a stray '|' shows up as an
    extra cell."""
    assert line.startswith("| ") and line.endswith(" |"), line
    cells, cell, chars = [], "", iter(line[2:-2])
    for char in chars:
        if char == "\\":
            cell += next(chars)
        elif char == "|":
            cells.append(cell.strip())
            cell = ""
        else:
            cell += char
    return [*cells, cell.strip()]


def test_user_text_is_shown_literally(desk: Desk) -> None:
    seeded(desk)
    titles = ["[bold]x", "a | b", "back\\slash|pipe \\|", "[red]esc"]
    for title in titles:
        open_at(desk, at(2, 9), title=title)
    # Text stored behind the services' back (imports, older clients) may hold controls.
    row = desk.session.exec(select(Incident).where(Incident.title == "[red]esc")).one()
    row.title = "\x1b[31mred\x1b[0m"
    desk.session.add(row)
    desk.session.commit()
    titles[-1] = "\\x1b[31mred\\x1b[0m"
    result = report(desk, at(2, 13), start=at(2, 0), end=at(3, 0))
    assert len(result.at_risk) == 4

    table = reports.render_table(result)
    assert "\x1b" not in table
    for title in titles:
        assert title in table

    markdown = reports.render_markdown(result)
    assert "\x1b" not in markdown
    assert "[bold]x" in markdown
    risk_rows = [
        ln for ln in markdown.splitlines() if ln.startswith("| INC") and "P3 moderate" in ln
    ]
    assert len(risk_rows) == 4
    for line in risk_rows:
        assert len(split_markdown_row(line)) == len(reports.RISK_HEADERS)
    assert sorted(split_markdown_row(ln)[-1] for ln in risk_rows) == sorted(titles)


def test_query_times_in_other_zones_are_converted_to_utc() -> None:
    query = validate(
        SlaReportQuery, start=datetime(2026, 3, 2, 1, 0, tzinfo=timezone(timedelta(hours=2)))
    )
    assert query.start == at(1, 23)


def test_sla_report_command(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from itsm_tui.cli import main

    clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    assert main(["--db", sqlite_url, "init"], clock=clock) == 0  # only init creates
    base = ["--db", sqlite_url, "--user", "boss"]
    new = ["incident", "new", "--title", "a | b [bold]", "--impact", "1", "--urgency", "1"]
    assert main([*base, *new], clock=clock) == 0
    clock.advance(hours=1)
    capsys.readouterr()
    period = ["--from", "2026-03-01", "--to", "2026-03-02"]
    assert main([*base, "sla", "report", *period, "--json"], clock=clock) == 0
    data = json.loads(capsys.readouterr().out)
    overall = data["overall"]["response"]
    assert (overall["count"], overall["breached"]) == (1, 1)  # --to is an inclusive date
    assert main([*base, "sla", "report", "--to", "2026-03-01", "--json"], clock=clock) == 0
    assert json.loads(capsys.readouterr().out)["overall"]["response"]["count"] == 0
    for fmt, marker in (("csv", "scope,policy"), ("md", "| "), ("table", "POLICY")):
        assert main([*base, "sla", "report", "--format", fmt], clock=clock) == 0
        assert marker in capsys.readouterr().out
    assert main([*base, "sla", "report", "--from", "2026-13-01"], clock=clock) == 2
    assert "start" in capsys.readouterr().err
