"""One SLA clock as a labelled bar: what it measures, where it stands and how much is used.

The status is carried three ways at once (a symbol, a word and a colour) so the gauge reads
on a monochrome terminal, to colour-blind agents and in a screen reader's plain text. Colours
come from the stylesheet through component classes; the widget itself holds no style.
"""

from __future__ import annotations

from enum import StrEnum

from rich.console import Group, RenderableType
from rich.text import Text
from textual.widget import Widget

from itsm_tui.domain.sla import SlaStage
from itsm_tui.services.records import SlaClockRecord
from itsm_tui.services.reports import AT_RISK_PERCENT
from itsm_tui.services.sla_admin import format_duration

TIME_FORMAT = "%Y-%m-%d %H:%M"
FILLED = "█"
EMPTY = "░"  # a different glyph, not just a different colour, for the unused part
MIN_BAR_WIDTH = 10


class GaugeStatus(StrEnum):
    """How a clock stands, as the agent needs to read it (a coarser view than `SlaStage`)."""

    OK = "ok"
    WARNING = "warning"
    BREACHED = "breached"
    PAUSED = "paused"
    ACHIEVED = "achieved"
    CANCELLED = "cancelled"

    @property
    def symbol(self) -> str:
        return _SYMBOLS[self]

    @property
    def label(self) -> str:
        return _LABELS[self]


_SYMBOLS: dict[GaugeStatus, str] = {
    GaugeStatus.OK: "✓",
    GaugeStatus.WARNING: "!",
    GaugeStatus.BREACHED: "✗",
    GaugeStatus.PAUSED: "‖",
    GaugeStatus.ACHIEVED: "✔",
    GaugeStatus.CANCELLED: "⊘",
}
_LABELS: dict[GaugeStatus, str] = {
    GaugeStatus.OK: "on track",
    GaugeStatus.WARNING: "at risk",
    GaugeStatus.BREACHED: "BREACHED",
    GaugeStatus.PAUSED: "paused",
    GaugeStatus.ACHIEVED: "met",
    GaugeStatus.CANCELLED: "cancelled",
}


def gauge_status(clock: SlaClockRecord) -> GaugeStatus:
    """The status a gauge shows; a breach outranks everything, since a paused or stopped
    clock that already ran out is still a breach the agent must see."""
    stage = clock.stage
    if stage == SlaStage.BREACHED.value:
        return GaugeStatus.BREACHED
    if stage == SlaStage.CANCELLED.value:
        return GaugeStatus.CANCELLED
    if stage == SlaStage.ACHIEVED.value:
        return GaugeStatus.ACHIEVED
    if clock.percent_used >= 100:
        return GaugeStatus.BREACHED
    if clock.paused or stage == SlaStage.PAUSED.value:
        return GaugeStatus.PAUSED
    if clock.percent_used >= AT_RISK_PERCENT:
        return GaugeStatus.WARNING
    return GaugeStatus.OK


class SlaGauge(Widget):
    """A two-line gauge for one `SlaClockRecord`; `update(clock)` replaces what it shows."""

    COMPONENT_CLASSES = {
        "sla-gauge--label",
        "sla-gauge--detail",
        "sla-gauge--ok",
        "sla-gauge--warning",
        "sla-gauge--breached",
        "sla-gauge--paused",
        "sla-gauge--achieved",
        "sla-gauge--cancelled",
        "sla-gauge--empty",
    }

    def __init__(
        self,
        clock: SlaClockRecord,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.clock = clock
        self.status = gauge_status(clock)

    def on_mount(self) -> None:
        self._sync_classes()

    def update(self, clock: SlaClockRecord) -> None:
        """Show another reading of the clock (after a reload) without remounting."""
        self.clock = clock
        self.status = gauge_status(clock)
        self._sync_classes()
        self.refresh(layout=True)

    def _sync_classes(self) -> None:
        # A CSS class per status lets the stylesheet colour the frame as well as the bar.
        for status in GaugeStatus:
            self.set_class(status is self.status, f"-{status.value}")

    def summary(self) -> str:
        """The gauge as one plain line (symbol, status word, kind, figure): for tests and
        for anything that needs the reading without rendering."""
        return (
            f"{self.status.symbol} {self.status.label} {self.clock.kind} "
            f"{self.clock.percent_used:.0f}% due {self.clock.due_at.strftime(TIME_FORMAT)}"
        )

    def render(self) -> RenderableType:
        clock, status = self.clock, self.status
        status_style = self.get_component_rich_style(f"sla-gauge--{status.value}")
        label_style = self.get_component_rich_style("sla-gauge--label")
        detail_style = self.get_component_rich_style("sla-gauge--detail")
        head = Text.assemble(
            (f"{status.symbol} {status.label}", status_style),
            "  ",
            (clock.kind, label_style),
            (
                f"  {clock.policy} · target {format_duration(clock.target_seconds)}"
                f" · due {clock.due_at.strftime(TIME_FORMAT)} UTC",
                detail_style,
            ),
            overflow="ellipsis",
            no_wrap=True,
        )
        figure = f" {clock.percent_used:5.1f}%"
        width = max(MIN_BAR_WIDTH, self.content_size.width - len(figure))
        filled = round(width * min(max(clock.percent_used, 0.0), 100.0) / 100)
        bar = Text.assemble(
            (FILLED * filled, status_style),
            (EMPTY * (width - filled), self.get_component_rich_style("sla-gauge--empty")),
            (figure, status_style),
            no_wrap=True,
        )
        return Group(head, bar)
