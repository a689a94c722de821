"""A compliance gauge: a bar of SLA compliance percent against the target, with the figure,
the trend arrow and the counts behind them.

Like `widgets.sla_gauge`, the reading is carried without colour too: a status symbol and word
(`✓ on target`, `✗ below`, `· no data`), the target as a `┃` mark on the bar, the trend as an
arrow and a word. Colours come from `styles/sla.tcss` through component classes and a CSS
class per status (`-met`, `-below`, `-none`) on the widget, so the wall can restyle it.
The widget computes nothing: the figures are `services.sla_dashboard.Compliance`.
"""

from __future__ import annotations

from enum import StrEnum

from rich.console import Group, RenderableType
from rich.text import Text
from textual.widget import Widget

from itsm_tui.display import printable
from itsm_tui.services.sla_dashboard import Compliance, Trend

FILLED = "█"
EMPTY = "░"
TARGET_MARK = "┃"
MIN_BAR_WIDTH = 10


class GaugeStanding(StrEnum):
    MET = "met"
    BELOW = "below"
    NONE = "none"

    @property
    def symbol(self) -> str:
        return {"met": "✓", "below": "✗", "none": "·"}[self.value]

    @property
    def label(self) -> str:
        return {"met": "on target", "below": "below", "none": "no data"}[self.value]


TREND_WORDS = {Trend.UP: "up", Trend.DOWN: "down", Trend.SAME: "same", Trend.UNKNOWN: "new"}


def standing(compliance: Compliance) -> GaugeStanding:
    if compliance.percent is None:
        return GaugeStanding.NONE
    if compliance.percent >= compliance.target_percent:
        return GaugeStanding.MET
    return GaugeStanding.BELOW


def _figure(percent: float | None) -> str:
    return "   - " if percent is None else f"{percent:5.1f}%"


class ComplianceGauge(Widget):
    """Two lines: `✓ label on target 29/30 ▲ up` (met of decided, trend), then the bar
    with the target mark and the figure.
    `update(compliance)` shows a new reading without remounting."""

    COMPONENT_CLASSES = {
        "compliance-gauge--label",
        "compliance-gauge--detail",
        "compliance-gauge--met",
        "compliance-gauge--below",
        "compliance-gauge--none",
        "compliance-gauge--empty",
        "compliance-gauge--target",
    }

    def __init__(
        self,
        label: str,
        compliance: Compliance,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.label = label
        self.compliance = compliance
        self.standing = standing(compliance)

    def on_mount(self) -> None:
        self._sync_classes()

    def update(self, compliance: Compliance, label: str | None = None) -> None:
        self.compliance = compliance
        if label is not None:
            self.label = label
        self.standing = standing(compliance)
        self._sync_classes()
        self.refresh()

    def _sync_classes(self) -> None:
        for each in GaugeStanding:
            self.set_class(each is self.standing, f"-{each.value}")

    def summary(self) -> str:
        """The reading as one plain line, for tests and screen readers."""
        c = self.compliance
        arrow = f"{c.trend.arrow} {TREND_WORDS[c.trend]}"
        return (
            f"{printable(self.label)} {self.standing.symbol} {self.standing.label} "
            f"{_figure(c.percent).strip()} {arrow} ({c.met}/{c.decided}, "
            f"target {c.target_percent:g}%)"
        )

    def render(self) -> RenderableType:
        c, status = self.compliance, self.standing
        status_style = self.get_component_rich_style(f"compliance-gauge--{status.value}")
        detail = self.get_component_rich_style("compliance-gauge--detail")
        head = Text.assemble(
            (f"{status.symbol} ", status_style),
            (printable(self.label), self.get_component_rich_style("compliance-gauge--label")),
            (f" {status.label}", status_style),
            (f" {c.met}/{c.decided}", detail),
            f" {c.trend.arrow} {TREND_WORDS[c.trend]}",
            overflow="ellipsis",
            no_wrap=True,
        )
        figure = f" {_figure(c.percent)}"
        width = max(MIN_BAR_WIDTH, self.content_size.width - len(figure))
        share = 0.0 if c.percent is None else min(max(c.percent, 0.0), 100.0)
        filled = round(width * share / 100)
        mark = min(width - 1, round(width * c.target_percent / 100))
        empty_style = self.get_component_rich_style("compliance-gauge--empty")
        bar = Text(no_wrap=True)
        for cell in range(width):
            if cell == mark:
                bar.append(TARGET_MARK, self.get_component_rich_style("compliance-gauge--target"))
            elif cell < filled:
                bar.append(FILLED, status_style)
            else:
                bar.append(EMPTY, empty_style)
        bar.append(figure, status_style)
        return Group(head, bar)
