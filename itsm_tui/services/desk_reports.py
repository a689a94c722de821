"""The desk's reports: plain tables of figures, each row naming the records behind it.

Every builder takes a session, `now` (from the injected clock) and a period in days, and
returns a `DeskReport`: columns with a kind (text, count, percent, seconds) and rows of raw
values plus the record numbers (INC/CHG/PRB) the row counts, for drill-down. The SLA
figures come from `reports.sla_report` (this module only reshapes them, and lists the
incidents each policy's clocks belong to); the rest are counts over the records:

- backlog: incidents open at `now` by age (<1d, 1-3d, 3-7d, 7-30d, >30d since opened) and
  assignment group; a picture of now, so the period does not apply;
- incidents per service and per category: opened in the period, with how many are resolved
  (resolved_at set) and how many are still open;
- change outcomes: changes closed in the period by outcome, and the success rate
  (successful and successful with issues, the outcomes a fix change counts as good);
- changes causing incidents: per change, the incidents opened in the period that name it
  as their cause;
- problems: opened in the period, resolved in the period, and known errors now (problems
  still open with a known-error flag).

Export renders a report as CSV (raw values, durations in seconds, a `records` column),
JSON (`model_dump`) or Markdown (formatted cells, escaped with `reports.markdown_cell`). A
local desk writes it to a path (the default under the documents directory, else the data
dir, with a name stamped from `now`), never over the database or into the config directory;
a remote desk writes it to the user's export folder under a name it makes up
(`remote_exports`), as a typed path there would name a file on the server.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

import platformdirs
from pydantic import Field
from sqlmodel import Session, col, select

from itsm_tui import session_kind
from itsm_tui.config import APP_NAME, data_dir
from itsm_tui.display import printable
from itsm_tui.domain.enums import ChangeOutcome, ChangeState, IncidentState, ProblemState
from itsm_tui.domain.problem_workflow import SUCCESSFUL_OUTCOMES
from itsm_tui.domain.sla import SlaStage
from itsm_tui.services import private_files, protected_paths, remote_exports, reports
from itsm_tui.services.errors import ValidationFailed
from itsm_tui.services.records import Record
from itsm_tui.store.models import (
    Change,
    Group,
    Incident,
    Problem,
    Service,
    SlaClockRow,
    SlaPolicyRow,
)

DAY = timedelta(days=1)
NONE_LABEL = "(none)"
ALL_LABEL = "all"

# ---------------------------------------------------------------------------- records


class ColumnKind(StrEnum):
    TEXT = "text"
    COUNT = "count"
    PERCENT = "percent"
    SECONDS = "seconds"


class ReportColumn(Record):
    key: str
    title: str
    kind: ColumnKind = ColumnKind.COUNT


Cell = str | int | float | None


class ReportRow(Record):
    cells: list[Cell]
    records: list[str] = Field(default_factory=list)  # INC/CHG/PRB numbers behind the row


class DeskReport(Record):
    key: str
    title: str
    generated_at: datetime
    start: datetime | None  # None: a picture of now (the backlog)
    end: datetime
    columns: list[ReportColumn]
    rows: list[ReportRow]


class ReportKey(StrEnum):
    SLA = "sla"
    BACKLOG = "backlog"
    SERVICES = "services"
    CATEGORIES = "categories"
    CHANGE_OUTCOMES = "change-outcomes"
    CAUSING_CHANGES = "causing-changes"
    PROBLEMS = "problems"


TITLES: dict[ReportKey, str] = {
    ReportKey.SLA: "SLA compliance, MTTA, MTTR",
    ReportKey.BACKLOG: "Backlog by age and group",
    ReportKey.SERVICES: "Incidents per service",
    ReportKey.CATEGORIES: "Incidents per category",
    ReportKey.CHANGE_OUTCOMES: "Change success rate",
    ReportKey.CAUSING_CHANGES: "Changes causing incidents",
    ReportKey.PROBLEMS: "Problems and known errors",
}

# Period choices: label -> days back from now.
PERIODS: dict[str, int] = {"7 days": 7, "30 days": 30, "quarter": 90}
DEFAULT_PERIOD = "30 days"

AGE_BUCKETS: tuple[tuple[str, timedelta | None], ...] = (
    ("<1d", DAY),
    ("1-3d", 3 * DAY),
    ("3-7d", 7 * DAY),
    ("7-30d", 30 * DAY),
    (">30d", None),
)
OPEN_INCIDENT_STATES = tuple(s.value for s in IncidentState if s.is_open)
OPEN_PROBLEM_STATES = tuple(s.value for s in ProblemState if s.is_open)


def _col(key: str, title: str, kind: ColumnKind = ColumnKind.COUNT) -> ReportColumn:
    return ReportColumn(key=key, title=title, kind=kind)


def period_of(now: datetime, days: int) -> tuple[datetime, datetime]:
    """[now - days, now)."""
    if days < 1:
        raise ValidationFailed("a report period is at least one day")
    return now - days * DAY, now


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


# ---------------------------------------------------------------------------- SLA


SLA_COLUMNS = [
    _col("policy", "POLICY", ColumnKind.TEXT),
    _col("kind", "KIND", ColumnKind.TEXT),
    _col("count", "COUNT"),
    _col("met", "MET"),
    _col("breached", "BREACHED"),
    _col("in_progress", "OPEN"),
    _col("compliance_percent", "COMPLIANCE", ColumnKind.PERCENT),
    _col("mean_business_seconds", "MEAN", ColumnKind.SECONDS),
    _col("p90_business_seconds", "P90", ColumnKind.SECONDS),
]
KIND_LABELS = {"response": "response (MTTA)", "resolution": "resolution (MTTR)"}


def sla_compliance(session: Session, now: datetime, days: int) -> DeskReport:
    """`sla_report`'s per-policy and overall lines, one row per policy and kind; mean and p90
    are business seconds (what counted against the target). Each row names the incidents
    whose live clocks it counts."""
    start, end = period_of(now, days)
    sla = reports.sla_report(session, now, reports.SlaReportQuery(start=start, end=end))
    behind = _clock_incidents(session, start, end)
    rows = []
    for line in [*sla.policies, sla.overall]:
        for figures in line.kinds():
            policy = None if line is sla.overall else line.policy
            rows.append(
                ReportRow(
                    cells=[
                        line.policy,
                        KIND_LABELS.get(figures.kind, figures.kind),
                        figures.count,
                        figures.met,
                        figures.breached,
                        figures.in_progress,
                        figures.compliance_percent,
                        figures.mean_business_seconds,
                        figures.p90_business_seconds,
                    ],
                    records=_unique(
                        number
                        for name, kind, number in behind
                        if kind == figures.kind and policy in (None, name)
                    ),
                )
            )
    return _report(ReportKey.SLA, now, start, end, SLA_COLUMNS, rows)


def _clock_incidents(
    session: Session, start: datetime, end: datetime
) -> list[tuple[str, str, str]]:
    """(policy, kind, incident) for the live clocks of incidents opened in [start, end): the
    same clocks `sla_report` tallies."""
    return [
        (policy, kind, number)
        for policy, kind, number in session.exec(
            select(SlaPolicyRow.name, SlaClockRow.kind, Incident.number)
            .join(Incident, col(Incident.id) == col(SlaClockRow.incident_id))
            .join(SlaPolicyRow, col(SlaPolicyRow.id) == col(SlaClockRow.policy_id))
            .where(
                col(SlaClockRow.stage) != SlaStage.CANCELLED.value,
                col(Incident.opened_at) >= start,
                col(Incident.opened_at) < end,
            )
            .order_by(col(Incident.number))
        ).all()
    ]


def _unique(numbers: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(numbers))


# ---------------------------------------------------------------------------- backlog


BACKLOG_COLUMNS = [
    _col("group", "GROUP", ColumnKind.TEXT),
    *(_col(label, label) for label, _ in AGE_BUCKETS),
    _col("total", "TOTAL"),
]


def age_bucket(age: timedelta) -> int:
    """The index in AGE_BUCKETS of an age: each bucket holds ages below its bound."""
    for index, (_, bound) in enumerate(AGE_BUCKETS):
        if bound is None or age < bound:
            return index
    return len(AGE_BUCKETS) - 1


def backlog(session: Session, now: datetime, days: int = 0) -> DeskReport:
    """Open incidents at `now` by age bucket, one row per group (no group last) and a
    total row. `days` is accepted for a uniform signature and ignored."""
    found = session.exec(
        select(Incident.number, Incident.opened_at, Group.name)
        .outerjoin(Group, col(Group.id) == col(Incident.group_id))
        .where(col(Incident.state).in_(OPEN_INCIDENT_STATES))
        .order_by(col(Incident.number))
    ).all()
    by_group: dict[str, list[list[str]]] = defaultdict(lambda: [[] for _ in AGE_BUCKETS])
    total: list[list[str]] = [[] for _ in AGE_BUCKETS]
    for number, opened_at, group in found:
        index = age_bucket(now - opened_at)
        by_group[group or NONE_LABEL][index].append(number)
        total[index].append(number)

    def row(name: str, buckets: list[list[str]]) -> ReportRow:
        counts = [len(b) for b in buckets]
        return ReportRow(
            cells=[name, *counts, sum(counts)], records=sorted(n for b in buckets for n in b)
        )

    names = sorted(by_group, key=lambda name: (name == NONE_LABEL, name))
    rows = [row(name, by_group[name]) for name in names]
    rows.append(row(ALL_LABEL, total))
    return _report(ReportKey.BACKLOG, now, None, now, BACKLOG_COLUMNS, rows)


# ---------------------------------------------------------------------------- volume


def _volume_columns(what: str) -> list[ReportColumn]:
    return [
        _col(what, what.upper(), ColumnKind.TEXT),
        _col("opened", "OPENED"),
        _col("resolved", "RESOLVED"),
        _col("open", "STILL OPEN"),
    ]


def _volume(
    session: Session,
    now: datetime,
    days: int,
    key: ReportKey,
    what: str,
    name_of: Callable[[Incident, str | None], str | None],
) -> DeskReport:
    start, end = period_of(now, days)
    found = session.exec(
        select(Incident, Service.name)
        .outerjoin(Service, col(Service.id) == col(Incident.service_id))
        .where(col(Incident.opened_at) >= start, col(Incident.opened_at) < end)
        .order_by(col(Incident.number))
    ).all()
    groups: dict[str, list[Incident]] = defaultdict(list)
    for incident, service in found:
        groups[name_of(incident, service) or NONE_LABEL].append(incident)
    names = sorted(groups, key=lambda name: (name == NONE_LABEL, name.casefold(), name))

    def row(name: str, members: Sequence[Incident]) -> ReportRow:
        resolved = sum(1 for i in members if i.resolved_at is not None)
        still_open = sum(1 for i in members if i.state in OPEN_INCIDENT_STATES)
        return ReportRow(
            cells=[name, len(members), resolved, still_open], records=[i.number for i in members]
        )

    rows = [row(name, groups[name]) for name in names]
    rows.append(row(ALL_LABEL, [i for i, _ in found]))
    return _report(key, now, start, end, _volume_columns(what), rows)


def incidents_per_service(session: Session, now: datetime, days: int) -> DeskReport:
    """Incidents opened in the period per service (none last), resolved and still open."""
    return _volume(session, now, days, ReportKey.SERVICES, "service", lambda _i, s: s)


def incidents_per_category(session: Session, now: datetime, days: int) -> DeskReport:
    """Incidents opened in the period per category (none last), resolved and still open."""
    return _volume(session, now, days, ReportKey.CATEGORIES, "category", lambda i, _s: i.category)


# ---------------------------------------------------------------------------- changes


OUTCOME_COLUMNS = [
    _col("outcome", "OUTCOME", ColumnKind.TEXT),
    _col("changes", "CHANGES"),
    _col("percent", "SHARE", ColumnKind.PERCENT),
]
SUCCESS_LABEL = "success rate"


def change_outcomes(session: Session, now: datetime, days: int) -> DeskReport:
    """Changes closed in the period by outcome (every outcome listed, zero or not), then
    the success rate: successful plus successful with issues over all closed."""
    start, end = period_of(now, days)
    found = session.exec(
        select(Change.number, Change.outcome)
        .where(
            col(Change.state) == ChangeState.CLOSED.value,
            col(Change.closed_at) >= start,
            col(Change.closed_at) < end,
        )
        .order_by(col(Change.number))
    ).all()
    by_outcome: dict[str, list[str]] = defaultdict(list)
    for number, outcome in found:
        by_outcome[outcome or NONE_LABEL].append(number)
    labels = [o.value for o in ChangeOutcome]
    labels += sorted(set(by_outcome) - set(labels))  # an outcome this report does not know
    total = len(found)
    rows = [
        ReportRow(
            cells=[label, len(by_outcome[label]), _percent(len(by_outcome[label]), total)],
            records=by_outcome[label],
        )
        for label in labels
    ]
    good = sorted(n for o in SUCCESSFUL_OUTCOMES for n in by_outcome[o.value])
    rows.append(
        ReportRow(cells=[SUCCESS_LABEL, len(good), _percent(len(good), total)], records=good)
    )
    rows.append(
        ReportRow(cells=[ALL_LABEL, total, 100.0 if total else None], records=[n for n, _ in found])
    )
    return _report(ReportKey.CHANGE_OUTCOMES, now, start, end, OUTCOME_COLUMNS, rows)


CAUSING_COLUMNS = [
    _col("change", "CHANGE", ColumnKind.TEXT),
    _col("state", "STATE", ColumnKind.TEXT),
    _col("outcome", "OUTCOME", ColumnKind.TEXT),
    _col("incidents", "INCIDENTS"),
    _col("title", "TITLE", ColumnKind.TEXT),
]


def changes_causing_incidents(session: Session, now: datetime, days: int) -> DeskReport:
    """Per change, the incidents opened in the period that it caused; most incidents first.
    A row's records are the change, then its incidents."""
    start, end = period_of(now, days)
    found = session.exec(
        select(Change, Incident.number)
        .join(Incident, col(Incident.caused_by_change_id) == col(Change.id))
        .where(col(Incident.opened_at) >= start, col(Incident.opened_at) < end)
        .order_by(col(Incident.number))
    ).all()
    caused: dict[str, list[str]] = defaultdict(list)
    changes: dict[str, Change] = {}
    for change, incident in found:
        caused[change.number].append(incident)
        changes[change.number] = change
    ordered = sorted(caused, key=lambda n: (-len(caused[n]), n))
    rows = [
        ReportRow(
            cells=[
                number,
                changes[number].state,
                changes[number].outcome or "",
                len(caused[number]),
                changes[number].title,
            ],
            records=[number, *caused[number]],
        )
        for number in ordered
    ]
    return _report(ReportKey.CAUSING_CHANGES, now, start, end, CAUSING_COLUMNS, rows)


# ---------------------------------------------------------------------------- problems


PROBLEM_COLUMNS = [_col("measure", "MEASURE", ColumnKind.TEXT), _col("problems", "PROBLEMS")]


def problem_figures(session: Session, now: datetime, days: int) -> DeskReport:
    """Problems opened in the period, resolved in the period (resolved_at in it), and the
    known errors now: open problems flagged as known errors."""
    start, end = period_of(now, days)

    def numbers(*conditions: object) -> list[str]:
        return list(
            session.exec(
                select(Problem.number).where(*conditions).order_by(col(Problem.number))  # type: ignore[arg-type]
            ).all()
        )

    opened = numbers(col(Problem.opened_at) >= start, col(Problem.opened_at) < end)
    resolved = numbers(col(Problem.resolved_at) >= start, col(Problem.resolved_at) < end)
    known = numbers(col(Problem.known_error).is_(True), col(Problem.state).in_(OPEN_PROBLEM_STATES))
    rows = [
        ReportRow(cells=["opened", len(opened)], records=opened),
        ReportRow(cells=["resolved", len(resolved)], records=resolved),
        ReportRow(cells=["known errors (now)", len(known)], records=known),
    ]
    return _report(ReportKey.PROBLEMS, now, start, end, PROBLEM_COLUMNS, rows)


# ---------------------------------------------------------------------------- dispatch


Builder = Callable[[Session, datetime, int], DeskReport]
BUILDERS: dict[ReportKey, Builder] = {
    ReportKey.SLA: sla_compliance,
    ReportKey.BACKLOG: backlog,
    ReportKey.SERVICES: incidents_per_service,
    ReportKey.CATEGORIES: incidents_per_category,
    ReportKey.CHANGE_OUTCOMES: change_outcomes,
    ReportKey.CAUSING_CHANGES: changes_causing_incidents,
    ReportKey.PROBLEMS: problem_figures,
}


def build_report(session: Session, now: datetime, key: ReportKey | str, days: int) -> DeskReport:
    """One report by key over the `days` before `now`. Reads only."""
    try:
        report_key = ReportKey(key)
    except ValueError:
        raise ValidationFailed(f"no report called {key!r}") from None
    return BUILDERS[report_key](session, now, days)


def _report(
    key: ReportKey,
    now: datetime,
    start: datetime | None,
    end: datetime,
    columns: list[ReportColumn],
    rows: list[ReportRow],
) -> DeskReport:
    return DeskReport(
        key=key.value,
        title=TITLES[key],
        generated_at=now,
        start=start,
        end=end,
        columns=columns,
        rows=rows,
    )


# ---------------------------------------------------------------------------- drill-down


class DrillRecord(Record):
    number: str
    kind: str  # incident | change | problem
    title: str
    state: str


def drill_records(session: Session, numbers: Sequence[str]) -> list[DrillRecord]:
    """The records behind a row, in the row's order; numbers that no longer exist drop."""
    wanted = list(numbers)
    found: dict[str, DrillRecord] = {}
    for kind, model in (("incident", Incident), ("change", Change), ("problem", Problem)):
        rows = session.exec(
            select(model.number, model.title, model.state).where(col(model.number).in_(wanted))
        ).all()
        for number, title, state in rows:
            found[number] = DrillRecord(number=number, kind=kind, title=title, state=state)
    return [found[n] for n in wanted if n in found]


# ---------------------------------------------------------------------------- export


class ExportFormat(StrEnum):
    CSV = "csv"
    JSON = "json"
    MARKDOWN = "md"


def cell_text(column: ReportColumn, value: Cell) -> str:
    """A cell as shown on screen and in Markdown; user text is made printable."""
    if value is None:
        return reports.MISSING
    if column.kind is ColumnKind.PERCENT:
        return f"{float(value):.1f}%"
    if column.kind is ColumnKind.SECONDS:
        return reports.duration(float(value))
    return printable(str(value))


def period_text(report: DeskReport) -> str:
    end = report.end.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if report.start is None:
        return f"at {end}"
    return f"{report.start.astimezone(UTC).strftime('%Y-%m-%d %H:%M UTC')} to {end}"


def render_csv(report: DeskReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([c.key for c in report.columns] + ["records"])
    for row in report.rows:
        writer.writerow(["" if v is None else v for v in row.cells] + [" ".join(row.records)])
    return out.getvalue()


def render_json(report: DeskReport) -> str:
    return json.dumps(report.model_dump(mode="json"), indent=2) + "\n"


def render_markdown(report: DeskReport) -> str:
    headers = [reports.markdown_cell(c.title) for c in report.columns]
    lines = [
        f"# {reports.markdown_cell(report.title)}",
        "",
        f"{reports.markdown_cell(period_text(report))}.",
        "",
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    for row in report.rows:
        cells = [
            reports.markdown_cell(cell_text(c, v))
            for c, v in zip(report.columns, row.cells, strict=True)
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


RENDERERS: dict[ExportFormat, Callable[[DeskReport], str]] = {
    ExportFormat.CSV: render_csv,
    ExportFormat.JSON: render_json,
    ExportFormat.MARKDOWN: render_markdown,
}


def export_dir() -> Path:
    """`<documents>/itsm-tui` when the documents directory exists, else `<data dir>/reports`."""
    try:
        documents = platformdirs.user_documents_path()
    except Exception:  # platformdirs may fail on an odd desktop setup
        documents = None
    if documents is not None and documents.is_dir():
        return documents / APP_NAME
    return data_dir() / "reports"


def default_export_path(report: DeskReport, fmt: ExportFormat, now: datetime) -> Path:
    stamp = now.astimezone(UTC).strftime("%Y%m%d-%H%M%S")
    return export_dir() / f"itsm-{report.key}-{stamp}.{fmt.value}"


def export_report(
    report: DeskReport, fmt: ExportFormat, path: Path | str, *, database_url: str | None
) -> Path:
    """A local desk's export: write the report to `path` (parents created; the file 0600,
    renamed into place); returns the absolute path written. Refused, with the reason and
    nothing written: a blank path, the desk's database or its -wal/-shm/-journal, anything in
    the config directory (after `..` and symlinks), a path that cannot be written, and any
    path at all in a remote desk, where it would name a file on the server
    (`export_for_remote_user` writes those)."""
    if session_kind.is_remote():
        raise ValidationFailed("a remote desk saves exports in its own folder, not at a path")
    if not str(path).strip():
        raise ValidationFailed("a file path is needed")
    target = Path(path).expanduser()
    protected_paths.refuse_protected(target, database_url=database_url)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        private_files.write_replacing(target, RENDERERS[fmt](report))
    except OSError as error:
        raise ValidationFailed(f"cannot write {target}: {error.strerror or error}") from error
    return target.resolve()


def export_for_remote_user(
    report: DeskReport, fmt: ExportFormat, username: str, now: datetime
) -> Path:
    """A remote desk's export: a new 0600 file `<report>-<stamp>.<format>` in the user's
    export folder (`remote_exports`), named from the report and `now`, never from input."""
    return remote_exports.write_export(username, report.key, fmt.value, now, RENDERERS[fmt](report))


__all__ = [
    "BUILDERS",
    "PERIODS",
    "DeskReport",
    "DrillRecord",
    "ExportFormat",
    "ReportKey",
    "build_report",
    "drill_records",
    "export_for_remote_user",
    "export_report",
]
