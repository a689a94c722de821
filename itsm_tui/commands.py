"""Command palette providers: go to an incident, a change or a problem by number, new
incident, new change, new problem, the modes, saved views and themes. Titles in hits are user
text, so they are shown as plain Content."""

from __future__ import annotations

import asyncio
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.markup import escape

from itsm_tui.display import printable
from itsm_tui.screens.context import desk
from itsm_tui.services import change_history, problems, queue, saved_views

MODES = (
    ("incidents", "Incidents"),
    ("changes", "Changes"),
    ("problems", "Problems"),
    ("sla", "SLA"),
)
THEMES = ("textual-dark", "textual-light", "ansi-dark", "ansi-light")


class IncidentNumberProvider(Provider):
    """Type a number, or part of one, to jump to that incident."""

    async def search(self, query: str) -> Hits:
        fragment = query.strip()
        digits = fragment.upper().removeprefix("INC")
        if not digits or not digits.isdigit():
            return
        app = desk(self.app)

        def lookup() -> list[queue.QueueRow]:
            with app.database.session() as session:
                return queue.find_by_number(session, fragment)

        for rank, row in enumerate(await asyncio.to_thread(lookup)):
            display = Content.assemble((row.number, "bold"), "  ", Content(printable(row.title)))
            yield Hit(
                1.0 - rank / 100,
                display,
                partial(app.open_incident, row.number),
                text=f"{row.number} {printable(row.title)}",
            )


class ChangeNumberProvider(Provider):
    """Type a change number, or its digits, to open that change."""

    async def search(self, query: str) -> Hits:
        fragment = query.strip()
        digits = fragment.upper().removeprefix("CHG")
        if not digits or not digits.isdigit():
            return
        app = self.app
        opener = getattr(app, "open_change", None)
        if opener is None:
            return

        def lookup() -> list[change_history.ChangeHit]:
            with desk(app).database.session() as session:
                return change_history.find_changes(session, fragment)

        for rank, hit in enumerate(await asyncio.to_thread(lookup)):
            display = Content.assemble(
                (hit.number, "bold"), "  ", Content(printable(hit.title)), f"  ({hit.state})"
            )
            yield Hit(
                0.99 - rank / 100,
                display,
                partial(opener, hit.number),
                text=f"{hit.number} {printable(hit.title)}",
            )


class ProblemNumberProvider(Provider):
    """Type a problem number, or its digits, to open that problem."""

    LIMIT = 10

    async def search(self, query: str) -> Hits:
        fragment = query.strip().upper()
        digits = fragment.removeprefix("PRB")
        if not digits or not digits.isdigit():
            return
        app = self.app
        opener = getattr(app, "open_problem", None)
        if opener is None:
            return

        def lookup() -> list[problems.ProblemRecord]:
            with desk(app).database.session() as session:
                found = problems.list_problems(session, text=digits)
            return [r for r in found if digits in r.number][: self.LIMIT]

        for rank, record in enumerate(await asyncio.to_thread(lookup)):
            display = Content.assemble(
                (record.number, "bold"),
                "  ",
                Content(printable(record.title)),
                f"  ({record.state.replace('_', ' ')})",
            )
            yield Hit(
                0.98 - rank / 100,
                display,
                partial(opener, record.number),
                text=f"{record.number} {printable(record.title)}",
            )


class DeskCommandsProvider(Provider):
    """The desk's fixed commands plus the user's saved views."""

    def _commands(self) -> list[tuple[str, object, str]]:
        app = self.app
        commands: list[tuple[str, object, str]] = [
            ("New incident", partial(desk(app).open_incident_form, None), "Log a new incident"),
            ("Inbox", getattr(app, "action_inbox", None), "SLA escalations and mentions"),
            (
                "Database",
                getattr(app, "toggle_database_detail", None),
                "Show or hide the full database location under the header",
            ),
        ]
        new_change = getattr(app, "open_change_form", None)
        if new_change is not None:
            commands.append(("New change", partial(new_change, None), "Request a change"))
        new_problem = getattr(app, "open_problem_form", None)
        if new_problem is not None:
            commands.append(("New problem", partial(new_problem, None), "Record a problem"))
        sla_policies = getattr(app, "open_sla_policies", None)
        if sla_policies is not None:
            commands.append(
                ("SLA policies", sla_policies, "SLA policies and calendars, with a what-if")
            )
        reports = getattr(app, "open_reports", None)
        if reports is not None:
            commands.append(("Reports", reports, "Figures with drill-down and export"))
        # On an incident's detail: link it to the change that caused it (also key L there).
        link = getattr(self.screen, "action_link_change", None)
        if link is not None:
            commands.append(("Caused by change…", link, "Link this incident to a change"))
        for mode, label in MODES:
            commands.append((f"Go to {label}", partial(app.switch_mode, mode), f"Mode {label}"))
        for theme in THEMES:
            commands.append(
                (f"Theme: {theme}", partial(setattr, app, "theme", theme), "Switch theme")
            )
        return commands

    def _views(self) -> list[saved_views.SavedViewRecord]:
        app = desk(self.app)
        with app.database.session() as session:
            return saved_views.list_views(session, app.actor)

    def _view_commands(
        self, views: list[saved_views.SavedViewRecord]
    ) -> list[tuple[str, object, str]]:
        apply = getattr(self.app, "apply_saved_view", None)
        if apply is None:
            return []
        return [
            (f"View: {printable(view.name)}", partial(apply, view), " · ".join(view.filter.chips()))
            for view in views
        ]

    async def discover(self) -> Hits:
        views = await asyncio.to_thread(self._views)
        for name, command, help_text in self._commands() + self._view_commands(views):
            if command is not None:
                yield DiscoveryHit(Content(name), command, text=name, help=_escaped(help_text))  # type: ignore[arg-type]

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        views = await asyncio.to_thread(self._views)
        for name, command, help_text in self._commands() + self._view_commands(views):
            if command is None:
                continue
            score = matcher.match(name)
            if score > 0:
                # highlight() parses markup, and a saved view's name is user text.
                name = escape(name)
                yield Hit(
                    score, matcher.highlight(name), command, text=name, help=_escaped(help_text)
                )  # type: ignore[arg-type]


def _escaped(text: str) -> str:
    """Hit help is parsed as markup; a saved view's filter text is user text."""
    return escape(printable(text))
