"""The Textual application. Embeddable: `ITSMApp(database_url=..., username=..., clock=...)`.

The app owns what every screen shares: the database, the acting user, the clock, the change
feed (polled every quarter second, and on PostgreSQL woken at once by LISTEN/NOTIFY, then
published to screens as `feed_changed`), the state of the database link (`link_changed`:
"reconnecting…" in every header while it is down), the inbox count (`inbox_changed`), the
modes (1-4), help, the inbox and the command palette. It also follows its own user: when the
feed reports a user-record change it re-reads them (`actors.still_active`); a new role is
taken at once, and a deactivated (or removed) user's desk says so and closes.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from sqlalchemy.exc import SQLAlchemyError
from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.signal import Signal
from textual.worker import Worker, WorkerState, get_current_worker

from itsm_tui import low_bandwidth as low_bandwidth_settings
from itsm_tui.clock import Clock, SystemClock
from itsm_tui.commands import (
    ChangeNumberProvider,
    DeskCommandsProvider,
    IncidentNumberProvider,
    ProblemNumberProvider,
)
from itsm_tui.domain.change_approvals import CabPolicy
from itsm_tui.remote.remote_safe_app import RemoteSafeApp
from itsm_tui.screens.account_closed import ACCOUNT_CLOSED, AccountClosedScreen
from itsm_tui.screens.change_calendar import ChangeCalendarScreen
from itsm_tui.screens.incident_queue import IncidentQueueScreen
from itsm_tui.screens.problem_board import ProblemBoardScreen
from itsm_tui.screens.sla_dashboard import SlaDashboardScreen
from itsm_tui.services import actors, directory, leases, notifications, saved_views
from itsm_tui.services.errors import PermissionDenied
from itsm_tui.services.queue import QueueFilter
from itsm_tui.services.records import NotificationRecord
from itsm_tui.store.database import Database, open_database
from itsm_tui.store.models import User
from itsm_tui.workers import sla_evaluator
from itsm_tui.workers.feed_health import FeedHealth, LinkStatus
from itsm_tui.workers.feed_listener import POLL_INTERVAL_S, FeedBatch, FeedListener

LISTEN_SLICE_S = 0.5  # how long the listener sleeps between checks that the app still runs
# How long a deactivated user's desk shows why before it exits: long enough to read one line,
# short enough that the whole close stays within a few seconds of the deactivation.
ACCOUNT_CLOSE_S = 2.0


# How a database was chosen, in words for the "Database" command.
DATABASE_SOURCES = {
    "--db": "from --db",
    "ITSM_DATABASE_URL": "from ITSM_DATABASE_URL",
    "config.toml": "from database_url in config.toml",
    "default": "the default: nothing chose another",
    "demo": "the demo desk",
}


class ITSMApp(RemoteSafeApp[None]):
    # All styling lives in tcss files, one per feature, loaded in name order.
    CSS_PATH = sorted(str(path) for path in (Path(__file__).parent / "styles").glob("*.tcss"))
    TITLE = "itsm-tui"
    MODES: ClassVar[dict[str, type[IncidentQueueScreen] | type[ChangeCalendarScreen]]] = {  # type: ignore[assignment]
        "incidents": IncidentQueueScreen,
        "changes": ChangeCalendarScreen,
        "problems": ProblemBoardScreen,
        "sla": SlaDashboardScreen,
    }
    DEFAULT_MODE = "incidents"
    COMMANDS = App.COMMANDS | {
        IncidentNumberProvider,
        ChangeNumberProvider,
        ProblemNumberProvider,
        DeskCommandsProvider,
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "switch_mode('incidents')", "Incidents", show=False),
        Binding("2", "switch_mode('changes')", "Changes", show=False),
        Binding("3", "switch_mode('problems')", "Problems", show=False),
        Binding("4", "switch_mode('sla')", "SLA", show=False),
        Binding("question_mark,f1", "help", "Help"),
        Binding("i", "inbox", "Inbox"),
        Binding("ctrl+n", "new_incident", "New incident", show=False),
        Binding("q", "quit_desk", "Quit"),
    ]

    def __init__(
        self,
        *,
        database_url: str,
        username: str,
        clock: Clock | None = None,
        run_evaluator: bool = True,
        evaluator_interval_s: float = sla_evaluator.DEFAULT_INTERVAL_S,
        auto_close_days: int = sla_evaluator.DEFAULT_AUTO_CLOSE_DAYS,
        feed_interval_s: float = POLL_INTERVAL_S,
        timezone: str = "UTC",
        cab_policy: CabPolicy | None = None,
        low_bandwidth: bool = False,
        database_source: str = "--db",
    ) -> None:
        super().__init__()
        # Slow links (SSH, a browser tab): no animations, ANSI colours, a slower header clock.
        self.low_bandwidth = low_bandwidth
        if low_bandwidth:
            low_bandwidth_settings.apply(self)
        # The desk's home zone (calendar days) and CAB quorums come from Settings.
        self.timezone = timezone
        self.cab_policy: CabPolicy = cab_policy or CabPolicy()
        self.clock: Clock = clock or SystemClock()
        self.database: Database = open_database(database_url)
        with self.database.session() as session:
            self.actor: User = directory.resolve_actor(session, self.clock, username)
            self.unread = notifications.unread_count(session, self.actor)
        self.sub_title = f"{self.actor.username} ({self.actor.role}) · {self.database.label}"
        self.run_evaluator = run_evaluator
        self.evaluator_interval_s = evaluator_interval_s
        self.auto_close_days = auto_close_days
        self.feed_interval_s = feed_interval_s
        self._evaluator_holder = sla_evaluator.holder_name()
        self.feed_changed: Signal[FeedBatch] = Signal(self, "feed-changed")
        self.inbox_changed: Signal[int] = Signal(self, "inbox-changed")
        self.link_changed: Signal[LinkStatus] = Signal(self, "link-changed")
        # The acting user re-read after a change to their record (a new role): headers redraw.
        self.actor_changed: Signal[User] = Signal(self, "actor-changed")
        self.account_closed = False  # set once the user lost access; the desk is closing
        self.link_status = LinkStatus()
        # How the database was chosen ("--db", "ITSM_DATABASE_URL", "config.toml", "default",
        # "demo"); the palette's "Database" shows it with the untruncated location.
        self.database_source = database_source
        self.database_shown: Signal[str] = Signal(self, "database-shown")
        self.database_detail = ""  # the header's second line while shown, else empty
        self._feed = FeedListener(self.database)
        self._feed_lock = threading.Lock()
        self._feed_health = FeedHealth()

    def on_mount(self) -> None:
        self.set_interval(self.feed_interval_s, self._poll_tick)
        if self._feed.pushes:
            self.listen_feed()
        if self.run_evaluator:
            # The desk keeps SLAs moving when no `itsm worker` runs: whoever holds the lease
            # evaluates, everyone else's pass returns at once.
            self.evaluate_slas()
            self.set_interval(self.evaluator_interval_s, self._evaluate_tick)

    # The app's timers and the hand-backs from its workers can land while the app tears down:
    # Textual stops an app's timers only after it has closed every screen, and a thread
    # worker's result arrives in its own task. Once teardown has begun they do nothing (no
    # new worker, connection or toast).

    def _poll_tick(self) -> None:
        if self.is_running and not self.account_closed:
            self.poll_feed()

    def _evaluate_tick(self) -> None:
        if self.is_running:
            self.evaluate_slas()

    # ------------------------------------------------------------------ background

    @work(thread=True, exclusive=True, group="sla-evaluator", exit_on_error=False)
    def evaluate_slas(self) -> None:
        sla_evaluator.run_once(
            self.database,
            self.clock,
            holder=self._evaluator_holder,
            interval_s=self.evaluator_interval_s,
            auto_close_days=self.auto_close_days,
        )

    @work(thread=True, group="feed", exit_on_error=False)
    def poll_feed(self) -> None:
        """One read of the change feed; a batch goes to every subscribed screen. A poll still
        running when the next is due makes that one a no-op (polls never overlap); while the
        database is unreachable, polls back off (see `FeedHealth`)."""
        if self._feed_health.may_try():
            self._read_feed(wait_for_lock=False)

    @work(thread=True, group="feed-listen", exit_on_error=False)
    def listen_feed(self) -> None:
        """PostgreSQL only: sleep on LISTEN and read the feed the moment a writer commits, so
        every desk agrees within milliseconds; the quarter-second poll stays as the net."""
        from psycopg import Error as PsycopgError

        from itsm_tui.store.feed_notify import FeedNotifications

        worker = get_current_worker()
        notifications = FeedNotifications(self.database.url)
        try:
            while not worker.is_cancelled:
                if not self._feed_health.may_try():
                    time.sleep(0.1)
                    continue
                try:
                    woken = notifications.wait(LISTEN_SLICE_S)
                except (PsycopgError, OSError) as error:
                    self._link_failed(error)
                    continue
                if woken:
                    self._read_feed(wait_for_lock=True)
        finally:
            notifications.close()

    def _read_feed(self, *, wait_for_lock: bool) -> None:
        if not self._feed_lock.acquire(blocking=wait_for_lock):
            return
        try:
            batch = self._feed.poll()
            unread = None
            current: User | None = self.actor
            if batch is not None:
                with self.database.session() as session:
                    # Users are among the "other" records: one primary-key read per such
                    # batch (at most four a second) tells whether this user still has access.
                    if batch.other:
                        current = actors.still_active(session, self.actor)
                    unread = notifications.unread_count(session, self.actor)
        except (SQLAlchemyError, OSError) as error:  # shown as "reconnecting", retried
            self._link_failed(error)
            return
        finally:
            self._feed_lock.release()
        if self._feed_health.succeeded():
            self.call_from_thread(self._link_restored)
        if current is None:
            self.call_from_thread(self._close_account)
            return
        if current.role != self.actor.role:
            self.call_from_thread(self._take_actor, current)
        if batch is not None and unread is not None:
            self.call_from_thread(self._publish, batch, unread)

    def _take_actor(self, current: User) -> None:
        """The user's role changed: what the desk shows and offers follows it now (every
        write re-checks the role in its own transaction regardless)."""
        if not self.is_running or self.account_closed:
            return
        self.actor = current
        self.sub_title = f"{current.username} ({current.role}) · {self.database.label}"
        self.actor_changed.publish(current)
        self.notify(f"Your role is now {current.role}.", severity="warning", markup=False)

    def _close_account(self) -> None:
        """The user was deactivated or removed: cover the desk with the reason, take no more
        input or feed batches, and exit with the permission-denied status."""
        if not self.is_running or self.account_closed:
            return
        self.account_closed = True
        self.push_screen(AccountClosedScreen())
        self.set_timer(ACCOUNT_CLOSE_S, self._exit_closed)

    def _exit_closed(self) -> None:
        self.exit(return_code=PermissionDenied.exit_code, message=Text(ACCOUNT_CLOSED))

    def _link_failed(self, error: BaseException) -> None:
        status = self._feed_health.failed(error)
        self.call_from_thread(self._show_link, status)

    def _show_link(self, status: LinkStatus) -> None:
        if not self.is_running:
            return
        if not self.link_status.down:
            self.notify(
                f"Lost the database ({status.reason}); reconnecting. Saves fail until it is "
                "back, and forms keep what you typed.",
                severity="warning",
                markup=False,
            )
        self.link_status = status
        self.link_changed.publish(status)

    def _link_restored(self) -> None:
        if not self.is_running:
            return
        self.link_status = LinkStatus()
        self.link_changed.publish(self.link_status)
        self.notify("Reconnected: live updates resumed.", severity="information")
        # Whatever happened while we were away is in the feed; screens also re-read now.
        self.feed_changed.publish(FeedBatch(frozenset(), other=True))
        self.refresh_unread()

    def _publish(self, batch: FeedBatch, unread: int) -> None:
        if not self.is_running or self.account_closed:
            return
        self.feed_changed.publish(batch)
        self._set_unread(unread)

    def _set_unread(self, unread: int) -> None:
        if not self.is_running:
            return
        if unread != self.unread:
            self.unread = unread
            self.inbox_changed.publish(unread)

    @work(thread=True, group="mark-read", exit_on_error=False)
    def mark_read(self, ids: list[int]) -> None:
        with self.database.session() as session:
            notifications.mark_read(session, self.actor, self.clock.now(), ids)
        self.call_from_thread(self.refresh_unread)

    @work(thread=True, exclusive=True, group="unread", exit_on_error=False)
    def refresh_unread(self) -> None:
        with self.database.session() as session:
            unread = notifications.unread_count(session, self.actor)
        self.call_from_thread(self._set_unread, unread)

    def on_worker_state_changed(self, event: Worker[object].StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.group in ("feed", "feed-listen"):
            assert event.worker.error is not None
            # only a bug gets here (failures are caught in the workers); keep trying
            self._show_link(self._feed_health.failed(event.worker.error))

    # ------------------------------------------------------------------ navigation

    def open_incident(self, number: str) -> None:
        from itsm_tui.screens.incident_detail import IncidentDetailScreen

        self.push_screen(IncidentDetailScreen(number))

    def open_incident_form(self, number: str | None = None) -> None:
        from itsm_tui.screens.incident_form import IncidentFormScreen

        def saved(result: str | None) -> None:
            if result is not None and number is None:
                self.open_incident(result)  # a new incident: straight to its detail

        self.push_screen(IncidentFormScreen(number), saved)

    def open_change(self, number: str) -> None:
        from itsm_tui.screens.change_detail import ChangeDetailScreen

        self.push_screen(ChangeDetailScreen(number))

    def open_change_form(self, number: str | None = None) -> None:
        from itsm_tui.screens.change_form import ChangeFormScreen

        def saved(result: str | None) -> None:
            if result is not None and number is None:
                self.open_change(result)  # a new change: straight to its detail

        self.push_screen(ChangeFormScreen(number), saved)

    def open_problem(self, number: str) -> None:
        from itsm_tui.screens.problem_detail import ProblemDetailScreen

        self.push_screen(ProblemDetailScreen(number))

    def open_problem_form(self, number: str | None = None) -> None:
        from itsm_tui.screens.problem_form import ProblemFormScreen

        def saved(result: str | None) -> None:
            if result is not None and number is None:
                self.open_problem(result)  # a new problem: straight to its detail

        self.push_screen(ProblemFormScreen(number), saved)

    def open_sla_policies(self) -> None:
        """The SLA policy and calendar editor with its what-if (read-only for non-admins)."""
        from itsm_tui.screens.sla_policies import SlaPoliciesScreen

        if not isinstance(self.screen, SlaPoliciesScreen):
            self.push_screen(SlaPoliciesScreen())

    def open_reports(self) -> None:
        from itsm_tui.screens.reports import ReportsScreen

        if not isinstance(self.screen, ReportsScreen):
            self.push_screen(ReportsScreen())

    def toggle_database_detail(self) -> None:
        """Show (or hide again) where the data lives, in full, under every screen's header:
        the one-line header shortens the location to fit 80 columns."""
        if self.database_detail:
            self.database_detail = ""
        else:
            chosen = DATABASE_SOURCES.get(self.database_source, self.database_source)
            self.database_detail = f"Database: {self.database.location} ({chosen})"
        self.database_shown.publish(self.database_detail)

    def open_caller_incidents(self, caller: str) -> None:
        self._show_queue(QueueFilter(states=(), caller=caller))

    def apply_saved_view(self, view: saved_views.SavedViewRecord) -> None:
        self._show_queue(view.filter)

    def _show_queue(self, query: QueueFilter) -> None:
        from itsm_tui.screens.incident_form import IncidentFormScreen

        self.switch_mode("incidents")
        if any(isinstance(screen, IncidentFormScreen) for screen in self.screen_stack):
            # Never throw away typing: the form has to be saved or cancelled first.
            self.notify("Save or cancel the incident form first.", severity="warning")
            return
        while len(self.screen_stack) > 1:
            self.pop_screen()
        screen = self.screen
        if isinstance(screen, IncidentQueueScreen):
            screen.apply_filter(query)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A bare `q` quits only from a mode's top screen: in a form, dialog or detail view it
        would throw away what someone was doing (ctrl+q still quits from anywhere)."""
        if self.account_closed:  # nothing but quitting while the closing notice shows
            return action == "quit"
        if action == "quit_desk":
            return type(self.screen) in self.MODES.values()
        # A dialog is answered or cancelled before the desk moves on.
        moves = ("switch_mode", "inbox", "new_incident")
        return not (action in moves and isinstance(self.screen, ModalScreen))

    async def action_quit_desk(self) -> None:
        await self.action_quit()

    def action_new_incident(self) -> None:
        self.open_incident_form(None)

    def action_help(self) -> None:
        from itsm_tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_inbox(self) -> None:
        from itsm_tui.screens.inbox import InboxScreen

        def chosen(entry: NotificationRecord | None) -> None:
            if entry is None:
                return
            self.mark_read([entry.id])
            if entry.incident:
                self.open_incident(entry.incident)

        if not isinstance(self.screen, InboxScreen):
            self.push_screen(InboxScreen(), chosen)

    def on_unmount(self) -> None:
        if self.run_evaluator:
            with self.database.session() as session:
                leases.release(session, leases.SLA_EVALUATOR, self._evaluator_holder)
        self.database.dispose()
