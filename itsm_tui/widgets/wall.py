"""The NOC wall's panels: big figures that read from across the room, and short lists.

Each panel takes a `WallFigures` and redraws itself; none of them reads the database or holds
a rule (the figures come from `services.wall_figures`). Numbers use Textual's `Digits` (three
rows tall); lists are one line per record, cropped with an ellipsis, so the same panel reads
at 80x24 and fills a 300x80 wall. Titles are user text: they reach the screen as `Text`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, Vertical
from textual.widgets import Digits, Static

from itsm_tui.display import compact_duration, user_text
from itsm_tui.services.majors import OpenMajors
from itsm_tui.services.queue import QueueRow
from itsm_tui.services.sla_dashboard import Compliance
from itsm_tui.services.wall_figures import PRIORITIES, WallChange, WallFigures
from itsm_tui.widgets.compliance_gauge import ComplianceGauge

VIEWS = ("queue", "sla", "changes")  # the panels `itsm wall --views` can name, in order
NO_FIGURE = "--"


class Tile(Vertical):
    """One big number, its label in the frame's title."""

    def __init__(self, label: str, *, id: str, classes: str = "") -> None:
        super().__init__(id=id, classes=f"wall-tile {classes}".strip())
        self.border_title = label

    def compose(self) -> ComposeResult:
        yield Digits(NO_FIGURE, classes="wall-digits")

    def show(self, value: int | None) -> None:
        self.query_one(Digits).update(NO_FIGURE if value is None else str(value))
        self.set_class(bool(value), "-nonzero")


def _lines(lines: Iterable[Text], empty: str) -> Text:
    shown = list(lines)
    if not shown:
        return Text(empty, style="dim")
    return Text("\n").join(shown)


def _incident_line(row: QueueRow, now: datetime) -> Text:
    line = Text()
    line.append(f"{row.number} ", style="bold")
    line.append(f"P{row.priority}{'★' if row.major else ' '} ")
    if row.sla_due_at is not None:
        left = (row.sla_due_at - now).total_seconds()
        when = f"{compact_duration(-left)} over" if left <= 0 else f"{compact_duration(left)} left"
        line.append(f"{when:>11} ")
    line.append_text(user_text(row.title))
    return line


class QueuePanel(Vertical):
    """Open incidents by priority, with the totals that matter beside them."""

    def compose(self) -> ComposeResult:
        yield Static("Open incidents by priority", classes="wall-title")
        with Grid(classes="wall-row wall-priorities"):
            for priority in PRIORITIES:
                yield Tile(f"P{priority}", id=f"wall-p{priority}", classes=f"-p{priority}")
        with Grid(classes="wall-row wall-totals"):
            yield Tile("open", id="wall-open")
            yield Tile("breached", id="wall-breached", classes="-bad")
            yield Tile("at risk", id="wall-at-risk", classes="-warn")
            yield Tile("major", id="wall-majors", classes="-bad")

    def show(self, figures: WallFigures) -> None:
        for priority in PRIORITIES:
            self.query_one(f"#wall-p{priority}", Tile).show(figures.open_by_priority[priority])
        self.query_one("#wall-open", Tile).show(figures.open_total)
        self.query_one("#wall-breached", Tile).show(figures.breached)
        self.query_one("#wall-at-risk", Tile).show(figures.at_risk)
        self.query_one("#wall-majors", Tile).show(figures.majors.total)


class SlaPanel(Vertical):
    """Breached and at-risk counts and lists, and last week's compliance as the dashboard's
    gauges: overall always, per priority too on a tall wall (the `-tall` class)."""

    def compose(self) -> ComposeResult:
        yield Static("Service levels", classes="wall-title")
        with Grid(classes="wall-row wall-change-totals"):
            yield Tile("breached", id="wall-sla-breached", classes="-bad")
            yield Tile("at risk", id="wall-sla-at-risk", classes="-warn")
        with Grid(classes="wall-row wall-gauges"):
            for line in ("overall", *(f"P{p}" for p in PRIORITIES)):
                extra = "" if line == "overall" else " wall-priority-gauge"
                for kind in ("response", "resolution"):
                    yield ComplianceGauge(
                        f"{line} {kind}",
                        Compliance(kind=kind),
                        id=f"wall-gauge-{line}-{kind}",
                        classes=f"wall-gauge{extra}",
                    )
        with Horizontal(classes="wall-lists"):
            with Vertical(classes="wall-list"):
                yield Static("Breached", classes="wall-list-title -bad")
                yield Static(id="wall-breached-list")
            with Vertical(classes="wall-list"):
                yield Static("At risk", classes="wall-list-title -warn")
                yield Static(id="wall-at-risk-list")

    def show(self, figures: WallFigures) -> None:
        now = figures.read_at
        self.query_one("#wall-sla-breached", Tile).show(figures.breached)
        self.query_one("#wall-sla-at-risk", Tile).show(figures.at_risk)
        title = f"Service levels · compliance over {figures.sla.period.label.lower()}"
        self.query_one(".wall-title", Static).update(title)
        lines = {"overall": figures.sla.overall}
        lines.update({line.label: line for line in figures.sla.priorities})
        for name in ("overall", *(f"P{p}" for p in PRIORITIES)):
            line = lines.get(name)
            for kind in ("response", "resolution"):
                gauge = self.query_one(f"#wall-gauge-{name}-{kind}", ComplianceGauge)
                compliance = getattr(line, kind) if line else Compliance(kind=kind)
                gauge.update(compliance, label=kind if name == "overall" else f"{name} {kind}")
        self.query_one("#wall-breached-list", Static).update(
            _lines((_incident_line(r, now) for r in figures.breached_rows), "none breached")
        )
        self.query_one("#wall-at-risk-list", Static).update(
            _lines((_incident_line(r, now) for r in figures.at_risk_rows), "none at risk")
        )


def _change_line(change: WallChange, zone: ZoneInfo) -> Text:
    line = Text()
    line.append(f"{change.number} ", style="bold")
    line.append(f"{change.state:<9} ", style="reverse" if change.state == "implement" else "")
    if change.planned_start is not None and change.planned_end is not None:
        start = change.planned_start.astimezone(zone).strftime("%H:%M")
        end = change.planned_end.astimezone(zone).strftime("%H:%M")
        line.append(f"{start}-{end} ")
    line.append_text(user_text(change.title))
    return line


class ChangesPanel(Vertical):
    """Today's scheduled changes and those being implemented now."""

    def __init__(self, *, timezone: str, id: str) -> None:
        super().__init__(id=id)
        self.zone = ZoneInfo(timezone)

    def compose(self) -> ComposeResult:
        yield Static("Changes today", classes="wall-title")
        with Grid(classes="wall-row wall-change-totals"):
            yield Tile("implementing now", id="wall-implementing", classes="-warn")
            yield Tile("scheduled today", id="wall-scheduled")
        yield Static(id="wall-changes-list", classes="wall-list")

    def show(self, figures: WallFigures) -> None:
        changes = figures.changes_today
        implementing = sum(1 for change in changes if change.state == "implement")
        self.query_one("#wall-implementing", Tile).show(implementing)
        self.query_one("#wall-scheduled", Tile).show(len(changes) - implementing)
        self.query_one("#wall-changes-list", Static).update(
            _lines((_change_line(c, self.zone) for c in changes), "no changes today")
        )


class MajorTakeover(Vertical):
    """Covers the wall while any major incident is open; hidden otherwise."""

    def compose(self) -> ComposeResult:
        yield Static("MAJOR INCIDENT", id="wall-major-title")
        yield Static(id="wall-major-list")

    def show(self, majors: OpenMajors, now: datetime) -> None:
        self.display = majors.total > 0
        lines = []
        for major in majors.incidents:
            line = Text()
            line.append(f"{major.number}  P{major.priority}  ", style="bold")
            line.append(f"open {compact_duration((now - major.opened_at).total_seconds())}  ")
            if major.service:
                line.append_text(user_text(major.service, style="bold"))
                line.append(" · ")
            line.append_text(user_text(major.title))
            lines.append(line)
        if majors.total > len(majors.incidents):
            lines.append(Text(f"… and {majors.total - len(majors.incidents)} more"))
        self.query_one("#wall-major-title", Static).update(
            "MAJOR INCIDENT" if majors.total == 1 else f"{majors.total} MAJOR INCIDENTS"
        )
        self.query_one("#wall-major-list", Static).update(_lines(lines, ""))
