"""The problem part of the demo: nine problems in every state, the incidents behind them, and
recurring incidents nobody has linked to a problem yet.

Each problem is a short story told through the public services: incidents come in and are
fixed with a workaround, someone opens a problem and links them, the root cause and workaround
get written down (a known error), a change is booked as the fix, the problem is resolved when
that change closed successfully and closed after a quiet week. Later incidents of a known
error are linked as they arrive, so its workaround lands on them as a work note. The fixes are
changes the change calendar already tells (`demo_changes`), plus one raised from a problem
with `change_from_problem` after the first fix was backed out.

Beside them sit clusters of recurring incidents left unlinked for the recurring-incident
detector to find (Outlook crashing at start on one service, disk alerts on one CI) and
one-off incidents it should leave alone (a pair of alike printer calls, below the three a
group needs, and unrelated calls with no service or CI).

Every incident here is resolved or closed by the demo's now, so the open queue is the random
incidents' alone; and all of them were opened inside the demo's 30-day incident window. The
table is hand-written so it reads like a real desk's; the seed varies timings and which
first-line agent took each call. Events are run in time order across records, so no record
gets a stamp earlier than one written before it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from sqlmodel import Session

from itsm_tui.clock import FixedClock
from itsm_tui.domain.enums import HoldReason, IncidentState, ProblemState, ResolutionCode
from itsm_tui.services import changes, incidents, problems
from itsm_tui.services.changes import ChangeRecord
from itsm_tui.services.demo_changes import Slot, on
from itsm_tui.services.validation import validate
from itsm_tui.store.models import User

SEED_OFFSET = 6_011  # its own generator: the random incidents and the changes stay as they were
OLDEST_DAYS = 29.5  # incidents stay inside the demo's 30-day incident window
FIRST_LINE = ("alex", "bea")  # Service Desk agents who log and work the calls
MONITORING = "Monitoring"  # the caller on alerts raised by monitoring

P = ProblemState


@dataclass(frozen=True)
class Call:
    """One incident: what was reported, on which CI (its service follows) and how the desk
    got the caller going again."""

    title: str
    days_ago: float
    ci: str | None
    category: str
    fix: str  # resolution notes
    service: str | None = None  # for calls with no CI; with a CI the CI's service
    detail: str = ""  # the description; empty: who reported it
    impact: int = 3
    urgency: int = 2
    waits: bool = False  # goes on hold awaiting the problem, resolved with it
    caller: str | None = None  # None: one of the callers


@dataclass(frozen=True)
class Refix:
    """A second fix change raised from the problem (`change_from_problem`), still a request."""

    days_ago: float
    slot: Slot
    steps: str
    backout: str
    tests: str


@dataclass(frozen=True)
class ProblemStory:
    title: str
    description: str
    service: str
    cis: tuple[str, ...]
    opener: str
    manager: str  # moves it through its states
    assignee: str  # investigates: writes the root cause, links the fix
    group: str
    impact: int
    urgency: int
    opened: float  # days ago
    final: ProblemState
    calls: tuple[Call, ...]  # those opened before the problem are linked when it is opened
    analysed: float | None = None  # days ago the root cause and/or workaround were written
    root_cause: str = ""
    workaround: str = ""
    fix: str = ""  # title of the demo change booked as the fix
    refix: Refix | None = None
    resolution: str = ""  # "{fix}" is replaced by the fix change's number
    cancelled: float | None = None  # days ago; cancelled from assess
    cancel_reason: str = ""


# ---------------------------------------------------------------------------- the stories

STORIES: list[ProblemStory] = [
    ProblemStory(
        "CRM account search times out",
        "Searching accounts by name in CRM spins and then fails with a timeout, several times "
        "a day since the January data import. Every incident so far was closed when a retry "
        "worked, so nobody looked further.",
        "CRM", ("crm-db-01", "crm-app-01"), "sam", "sam", "eli", "Database", 2, 2, 27.3, P.CLOSED,
        calls=(
            Call("CRM account search times out", 29.2, "crm-app-01", "software",
                 "Search worked on a retry; showed the caller how to search by account number."),
            Call("Searching customers in CRM fails with a timeout error", 28.4, "crm-app-02",
                 "software", "Worked again after a few minutes; caller searched by e-mail."),
            Call("CRM search very slow and then errors for the sales team", 27.6, "crm-api-01",
                 "software", "Search recovered on its own; linked to the open investigation.",
                 impact=2),
            Call("Account search in CRM timing out again", 22.5, "crm-app-01", "software",
                 "Applied the known-error workaround: search by account number."),
        ),
        analysed=25.0,
        root_cause="Index bloat on the accounts and contacts tables of crm-db-01 after the "
        "January bulk import: the name index grew to four times its natural size, the planner "
        "falls back to sequential scans and name searches pass the 30-second API timeout.",
        workaround="Search by account number or e-mail address, which use the primary key. "
        "When a name search is needed, the Database team can run VACUUM ANALYZE on the "
        "accounts table (five minutes, no outage).",
        fix="Rebuild bloated indexes on crm-db-01",
        resolution="Indexes rebuilt under {fix}; name searches return in under a second and "
        "no timeouts were reported in the week after.",
    ),
    ProblemStory(
        "VPN logins fail while a hung gateway stays in the pool",
        "Remote staff intermittently cannot log in to the VPN: the login page times out, and "
        "a retry a minute later usually works. Happens a few times a month, each time until "
        "someone restarts a gateway.",
        "VPN", ("vpn-lb-01", "vpn-gw-01"), "dev", "sofia", "dev", "Network", 2, 1, 19.3,
        P.RESOLVED,
        calls=(
            Call("Cannot connect to VPN, login page times out", 28.3, "vpn-lb-01", "network",
                 "Retried after restarting the gateway portal; connected."),
            Call("VPN login hangs for remote staff", 27.9, "vpn-gw-01", "network",
                 "Network restarted the portal service on vpn-gw-01; logins work.", impact=2),
            Call("VPN connection times out at the login step", 19.6, "vpn-gw-01", "network",
                 "Logged in on the second attempt."),
            Call("VPN login fails for half of the call centre", 12.4, "vpn-gw-01", "network",
                 "Applied the known-error workaround; Network restarted the hung gateway.",
                 impact=2, urgency=1),
            Call("VPN login fails intermittently from home", 8.5, "vpn-lb-01", "network",
                 "", waits=True),
        ),
        analysed=16.5,
        root_cause="vpn-lb-01 checks the gateways with a plain TCP connect on port 443, which a "
        "gateway with a hung login service still answers; it stays in the pool and every "
        "other login lands on it until someone restarts it.",
        workaround="Retry the login (the next attempt usually reaches the healthy gateway); "
        "the Network team restarts the portal service on the hung gateway, which clears it "
        "for everyone.",
        fix="Tighten health checks on vpn-lb-01",
        resolution="The pool now probes the HTTPS login page every 5 seconds ({fix}); a hung "
        "gateway leaves the pool within 15 seconds. No failed logins since.",
    ),
    ProblemStory(
        "fs-nas-02 controller crashes and file shares drop",
        "Every two weeks or so the shares served by fs-nas-02 vanish for up to ten minutes "
        "and come back by themselves. The NAS logs show a controller failover each time.",
        "File Storage", ("fs-nas-02",), "eli", "sofia", "eli", "Database", 2, 2, 15.3,
        P.FIX_IN_PROGRESS,
        calls=(
            Call("Shared drive S: unavailable for the finance team", 22.4, "fs-nas-02",
                 "hardware", "Drive came back after ten minutes; reconnected it.", impact=2),
            Call("Network drives disconnected for about ten minutes", 15.7, "fs-nas-02",
                 "hardware", "Shares back after the controller failover; users reconnected."),
            Call("S: and P: drives gone again", 6.3, "fs-nas-02", "hardware",
                 "Applied the known-error workaround: reconnected the drives after failover."),
        ),
        analysed=12.0,
        root_cause="Controller firmware 7.2 leaks memory in its SMB3 multichannel code: after "
        "about two weeks the active controller panics and fails over, and shares mounted "
        "through it drop until the clients reconnect. The vendor found it in our support "
        "bundle.",
        workaround="Shares come back by themselves after the failover; reconnect the drive or "
        "sign out and in. The Database team fails the controllers over by hand at night every "
        "ten days to reset the leak until the firmware is upgraded.",
        fix="Firmware upgrade on fs-nas-02",
    ),
    ProblemStory(
        "Multi-currency invoice totals are off by a cent",
        "Invoices in a currency other than the company's sometimes total one or two cents "
        "more or less than the sum customers work out; customers dispute them.",
        "ERP", ("erp-app-01",), "gus", "sam", "gus", "Database", 2, 2, 27.5,
        P.FIX_IN_PROGRESS,
        calls=(
            Call("Invoice totals off by one cent on USD invoices", 29.3, "erp-app-01",
                 "software", "Issued a one-cent credit note; raised with the ERP team."),
            Call("Customer disputes invoice total (EUR invoice, rounding)", 27.8, "erp-app-01",
                 "software", "Credit note issued from the rounding template."),
            Call("Rounding difference on a multi-currency invoice again", 10.2, "erp-app-01",
                 "software", "Applied the known-error workaround: reposted in the document "
                 "currency."),
        ),
        analysed=26.2,
        root_cause="ERP 11.4.1 converts each invoice line to the company currency and rounds "
        "it before summing, instead of converting the document total; invoices with many "
        "lines drift by a cent or two. Vendor defect ERP-48213.",
        workaround="Post multi-currency invoices in the document currency and let the nightly "
        "revaluation convert them; for an invoice already sent, issue a one-cent credit note "
        "from the rounding template.",
        fix="Apply ERP vendor hotfix 11.4.2",
        refix=Refix(
            19.5,
            on(12, "20:00", 2),
            "Apply vendor hotfix 11.4.3 (ERP-48213 and the export fix) in staging first, run "
            "the invoice and export checks, then apply it to erp-app-01.",
            "Remove the hotfix with the vendor's uninstaller and restart the ERP app service.",
            "The finance team's invoice and export checks, in staging and then live.",
        ),
    ),
    ProblemStory(
        "Mail to some external domains is delayed by up to an hour",
        "Since mid-February, mail to some external domains sits in the deferred queue of "
        "mail-relay-01 for 20 to 60 minutes before it goes. Internal mail is not affected.",
        "Email", ("mail-relay-01",), "fay", "sam", "fay", "Applications", 2, 2, 11.1,
        P.ROOT_CAUSE_ANALYSIS,
        calls=(
            Call("External emails arriving an hour late", 13.8, "mail-relay-01", "software",
                 "Flushed the deferred queue on mail-relay-01; delivered."),
            Call("Customer says our emails reach them late", 11.4, "mail-relay-01", "software",
                 "Messages were delivered after 40 minutes; nothing lost."),
            Call("Emails to a supplier delayed all morning", 6.0, "mail-relay-01", "software",
                 "Flushed the deferred queue by hand; delivered."),
        ),
        analysed=9.0,
        workaround="Nothing is lost: deferred mail goes out on the next retry. For urgent "
        "mail, the Applications team can flush the deferred queue on mail-relay-01 by hand.",
    ),
    ProblemStory(
        "ERP month-end reports time out",
        "Finance's month-end reports on erp-report-01 run past the ten-minute limit and fail "
        "since the February close. Run as overnight jobs they finish.",
        "ERP", ("erp-report-01",), "gus", "sam", "gus", "Database", 2, 3, 2.6, P.ASSESS,
        calls=(
            Call("Month-end P&L report times out in ERP", 3.2, "erp-report-01", "software",
                 "Scheduled the report as an overnight job; the caller has it now."),
            Call("ERP consolidation report fails with a timeout", 2.9, "erp-report-01",
                 "software", "Ran it as an overnight job."),
        ),
    ),
    ProblemStory(
        "Bank rejects some payroll SFTP uploads",
        "About one upload in five to the bank's SFTP server is refused at the transfer step "
        "and works on a retry. Nobody knows why yet.",
        "Payroll", ("payroll-sftp-01",), "gus", "sofia", "gus", "Applications", 2, 2, 0.7,
        P.NEW,
        calls=(
            Call("Payroll bank upload rejected, retry worked", 1.6, "payroll-sftp-01",
                 "software", "Retried the upload; the bank confirmed receipt."),
            Call("Bank SFTP upload failed twice this morning", 0.9, "payroll-sftp-01",
                 "software", "Third attempt went through; bank confirmed.", impact=2),
        ),
    ),
    ProblemStory(
        "Slow file share access from the Leeds office",
        "Opening files on the shares from the Leeds office takes minutes since last week.",
        "File Storage", ("fs-dfs-01",), "bea", "sofia", "eli", "Database", 3, 2, 20.6,
        P.CANCELLED,
        calls=(
            Call("Leeds office: file shares very slow", 21.0, "fs-dfs-01", "network",
                 "Carrier ticket raised for the Leeds WAN link; speeds normal again."),
        ),
        cancelled=18.4,
        cancel_reason="Not a problem on our side: the carrier's misconfigured QoS saturated "
        "the Leeds WAN link. The carrier fixed it under their own ticket and the shares are "
        "fast again.",
    ),
    ProblemStory(
        "Wi-Fi drops when roaming between HQ access points",
        "Laptops lose the Wi-Fi for 5 to 20 seconds when their users walk between meeting "
        "rooms at HQ; Teams calls drop. Staying in one room, nothing happens.",
        "Wi-Fi", ("wifi-ctrl-01", "wifi-ap-hq-1", "wifi-ap-hq-2"), "chen", "sofia", "chen",
        "Network", 3, 2, 15.5, P.FIX_IN_PROGRESS,
        calls=(
            Call("Wi-Fi drops when walking between meeting rooms", 17.5, "wifi-ap-hq-1",
                 "network", "Reconnected; could not reproduce at the desk."),
            Call("Laptop loses Wi-Fi on the 3rd floor every few minutes", 16.2, "wifi-ap-hq-2",
                 "network", "Reconnected; updated the Wi-Fi driver."),
            Call("Teams calls drop when moving around HQ", 15.8, "wifi-ap-hq-1", "network",
                 "Caller reconnected; collected the controller logs for Network."),
            Call("Wi-Fi disconnects in the HQ corridor", 4.1, "wifi-ap-hq-2", "network",
                 "Applied the known-error workaround: fast roaming off in the adapter."),
            Call("Teams call dropped walking to the kitchen", 1.2, "wifi-ap-hq-1", "network",
                 "Applied the known-error workaround: fast roaming off in the adapter."),
        ),
        analysed=12.3,
        root_cause="Controller firmware 10.4.2 mishandles 802.11r fast roaming for laptops "
        "with the Intel AX211 driver: the re-association is refused and the laptop falls "
        "back to a full reconnect. Vendor bug, fixed in 10.5.",
        workaround="Turn off 'Fast roaming' in the Wi-Fi adapter's advanced settings (Intel "
        "AX211), or use the HQ-Guest network while moving between rooms.",
        fix="Upgrade wifi-ctrl-01 to 10.5 and renew support",
    ),
]  # fmt: skip

# Recurring incidents nobody has linked to a problem: the detector's to find.
OUTLOOK_CRASHES: tuple[Call, ...] = tuple(
    Call(title, days, None, "software", fix, service="Email")
    for title, days, fix in (
        ("Outlook crashes on start", 19.3,
         "Started Outlook in safe mode and disabled the CRM add-in; it starts again."),
        ("Outlook keeps crashing on startup", 14.6,
         "Ran an Office quick repair; Outlook starts."),
        ("Outlook crashed at startup again", 9.8,
         "Disabled the CRM add-in; Outlook starts. Caller misses the CRM button."),
        ("Outlook crashes when starting after update", 5.2,
         "Office repair and the CRM add-in off; Outlook starts."),
        ("outlook crash on startup", 1.7,
         "Safe mode, CRM add-in disabled; works."),
    )
)  # fmt: skip
DISK_ALERTS: tuple[Call, ...] = tuple(
    Call(title, days, "mail-db-01", "hardware", fix, caller=MONITORING,
         detail="Raised by monitoring: the transaction log volume passed its threshold.")
    for title, days, fix in (
        ("mail-db-01 log volume 92% full", 23.1,
         "Took a log backup and truncated the logs; 45% free."),
        ("Disk space alert: mail-db-01 log volume", 16.4,
         "Truncated the transaction logs after a full backup; 40% free."),
        ("Log volume on mail-db-01 at 95%", 10.7,
         "Emergency log backup and truncate; 38% free."),
        ("mail-db-01 low disk space on the log volume", 4.9,
         "Truncated the logs again; 41% free."),
        ("Disk almost full on mail-db-01 (log volume)", 0.6,
         "Log backup and truncate; 44% free."),
    )
)  # fmt: skip
# One-offs the detector must leave alone: two alike printer calls (a pair, not a group) and
# unrelated calls with no service or CI.
ONE_OFFS: tuple[Call, ...] = (
    Call("Printer on 2nd floor prints blank pages", 12.3, None, "hardware",
         "Replaced the toner cartridge."),
    Call("Second floor printer printing blank pages", 7.1, None, "hardware",
         "Cleared a jammed sheet behind the toner; prints again."),
    Call("Request a second monitor for the finance team", 9.4, None, "request",
         "Ordered from the hardware catalogue; delivery next week."),
    Call("Desk phone at reception shows no service", 5.8, None, "hardware",
         "Re-seated the phone's network cable."),
    Call("Badge does not open the warehouse door", 3.3, None, "access",
         "Facilities re-enrolled the badge."),
)  # fmt: skip


def story_incident_count() -> int:
    """How many incidents this part adds to the random ones."""
    told = sum(len(story.calls) for story in STORIES)
    return told + len(OUTLOOK_CRASHES) + len(DISK_ALERTS) + len(ONE_OFFS)


# ---------------------------------------------------------------------------- loading


def load_problems(
    session: Session,
    users: Mapping[str, User],
    seed: int,
    now: datetime,
    callers: Sequence[str],
    progress: Callable[[str, int, int], None] | None = None,
) -> None:
    """Every story in STORIES with its incidents, then the unlinked clusters and one-offs;
    `progress` is told ("problems", done, total) as the timeline's events run (see
    `demo.Progress`)."""
    teller = _Teller(session, users, random.Random(seed + SEED_OFFSET), now, callers)
    for story in STORIES:
        teller.problem(story)
    for call in (*OUTLOOK_CRASHES, *DISK_ALERTS, *ONE_OFFS):
        teller.call(call)
    teller.timeline.run(progress)


class _Timeline:
    """Actions at their times, run in time order (ties in the order they were added) with the
    shared clock set to each one's time."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.clock = FixedClock(now)
        self._events: list[tuple[datetime, int, Callable[[], object]]] = []

    def at(self, when: datetime, action: Callable[[], object]) -> datetime:
        when = when.replace(microsecond=0)
        if when >= self.now:
            raise ValueError(f"demo problem event at {when:%Y-%m-%d %H:%M} is not in the past")
        self._events.append((when, len(self._events), action))
        return when

    def run(self, progress: Callable[[str, int, int], None] | None = None) -> None:
        tell = progress or (lambda _stage, _done, _total: None)
        total = len(self._events)
        tell("problems", 0, total)
        ordered = sorted(self._events, key=lambda event: event[:2])
        for done, (when, _order, action) in enumerate(ordered, start=1):
            self.clock.set(when)
            action()
            tell("problems", done, total)


class _Teller:
    """Plans every incident's and problem's steps on one timeline, then runs it."""

    def __init__(
        self,
        session: Session,
        users: Mapping[str, User],
        rng: random.Random,
        now: datetime,
        callers: Sequence[str],
    ) -> None:
        self.session, self.users, self.rng, self.now = session, users, rng, now
        self.callers = callers
        self.timeline = _Timeline(now)
        self.clock = self.timeline.clock
        self.incident_numbers: dict[Call, str] = {}
        self.problem_numbers: dict[str, str] = {}
        self.fixes = {change.title: change for change in changes.list_changes(session)}

    # -------------------------------------------------------------- time

    def ago(self, days: float, jitter_hours: float = 0.0) -> datetime:
        jitter = self.rng.uniform(-jitter_hours, jitter_hours)
        return max(
            self.now - timedelta(days=days, hours=jitter),
            self.now - timedelta(days=OLDEST_DAYS),
        )

    def minutes(self, low: float, high: float) -> timedelta:
        return timedelta(minutes=self.rng.uniform(low, high))

    def hours(self, low: float, high: float) -> timedelta:
        return timedelta(hours=self.rng.uniform(low, high))

    # -------------------------------------------------------------- incidents

    def call(self, call: Call, problem: ProblemStory | None = None) -> None:
        """Plan one incident: logged, taken, linked to `problem` if given (it exists by then),
        then resolved and closed, or left on hold for the problem to resolve."""
        agent = self.users[self.rng.choice(FIRST_LINE)]
        caller = call.caller or self.rng.choice(self.callers)
        at = self.timeline.at
        when = at(self.ago(call.days_ago, jitter_hours=2), partial(self._log, call, agent, caller))
        when = at(when + self.minutes(5, 40), partial(self._take, call, agent))
        if problem is not None:
            when = at(when + self.minutes(5, 30), partial(self._link, call, agent, problem))
        if call.waits:
            at(when + self.minutes(10, 60), partial(self._hold, call, agent))
            return
        when = at(when + self.minutes(30, 300), partial(self._resolve, call, agent))
        closing = when + self.hours(24, 72)
        if closing < self.now - timedelta(hours=1):
            at(closing, partial(self._close, call, agent))

    def _log(self, call: Call, agent: User, caller: str) -> None:
        detail = call.detail or f"{caller} reported it to the desk."
        record = incidents.create_incident(
            self.session,
            agent,
            self.clock,
            validate(
                incidents.IncidentCreate,
                title=call.title,
                description=detail,
                impact=call.impact,
                urgency=call.urgency,
                service=call.service,
                ci=call.ci,
                category=call.category,
                group="Service Desk",
                caller=caller,
            ),
        )
        self.incident_numbers[call] = record.number

    def _take(self, call: Call, agent: User) -> None:
        incidents.update_incident(
            self.session,
            agent,
            self.clock,
            self.incident_numbers[call],
            incidents.IncidentChanges(assignee=agent.username, state=IncidentState.IN_PROGRESS),
            action="assign",
        )

    def _link(self, call: Call, agent: User, problem: ProblemStory) -> None:
        problems.link_incidents(
            self.session,
            agent,
            self.clock,
            self.problem_numbers[problem.title],
            [self.incident_numbers[call]],
        )

    def _hold(self, call: Call, agent: User) -> None:
        incidents.transition(
            self.session,
            agent,
            self.clock,
            self.incident_numbers[call],
            IncidentState.ON_HOLD,
            hold_reason=HoldReason.AWAITING_PROBLEM,
        )

    def _resolve(self, call: Call, agent: User) -> None:
        incidents.transition(
            self.session,
            agent,
            self.clock,
            self.incident_numbers[call],
            IncidentState.RESOLVED,
            resolution_code=ResolutionCode.SOLVED_WORKAROUND,
            resolution_notes=call.fix,
        )

    def _close(self, call: Call, agent: User) -> None:
        incidents.transition(
            self.session, agent, self.clock, self.incident_numbers[call], IncidentState.CLOSED
        )

    # -------------------------------------------------------------- problems

    def problem(self, story: ProblemStory) -> None:
        """Plan a problem's life up to its final state, and the incidents around it."""
        opened = self.ago(story.opened, jitter_hours=1)
        before = [call for call in story.calls if call.days_ago > story.opened]
        for call in story.calls:
            self.call(call, None if call in before else story)
        at = self.timeline.at
        when = at(opened, partial(self._open, story, before))
        if story.final is P.NEW:
            return
        when = at(when + self.hours(1, 6), partial(self._move, story, P.ASSESS))
        if story.cancelled is not None:
            cancel = max(when + self.hours(1, 4), self.ago(story.cancelled, jitter_hours=2))
            at(cancel, partial(self._move, story, P.CANCELLED, reason=story.cancel_reason))
            return
        if story.final is P.ASSESS:
            return
        when = at(when + self.hours(6, 30), partial(self._move, story, P.ROOT_CAUSE_ANALYSIS))
        if story.analysed is not None:
            written = max(when + timedelta(hours=1), self.ago(story.analysed, jitter_hours=2))
            when = at(written, partial(self._analyse, story))
        if story.final is P.ROOT_CAUSE_ANALYSIS:
            return
        when = at(when + self.hours(1, 4), partial(self._move, story, P.FIX_IN_PROGRESS))
        fix = self.fixes[story.fix]
        assert fix.opened_at is not None
        linked = max(when + self.minutes(30, 90), fix.opened_at + self.hours(1, 3))
        when = at(linked, partial(self._set_fix, story, fix.number))
        if story.refix is not None:
            raised = max(when + timedelta(hours=1), self.ago(story.refix.days_ago, 2))
            when = at(raised, partial(self._refix, story, story.refix))
        if story.final is P.FIX_IN_PROGRESS:
            return
        assert fix.closed_at is not None, f"{story.fix} must be closed to resolve {story.title}"
        notes = story.resolution.format(fix=fix.number)
        resolved = max(when + timedelta(hours=1), fix.closed_at + self.hours(2, 8))
        when = at(resolved, partial(self._move, story, P.RESOLVED, resolution_notes=notes))
        if any(call.waits for call in story.calls):
            at(when + self.minutes(10, 30), partial(self._resolve_linked, story))
        if story.final is P.CLOSED:
            at(when + self.hours(24 * 6, 24 * 8), partial(self._move, story, P.CLOSED))

    def _open(self, story: ProblemStory, linked: list[Call]) -> None:
        record = problems.create_problem(
            self.session,
            self.users[story.opener],
            self.clock,
            validate(
                problems.ProblemCreate,
                title=story.title,
                description=story.description,
                service=story.service,
                cis=story.cis,
                impact=story.impact,
                urgency=story.urgency,
                assignee=story.assignee,
                group=story.group,
                incidents=tuple(self.incident_numbers[call] for call in linked),
            ),
        )
        self.problem_numbers[story.title] = record.number

    def _move(self, story: ProblemStory, state: ProblemState, **fields: object) -> None:
        problems.move_problem(
            self.session,
            self.users[story.manager],
            self.clock,
            self.problem_numbers[story.title],
            validate(problems.ProblemMove, state=state, **fields),
        )

    def _update(self, story: ProblemStory, **fields: object) -> None:
        problems.update_problem(
            self.session,
            self.users[story.assignee],
            self.clock,
            self.problem_numbers[story.title],
            validate(problems.ProblemUpdate, **fields),
        )

    def _analyse(self, story: ProblemStory) -> None:
        found = {"root_cause": story.root_cause, "workaround": story.workaround}
        self._update(story, **{name: text for name, text in found.items() if text})

    def _set_fix(self, story: ProblemStory, change: str) -> None:
        self._update(story, fix_change=change)

    def _refix(self, story: ProblemStory, refix: Refix) -> ChangeRecord:
        start, end = refix.slot.window(self.now)
        return problems.change_from_problem(
            self.session,
            self.users[story.assignee],
            self.clock,
            self.problem_numbers[story.title],
            planned_start=start,
            planned_end=end,
            implementation_plan=refix.steps,
            backout_plan=refix.backout,
            test_plan=refix.tests,
        )

    def _resolve_linked(self, story: ProblemStory) -> None:
        problems.resolve_linked_incidents(
            self.session, self.users[story.manager], self.clock, self.problem_numbers[story.title]
        )
