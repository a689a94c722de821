"""Modes whose screens arrive with later issues: the SLA dashboard (issue 7). It says so
plainly and points at what works today."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from itsm_tui.screens.base import DeskScreen


class PendingModeScreen(DeskScreen[None]):
    MESSAGE = ""

    def compose_body(self) -> ComposeResult:
        yield Static(Text(self.MESSAGE), classes="pending-mode")


class SlaScreen(PendingModeScreen):
    SECTION = "SLA"
    MESSAGE = (
        "The SLA dashboard is not built yet. Today: the queue's SLA column and the at-risk (w) "
        "and breached (b) filters, each incident's gauges, and `itsm sla report` on the "
        "command line.\n\nPress 1 for the incident queue."
    )
