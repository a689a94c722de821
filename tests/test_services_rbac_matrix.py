"""The RBAC matrix: every service operation that acts for a user, against every role.

`RIGHTS` is the product's rules restated as a table (README "Roles", DESIGN.md and the
services' docstrings), not computed from the code under test: for each operation, the roles
that may do it. Every other role, and a deactivated admin, must get `PermissionDenied` with
nothing written (a whole-database footprint before and after); every listed role must succeed
on a target of its own (repeatable edits: in turn on one) and leave its write behind. Per
engine one database holds every case, so the matrix costs seconds, not a database per cell.

`test_every_operation_that_takes_a_user_is_in_the_matrix` keeps the table honest: it lists the
public functions of `itsm_tui.services` that take an acting user and fails for any that is
neither in the matrix nor in a commented allow-list (reads, and helpers that only run inside
another operation's transaction). A new write service therefore cannot ship without a row.

Group placement of incidents (own group, another group, no group) has its own grid in
tests/test_services_rbac.py; here incidents sit in no group (the untriaged pool every worker
may pick up) except for one row that shows a foreign group narrows agents' rights.
"""

from __future__ import annotations

import importlib
import inspect
import itertools
import json
import pkgutil
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

import asyncssh
import pytest
from sqlmodel import Session

import itsm_tui.services
from itsm_tui.clock import FixedClock
from itsm_tui.domain.enums import ApprovalDecision
from itsm_tui.services import (
    bulk,
    change_history,
    changes,
    directory,
    freeze_windows,
    incidents,
    notifications,
    problem_candidates,
    problems,
    remote_exports,
    saved_views,
    sla_admin,
    transfer_export,
    transfer_import,
    user_admin,
    user_keys,
)
from itsm_tui.services.errors import PermissionDenied, ValidationFailed
from itsm_tui.services.queue import QueueFilter
from itsm_tui.services.transfer_schema import FORMAT_NAME, FORMAT_VERSION
from itsm_tui.services.tx import transaction
from itsm_tui.services.validation import validate
from itsm_tui.store.database import Database
from itsm_tui.store.models import Notification, User
from tests.conftest import Desk
from tests.service_helpers import drive, footprint, make, mark, refused, written

# ---------------------------------------------------------------------------- the table

ADMIN, SUPERVISOR, CHANGE_MANAGER, AGENT, VIEWER = (
    "admin",
    "supervisor",
    "change_manager",
    "agent",
    "viewer",
)
DEACTIVATED = "deactivated admin"  # an admin whose account was switched off: no rights left

# Who plays each role. alice (agent) is in Service Desk, carl (change manager) in Network,
# sue (supervisor) in both, root (admin) and vic (viewer) in none; dee is an admin who has
# been deactivated. bob (agent, Network) requests the changes others vote on.
ACTORS = {
    ADMIN: "root",
    SUPERVISOR: "sue",
    CHANGE_MANAGER: "carl",
    AGENT: "alice",
    VIEWER: "vic",
    DEACTIVATED: "dee",
}

Roles = frozenset[str]
# README "Roles": viewer reads only; agents log and work incidents and add notes;
# change_manager has agent rights; supervisors do every incident action; admins everything.
WORKERS: Roles = frozenset({ADMIN, SUPERVISOR, CHANGE_MANAGER, AGENT})
# Personal things (one's own saved views, one's own inbox): every active user, viewers too.
EVERYONE: Roles = WORKERS | {VIEWER}
# Declaring a major incident, and working incidents of someone else's group.
INCIDENT_LEADS: Roles = frozenset({ADMIN, SUPERVISOR})
# change_approvals: agents and viewers never approve; supervisors and admins when asked.
APPROVERS: Roles = frozenset({ADMIN, SUPERVISOR, CHANGE_MANAGER})
# Freeze windows and scheduling over conflicts: change managers and admins.
CHANGE_AUTHORITY: Roles = frozenset({ADMIN, CHANGE_MANAGER})
# Reference data (users, groups, services, CIs) and SLA policies and calendars.
ADMINS: Roles = frozenset({ADMIN})

RIGHTS: dict[str, Roles] = {
    # incidents (an incident in no group unless said otherwise)
    "incidents.create_incident": WORKERS,
    "incidents.update_incident": WORKERS,
    "incidents.update_incident[in a group none of them is in]": INCIDENT_LEADS,
    "incidents.assign": WORKERS,
    "incidents.assign_to_me": WORKERS,
    "incidents.transition": WORKERS,
    "incidents.reopen": WORKERS,
    "incidents.escalate": WORKERS,
    "incidents.set_major": INCIDENT_LEADS,
    "incidents.add_note[work note]": WORKERS,
    "incidents.add_note[comment]": WORKERS,
    "bulk.apply": WORKERS,
    # changes (requested by bob, in no group, unless said otherwise). A change is worked by its
    # requester, its assignee, its group and change managers (admins: everything); whoever
    # approved it (sue, root, carl on the "approved" ones) does not take or implement it.
    "changes.create_change": WORKERS,
    # A standard change is scheduled with no CAB vote: until there is a template catalogue,
    # only change managers (and admins) file one, make a change standard or change its plan.
    "changes.create_change[standard]": CHANGE_AUTHORITY,
    "changes.update_change[made standard, in Service Desk]": CHANGE_AUTHORITY,
    "changes.update_change[plan of a standard change, in Service Desk]": CHANGE_AUTHORITY,
    "changes.update_change[window of a standard change, in Service Desk]": WORKERS,
    "changes.update_change": CHANGE_AUTHORITY,
    "changes.update_change[in Service Desk: alice's and sue's group]": WORKERS,
    "changes.update_change[assigned to alice, in Security]": CHANGE_AUTHORITY | {AGENT},
    "changes.update_change[requested by alice]": CHANGE_AUTHORITY | {AGENT},
    "changes.update_change[window moved over a conflict]": CHANGE_AUTHORITY,
    "changes.update_change[plan of an approved change: sent back]": WORKERS,
    "changes.update_change[assign oneself after approving it]": frozenset({AGENT}),
    "changes.move_change": CHANGE_AUTHORITY,
    "changes.move_change[in Service Desk: alice's and sue's group]": WORKERS,
    "changes.move_change[assigned to alice, in Security]": CHANGE_AUTHORITY | {AGENT},
    "changes.move_change[requested by alice]": CHANGE_AUTHORITY | {AGENT},
    "changes.move_change[scheduled over a conflict]": CHANGE_AUTHORITY,
    "changes.move_change[implement after approving it]": frozenset({AGENT}),
    "changes.move_change[complete after approving it]": frozenset({AGENT}),
    "changes.move_change[close a reviewed change in Network]": CHANGE_AUTHORITY | {SUPERVISOR},
    "changes.vote[asked: sue and root]": APPROVERS,
    "changes.vote[nobody asked]": frozenset({CHANGE_MANAGER}),  # managers vote unasked
    "changes.add_note": WORKERS,
    "freeze_windows.add_freeze": CHANGE_AUTHORITY,
    "freeze_windows.remove_freeze": CHANGE_AUTHORITY,
    # problems, known errors (problems with a root cause and workaround) and candidates
    "problems.create_problem": WORKERS,
    "problems.update_problem": WORKERS,
    "problems.update_problem[made a known error]": WORKERS,
    "problems.move_problem": WORKERS,
    "problems.link_incidents": WORKERS,
    "problems.unlink_incidents": WORKERS,
    "problems.resolve_linked_incidents": WORKERS,
    "problems.change_from_problem": WORKERS,
    "problem_candidates.dismiss_candidate": WORKERS,
    "problem_candidates.dismiss_current": WORKERS,
    "problem_candidates.promote_candidate": WORKERS,
    # SLA administration
    "sla_admin.add_calendar": ADMINS,
    "sla_admin.update_calendar": ADMINS,
    "sla_admin.add_policy": ADMINS,
    "sla_admin.update_policy": ADMINS,
    # personal: saved queue views, the inbox
    "saved_views.save_view": EVERYONE,
    "saved_views.delete_view": EVERYONE,
    "notifications.mark_read": EVERYONE,
    "notifications.mark_all_read": EVERYONE,
    # the directory
    "directory.add_user": ADMINS,
    "directory.add_group": ADMINS,
    "directory.add_service": ADMINS,
    "directory.add_config_item": ADMINS,
    "directory.update_config_item": ADMINS,
    "directory.set_escalation_group": ADMINS,
    "directory.add_group_member": ADMINS,
    "user_admin.deactivate_user": ADMINS,
    "user_admin.activate_user": ADMINS,
    "user_admin.update_user": ADMINS,
    # SSH keys for `itsm serve ssh`: one's own, or anyone's for an admin
    "user_keys.add_key[own key]": EVERYONE,
    "user_keys.add_key[another user's key]": ADMINS,
    "user_keys.remove_key[own key]": EVERYONE,
    "user_keys.remove_key[another user's key]": ADMINS,
    # import and export (README "Import, export and backup")
    "transfer_import.import_data": ADMINS,
    "transfer_import.import_data[dry run]": ADMINS,  # writes nothing, but only for admins
    "transfer_export.export_rows": EVERYONE,  # a read, but refused to a deactivated user
    # Remote users' report exports hold what each could see: only admins list them all.
    "remote_exports.list_exports": ADMINS,
}

# Public functions that take a user but are no operation of their own (checked to exist).
# Reports, the SLA dashboard, majors, leases and the SLA worker take no acting user at all:
# every role reads them, and the worker acts as the system.
READ_ONLY = {
    # The actor only narrows what is listed ("mine", "my groups"); every role reads.
    "incidents.list_incidents",
    "queue.fetch_page",
    "queue.count",
    "wall_figures.read_wall",
    # One's own views and inbox, one's own SSH keys (an admin: anyone's).
    "saved_views.list_views",
    "user_keys.list_keys",
    "notifications.inbox",
    "notifications.unread_count",
    # Whether the desk's own user is still active (the desk ends if not): every role asks it.
    "actors.still_active",
    # Why this user cannot vote now: a question for screens, the vote itself is in the matrix.
    "changes.vote_refusal",
    # Lookups and checks the incident writes run before writing.
    "incident_changes.resolve_references",
    "incident_changes.scope_of",
    "incident_changes.check_assignee_fits",
    "directory.user_record",
    # An export row built from a user record the export already read.
    "transfer_rows.user_row",
}
INSIDE_OPERATIONS = {
    # The permission checks themselves, run first by every write in the matrix.
    "actors.reload_actor",
    "incident_changes.require",
    "directory.require_admin",
    # Steps of a write, called inside the calling operation's transaction after its checks.
    "incident_changes.apply_changes",
    "history.record_changes",
    "history.publish",
    "history.record_write",
    "history.journal",
    "notifications.notify_mentions",
    # `itsm demo` loaders: they fill a fresh database as the demo's scripted people.
    "demo_changes.load_changes",
    "demo_problems.load_problems",
}


# ---------------------------------------------------------------------------- the world


@dataclass
class World:
    """The seeded desk plus a deactivated admin, a freeze window, an SLA calendar and policy,
    a recurring-incident candidate, and a saved view for each actor."""

    desk: Desk
    counter: Iterator[int] = field(default_factory=itertools.count)

    @property
    def session(self) -> Session:
        return self.desk.session

    @property
    def clock(self) -> FixedClock:
        return self.desk.clock

    def __getitem__(self, username: str) -> User:
        return self.desk[username]

    def unique(self, prefix: str) -> str:
        return f"{prefix}{next(self.counter)}"

    def days(self, n: float) -> datetime:
        return self.clock.now() + timedelta(days=n)


FREEZE_DAY = 30  # a global freeze from day 30 to 31; no other change is planned near it
PLANS = {"implementation_plan": "do", "backout_plan": "undo", "test_plan": "check"}
VIEW = "Mine"  # every actor's own saved view, deleted by the delete_view row
CANDIDATE_CI = "mail-01"  # three incidents on it make the candidate ci:mail-01


def build_world(desk: Desk) -> World:
    w = World(desk)
    root = w["root"]
    directory.add_user(
        w.session, root, w.clock, validate(directory.UserCreate, username="dee", role=ADMIN)
    )
    desk.users["dee"] = _user(w, "dee")
    for who in ACTORS.values():
        saved_views.save_view(w.session, w[who], w.clock, VIEW, QueueFilter())
    deactivate(w, "dee")
    freeze_windows.add_freeze(
        w.session,
        root,
        w.clock,
        validate(
            freeze_windows.FreezeCreate,
            name="Quarter end",
            starts_at=w.days(FREEZE_DAY),
            ends_at=w.days(FREEZE_DAY + 1),
        ),
    )
    sla_admin.add_calendar(
        w.session,
        root,
        w.clock,
        validate(sla_admin.CalendarInput, name="Ops", zone="UTC", always_on=True),
    )
    sla_admin.add_policy(w.session, root, w.clock, _policy("Draft"))
    for title in ("Mail queue stuck", "Disk full on mail host", "Spam filter down"):
        make(w.desk, "root", title=title, group=None, service="Email", ci=CANDIDATE_CI)
    return w


def deactivate(w: World, username: str) -> None:
    """Switch an account off as an admin does (`itsm user deactivate`)."""
    assert user_admin.deactivate_user(w.session, w["root"], w.clock, username).changed
    w.desk.users[username] = _user(w, username)


def _user(w: World, username: str) -> User:
    user = directory.find_user(w.session, username)
    assert user is not None
    return user


def _policy(name: str) -> sla_admin.PolicyInput:
    return validate(
        sla_admin.PolicyInput,
        name=name,
        priority=5,
        response_seconds=3600,
        resolution_seconds=8 * 3600,
        calendar="Ops",
        active=False,  # drafts never clash with the shipped policies
    )


# ---------------------------------------------------------------------------- targets


def incident(w: World, state: str = "new", group: str | None = None) -> str:
    number = make(w.desk, "root", title=w.unique("Printer jam "), group=group).number
    drive(w.desk, number, state, actor="root")
    return number


def change(
    w: World,
    *,
    kind: str = "normal",
    day: float = 2,
    scheduled: bool = False,
    by: str = "bob",
    **fields: Any,
) -> str:
    """A change bob (or `by`) requests (no CI, no service, no assignee unless `fields` say: it
    clashes with nothing but the global freeze), scheduled by root if asked (standard changes
    go straight there; only change managers and admins file them, so `by="carl"`)."""
    start = w.days(day)
    data = validate(
        changes.ChangeCreate,
        title=w.unique("Patch "),
        change_type=kind,
        planned_start=start,
        planned_end=start + timedelta(hours=2),
        **PLANS,
        **fields,
    )
    number = changes.create_change(w.session, w[by], w.clock, data).number
    if scheduled:
        move(w, "root", number, state="scheduled")
    return number


def move(w: World, who: str, number: str, **fields: Any) -> changes.ChangeRecord:
    data = validate(changes.ChangeMove, **fields)
    return changes.move_change(w.session, w[who], w.clock, number, data)


def in_authorize(w: World, approvers: tuple[str, ...], **fields: Any) -> str:
    number = change(w, **fields)
    move(w, "bob", number, state="assess")
    move(w, "bob", number, state="authorize", approvers=approvers)
    return number


def approved(w: World, group: str = "Service Desk") -> str:
    """A normal change of `group` that sue, root and carl approved (carl's vote, the change
    manager's, completes it): scheduled."""
    number = in_authorize(w, ("sue", "root"), group=group)
    for who in ("sue", "root", "carl"):
        changes.vote(w.session, w[who], w.clock, number, ApprovalDecision.APPROVED, comment="ok")
    assert changes.get_change(w.session, number).state == "scheduled"
    return number


def in_implement(w: World) -> str:
    """An approved change of Service Desk that alice (of that group, no approver) started."""
    number = approved(w)
    move(w, "alice", number, state="implement", **EARLY)
    return number


def reviewed(w: World) -> str:
    """A change of Network that carl approved and bob (its requester) carried out."""
    number = in_authorize(w, (), group="Network")
    changes.vote(w.session, w["carl"], w.clock, number, ApprovalDecision.APPROVED, comment="ok")
    move(w, "bob", number, state="implement", **EARLY)
    move(w, "bob", number, state="review", outcome="successful")
    return number


# Implementing before the window (the clock is shared): with the override and its reason.
EARLY = {"window_override": True, "reason": "vendor engineer on site early"}


def sent_back(w: World, who: str, number: str, result: object) -> None:
    """The edit took the approved change back to authorize with every vote cleared, and
    journaled why."""
    record = changes.get_change(w.session, number)
    assert record.state == "authorize", record.state
    assert record.approvals and {a.decision for a in record.approvals} == {"pending"}
    bodies = [entry.body for entry in change_history.change_history(w.session, number).journal]
    assert any("sent back to authorize" in body for body in bodies), bodies


def problem(w: World, *linked: str) -> str:
    data = validate(problems.ProblemCreate, title=w.unique("Printers jam "), incidents=linked)
    return problems.create_problem(w.session, w["root"], w.clock, data).number


def resolved_problem_with_open_incident(w: World) -> str:
    number = problem(w, incident(w))
    for state, extra in (
        ("assess", {}),
        ("root_cause_analysis", {}),
        ("fix_in_progress", {"root_cause": "worn rollers"}),
        ("resolved", {"resolution_notes": "rollers replaced", "reason": "no change needed"}),
    ):
        data = validate(problems.ProblemMove, state=state, **extra)
        problems.move_problem(w.session, w["root"], w.clock, number, data)
    return number


def candidate(w: World) -> str:
    """A fresh recurring-incident candidate: three incidents on a new CI."""
    ci = w.unique("printer-")
    directory.add_config_item(
        w.session,
        w["root"],
        w.clock,
        validate(directory.ConfigItemCreate, name=ci, service="Email"),
    )
    for title in ("Paper jam", "Toner smeared", "Offline again"):
        make(w.desk, "root", title=f"{title} {ci}", group=None, service="Email", ci=ci)
    return f"ci:{ci}"


def new_group(w: World) -> str:
    data = validate(directory.GroupCreate, name=w.unique("Team "))
    return directory.add_group(w.session, w["root"], w.clock, data).name


def new_user(w: World) -> str:
    data = validate(directory.UserCreate, username=w.unique("temp"), role=AGENT)
    return directory.add_user(w.session, w["root"], w.clock, data).username


def inactive_user(w: World) -> str:
    username = new_user(w)
    user_admin.deactivate_user(w.session, w["root"], w.clock, username)
    return username


def new_group_file(w: World) -> bytes:
    """An export file with one group the desk does not have yet."""
    group = {"name": w.unique("Imported ")}
    return json.dumps(
        {"format": FORMAT_NAME, "version": FORMAT_VERSION, "groups": [group]}
    ).encode()


def unread_for_everyone(w: World) -> dict[str, int]:
    """One unread inbox entry per actor, written straight to the table (as the SLA worker
    would), so each actor has something of their own to mark read."""
    with transaction(w.session):
        rows = {
            who: Notification(
                user_id=w[who].id, kind="sla_warning", body="P3 at 75%", created_at=w.clock.now()
            )
            for who in ACTORS.values()
        }
        w.session.add_all(rows.values())
    return {who: row.id for who, row in rows.items() if row.id is not None}


# ---------------------------------------------------------------------------- operations

Prepare = Callable[[World], Any]
Run = Callable[[World, str, Any], object]
Done = Callable[[World, str, Any, object], None]


@dataclass(frozen=True)
class Op:
    prepare: Prepare  # a fresh target on which the operation would succeed
    run: Run  # (world, acting username, target) -> result
    done: Done | None = None  # proof the write happened; default: a feed event by the actor
    shared: bool = False  # the allowed roles can act one after another on the same target


def nothing(w: World) -> None:
    return None


def _incident_update(w: World, who: str, number: str) -> object:
    data = validate(incidents.IncidentChanges, title=f"Renamed by {who}")
    return incidents.update_incident(w.session, w[who], w.clock, number, data)


def _change_update(w: World, who: str, number: str, **fields: Any) -> object:
    data = validate(changes.ChangeUpdate, **fields)
    return changes.update_change(w.session, w[who], w.clock, number, data)


def _problem_update(w: World, who: str, number: str, **fields: Any) -> object:
    data = validate(problems.ProblemUpdate, **fields)
    return problems.update_problem(w.session, w[who], w.clock, number, data)


def _over_the_freeze(w: World) -> dict[str, Any]:
    start = w.days(FREEZE_DAY) + timedelta(hours=2)
    return {
        "planned_start": start,
        "planned_end": start + timedelta(hours=2),
        "conflict_override": True,
        "reason": "the vendor's only slot",
    }


def _window(w: World) -> dict[str, Any]:
    """A window of its own for each call, clear of the freeze and of every other change."""
    start = w.days(40 + next(w.counter))
    return {"planned_start": start, "planned_end": start + timedelta(hours=1)}


def _views(w: World, who: str) -> list[str]:
    return [view.name for view in saved_views.list_views(w.session, w[who])]


def _public_key() -> str:
    return asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()


def _key_for(w: World, *owners: str) -> str:
    """A new key registered (by root) for each of `owners`; its fingerprint."""
    text = _public_key()
    for owner in owners:
        record = user_keys.add_key(w.session, w["root"], w.clock, owner, text)
    return record.fingerprint


def _check(condition: bool) -> None:
    assert condition


def _read(w: World, who: str, ids: dict[str, int], result: object) -> None:
    assert result == 1, result
    unread = [n.id for n in notifications.inbox(w.session, w[who], unread_only=True)]
    assert ids[who] not in unread


OPS: dict[str, Op] = {
    "incidents.create_incident": Op(
        nothing, lambda w, who, _: make(w.desk, who, title="Laptop broken", group=None)
    ),
    "incidents.update_incident": Op(incident, _incident_update, shared=True),
    "incidents.update_incident[in a group none of them is in]": Op(
        lambda w: incident(w, group="Security"), _incident_update, shared=True
    ),
    "incidents.assign": Op(
        incident,
        lambda w, who, n: incidents.assign(w.session, w[who], w.clock, n, group="Security"),
    ),
    "incidents.assign_to_me": Op(
        incident, lambda w, who, n: incidents.assign_to_me(w.session, w[who], w.clock, n)
    ),
    "incidents.transition": Op(
        incident,
        lambda w, who, n: incidents.transition(w.session, w[who], w.clock, n, "in_progress"),
    ),
    "incidents.reopen": Op(
        lambda w: incident(w, "resolved"),
        lambda w, who, n: incidents.reopen(w.session, w[who], w.clock, n, reason="back again"),
    ),
    "incidents.escalate": Op(
        lambda w: incident(w, "in_progress"),
        lambda w, who, n: incidents.escalate(
            w.session, w[who], w.clock, n, reason="needs firewall", to_group="Security"
        ),
    ),
    "incidents.set_major": Op(
        incident, lambda w, who, n: incidents.set_major(w.session, w[who], w.clock, n, True)
    ),
    "incidents.add_note[work note]": Op(
        incident,
        lambda w, who, n: incidents.add_note(w.session, w[who], w.clock, n, "seen"),
        shared=True,
    ),
    "incidents.add_note[comment]": Op(
        incident,
        lambda w, who, n: incidents.add_note(w.session, w[who], w.clock, n, "hi", comment=True),
        shared=True,
    ),
    "bulk.apply": Op(
        lambda w: [incident(w), incident(w)],
        lambda w, who, numbers: bulk.apply(
            w.session, w[who], w.clock, numbers, bulk.BulkNote(text=f"{who} was here")
        ),
        done=lambda w, who, _, result: _check(len(result.succeeded) == 2),  # type: ignore[attr-defined]
        shared=True,
    ),
    "changes.create_change": Op(
        nothing,
        lambda w, who, _: changes.create_change(
            w.session, w[who], w.clock, validate(changes.ChangeCreate, title="Reboot mail-01")
        ),
    ),
    "changes.create_change[standard]": Op(
        nothing,
        lambda w, who, _: changes.create_change(
            w.session,
            w[who],
            w.clock,
            validate(changes.ChangeCreate, title="Rotate logs", change_type="standard"),
        ),
    ),
    "changes.update_change": Op(
        change, lambda w, who, n: _change_update(w, who, n, title=f"Patch by {who}"), shared=True
    ),
    "changes.update_change[made standard, in Service Desk]": Op(
        lambda w: change(w, group="Service Desk"),
        lambda w, who, n: _change_update(w, who, n, change_type="standard"),
    ),
    "changes.update_change[plan of a standard change, in Service Desk]": Op(
        lambda w: change(w, kind="standard", by="carl", group="Service Desk"),
        lambda w, who, n: _change_update(w, who, n, implementation_plan=f"{who}'s way"),
        shared=True,
    ),
    "changes.update_change[window of a standard change, in Service Desk]": Op(
        lambda w: change(w, kind="standard", by="carl", group="Service Desk"),
        lambda w, who, n: _change_update(w, who, n, **_window(w)),
        shared=True,
    ),
    "changes.update_change[in Service Desk: alice's and sue's group]": Op(
        lambda w: change(w, group="Service Desk"),
        lambda w, who, n: _change_update(w, who, n, title=f"Patch by {who}"),
        shared=True,
    ),
    "changes.update_change[assigned to alice, in Security]": Op(
        lambda w: change(w, group="Security", assignee="alice"),
        lambda w, who, n: _change_update(w, who, n, title=f"Patch by {who}"),
        shared=True,
    ),
    "changes.update_change[requested by alice]": Op(
        lambda w: change(w, by="alice"),
        lambda w, who, n: _change_update(w, who, n, title=f"Patch by {who}"),
        shared=True,
    ),
    "changes.update_change[window moved over a conflict]": Op(
        lambda w: change(w, kind="standard", by="carl", scheduled=True),
        lambda w, who, n: _change_update(w, who, n, **_over_the_freeze(w)),
    ),
    "changes.update_change[plan of an approved change: sent back]": Op(
        approved,
        lambda w, who, n: _change_update(w, who, n, backout_plan=f"restore the snapshot ({who})"),
        done=sent_back,
    ),
    "changes.update_change[assign oneself after approving it]": Op(
        approved, lambda w, who, n: _change_update(w, who, n, assignee=who)
    ),
    "changes.move_change": Op(change, lambda w, who, n: move(w, who, n, state="assess")),
    "changes.move_change[in Service Desk: alice's and sue's group]": Op(
        lambda w: change(w, group="Service Desk"),
        lambda w, who, n: move(w, who, n, state="assess"),
    ),
    "changes.move_change[assigned to alice, in Security]": Op(
        lambda w: change(w, group="Security", assignee="alice"),
        lambda w, who, n: move(w, who, n, state="assess"),
    ),
    "changes.move_change[requested by alice]": Op(
        lambda w: change(w, by="alice"), lambda w, who, n: move(w, who, n, state="assess")
    ),
    "changes.move_change[implement after approving it]": Op(
        approved, lambda w, who, n: move(w, who, n, state="implement", **EARLY)
    ),
    "changes.move_change[complete after approving it]": Op(
        in_implement, lambda w, who, n: move(w, who, n, state="review", outcome="successful")
    ),
    "changes.move_change[close a reviewed change in Network]": Op(
        reviewed, lambda w, who, n: move(w, who, n, state="closed", review_notes="went fine")
    ),
    "changes.move_change[scheduled over a conflict]": Op(
        lambda w: change(w, kind="standard", by="carl", day=FREEZE_DAY + 0.1),
        lambda w, who, n: move(
            w, who, n, state="scheduled", conflict_override=True, reason="the vendor's only slot"
        ),
    ),
    "changes.vote[asked: sue and root]": Op(
        lambda w: in_authorize(w, ("sue", "root")),
        lambda w, who, n: changes.vote(
            w.session, w[who], w.clock, n, ApprovalDecision.APPROVED, comment="go"
        ),
        shared=True,  # root, sue, then the change manager whose vote completes it
    ),
    "changes.vote[nobody asked]": Op(
        lambda w: in_authorize(w, ()),
        lambda w, who, n: changes.vote(
            w.session, w[who], w.clock, n, ApprovalDecision.REJECTED, comment="not now"
        ),
    ),
    "changes.add_note": Op(
        change,
        lambda w, who, n: changes.add_note(w.session, w[who], w.clock, n, "CAB: fine"),
        shared=True,
    ),
    "freeze_windows.add_freeze": Op(
        nothing,
        lambda w, who, _: freeze_windows.add_freeze(
            w.session,
            w[who],
            w.clock,
            validate(
                freeze_windows.FreezeCreate,
                name=w.unique("Audit week "),
                starts_at=w.days(60),
                ends_at=w.days(61),
            ),
        ),
    ),
    "freeze_windows.remove_freeze": Op(
        lambda w: (
            freeze_windows.add_freeze(
                w.session,
                w["root"],
                w.clock,
                validate(
                    freeze_windows.FreezeCreate,
                    name=w.unique("Old freeze "),
                    starts_at=w.days(90),
                    ends_at=w.days(91),
                ),
            ).name
        ),
        lambda w, who, name: freeze_windows.remove_freeze(w.session, w[who], w.clock, name),
    ),
    "problems.create_problem": Op(
        nothing,
        lambda w, who, _: problems.create_problem(
            w.session, w[who], w.clock, validate(problems.ProblemCreate, title="Jams")
        ),
    ),
    "problems.update_problem": Op(
        problem, lambda w, who, n: _problem_update(w, who, n, title=f"Jams, {who}"), shared=True
    ),
    "problems.update_problem[made a known error]": Op(
        problem,
        lambda w, who, n: _problem_update(
            w, who, n, root_cause=f"worn rollers ({who})", workaround="feed single sheets"
        ),
        shared=True,
    ),
    "problems.move_problem": Op(
        problem,
        lambda w, who, n: problems.move_problem(
            w.session, w[who], w.clock, n, validate(problems.ProblemMove, state="assess")
        ),
    ),
    "problems.link_incidents": Op(
        lambda w: (problem(w), incident(w)),
        lambda w, who, pair: problems.link_incidents(
            w.session, w[who], w.clock, pair[0], [pair[1]]
        ),
    ),
    "problems.unlink_incidents": Op(
        lambda w: (problem(w, linked := incident(w)), linked),
        lambda w, who, pair: problems.unlink_incidents(
            w.session, w[who], w.clock, pair[0], [pair[1]]
        ),
    ),
    "problems.resolve_linked_incidents": Op(
        resolved_problem_with_open_incident,
        lambda w, who, n: problems.resolve_linked_incidents(w.session, w[who], w.clock, n),
    ),
    "problems.change_from_problem": Op(
        problem,
        lambda w, who, n: problems.change_from_problem(w.session, w[who], w.clock, n),
    ),
    "problem_candidates.dismiss_candidate": Op(
        nothing,
        lambda w, who, _: problem_candidates.dismiss_candidate(
            w.session, w[who], w.clock, f"ci:{CANDIDATE_CI}", 3
        ),
    ),
    "problem_candidates.dismiss_current": Op(
        nothing,
        lambda w, who, _: problem_candidates.dismiss_current(
            w.session, w[who], w.clock, f"ci:{CANDIDATE_CI}"
        ),
    ),
    "problem_candidates.promote_candidate": Op(
        candidate,
        lambda w, who, key: problem_candidates.promote_candidate(w.session, w[who], w.clock, key),
    ),
    "sla_admin.add_calendar": Op(
        nothing,
        lambda w, who, _: sla_admin.add_calendar(
            w.session,
            w[who],
            w.clock,
            validate(sla_admin.CalendarInput, name=w.unique("Shift "), zone="UTC", always_on=True),
        ),
    ),
    "sla_admin.update_calendar": Op(
        nothing,
        lambda w, who, _: sla_admin.update_calendar(
            w.session,
            w[who],
            w.clock,
            "Ops",
            validate(
                sla_admin.CalendarChanges,
                extra_dates=(date(2027, 1, 1) + timedelta(days=next(w.counter)),),
            ),
        ),
    ),
    "sla_admin.add_policy": Op(
        nothing,
        lambda w, who, _: sla_admin.add_policy(
            w.session, w[who], w.clock, _policy(w.unique("Draft "))
        ),
    ),
    "sla_admin.update_policy": Op(
        nothing,
        lambda w, who, _: sla_admin.update_policy(
            w.session,
            w[who],
            w.clock,
            "Draft",
            validate(sla_admin.PolicyChanges, response_seconds=60 * (1 + next(w.counter) % 400)),
        ),
    ),
    "saved_views.save_view": Op(
        nothing,
        lambda w, who, _: saved_views.save_view(
            w.session, w[who], w.clock, f"Breached for {who}", QueueFilter(breached=True)
        ),
        done=lambda w, who, _, result: _check(f"Breached for {who}" in _views(w, who)),
    ),
    "remote_exports.list_exports": Op(
        nothing,
        lambda w, who, _: remote_exports.list_exports(w.session, w[who]),
        done=lambda w, who, _, result: _check(result == []),
        shared=True,
    ),
    "saved_views.delete_view": Op(
        nothing,
        lambda w, who, _: saved_views.delete_view(w.session, w[who], VIEW),
        done=lambda w, who, _, result: _check(VIEW not in _views(w, who)),
    ),
    "notifications.mark_read": Op(
        unread_for_everyone,
        lambda w, who, ids: notifications.mark_read(w.session, w[who], w.clock.now(), [ids[who]]),
        done=_read,
        shared=True,  # each marks their own entry
    ),
    "notifications.mark_all_read": Op(
        unread_for_everyone,
        lambda w, who, ids: notifications.mark_all_read(w.session, w[who], w.clock.now()),
        done=lambda w, who, _, result: _check(
            result >= 1 and notifications.unread_count(w.session, w[who]) == 0  # type: ignore[operator]
        ),
        shared=True,
    ),
    "directory.add_user": Op(
        nothing,
        lambda w, who, _: directory.add_user(
            w.session,
            w[who],
            w.clock,
            validate(directory.UserCreate, username=w.unique("temp"), role=AGENT),
        ),
    ),
    "directory.add_group": Op(
        nothing,
        lambda w, who, _: directory.add_group(
            w.session, w[who], w.clock, validate(directory.GroupCreate, name=w.unique("DBA "))
        ),
    ),
    "directory.add_service": Op(
        nothing,
        lambda w, who, _: directory.add_service(
            w.session, w[who], w.clock, validate(directory.ServiceCreate, name=w.unique("CRM "))
        ),
    ),
    "directory.add_config_item": Op(
        nothing,
        lambda w, who, _: directory.add_config_item(
            w.session,
            w[who],
            w.clock,
            validate(directory.ConfigItemCreate, name=w.unique("db-"), service="Email"),
        ),
    ),
    "directory.update_config_item": Op(
        nothing,
        lambda w, who, _: directory.update_config_item(
            w.session,
            w[who],
            w.clock,
            "vpn-gw-01",
            validate(directory.ConfigItemUpdate, ci_class=w.unique("appliance-")),
        ),
    ),
    "directory.set_escalation_group": Op(
        new_group,
        lambda w, who, group: directory.set_escalation_group(
            w.session, w[who], w.clock, group, "Security"
        ),
    ),
    "directory.add_group_member": Op(
        new_group,
        lambda w, who, group: directory.add_group_member(w.session, w[who], w.clock, group, "bob"),
    ),
    "user_admin.deactivate_user": Op(
        new_user,
        lambda w, who, name: user_admin.deactivate_user(w.session, w[who], w.clock, name),
    ),
    "user_admin.activate_user": Op(
        inactive_user,
        lambda w, who, name: user_admin.activate_user(w.session, w[who], w.clock, name),
    ),
    "user_admin.update_user": Op(
        new_user,
        lambda w, who, name: user_admin.update_user(
            w.session,
            w[who],
            w.clock,
            name,
            validate(user_admin.UserUpdate, role=SUPERVISOR, groups=("Network",)),
        ),
    ),
    "user_keys.add_key[own key]": Op(
        nothing, lambda w, who, _: user_keys.add_key(w.session, w[who], w.clock, who, _public_key())
    ),
    "user_keys.add_key[another user's key]": Op(
        nothing,
        lambda w, who, _: user_keys.add_key(w.session, w[who], w.clock, "bob", _public_key()),
    ),
    "user_keys.remove_key[own key]": Op(  # the same key, registered for every actor
        lambda w: _key_for(w, *ACTORS.values()),
        lambda w, who, fingerprint: user_keys.remove_key(
            w.session, w[who], w.clock, who, fingerprint
        ),
        shared=True,
    ),
    "user_keys.remove_key[another user's key]": Op(
        lambda w: _key_for(w, "bob"),
        lambda w, who, fingerprint: user_keys.remove_key(
            w.session, w[who], w.clock, "bob", fingerprint
        ),
    ),
    "transfer_import.import_data": Op(
        new_group_file,
        lambda w, who, data: transfer_import.import_data(
            w.session, w[who], w.clock, data, source="groups.json"
        ),
    ),
    "transfer_import.import_data[dry run]": Op(
        new_group_file,
        lambda w, who, data: transfer_import.import_data(
            w.session, w[who], w.clock, data, source="groups.json", dry_run=True
        ),
        done=lambda w, who, _, report: _check(
            report.dry_run and report.counts["groups"].created == 1  # type: ignore[attr-defined]
        ),
    ),
    "transfer_export.export_rows": Op(
        nothing,
        lambda w, who, _: transfer_export.export_rows(w.session, w[who], ["groups"]),
        done=lambda w, who, _, rows: _check("Security" in [g.name for g in rows["groups"]]),
    ),
}


# ---------------------------------------------------------------------------- the checks


def function_of(case: str) -> str:
    """`module.function[variant]` -> `module.function`."""
    return case.split("[", 1)[0]


def takes_a_user(function: Callable[..., object]) -> bool:
    return any(
        name == "actor" or re.search(r"\bUser\b", str(parameter.annotation))
        for name, parameter in inspect.signature(function).parameters.items()
    )


def public_functions() -> dict[str, Callable[..., object]]:
    """`module.function` -> function, for every public function defined in a services module."""
    found: dict[str, Callable[..., object]] = {}
    for info in pkgutil.iter_modules(itsm_tui.services.__path__):
        module = importlib.import_module(f"itsm_tui.services.{info.name}")
        for name, value in vars(module).items():
            if (
                not name.startswith("_")
                and inspect.isfunction(value)
                and value.__module__ == module.__name__
            ):
                found[f"{info.name}.{name}"] = value
    return found


def test_every_operation_that_takes_a_user_is_in_the_matrix() -> None:
    functions = public_functions()
    with_user = {name for name, function in functions.items() if takes_a_user(function)}
    in_matrix = {function_of(case) for case in RIGHTS}
    missing = with_user - in_matrix - READ_ONLY - INSIDE_OPERATIONS
    assert missing == set(), "add these to RIGHTS/OPS (or, if they only read, to READ_ONLY)"
    # ...and no entry names a function that is gone or no longer takes a user.
    assert (in_matrix | READ_ONLY | INSIDE_OPERATIONS) - with_user == set()
    assert not (in_matrix & (READ_ONLY | INSIDE_OPERATIONS))
    assert set(RIGHTS) == set(OPS)


def test_the_table_is_well_formed() -> None:
    for case, roles in RIGHTS.items():
        assert roles, f"{case}: nobody may do it"
        assert roles <= set(ACTORS) - {DEACTIVATED}, case  # deactivated users may do nothing


def test_every_operation_against_every_role(desk: Desk, database: Database) -> None:
    """First every refusal, each on a target prepared for its row (a refusal writes nothing,
    so the refused roles of a row share one): each must raise PermissionDenied, leave no
    audit, feed or journal row (checked per call) and, all together, not one changed row in
    any table (a whole-database footprint before and after). Then each allowed role acts on a
    fresh target (the first reuses the refusals' untouched one; `shared` rows take turns on
    it) and must leave its write behind. Every mismatch is collected, so one run shows the
    whole picture."""
    w = build_world(desk)
    for role, username in ACTORS.items():
        assert (w[username].role, w[username].active) == (
            (ADMIN, False) if role == DEACTIVATED else (role, True)
        )
    mismatches: list[str] = []
    targets = {case: OPS[case].prepare(w) for case in RIGHTS}
    before = footprint(database)
    for case, allowed in RIGHTS.items():
        for role, who in ACTORS.items():
            if role in allowed:
                continue
            label = f"{case}: {role} ({who})"
            since = mark(database)
            try:
                OPS[case].run(w, who, targets[case])
            except PermissionDenied as error:
                assert error.exit_code == 4
                if mark(database) != since:
                    mismatches.append(f"{label} was refused but left audit/feed/journal rows")
                continue
            except Exception as error:  # collect every mismatch
                w.session.rollback()
                mismatches.append(f"{label} expected PermissionDenied, got {error!r}")
                continue
            mismatches.append(f"{label} expected PermissionDenied, was allowed")
    after = footprint(database)
    if changed := sorted(table for table in before if before[table] != after[table]):
        mismatches.append(f"the refusals together wrote to {', '.join(changed)}")

    for case, allowed in RIGHTS.items():
        op = OPS[case]
        for index, (role, who) in enumerate((r, u) for r, u in ACTORS.items() if r in allowed):
            target = targets[case] if index == 0 or op.shared else op.prepare(w)
            since = mark(database)
            try:
                result = op.run(w, who, target)
                if op.done is not None:
                    op.done(w, who, target, result)
                else:
                    feed = written(database, since).feed
                    assert any(e.actor_id == w[who].id for e in feed), f"no feed event by {who}"
            except (Exception, pytest.fail.Exception) as error:
                w.session.rollback()
                mismatches.append(f"{case}: {role} ({who}) expected to succeed, got {error!r}")
    assert not mismatches, "\n".join(mismatches)


def test_nobody_hands_work_to_a_viewer_or_a_deactivated_user(
    desk: Desk, database: Database
) -> None:
    """The change and problem forms offer only active non-viewers as assignees, and only
    active people as approvers; the services refuse the others the same way (bad input,
    nothing written), as the incident service already did."""
    w = World(desk)
    directory.add_user(
        w.session, w["root"], w.clock, validate(directory.UserCreate, username="dee", role=ADMIN)
    )
    deactivate(w, "dee")
    number, prb = change(w), problem(w)
    attempts: list[Callable[[str], object]] = [
        lambda who: changes.create_change(
            w.session, w["root"], w.clock, validate(changes.ChangeCreate, title="x", assignee=who)
        ),
        lambda who: _change_update(w, "root", number, assignee=who),
        lambda who: problems.create_problem(
            w.session, w["root"], w.clock, validate(problems.ProblemCreate, title="x", assignee=who)
        ),
        lambda who: _problem_update(w, "root", prb, assignee=who),
    ]
    for who, attempt in itertools.product(("vic", "dee"), attempts):
        refused(database, ValidationFailed, partial(attempt, who), match="cannot take work")
    move(w, "bob", number, state="assess")
    refused(
        database,
        ValidationFailed,
        lambda: move(w, "bob", number, state="authorize", approvers=("sue", "dee")),
        match="deactivated",
    )
    assert move(w, "bob", number, state="authorize", approvers=("sue",)).state == "authorize"
