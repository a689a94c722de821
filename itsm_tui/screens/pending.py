"""Modes whose screens arrive with later issues: Problems (issue 6) and the SLA dashboard
(issue 7). Each says so plainly and points at what works today."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from itsm_tui.screens.base import DeskScreen


class PendingModeScreen(DeskScreen[None]):
    MESSAGE = ""

    def compose_body(self) -> ComposeResult:
        yield Static(Text(self.MESSAGE), classes="pending-mode")


class ProblemsScreen(PendingModeScreen):
    SECTION = "Problems"
    MESSAGE = (
        "Problem Management (problem board, known errors, recurring-incident detection) is not "
        "built yet.\n\nPress 1 for the incident queue, ctrl+p for the command palette."
    )


class SlaScreen(PendingModeScreen):
    SECTION = "SLA"
    MESSAGE = (
        "The SLA dashboard is not built yet. Today: the queue's SLA column and the at-risk (w) "
        "and breached (b) filters, each incident's gauges, and `itsm sla report` on the "
        "command line.\n\nPress 1 for the incident queue."
    )
