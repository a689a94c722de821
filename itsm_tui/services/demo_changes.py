"""The change part of the demo: about forty changes over the six weeks either side of the demo
clock, two freeze windows, a few conflicts, and the changes incidents get blamed on.

Every change is told as a short story through the public change services with its own stepped
clock (requested, assessed, authorised, voted, scheduled, implemented, reviewed, closed), so
the calendar, approvals, journal and audit trail are real and the rules are exercised: the
conflicts in the demo are the ones the conflict rules find, and the overrides carry reasons.

The table is written by hand so the calendar reads like a real desk's and its conflicts are
deliberate; the seed only varies timings, which CAB member is asked and the review wording.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session

from itsm_tui.clock import FixedClock
from itsm_tui.domain.conflicts import WEEKDAYS
from itsm_tui.domain.enums import (
    ApprovalDecision,
    ChangeOutcome,
    ChangeRisk,
    ChangeState,
    ChangeType,
)
from itsm_tui.services import changes, freeze_windows
from itsm_tui.services.validation import validate
from itsm_tui.store.models import User

CHANGE_MANAGER = "cora"
CAB = ("sam", "sofia")  # supervisors sitting on the CAB
SEED_OFFSET = 5_003  # the changes draw from their own generator, so incidents stay as they were
FREEZES_PLANNED_DAYS = 45  # the change manager published the freezes this long ago
BLAME_DAYS = 5  # incidents opened up to this long after a change ends may blame it

S, N, E = ChangeType.STANDARD, ChangeType.NORMAL, ChangeType.EMERGENCY
C = ChangeState
O = ChangeOutcome  # noqa: E741 (a one-letter alias keeps the table readable)


@dataclass(frozen=True)
class Slot:
    """A planned window: `offset` from today's midnight (UTC), or from now if `from_now`."""

    offset: timedelta
    hours: float
    from_now: bool = False

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        base = now if self.from_now else now.replace(hour=0, minute=0, second=0, microsecond=0)
        start = base + self.offset
        return start, start + timedelta(hours=self.hours)


def on(day: int, at: str, hours: float) -> Slot:
    """`day` days from today, starting at `at` (HH:MM UTC)."""
    hour, minute = (int(part) for part in at.split(":"))
    return Slot(timedelta(days=day, hours=hour, minutes=minute), hours)


def from_now(hours: float, length: float) -> Slot:
    return Slot(timedelta(hours=hours), length, from_now=True)


@dataclass(frozen=True)
class Story:
    """One change and how far its life has got by the demo's now."""

    title: str
    kind: ChangeType
    service: str
    cis: tuple[str, ...]
    requester: str
    assignee: str
    group: str
    slot: Slot
    final: ChangeState
    steps: str = ""  # the implementation plan; empty: not written yet
    why: str = ""
    outage: bool = False
    tested: bool = True
    risk_override: tuple[ChangeRisk, str] | None = None
    freeze_justification: str = ""
    cab: tuple[str, ...] | None = None  # CAB members asked besides the change manager
    voted: tuple[str, ...] = ()  # still in authorize: who has approved so far
    reject: tuple[str, str] | None = None  # (who, why): sent back to new
    override: str = ""  # the change manager schedules over its conflicts, saying why
    cancelled_in: ChangeState | None = None
    cancel_reason: str = ""
    outcome: ChangeOutcome = ChangeOutcome.SUCCESSFUL
    review: str = ""  # review notes; empty: a stock line for the outcome
    requested_days_ago: float | None = None  # for changes still ahead; None: seeded
    blame: int = 0  # incidents that may be linked to it as caused by it

    @property
    def raised_by(self) -> str:
        """Who files it: the change manager raises standard changes (they skip the CAB, so
        agents may not), on behalf of the requester, who then works and schedules it."""
        return CHANGE_MANAGER if self.kind is ChangeType.STANDARD else self.requester


STORIES: list[Story] = [
    # ------------------------------------------------------------------ the past six weeks
    Story("Apply monthly CMS security patches on web-cms-01", S, "Website", ("web-cms-01",),
          "fay", "fay", "Applications", on(-41, "20:00", 2), C.CLOSED,
          steps="Snapshot the VM, apply the vendor patch bundle, clear caches."),
    Story("Patch mail-mx-01 and mail-mx-02 to Exchange CU14", N, "Email",
          ("mail-mx-01", "mail-mx-02"), "fay", "gus", "Applications", on(-39, "21:00", 3),
          C.CLOSED, why="CU13 leaves support this quarter; CU14 fixes the transport queue leak.",
          steps="1. Drain mail-mx-01, patch, reboot, rejoin. 2. Same for mail-mx-02."),
    Story("Upgrade erp-db-01 to PostgreSQL 16.2", N, "ERP", ("erp-db-01",), "eli", "eli",
          "Database", on(-37, "22:00", 4), C.CLOSED, outage=True,
          why="PostgreSQL 13 reaches end of life; the ERP vendor certifies 16.2.",
          steps="Stop the ERP app tier, pg_upgrade --link, analyse, start the app tier.",
          outcome=O.SUCCESSFUL_WITH_ISSUES,
          review="Upgrade done. The replica erp-db-02 needed a re-sync that ran 40 minutes past "
          "the window; add re-sync time to the plan for erp-db-02."),
    Story("Firmware 10.4.2 on the HQ access points", S, "Wi-Fi",
          ("wifi-ap-hq-1", "wifi-ap-hq-2"), "chen", "chen", "Network", on(-35, "19:00", 1),
          C.CLOSED, steps="Stage the image on wifi-ctrl-01 and upgrade the APs one at a time."),
    Story("Rotate VPN gateway certificates on vpn-gw-01", N, "VPN", ("vpn-gw-01",), "dev",
          "dev", "Network", on(-33, "23:00", 1), C.CLOSED,
          why="The gateway certificate expires in three weeks.",
          steps="Install the new certificate chain, switch the listener, keep the old one "
          "loaded for an hour.",
          risk_override=(ChangeRisk.LOW, "Scripted rotation, done monthly on the sibling "
                         "gateway; sessions survive it.")),
    Story("Replace the disk shelf on fs-nas-01", N, "File Storage", ("fs-nas-01",), "eli",
          "eli", "Database", on(-29, "20:00", 4), C.CANCELLED, cancelled_in=C.ASSESS,
          steps="Fail over to fs-nas-02, swap the shelf, rebuild, fail back.",
          cancel_reason="The vendor shipped the wrong shelf; raise it again when the part "
          "arrives."),
    Story("Rotate payroll SFTP host keys", N, "Payroll", ("payroll-sftp-01",), "gus", "gus",
          "Applications", on(-28, "21:00", 1), C.CLOSED,
          why="Annual key rotation agreed with the bank.",
          steps="Generate new host keys, send fingerprints to the bank, swap at 21:00."),
    Story("Deploy CRM release 24.3", N, "CRM", ("crm-app-01", "crm-app-02", "crm-db-01"),
          "fay", "fay", "Applications", on(-27, "20:00", 3), C.CLOSED,
          why="Brings the new quote approval flow sales asked for.",
          steps="1. Put CRM in maintenance mode. 2. Run the 24.3 schema migration on "
          "crm-db-01. 3. Deploy to crm-app-01 and crm-app-02. 4. Smoke test.",
          outcome=O.FAILED, blame=2,
          review="The schema migration timed out on crm-db-01 and the API returned errors "
          "for 50 minutes before the rollback finished. The migration now runs in batches; "
          "24.4 retries it with a dry run in staging first."),
    Story("Move web-lb-01 to the modern TLS policy", N, "Website", ("web-lb-01",), "chen",
          "dev", "Network", on(-26, "22:00", 2), C.CLOSED,
          why="Security audit finding: TLS 1.0 and weak ciphers on the public site.",
          steps="Apply the modern TLS profile to both listeners and reload.",
          outcome=O.SUCCESSFUL_WITH_ISSUES,
          review="Two old kiosk browsers at the warehouse lost access; they are allow-listed "
          "until they are replaced next month."),
    Story("Apply ERP vendor hotfix 11.4.2", N, "ERP", ("erp-app-01",), "gus", "gus",
          "Database", on(-24, "20:00", 2), C.CLOSED,
          why="Fixes the rounding error in multi-currency invoices.",
          steps="Stop the ERP app service, apply hotfix 11.4.2, start, run the invoice check.",
          outcome=O.BACKED_OUT, blame=1,
          review="The hotfix broke the invoice export; backed out per plan at 21:40. Vendor "
          "case open; the fix is retested in staging before it comes back."),
    Story("Extend backup retention on fs-backup-01 to 35 days", S, "File Storage",
          ("fs-backup-01",), "eli", "eli", "Database", on(-22, "18:00", 1), C.CLOSED,
          steps="Change the retention policy and check the next job picks it up."),
    Story("Decommission mail-relay-01", N, "Email", ("mail-relay-01",), "sam", "fay",
          "Applications", on(-18, "20:00", 2), C.CANCELLED, cancelled_in=C.NEW,
          cancel_reason="Still used by the payroll batch mailer; keep it until that moves."),
    Story("Block the exploited VPN portal path on vpn-fw-01", E, "VPN", ("vpn-fw-01",),
          "hana", "dev", "Security", on(-19, "21:00", 1), C.CLOSED, tested=False,
          why="Vendor advisory: the portal path is being exploited in the wild.",
          steps="Add the vendor's block rule on vpn-fw-01 and verify with their test URL."),
    Story("Rebuild bloated indexes on crm-db-01", N, "CRM", ("crm-db-01",), "eli", "eli",
          "Database", on(-17, "20:00", 2), C.CLOSED,
          why="Account search got three times slower since January.",
          steps="REINDEX CONCURRENTLY the five largest indexes, one at a time."),
    Story("Upgrade the webmail front end on mail-web-01", N, "Email", ("mail-web-01",), "fay",
          "fay", "Applications", on(-15, "22:00", 2), C.CLOSED,
          why="The old front end is out of support and fails the accessibility review.",
          steps="Deploy the new front end beside the old, switch the virtual host, reload.",
          outcome=O.SUCCESSFUL_WITH_ISSUES, blame=1,
          review="Mobile users had to sign in again, and older iOS mail apps looped on login "
          "until a config fix the next morning."),
    Story("Load the new payroll tax tables", N, "Payroll", ("payroll-app-01",), "fay", "gus",
          "Applications", on(-11, "21:00", 3), C.CLOSED, outage=True,
          why="Statutory tax rates change before the next payroll run.",
          steps="Stop payroll-app-01, import the vendor tables, run the parallel calculation, "
          "start."),
    Story("Point ERP integrations at the new message broker", N, "ERP", ("erp-int-01",),
          "gus", "gus", "Database", on(-9, "20:00", 2), C.CLOSED,
          why="The old broker is being retired.",
          steps="Update the broker address in each interface, restart erp-int-01, watch the "
          "queues drain.",
          outcome=O.SUCCESSFUL_WITH_ISSUES, blame=1,
          review="Two interfaces kept the old broker address in a cached config and stopped "
          "overnight; fixed the next morning. The checklist now includes the cache."),
    Story("Tighten health checks on vpn-lb-01", N, "VPN", ("vpn-lb-01",), "dev", "chen",
          "Network", on(-7, "22:00", 2), C.CLOSED,
          why="A hung gateway stayed in the pool for ten minutes last month.",
          steps="Switch the pool monitor to the HTTPS login probe with a 5 s interval."),
    Story("Move crm-cache-01 to the new hypervisor cluster", N, "CRM", ("crm-cache-01",),
          "gus", "gus", "Applications", on(-4, "20:00", 2), C.CANCELLED,
          cancelled_in=C.AUTHORIZE,
          steps="Live-migrate the VM, then check the cache hit rate.",
          cancel_reason="The CAB asked to fold this into the CRM platform refresh."),
    Story("Rolling OS patching of web-01 and web-02", S, "Website", ("web-01", "web-02"),
          "fay", "fay", "Applications", on(-5, "20:00", 2), C.CLOSED,
          steps="Take each node out of web-lb-01 in turn, patch, reboot, put it back."),
    Story("Firmware upgrade on fs-nas-02", N, "File Storage", ("fs-nas-02",), "eli", "eli",
          "Database", on(-3, "21:00", 3), C.REVIEW, outage=True,
          why="Fixes the controller crash the vendor found in our logs.",
          steps="Fail shares over to fs-nas-01, upgrade both controllers, fail back.",
          outcome=O.SUCCESSFUL_WITH_ISSUES, blame=1),
    Story("Enable rate limiting on crm-api-01", N, "CRM", ("crm-api-01",), "fay", "fay",
          "Applications", on(-2, "20:00", 1), C.REVIEW,
          why="A partner's batch job floods the API every Monday.",
          steps="Enable the per-client limit at 50 requests per second, watch the 429s."),
    Story("Renew the expiring certificate on payroll-sftp-01", E, "Payroll",
          ("payroll-sftp-01",), "gus", "gus", "Applications", from_now(-14, 1), C.CLOSED,
          why="The certificate was missed by the renewal job.",
          steps="Install the renewed certificate and restart the SFTP service.",
          freeze_justification="The certificate expires at 06:00; the bank upload in the "
          "payroll run fails without it."),
    # ------------------------------------------------------------------ around now
    Story("Move mail-db-01 to the new storage array", N, "Email", ("mail-db-01",), "fay",
          "eli", "Database", from_now(-1, 3), C.IMPLEMENT,
          why="The old array's support contract ends this month.",
          steps="Storage vMotion of mail-db-01, then a consistency check."),
    Story("Purge and re-warm the CDN for the new site theme", S, "Website", ("web-cdn-01",),
          "fay", "fay", "Applications", on(1, "19:00", 1), C.SCHEDULED,
          steps="Purge the CDN, run the warm-up crawler over the top 500 pages."),
    Story("Rotate VPN gateway certificates on vpn-gw-02", N, "VPN", ("vpn-gw-02",), "dev",
          "chen", "Network", on(2, "21:00", 1), C.AUTHORIZE, cab=("sam",),
          why="The gateway certificate expires in two weeks.",
          steps="Install the new certificate chain, switch the listener, keep the old one "
          "loaded for an hour."),
    Story("Add 8 GB of memory to crm-app-02", S, "CRM", ("crm-app-02",), "gus", "gus",
          "Applications", on(4, "19:00", 3), C.SCHEDULED, requested_days_ago=5,
          steps="Drain crm-app-02, power off, resize, power on, rejoin the pool."),
    Story("Deploy CRM release 24.4", N, "CRM", ("crm-app-01", "crm-app-02"), "fay", "fay",
          "Applications", on(4, "20:00", 3), C.AUTHORIZE, cab=("sam",), requested_days_ago=2,
          why="Retries the 24.3 features with the batched migration.",
          steps="1. Dry run of the migration in staging. 2. Maintenance mode. 3. Migrate. "
          "4. Deploy to both app servers. 5. Smoke test."),
    Story("Upgrade payroll-web-01 to Tomcat 10.1", N, "Payroll", ("payroll-web-01",), "fay",
          "gus", "Applications", on(5, "20:00", 3), C.AUTHORIZE, outage=True,
          voted=(CHANGE_MANAGER,),
          why="Tomcat 9 leaves support; the payroll vendor certifies 10.1.",
          steps="Stop payroll-web-01, install Tomcat 10.1 with the migrated config, start."),
    Story("Patch vpn-radius-01 to FreeRADIUS 3.2.5", N, "VPN", ("vpn-radius-01",), "dev",
          "dev", "Network", on(6, "21:00", 2), C.SCHEDULED, requested_days_ago=4,
          why="Fixes the Blast-RADIUS vulnerability.",
          steps="Fail RADIUS over to the secondary, patch, test a login, fail back."),
    Story("Replace the lab access point wifi-ap-lab-1", S, "Wi-Fi", ("wifi-ap-lab-1",),
          "chen", "dev", "Network", on(6, "21:30", 1), C.NEW, requested_days_ago=1,
          steps="Swap the unit, adopt it on wifi-ctrl-01, check coverage in the lab."),
    Story("Enable HTTP/3 on web-lb-01", N, "Website", ("web-lb-01",), "chen", "dev",
          "Network", on(8, "20:00", 2), C.SCHEDULED, requested_days_ago=5,
          why="Faster page loads for mobile visitors.",
          steps="Enable QUIC on the public listener, open UDP 443 on the edge firewall."),
    Story("Publish the careers section on web-cms-01", S, "Website", ("web-cms-01",), "fay",
          "fay", "Applications", on(8, "21:00", 1), C.SCHEDULED, requested_days_ago=2,
          steps="Publish the approved pages and menu entry; check the links.",
          override="Different components: the CMS publish has no restart, and both teams "
          "share one bridge call that evening."),
    Story("Upgrade the ERP reporting engine to 2026.1", N, "ERP", ("erp-report-01",), "gus",
          "gus", "Database", on(9, "21:00", 3), C.ASSESS,
          why="Finance needs the new consolidation reports before quarter-end.",
          steps="Install 2026.1 side by side, migrate report definitions, switch the alias."),
    Story("Disable TLS 1.0 and 1.1 on crm-api-01", N, "CRM", ("crm-api-01",), "fay", "fay",
          "Applications", on(10, "21:00", 1), C.NEW, cab=("sofia",),
          reject=("sofia", "Two partner integrations still use TLS 1.1; get their sign-off "
                  "before we book this."),
          why="Security audit finding on the public API.",
          steps="Set the minimum protocol to TLS 1.2 on the API listener and reload."),
    Story("Replace wifi-radius-01 with the NPS cluster", N, "Wi-Fi", ("wifi-radius-01",),
          "hana", "hana", "Security", on(12, "20:00", 4), C.NEW,
          why="One place for network authentication policy."),
    Story("Upgrade erp-db-02 replica to PostgreSQL 16.2", N, "ERP", ("erp-db-02",), "eli",
          "eli", "Database", on(14, "22:00", 4), C.SCHEDULED, outage=True,
          why="Brings the replica in line with erp-db-01.",
          steps="Stop replication, pg_upgrade --link, re-sync from erp-db-01 (allow 1 hour)."),
    Story("Monthly OS patching of fs-sync-01", S, "File Storage", ("fs-sync-01",), "eli",
          "eli", "Database", on(17, "19:00", 2), C.SCHEDULED,
          steps="Pause sync jobs, patch, reboot, resume and check the backlog."),
    Story("Upgrade wifi-ctrl-01 to 10.5 and renew support", N, "Wi-Fi", ("wifi-ctrl-01",),
          "chen", "chen", "Network", on(20, "21:00", 2), C.ASSESS,
          why="10.4 leaves support in the summer.",
          steps="Back up the controller config, upgrade, confirm every AP rejoins."),
    Story("Apply the critical OpenSSL fix on web-01 and web-02", N, "Website",
          ("web-01", "web-02"), "fay", "gus", "Applications", on(25, "20:00", 2),
          C.SCHEDULED, why="Vendor advisory rated critical for internet-facing servers.",
          steps="Take each node out of web-lb-01 in turn, update OpenSSL, restart, put back.",
          override="Rated critical and internet-facing; waiting until after the close leaves "
          "the site exposed for a week. Rolling, one node at a time, no outage."),
    Story("Enable MTA-STS and DANE on mail-relay-01", N, "Email", ("mail-relay-01",), "fay",
          "gus", "Applications", on(31, "21:00", 2), C.AUTHORIZE, cab=("sofia",),
          why="Stops downgrade attacks on outbound mail.",
          steps="Publish the MTA-STS policy and TLSA records, enable enforcement on the relay."),
    Story("Migrate payroll-db-01 to the new database cluster", N, "Payroll",
          ("payroll-db-01",), "gus", "gus", "Applications", on(35, "22:00", 6), C.NEW,
          outage=True, why="The old cluster's hardware is five years old."),
    Story("Quarterly access point firmware roll-out", S, "Wi-Fi",
          ("wifi-ap-hq-1", "wifi-ap-hq-2", "wifi-ap-lab-1"), "chen", "chen", "Network",
          on(40, "19:00", 3), C.SCHEDULED,
          steps="Stage the image on wifi-ctrl-01 and upgrade the APs one at a time."),
]  # fmt: skip

BACKOUT = "Restore the pre-change snapshot or configuration of {cis} and restart; confirm with the {service} health check."  # noqa: E501
TESTS = "{service} health check and a smoke test by the {group} team; watch monitoring for 30 minutes afterwards."  # noqa: E501
REVIEWS = {
    ChangeOutcome.SUCCESSFUL: [
        "Completed as planned; monitoring clean for 24 hours.",
        "Done inside the window; no incidents raised afterwards.",
        "All checks green and the service owner confirmed.",
    ],
    ChangeOutcome.SUCCESSFUL_WITH_ISSUES: ["Done, with issues noted in the journal."],
    ChangeOutcome.FAILED: ["Failed; see the journal."],
    ChangeOutcome.BACKED_OUT: ["Backed out per plan; see the journal."],
}


@dataclass(frozen=True)
class FreezePlan:
    name: str
    service: str | None
    start_day: int  # from today's midnight, UTC
    days: int
    reason: str


def maintenance_windows(now: datetime) -> dict[str, tuple[str, ...]]:
    """Weekly windows for two CIs, placed around their stories whatever day the demo is built:
    the file-sync patching fits inside its window, the ERP reporting upgrade is planned the
    evening before its window opens, so the calendar shows that clash."""
    planned = {ci: story.slot.window(now) for story in STORIES for ci in story.cis}
    inside_start, inside_end = planned["fs-sync-01"]
    outside_start, _ = planned["erp-report-01"]
    return {
        "fs-sync-01": (
            f"{_weekday(inside_start)} {inside_start - timedelta(hours=1):%H:%M}-"
            f"{inside_end + timedelta(hours=1):%H:%M} UTC",
        ),
        "erp-report-01": (f"{_weekday(outside_start + timedelta(days=1))} 22:00-04:00 UTC",),
    }


def _weekday(at: datetime) -> str:
    return WEEKDAYS[at.weekday()]


FREEZES = [
    FreezePlan("Payroll run", "Payroll", -2, 5,
               "Monthly payroll run and bank upload: no changes to payroll systems."),
    FreezePlan("Quarter-end close", None, 23, 7,
               "Finance quarter-end close: emergency changes only."),
]  # fmt: skip


# ---------------------------------------------------------------------------- blame


@dataclass
class _Suspect:
    number: str
    title: str
    service: str
    start: datetime
    until: datetime
    left: int


@dataclass
class ChangeBlame:
    """Troubled changes incidents may be linked to: an incident on the same service opened
    during the change or within `BLAME_DAYS` after it blames the first such change."""

    suspects: list[_Suspect] = field(default_factory=list)

    def claim(self, service: str, opened_at: datetime) -> tuple[str, str] | None:
        """The (number, title) this incident blames, if any; each change takes a few."""
        for suspect in self.suspects:
            fits = suspect.service == service and suspect.start <= opened_at < suspect.until
            if fits and suspect.left:
                suspect.left -= 1
                return suspect.number, suspect.title
        return None


# ---------------------------------------------------------------------------- loading


def load_changes(
    session: Session,
    users: Mapping[str, User],
    seed: int,
    now: datetime,
    progress: Callable[[str, int, int], None] | None = None,
) -> ChangeBlame:
    """Freeze windows and every story in STORIES, requested in order of their request time;
    `progress` is told ("changes", done, total) after each story (see `demo.Progress`)."""
    rng = random.Random(seed + SEED_OFFSET)
    tell = progress or (lambda _stage, _done, _total: None)
    tell("changes", 0, len(STORIES))
    _add_freezes(session, users[CHANGE_MANAGER], now)
    told = sorted(
        ((_requested_at(story, rng, now), index, story) for index, story in enumerate(STORIES)),
        key=lambda item: (item[0], item[1]),
    )
    blame = ChangeBlame()
    for done, (requested, _index, story) in enumerate(told, start=1):
        number = _Teller(session, users, rng, now, story, requested).tell()
        tell("changes", done, len(STORIES))
        if story.blame:
            start, end = story.slot.window(now)
            blame.suspects.append(
                _Suspect(
                    number,
                    story.title,
                    story.service,
                    start,
                    end + timedelta(days=BLAME_DAYS),
                    story.blame,
                )
            )
    blame.suspects.sort(key=lambda suspect: suspect.start)
    return blame


def _add_freezes(session: Session, manager: User, now: datetime) -> None:
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    clock = FixedClock(now - timedelta(days=FREEZES_PLANNED_DAYS))
    for plan in FREEZES:
        start = today + timedelta(days=plan.start_day)
        freeze_windows.add_freeze(
            session,
            manager,
            clock,
            validate(
                freeze_windows.FreezeCreate,
                name=plan.name,
                service=plan.service,
                starts_at=start,
                ends_at=start + timedelta(days=plan.days),
                reason=plan.reason,
            ),
        )
        clock.advance(timedelta(minutes=10))


def _requested_at(story: Story, rng: random.Random, now: datetime) -> datetime:
    """Past changes were asked for some days before their window; later ones lately."""
    start, _end = story.slot.window(now)
    if start < now:
        if story.kind is ChangeType.EMERGENCY:
            lead = timedelta(hours=rng.uniform(3, 5))
        elif story.kind is ChangeType.STANDARD:
            lead = timedelta(days=rng.uniform(1, 3))
        else:
            lead = timedelta(days=rng.uniform(4, 9))
        at = start - lead
    else:
        days = story.requested_days_ago
        at = now - timedelta(days=days if days is not None else rng.uniform(1.5, 6))
    return at.replace(second=0, microsecond=0)


class _Teller:
    """Walks one story through the services, one stepped clock per change."""

    def __init__(
        self,
        session: Session,
        users: Mapping[str, User],
        rng: random.Random,
        now: datetime,
        story: Story,
        requested: datetime,
    ) -> None:
        self.session, self.users, self.rng, self.now, self.story = session, users, rng, now, story
        self.clock = FixedClock(requested)
        self.start, self.end = story.slot.window(now)
        self.number = ""

    # -------------------------------------------------------------- time

    def after(self, low_minutes: float, high_minutes: float) -> None:
        self.at(self.clock.now() + timedelta(minutes=self.rng.uniform(low_minutes, high_minutes)))

    def at(self, when: datetime) -> None:
        when = when.replace(microsecond=0)
        if not self.clock.now() <= when < self.now:
            raise ValueError(
                f"demo story '{self.story.title}' steps to {when:%Y-%m-%d %H:%M}, outside "
                f"{self.clock.now():%Y-%m-%d %H:%M} .. {self.now:%Y-%m-%d %H:%M}"
            )
        self.clock.set(when)

    # -------------------------------------------------------------- the story

    def tell(self) -> str:
        story = self.story
        self.number = self.create().number
        stop = story.cancelled_in or story.final
        if stop is not ChangeState.NEW or story.reject is not None:
            self.walk(stop)
        if story.cancelled_in is not None:
            self.after(60, 60 * 20)
            self.move(self.user(story.requester), ChangeState.CANCELLED, reason=story.cancel_reason)
        return self.number

    def walk(self, stop: ChangeState) -> None:
        story, kind = self.story, self.story.kind
        requester, manager = self.user(story.requester), self.user(CHANGE_MANAGER)
        if kind is ChangeType.NORMAL:
            self.after(30, 180)
            self.move(requester, ChangeState.ASSESS)
            if stop is ChangeState.ASSESS:
                return
        if kind is ChangeType.STANDARD:
            self.after(30, 120)
            scheduler = manager if story.override else requester
            self.move(
                scheduler,
                ChangeState.SCHEDULED,
                conflict_override=bool(story.override),
                reason=story.override,
            )
        else:
            self.authorize(stop)
            if stop in (ChangeState.NEW, ChangeState.AUTHORIZE):
                return
        if stop is ChangeState.SCHEDULED:
            return
        assignee = self.user(story.assignee)
        self.at(self.start + timedelta(minutes=self.rng.uniform(0, 10)))
        self.move(assignee, ChangeState.IMPLEMENT)
        if stop is ChangeState.IMPLEMENT:
            return
        self.at(self.end + timedelta(minutes=self.rng.uniform(-15, 20)))
        self.move(assignee, ChangeState.REVIEW, outcome=story.outcome)
        if stop is ChangeState.REVIEW:
            return
        closing = min(
            self.end + timedelta(hours=self.rng.uniform(20, 72)),
            self.now - timedelta(minutes=self.rng.uniform(20, 60)),
        )
        self.at(closing)
        review = story.review or self.rng.choice(REVIEWS[story.outcome])
        self.move(manager, ChangeState.CLOSED, review_notes=review)

    def authorize(self, stop: ChangeState) -> None:
        """Ask for approvals; then the votes the story has got to, and a schedule."""
        story, manager = self.story, self.user(CHANGE_MANAGER)
        emergency = story.kind is ChangeType.EMERGENCY
        if emergency:
            self.after(10, 30)
        else:
            self.after(60, 240)
        cab = self.cab()
        self.move(manager, ChangeState.AUTHORIZE, approvers=(CHANGE_MANAGER, *cab))
        if story.reject is not None:
            who, why = story.reject
            self.after(60, 600)
            self.vote(who, ApprovalDecision.REJECTED, why)
            return
        if stop is ChangeState.AUTHORIZE:
            for who in story.voted:
                self.after(30, 300)
                self.vote(who, ApprovalDecision.APPROVED)
            return
        voters = [*cab, CHANGE_MANAGER]
        self.rng.shuffle(voters)
        state = ""
        for who in voters:
            if emergency:
                self.after(5, 20)
            else:
                self.after(30, 360)
            state = self.vote(who, ApprovalDecision.APPROVED).state
        if state == ChangeState.SCHEDULED.value:
            return
        if not story.override:
            found = changes.change_conflicts(self.session, self.number)
            raise ValueError(
                f"demo change {self.number} '{story.title}' is approved but not scheduled: "
                + "; ".join(c.detail for c in found)
            )
        self.after(10, 90)
        self.move(manager, ChangeState.SCHEDULED, conflict_override=True, reason=story.override)

    def cab(self) -> tuple[str, ...]:
        """CAB members to ask: the story's, else as many as its risk needs."""
        story = self.story
        if story.kind is not ChangeType.NORMAL:
            return ()
        if story.cab is not None:
            return story.cab
        risk = ChangeRisk(changes.get_change(self.session, self.number).risk)
        policy = changes.DEFAULT_CAB_POLICY
        needed = {
            ChangeRisk.LOW: 0,
            ChangeRisk.MODERATE: policy.moderate_quorum,
            ChangeRisk.HIGH: policy.high_quorum,
        }[risk]
        pool = [name for name in CAB if name not in (story.requester, story.assignee)]
        return tuple(sorted(self.rng.sample(pool, min(needed, len(pool)))))

    # -------------------------------------------------------------- service calls

    def user(self, username: str) -> User:
        return self.users[username]

    def create(self) -> changes.ChangeRecord:
        story = self.story
        fill = {"cis": ", ".join(story.cis), "service": story.service, "group": story.group}
        override, override_reason = story.risk_override or (None, "")
        return changes.create_change(
            self.session,
            self.user(story.raised_by),
            self.clock,
            validate(
                changes.ChangeCreate,
                title=story.title,
                change_type=story.kind,
                description=f"{story.title}. Affects {story.service} ({fill['cis']}).",
                justification=story.why,
                service=story.service,
                cis=story.cis,
                outage_expected=story.outage,
                tested=story.tested,
                risk_override=override,
                risk_override_reason=override_reason,
                planned_start=self.start,
                planned_end=self.end,
                implementation_plan=story.steps,
                backout_plan=BACKOUT.format(**fill) if story.steps else "",
                test_plan=TESTS.format(**fill) if story.steps else "",
                assignee=story.assignee,
                group=story.group,
                freeze_justification=story.freeze_justification,
            ),
        )

    def move(self, actor: User, state: ChangeState, **fields: object) -> changes.ChangeRecord:
        move = validate(changes.ChangeMove, state=state, **fields)
        return changes.move_change(self.session, actor, self.clock, self.number, move)

    def vote(self, who: str, decision: ApprovalDecision, comment: str = "") -> changes.ChangeRecord:
        return changes.vote(
            self.session, self.user(who), self.clock, self.number, decision, comment=comment
        )
