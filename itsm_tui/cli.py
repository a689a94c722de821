"""The `itsm` command: launches the TUI, or runs one scripted command.

This is a contract for scripts and monitoring hooks: flags, JSON fields and exit codes only
ever grow. Exit codes: 0 ok, 2 bad input, 3 not found, 4 permission denied, 5 conflict.
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from itsm_tui import __version__, output
from itsm_tui.clock import Clock, SystemClock
from itsm_tui.config_errors import ConfigError
from itsm_tui.domain.enums import (
    Criticality,
    HoldReason,
    IncidentState,
    ResolutionCode,
    Role,
)
from itsm_tui.services.errors import PermissionDenied, ServiceError, ValidationFailed
from itsm_tui.store.schema_version import SchemaTooNew

if TYPE_CHECKING:
    # Imported where used instead: SQLAlchemy, pydantic and the services cost about 0.8 s,
    # which `itsm --help`, `--version` and a parse error must not pay (benchmarks/cli_start.py).
    from sqlmodel import Session

    from itsm_tui.config import Settings
    from itsm_tui.domain.change_approvals import CabPolicy
    from itsm_tui.services.records import UserRecord
    from itsm_tui.store.database import Database
    from itsm_tui.store.models import User

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_BROKEN_PIPE = 141  # as a shell reports a process ended by SIGPIPE


@dataclass
class Context:
    """What every command handler gets: parsed args, settings, database, acting user, clock."""

    args: argparse.Namespace
    settings: Settings
    database: Database
    session: Session
    clock: Clock
    _actor: User | None = None

    @property
    def actor(self) -> User:
        from itsm_tui.services import directory

        if self._actor is None:
            self._actor = directory.resolve_actor(self.session, self.clock, self.settings.username)
        return self._actor

    @property
    def json(self) -> bool:
        return bool(getattr(self.args, "json", False))

    def emit(self, human: str, machine: Any) -> None:
        print(output.to_json(machine) if self.json else human)


# ---------------------------------------------------------------------------- parser


def _global_flags(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """Global flags work before or after the command (`itsm --json incident list` and
    `itsm incident list --json`); SUPPRESS keeps a subcommand from overwriting the outer value."""
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument("--db", metavar="URL", default=default, help="database URL")
    parser.add_argument("--user", metavar="NAME", default=default, help="act as this user")
    parser.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="print one JSON document",
    )
    parser.add_argument(
        "--low-bandwidth",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="for slow links (the desk and the wall): lower frame rate, no animations, "
        "ANSI colours (also ITSM_LOW_BANDWIDTH=1 or low_bandwidth in config.toml)",
    )


def _level(value: str) -> int:
    return int(value)


@functools.cache
def build_parser() -> argparse.ArgumentParser:
    """The `itsm` parser, built once per process. Building it costs about 25 ms (over 60
    subcommands, and argparse looks up a translation for every string it adds); a process
    that calls `main` many times (the test suite: thousands of calls, 559 parsers were 20 of
    test_cli_bad_input.py's 45 CPU seconds) pays that once. Reuse is safe: parsing reads
    the parser and never changes it (an `append` default is copied before it grows), and
    help is laid out for the terminal when printed, not when built."""
    parser = argparse.ArgumentParser(
        prog="itsm",
        description="Keyboard-first IT service management desk. With no command, opens the desk.",
        epilog=(
            "exit codes: 0 ok, 1 database unusable, 2 bad input, 3 not found, "
            "4 permission denied, 5 conflict (reload and retry)"
        ),
    )
    _global_flags(parser, suppress=False)
    parser.add_argument("--version", action="version", version=f"itsm {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(
        group: Any, name: str, handler: Callable[[Context], int], help_text: str
    ) -> argparse.ArgumentParser:
        sub = group.add_parser(name, help=help_text, description=help_text)
        _global_flags(sub, suppress=True)
        sub.set_defaults(handler=handler)
        return sub

    init = command(commands, "init", cmd_init, "create or upgrade the database schema")
    init.add_argument(
        "--desk-role",
        default="itsm_desk",
        metavar="ROLE",
        help="PostgreSQL: the desk role the printed GRANTs name (default %(default)s; "
        "docs/audit.md)",
    )
    demo = command(commands, "demo", cmd_demo, "load the demo dataset and open the desk")
    demo.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    demo.add_argument("--incidents", type=int, default=300, help="incidents to generate")
    demo.add_argument("--no-launch", action="store_true", help="load the data, do not open")
    demo.add_argument(
        "--reset",
        action="store_true",
        help="rebuild the demo database even if someone worked in it since it was built",
    )

    worker = command(commands, "worker", cmd_worker, "run the SLA evaluator headless")
    worker.add_argument("--interval", type=float, default=15.0, metavar="S", help="seconds")
    worker.add_argument("--once", action="store_true", help="one pass, then exit")
    worker.add_argument(
        "--auto-close-days",
        type=int,
        metavar="N",
        help="0 turns auto-close off (default: the desk setting, 7)",
    )
    sla = commands.add_parser("sla", help="service level management").add_subparsers(
        dest="action", required=True
    )
    sub = command(sla, "report", cmd_sla_report, "SLA compliance, MTTA and MTTR, at-risk list")
    sub.add_argument("--from", dest="start", metavar="D", help="YYYY-MM-DD or ISO time (UTC)")
    sub.add_argument("--to", dest="end", metavar="D", help="inclusive date, or ISO time")
    sub.add_argument("--service", metavar="S")
    sub.add_argument("--priority", type=_level, choices=[1, 2, 3, 4, 5])
    sub.add_argument("--format", choices=["table", "json", "csv", "md"], default="table")
    policy = sla.add_parser("policy", help="SLA policies").add_subparsers(
        dest="policy_action", required=True
    )
    command(policy, "list", cmd_policy_list, "list SLA policies")
    for name, handler, text in (
        ("add", cmd_policy_add, "add an SLA policy (admin)"),
        ("update", cmd_policy_update, "change an SLA policy (admin)"),
    ):
        sub = command(policy, name, handler, text)
        sub.add_argument("name")
        adding = name == "add"
        if adding:
            sub.add_argument("--priority", type=_level, choices=[1, 2, 3, 4, 5], required=True)
            sub.add_argument("--service", metavar="S", help="default: every service")
        sub.add_argument("--response", metavar="DUR", required=adding, help="e.g. 30m, 4h")
        sub.add_argument("--resolution", metavar="DUR", required=adding, help="e.g. 8h, 2d")
        sub.add_argument("--calendar", metavar="C", required=adding)
        sub.add_argument("--warnings", metavar="P,P,...", help="percents, default 50,75,90")
        sub.add_argument("--actions", metavar="SPEC", help="50=notify_assignee; 100=set_major")
        sub.add_argument("--pause-reasons", metavar="R,R", help="hold reasons that pause")
        state = sub.add_mutually_exclusive_group()
        state.add_argument("--active", dest="active", action="store_true", default=None)
        state.add_argument("--inactive", dest="active", action="store_false")
    sub = command(sla, "verify", cmd_sla_verify, "replay clocks from history; exit 1 on drift")
    sub.add_argument("number", nargs="?", help="one incident (default: all)")
    calendar = commands.add_parser("calendar", help="business calendars").add_subparsers(
        dest="action", required=True
    )
    command(calendar, "list", cmd_calendar_list, "list business calendars")
    for name, handler, text in (
        ("add", cmd_calendar_add, "add a business calendar (admin)"),
        ("update", cmd_calendar_update, "change a business calendar (admin)"),
    ):
        sub = command(calendar, name, handler, text)
        sub.add_argument("name")
        sub.add_argument("--zone", required=name == "add", help="IANA zone, e.g. Europe/London")
        sub.add_argument(
            "--hours", action="append", metavar="SPEC", help="'mon-fri 08:00-17:00' (repeat)"
        )
        sub.add_argument("--24x7", dest="always_on", action="store_true", default=None)
        sub.add_argument("--holidays", metavar="CC[-SUB]", help="e.g. GB-ENG, US, none")
        sub.add_argument("--extra-date", action="append", metavar="YYYY-MM-DD")
    wall = commands.add_parser(
        "wall", help="NOC wall: read-only, full-screen rotation of big panels (q quits)"
    )
    _global_flags(wall, suppress=True)
    wall.add_argument("--rotate", type=float, default=15.0, metavar="SECONDS")
    wall.add_argument("--views", default="queue,sla,changes", metavar="queue,sla,changes")
    inbox = command(commands, "inbox", cmd_inbox, "your notifications, newest first")
    inbox.add_argument("--unread", action="store_true", help="only unread ones")

    # Directory
    user = commands.add_parser("user", help="users").add_subparsers(dest="action", required=True)
    sub = command(user, "add", cmd_user_add, "add a user (admin)")
    sub.add_argument("name")
    sub.add_argument("--role", required=True, choices=[r.value for r in Role])
    sub.add_argument("--group", action="append", default=[], metavar="G")
    sub.add_argument("--display-name", metavar="TEXT")
    sub.add_argument("--email")
    command(user, "list", cmd_user_list, "list users")
    sub = command(
        user,
        "deactivate",
        cmd_user_deactivate,
        "switch a user off (admin): no login, no write; their open desks and SSH sessions end",
    )
    sub.add_argument("name")
    sub = command(
        user,
        "activate",
        cmd_user_activate,
        "switch a deactivated user back on, with the role and groups they had (admin)",
    )
    sub.add_argument("name")
    sub = command(
        user,
        "update",
        cmd_user_update,
        "change a user's role, groups, display name or email (admin); other fields stay",
    )
    sub.add_argument("name")
    sub.add_argument("--role", choices=[r.value for r in Role])
    groups = sub.add_mutually_exclusive_group()
    groups.add_argument(
        "--group",
        action="append",
        metavar="G",
        help="repeatable; the user's groups become exactly these",
    )
    groups.add_argument("--no-groups", action="store_true", help="take out of every group")
    sub.add_argument("--display-name", metavar="TEXT")
    sub.add_argument("--email", help="an empty value clears it")

    group = commands.add_parser("group", help="assignment groups").add_subparsers(
        dest="action", required=True
    )
    sub = command(group, "add", cmd_group_add, "add an assignment group (admin)")
    sub.add_argument("name")
    sub.add_argument("--escalates-to", metavar="G")
    sub.add_argument("--description", default="")
    command(group, "list", cmd_group_list, "list groups")

    service = commands.add_parser("service", help="business services").add_subparsers(
        dest="action", required=True
    )
    sub = command(service, "add", cmd_service_add, "add a business service (admin)")
    sub.add_argument("name")
    sub.add_argument("--criticality", choices=[c.value for c in Criticality], default="medium")
    sub.add_argument("--description", default="")
    command(service, "list", cmd_service_list, "list services")

    ci = commands.add_parser("ci", help="configuration items").add_subparsers(
        dest="action", required=True
    )
    sub = command(ci, "add", cmd_ci_add, "add a configuration item (admin)")
    sub.add_argument("name")
    sub.add_argument("--service", required=True, metavar="S")
    sub.add_argument("--class", dest="ci_class", default="server", metavar="CLASS")
    _ci_change_flags(sub)
    sub = command(ci, "update", cmd_ci_update, "change a configuration item (admin)")
    sub.add_argument("name")
    sub.add_argument("--class", dest="ci_class", metavar="CLASS")
    _ci_change_flags(sub, inherit=True)
    sub.add_argument("--no-maintenance", action="store_true", help="drop every maintenance window")
    sub = command(ci, "list", cmd_ci_list, "list configuration items")
    sub.add_argument("--service", metavar="S")

    # Incidents
    incident = commands.add_parser("incident", help="incidents").add_subparsers(
        dest="action", required=True
    )
    sub = command(incident, "new", cmd_incident_new, "log an incident")
    sub.add_argument("--title", required=True)
    sub.add_argument("--impact", required=True, type=_level, choices=[1, 2, 3])
    sub.add_argument("--urgency", required=True, type=_level, choices=[1, 2, 3])
    sub.add_argument("--description", default="")
    sub.add_argument("--service", metavar="S")
    sub.add_argument("--ci", metavar="C")
    sub.add_argument("--category", metavar="K")
    sub.add_argument("--group", metavar="G")
    sub.add_argument("--assignee", metavar="U")
    sub.add_argument("--caller", metavar="C")

    sub = command(incident, "list", cmd_incident_list, "list incidents, newest first")
    sub.add_argument(
        "--state", action="append", default=[], choices=[s.value for s in IncidentState]
    )
    sub.add_argument(
        "--priority", action="append", default=[], type=_level, choices=[1, 2, 3, 4, 5]
    )
    sub.add_argument("--group", metavar="G")
    sub.add_argument("--assignee", metavar="U|me|none")
    sub.add_argument("--search", metavar="TEXT")
    sub.add_argument("--limit", type=int, default=50)

    sub = command(incident, "show", cmd_incident_show, "show one incident with its journal")
    sub.add_argument("number")

    sub = command(incident, "update", cmd_incident_update, "change an incident")
    sub.add_argument("number")
    sub.add_argument("--state", choices=[s.value for s in IncidentState])
    sub.add_argument("--hold-reason", choices=[r.value for r in HoldReason])
    sub.add_argument("--assignee", metavar="U|none")
    sub.add_argument("--group", metavar="G")
    sub.add_argument("--impact", type=_level, choices=[1, 2, 3])
    sub.add_argument("--urgency", type=_level, choices=[1, 2, 3])
    sub.add_argument("--title")
    sub.add_argument("--description")
    sub.add_argument("--service", metavar="S")
    sub.add_argument("--ci", metavar="C")
    sub.add_argument("--category", metavar="K")
    sub.add_argument("--caller", metavar="C")
    sub.add_argument("--resolution-code", choices=[c.value for c in ResolutionCode])
    sub.add_argument("--resolution-notes", metavar="N")
    major = sub.add_mutually_exclusive_group()
    major.add_argument("--major", dest="major", action="store_true", default=None)
    major.add_argument("--no-major", dest="major", action="store_false")
    sub.add_argument("--reason", metavar="TEXT", help="journaled; required to reopen")
    sub.add_argument("--caused-by", metavar="CHG|none", help="the change that caused it")
    sub.add_argument("--expect-version", type=int, metavar="V")

    sub = command(incident, "note", cmd_incident_note, "add a work note (or --comment)")
    sub.add_argument("number")
    sub.add_argument("--text", required=True)
    sub.add_argument("--comment", action="store_true", help="customer-visible comment")

    sub = command(
        incident, "escalate", cmd_incident_escalate, "hand over to another group, with a reason"
    )
    sub.add_argument("number")
    sub.add_argument("--reason", required=True)
    sub.add_argument("--to-group", metavar="G", help="default: the group's escalation group")
    sub.add_argument("--expect-version", type=int, metavar="V")

    # the sub-CLIs import this module, so they are loaded only once it is
    from itsm_tui import cli_audit, cli_changes, cli_problems, cli_serve, cli_transfer

    cli_changes.register(commands, command)
    cli_problems.register(commands, command)
    cli_audit.register(commands, command)
    cli_transfer.register(commands, command)
    cli_serve.register(commands, command)
    cli_serve.register_user_keys(user, command)
    return parser


# ---------------------------------------------------------------------------- handlers


def cmd_init(ctx: Context) -> int:
    human = f"Schema is up to date on {ctx.database.label}."
    machine: dict[str, Any] = {"database": ctx.database.label, "status": "ok"}
    if ctx.database.engine.dialect.name == "postgresql":
        # Desks connect as a role that cannot alter tables or disable the audit triggers.
        from itsm_tui.store.roles import create_desk_role, desk_role_grants

        create = create_desk_role(ctx.database.engine, ctx.args.desk_role)
        grants = desk_role_grants(ctx.database.engine, ctx.args.desk_role)
        machine["desk_role_grants"] = grants
        human += (
            "\nRun migrations (itsm init) as the owner role and desks as a role with row "
            "privileges only, so no desk can disable the audit trail's triggers. As the owner:\n"
            f"  {output.printable(create)}\n"
            + "\n".join(f"  {output.printable(g)}" for g in grants)
            + "\nRun `itsm init` as the owner after every upgrade and grant again: new tables "
            "need it too."
        )
    ctx.emit(human, machine)
    return EXIT_OK


def cmd_demo(ctx: Context) -> int:
    raise AssertionError("demo is dispatched before a database is opened")


def cmd_worker(ctx: Context) -> int:
    from itsm_tui.config import MAX_AUTO_CLOSE_DAYS
    from itsm_tui.workers import sla_evaluator

    a = ctx.args
    if a.auto_close_days is None:
        a.auto_close_days = ctx.settings.auto_close_days
    if (
        not math.isfinite(a.interval)
        or not 1 <= a.interval <= 86_400  # below a second the loop would spin a CPU
        or not 0 <= a.auto_close_days <= MAX_AUTO_CLOSE_DAYS
    ):
        raise ValidationFailed(
            "--interval must be between 1 and 86400 seconds and --auto-close-days between 0 "
            f"and {MAX_AUTO_CLOSE_DAYS}"
        )

    def report(result: sla_evaluator.PassResult | None) -> None:
        if result is None:
            summary: dict[str, Any] = {"ran": False, "reason": "another evaluator holds the lease"}
        else:
            summary = {
                "ran": True,
                "checked": result.checked,
                "fired": [{"number": n, "kind": k, "percent": p} for n, k, p in result.fired],
                "closed": result.closed,
            }
        if ctx.json:
            print(output.to_json(summary), flush=True)
        elif result is None:
            print("Another evaluator holds the lease; not running.", flush=True)
        else:
            print(
                f"Checked {result.checked} clocks, fired {len(result.fired)} thresholds, "
                f"closed {len(result.closed)} incidents.",
                flush=True,
            )

    if a.once:
        report(
            sla_evaluator.run_once(
                ctx.database,
                ctx.clock,
                holder=sla_evaluator.holder_name(),
                interval_s=a.interval,
                auto_close_days=a.auto_close_days,
                release=True,
            )
        )
        return EXIT_OK
    sla_evaluator.run_forever(
        ctx.database,
        ctx.clock,
        interval_s=a.interval,
        auto_close_days=a.auto_close_days,
        report=report,
    )
    return EXIT_OK


def cmd_sla_report(ctx: Context) -> int:
    from itsm_tui.services import reports
    from itsm_tui.services.validation import validate

    a = ctx.args
    _ = ctx.actor  # only known users read reports
    query = validate(
        reports.SlaReportQuery,
        **_given(
            start=a.start,
            end=_inclusive_end(a.end),
            service=a.service,
            priority=a.priority,
        ),
    )
    report = reports.sla_report(ctx.session, ctx.clock.now(), query)
    fmt = "json" if ctx.json else a.format
    renderers = {
        "table": reports.render_table,
        "csv": reports.render_csv,
        "md": reports.render_markdown,
        "json": output.to_json,
    }
    print(renderers[fmt](report))
    return EXIT_OK


def cmd_sla_verify(ctx: Context) -> int:
    from itsm_tui.services.sla_verify import verify_clocks

    _ = ctx.actor  # only known users may audit
    report = verify_clocks(ctx.session, ctx.clock.now(), ctx.args.number)
    human = [
        f"Checked {report.clocks_checked} clocks on {report.incidents_checked} incidents: "
        + ("all match their history." if report.ok else f"{len(report.mismatches)} mismatches.")
    ]
    human += [f"  {output.printable(m.describe())}" for m in report.mismatches]
    ctx.emit("\n".join(human), report)
    return EXIT_OK if report.ok else EXIT_FAILURE


def _inclusive_end(value: str | None) -> str | None:
    """`--to 2026-03-31` means to the end of that day: the period ends at the next midnight."""
    if value is None or len(value.strip()) != len("YYYY-MM-DD"):
        return value
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        return value  # the query model explains what is wrong
    if day == date.max:
        raise ValidationFailed(f"--to {day.isoformat()} is out of range; give an earlier day")
    return (day + timedelta(days=1)).isoformat()


def cmd_policy_list(ctx: Context) -> int:
    from itsm_tui.services import sla_admin

    _ = ctx.actor
    policies = sla_admin.list_policies(ctx.session)
    duration = sla_admin.format_duration
    ctx.emit(
        output.table(
            ["POLICY", "PRI", "SERVICE", "RESPONSE", "RESOLUTION", "CALENDAR", "ACTIVE"],
            [
                [
                    p.name,
                    f"P{p.priority}",
                    p.service or "(all)",
                    duration(p.response_seconds),
                    duration(p.resolution_seconds),
                    p.calendar,
                    "yes" if p.active else "no",
                ]
                for p in policies
            ],
        ),
        policies,
    )
    return EXIT_OK


def _policy_values(a: argparse.Namespace) -> dict[str, Any]:
    from itsm_tui.services import sla_admin

    return _given(
        response_seconds=sla_admin.parse_duration(a.response) if a.response else None,
        resolution_seconds=sla_admin.parse_duration(a.resolution) if a.resolution else None,
        calendar=a.calendar,
        warnings=_numbers(a.warnings),
        actions=sla_admin.parse_actions(a.actions) if a.actions else None,
        pause_reasons=_words(a.pause_reasons),
        active=a.active,
    )


def _numbers(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(p.strip() for p in text.split(",") if p.strip())


def _words(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    return () if text.strip().lower() == "none" else _numbers(text)


def cmd_policy_add(ctx: Context) -> int:
    from itsm_tui.services import sla_admin
    from itsm_tui.services.validation import validate

    a = ctx.args
    data = validate(
        sla_admin.PolicyInput,
        name=a.name,
        priority=a.priority,
        **_given(service=a.service),
        **_policy_values(a),
    )
    record = sla_admin.add_policy(ctx.session, ctx.actor, ctx.clock, data)
    ctx.emit(f"Added SLA policy {output.printable(record.name)}.", record)
    return EXIT_OK


def cmd_policy_update(ctx: Context) -> int:
    from itsm_tui.services import sla_admin
    from itsm_tui.services.validation import validate

    changes = validate(sla_admin.PolicyChanges, **_policy_values(ctx.args))
    record = sla_admin.update_policy(ctx.session, ctx.actor, ctx.clock, ctx.args.name, changes)
    ctx.emit(f"Updated SLA policy {output.printable(record.name)}.", record)
    return EXIT_OK


def cmd_calendar_list(ctx: Context) -> int:
    from itsm_tui.services import sla_admin

    _ = ctx.actor
    calendars = sla_admin.list_calendars(ctx.session)
    ctx.emit(
        output.table(
            ["CALENDAR", "ZONE", "HOURS", "HOLIDAYS"],
            [
                [
                    c.name,
                    c.zone,
                    "24x7" if c.always_on else "; ".join(c.hours),
                    c.holidays or "-",
                ]
                for c in calendars
            ],
        ),
        calendars,
    )
    return EXIT_OK


def _calendar_values(a: argparse.Namespace) -> dict[str, Any]:
    return _given(
        zone=a.zone,
        hours=tuple(a.hours) if a.hours else None,
        always_on=a.always_on,
        holidays=a.holidays,
        extra_dates=tuple(a.extra_date) if a.extra_date else None,
    )


def cmd_calendar_add(ctx: Context) -> int:
    from itsm_tui.services import sla_admin
    from itsm_tui.services.validation import validate

    data = validate(sla_admin.CalendarInput, name=ctx.args.name, **_calendar_values(ctx.args))
    record = sla_admin.add_calendar(ctx.session, ctx.actor, ctx.clock, data)
    ctx.emit(f"Added calendar {output.printable(record.name)}.", record)
    return EXIT_OK


def cmd_calendar_update(ctx: Context) -> int:
    from itsm_tui.services import sla_admin
    from itsm_tui.services.validation import validate

    changes = validate(sla_admin.CalendarChanges, **_calendar_values(ctx.args))
    record = sla_admin.update_calendar(ctx.session, ctx.actor, ctx.clock, ctx.args.name, changes)
    ctx.emit(f"Updated calendar {output.printable(record.name)}.", record)
    return EXIT_OK


def cmd_inbox(ctx: Context) -> int:
    from itsm_tui.services import notifications

    entries = notifications.inbox(ctx.session, ctx.actor, unread_only=ctx.args.unread)
    ctx.emit(
        output.table(
            ["WHEN", "KIND", "INCIDENT", "MESSAGE"],
            [[output.when(n.created_at), n.kind, n.incident or "-", n.body] for n in entries],
        )
        if entries
        else "No notifications.",
        entries,
    )
    return EXIT_OK


def cmd_user_add(ctx: Context) -> int:
    from itsm_tui.services import directory
    from itsm_tui.services.validation import validate

    a = ctx.args
    data = validate(
        directory.UserCreate,
        username=a.name,
        role=a.role,
        display_name=a.display_name,
        email=a.email,
        groups=tuple(a.group),
    )
    record = directory.add_user(ctx.session, ctx.actor, ctx.clock, data)
    ctx.emit(f"Added user {record.username} ({record.role}).", record)
    return EXIT_OK


def cmd_user_list(ctx: Context) -> int:
    from itsm_tui.services import directory

    _ = ctx.actor  # only known users may read
    users = directory.list_users(ctx.session)
    ctx.emit(
        output.table(
            ["USERNAME", "ROLE", "NAME", "GROUPS"],
            [
                [u.username, _role_label(u), u.display_name, ", ".join(u.groups) or "-"]
                for u in users
            ],
        ),
        users,
    )
    return EXIT_OK


def _role_label(user: UserRecord) -> str:
    """The ROLE cell: a deactivated user is marked there, so the table keeps its columns."""
    return user.role if user.active else f"{user.role} (inactive)"


def cmd_user_deactivate(ctx: Context) -> int:
    from itsm_tui.services import user_admin

    change = user_admin.deactivate_user(ctx.session, ctx.actor, ctx.clock, ctx.args.name)
    name = change.record.username
    done = f"Deactivated user {name}." if change.changed else f"User {name} is already inactive."
    ctx.emit(done, change.record)
    return EXIT_OK


def cmd_user_activate(ctx: Context) -> int:
    from itsm_tui.services import user_admin

    change = user_admin.activate_user(ctx.session, ctx.actor, ctx.clock, ctx.args.name)
    name = change.record.username
    done = f"Activated user {name}." if change.changed else f"User {name} is already active."
    ctx.emit(done, change.record)
    return EXIT_OK


def cmd_user_update(ctx: Context) -> int:
    from itsm_tui.services import user_admin
    from itsm_tui.services.validation import validate

    a = ctx.args
    groups = () if a.no_groups else tuple(a.group) if a.group is not None else None
    data = validate(
        user_admin.UserUpdate,
        role=a.role,
        groups=groups,
        display_name=a.display_name,
        email=a.email,
    )
    change = user_admin.update_user(ctx.session, ctx.actor, ctx.clock, a.name, data)
    record = change.record
    done = (
        f"Updated user {record.username} ({record.role})."
        if change.changed
        else f"User {record.username} already is as asked; nothing changed."
    )
    ctx.emit(done, record)
    return EXIT_OK


def cmd_group_add(ctx: Context) -> int:
    from itsm_tui.services import directory
    from itsm_tui.services.validation import validate

    a = ctx.args
    data = validate(
        directory.GroupCreate, name=a.name, escalates_to=a.escalates_to, description=a.description
    )
    record = directory.add_group(ctx.session, ctx.actor, ctx.clock, data)
    ctx.emit(f"Added group {output.printable(record.name)}.", record)
    return EXIT_OK


def cmd_group_list(ctx: Context) -> int:
    from itsm_tui.services import directory

    _ = ctx.actor  # only known users may read
    groups = directory.list_groups(ctx.session)
    ctx.emit(
        output.table(
            ["GROUP", "ESCALATES TO", "MEMBERS"],
            [[g.name, g.escalates_to or "-", str(len(g.members))] for g in groups],
        ),
        groups,
    )
    return EXIT_OK


def cmd_service_add(ctx: Context) -> int:
    from itsm_tui.services import directory
    from itsm_tui.services.validation import validate

    a = ctx.args
    data = validate(
        directory.ServiceCreate,
        name=a.name,
        criticality=a.criticality,
        description=a.description,
    )
    record = directory.add_service(ctx.session, ctx.actor, ctx.clock, data)
    ctx.emit(f"Added service {output.printable(record.name)}.", record)
    return EXIT_OK


def cmd_service_list(ctx: Context) -> int:
    from itsm_tui.services import directory

    _ = ctx.actor  # only known users may read
    services = directory.list_services(ctx.session)
    ctx.emit(
        output.table(["SERVICE", "CRITICALITY"], [[s.name, s.criticality] for s in services]),
        services,
    )
    return EXIT_OK


def _ci_change_flags(sub: argparse.ArgumentParser, *, inherit: bool = False) -> None:
    choices = [c.value for c in Criticality] + (["inherit"] if inherit else [])
    sub.add_argument(
        "--criticality",
        choices=choices,
        help="read by change risk; without it (or 'inherit') the CI is as critical as its service",
    )
    sub.add_argument(
        "--maintenance",
        action="append",
        metavar="WINDOW",
        help="weekly window changes must fit in, e.g. 'Sun 02:00-06:00 Europe/London' "
        "(repeatable; zone optional, UTC by default)",
    )


def cmd_ci_add(ctx: Context) -> int:
    from itsm_tui.services import directory
    from itsm_tui.services.validation import validate

    a = ctx.args
    data = validate(
        directory.ConfigItemCreate,
        **_given(
            name=a.name,
            service=a.service,
            ci_class=a.ci_class,
            criticality=a.criticality,
            maintenance=tuple(a.maintenance) if a.maintenance else None,
        ),
    )
    record = directory.add_config_item(ctx.session, ctx.actor, ctx.clock, data)
    ctx.emit(
        f"Added CI {output.printable(record.name)} to {output.printable(record.service)}.",
        record,
    )
    return EXIT_OK


def cmd_ci_update(ctx: Context) -> int:
    from itsm_tui.services import directory
    from itsm_tui.services.validation import validate

    a = ctx.args
    if a.no_maintenance and a.maintenance:
        raise ValidationFailed("give --maintenance or --no-maintenance, not both")
    maintenance = () if a.no_maintenance else tuple(a.maintenance) if a.maintenance else None
    data = validate(
        directory.ConfigItemUpdate,
        **_given(
            ci_class=a.ci_class,
            criticality=None if a.criticality == "inherit" else a.criticality,
            maintenance=maintenance,
        ),
        inherit_criticality=a.criticality == "inherit",
    )
    record = directory.update_config_item(ctx.session, ctx.actor, ctx.clock, a.name, data)
    ctx.emit(f"Updated CI {output.printable(record.name)}.", record)
    return EXIT_OK


def cmd_ci_list(ctx: Context) -> int:
    from itsm_tui.services import directory

    _ = ctx.actor  # only known users may read
    items = directory.list_config_items(ctx.session, ctx.args.service)
    ctx.emit(
        output.table(
            ["CI", "CLASS", "SERVICE", "CRITICALITY", "MAINTENANCE"],
            [
                [
                    c.name,
                    c.ci_class,
                    c.service,
                    c.criticality or "(service)",
                    "; ".join(c.maintenance) or "-",
                ]
                for c in items
            ],
        ),
        items,
    )
    return EXIT_OK


def cmd_incident_new(ctx: Context) -> int:
    from itsm_tui.services import incidents
    from itsm_tui.services.validation import validate

    a = ctx.args
    data = validate(
        incidents.IncidentCreate,
        **_given(
            title=a.title,
            impact=a.impact,
            urgency=a.urgency,
            description=a.description,
            service=a.service,
            ci=a.ci,
            category=a.category,
            group=a.group,
            assignee=a.assignee,
            caller=a.caller,
        ),
    )
    record = incidents.create_incident(ctx.session, ctx.actor, ctx.clock, data)
    ctx.emit(
        f"Created {record.number} (P{record.priority}): {output.printable(record.title)}", record
    )
    return EXIT_OK


def cmd_incident_list(ctx: Context) -> int:
    from itsm_tui.services import incidents
    from itsm_tui.services.validation import validate

    a = ctx.args
    query = validate(
        incidents.IncidentQuery,
        **_given(
            states=tuple(a.state),
            priorities=tuple(a.priority),
            group=a.group,
            assignee=a.assignee,
            search=a.search,
            limit=a.limit,
        ),
    )
    records = incidents.list_incidents(ctx.session, ctx.actor, query)
    ctx.emit(output.incident_table(records), records)
    if len(records) == query.limit:
        # stderr, so `--json | jq length` scripts still get a clean array but a person sees it.
        print(
            f"itsm: note: showing the first {query.limit}; there may be more (raise --limit)",
            file=sys.stderr,
        )
    return EXIT_OK


def cmd_incident_show(ctx: Context) -> int:
    from itsm_tui.services import incidents

    _ = ctx.actor  # only known users may read
    detail = incidents.incident_detail(ctx.session, ctx.args.number, now=ctx.clock.now())
    if ctx.json:
        payload = detail.incident.model_dump(mode="json")
        payload["journal"] = [j.model_dump(mode="json") for j in detail.journal]
        payload["audit"] = [e.model_dump(mode="json") for e in detail.audit]
        payload["sla"] = [c.model_dump(mode="json") for c in detail.sla]
        ctx.emit("", payload)
    else:
        ctx.emit(output.incident_text(detail), detail)
    return EXIT_OK


def cmd_incident_update(ctx: Context) -> int:
    from itsm_tui.services import incidents
    from itsm_tui.services.validation import validate

    a = ctx.args
    changes = validate(
        incidents.IncidentChanges,
        **_given(
            state=a.state,
            hold_reason=a.hold_reason,
            assignee=a.assignee,
            group=a.group,
            impact=a.impact,
            urgency=a.urgency,
            title=a.title,
            description=a.description,
            service=a.service,
            ci=a.ci,
            category=a.category,
            caller=a.caller,
            resolution_code=a.resolution_code,
            resolution_notes=a.resolution_notes,
            major=a.major,
            caused_by=a.caused_by,
            reason=a.reason,
        ),
    )
    record = incidents.update_incident(
        ctx.session, ctx.actor, ctx.clock, a.number, changes, expect_version=a.expect_version
    )
    ctx.emit(f"Updated {record.number} (version {record.version}, {record.state}).", record)
    return EXIT_OK


def cmd_incident_note(ctx: Context) -> int:
    from itsm_tui.services import incidents

    a = ctx.args
    entry = incidents.add_note(
        ctx.session, ctx.actor, ctx.clock, a.number, a.text, comment=a.comment
    )
    label = "comment" if a.comment else "work note"
    number = a.number.strip().upper()
    ctx.emit(f"Added a {label} to {number}.", {"number": number, **entry.model_dump(mode="json")})
    return EXIT_OK


def cmd_incident_escalate(ctx: Context) -> int:
    from itsm_tui.services import incidents

    a = ctx.args
    record = incidents.escalate(
        ctx.session,
        ctx.actor,
        ctx.clock,
        a.number,
        reason=a.reason,
        to_group=a.to_group,
        expect_version=a.expect_version,
    )
    ctx.emit(f"Escalated {record.number} to {output.printable(record.group)}.", record)
    return EXIT_OK


def _given(**values: Any) -> dict[str, Any]:
    """Drop flags that were not given, so models apply their own defaults."""
    return {k: v for k, v in values.items() if v is not None}


# ---------------------------------------------------------------------------- entry point


def main(argv: Sequence[str] | None = None, *, clock: Clock | None = None) -> int:
    from itsm_tui import warnings_policy  # first: no library deprecation reaches a user

    warnings_policy.quiet_library_deprecations()
    parser = build_parser()
    args = parser.parse_args(argv)
    # Loaded only past parsing: `itsm --help` and `--version` stay a fraction of their cost.
    from sqlalchemy.exc import OperationalError, SQLAlchemyError

    from itsm_tui import cli_database
    from itsm_tui.config import resolve_settings
    from itsm_tui.domain.errors import DomainError
    from itsm_tui.services import slas
    from itsm_tui.store.database import DatabaseMissing

    clock = clock or SystemClock()
    try:
        _refuse_unstorable(sys.argv[1:] if argv is None else argv)
        settings = resolve_settings(
            cli_database_url=args.db, cli_user=args.user, cli_low_bandwidth=args.low_bandwidth
        )
        if args.command == "demo":
            return _run_demo(args, settings, clock)
        if args.command is None:
            return _launch(settings, clock)
        if args.command == "wall":
            return _launch_wall(args, settings, clock)
        database = _open(settings, create=args.command in cli_database.CREATING_COMMANDS)
        notice = cli_database.default_notice(settings)
        if notice is not None and not getattr(args, "json", False):
            print(notice, file=sys.stderr, flush=True)
        try:
            with database.session() as session:
                slas.ensure_defaults(session, clock, settings.timezone)
                ctx = Context(
                    args=args, settings=settings, database=database, session=session, clock=clock
                )
                return args.handler(ctx)
        finally:
            database.dispose()
    except ServiceError as error:
        _fail(str(error))
        return error.exit_code
    except ConfigError as error:
        _fail(str(error))
        return EXIT_BAD_INPUT
    except DomainError as error:  # a rule refused where no service translated it: bad input
        _fail(str(error))
        return EXIT_BAD_INPUT
    except SchemaTooNew as error:
        _fail(str(error))
        return EXIT_FAILURE
    except DatabaseMissing as error:
        _fail(cli_database.missing_message(settings, error), multiline=True)
        return EXIT_FAILURE
    except OperationalError as error:
        _fail(f"cannot use the database: {error.orig}")
        return EXIT_FAILURE
    except BrokenPipeError:
        # `itsm incident list | head`: the reader left; say nothing more.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except OSError as error:
        _fail(f"cannot use {error.filename or 'a file'}: {error.strerror or error}")
        return EXIT_FAILURE
    except SQLAlchemyError as error:
        _fail(f"database error: {error}")
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130


def _refuse_unstorable(argv: Sequence[str]) -> None:
    """Refuse text no engine stores as typed: NUL (PostgreSQL text cannot hold it; SQLite
    would) and undecodable bytes (lone surrogates). Checked on every argument, lookups and
    filters included, so both engines refuse alike (exit 2) instead of one failing in its
    driver."""
    for arg in argv:
        short = arg if len(arg) <= 40 else arg[:40] + "…"
        shown = output.printable(short.encode("utf-8", "backslashreplace").decode("utf-8"))
        if "\x00" in arg:
            raise ValidationFailed(f"argument '{shown}' may not contain NUL characters")
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationFailed(f"argument '{shown}' is not valid UTF-8") from None


def _open(settings: Settings, *, create: bool = False) -> Database:
    """Open the configured database; a URL that cannot name a usable database is bad input.

    Only `init` and `demo` pass `create`: anywhere else a missing database is an error
    (`DatabaseMissing`, exit 1) and nothing is made."""
    from sqlalchemy.exc import ArgumentError

    from itsm_tui.store.database import open_database

    hint = (
        f"check the database URL (from {settings.database_source}); "
        "use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
    )
    try:
        return open_database(settings.database_url, create=create)
    except ArgumentError as error:
        raise ConfigError(f"cannot use database URL: {error}; {hint}") from error
    except ImportError as error:
        # e.g. mysql://, or postgresql without the `postgres` extra (psycopg) installed
        raise ConfigError(
            f"no driver for this database URL ({error.name or error}); {hint}; "
            "for PostgreSQL install itsm-tui[postgres]"
        ) from error


def _fail(message: str, *, multiline: bool = False) -> None:
    print(f"itsm: error: {output.printable(message, multiline=multiline)}", file=sys.stderr)


def _run_demo(args: argparse.Namespace, settings: Settings, clock: Clock) -> int:
    from sqlalchemy.engine import make_url

    from itsm_tui import cli_database
    from itsm_tui.config import demo_database_path, sqlite_url
    from itsm_tui.demo_progress import demo_progress
    from itsm_tui.services.demo import DemoOptions, changed_since_built, prepare_demo_database
    from itsm_tui.services.validation import validate

    options = validate(
        DemoOptions,
        seed=args.seed,
        incidents=args.incidents,
        acting_user=settings.username,
        timezone=settings.timezone,
    )
    # Only an explicit --db redirects the demo: a desk configured through the environment or
    # config.toml is someone's real database and must not fill up with fake tickets.
    named_url = settings.database_url if settings.database_source == "--db" else None
    if named_url is not None:
        _open(
            settings, create=True
        ).dispose()  # a bad URL or a missing driver is bad input (exit 2)
    own = demo_database_path()
    rebuild = True
    if named_url is None and not args.reset and own.exists() and changed_since_built(own):
        answer = _confirm_demo_rebuild(str(own))
        if answer is None:
            return EXIT_BAD_INPUT
        rebuild = answer
    if rebuild:
        headline = f"Loading demo data ({options.incidents} incidents, seed {options.seed})…"
        with demo_progress(sys.stderr, headline) as progress:
            url = prepare_demo_database(named_url, options, clock, progress)
    else:
        url = sqlite_url(own)
    reopen = (
        ""
        if named_url
        else "; open it again with: " + output.printable(cli_database.demo_command())
    )
    if args.no_launch:
        shown = make_url(url).render_as_string(hide_password=True)
        summary = {
            "database": shown,
            "seed": options.seed,
            "incidents": options.incidents,
            "rebuilt": rebuild,
        }
        if getattr(args, "json", False):
            print(output.to_json(summary))
        elif rebuild:
            loaded = f"{options.incidents} incidents, seed {options.seed}"
            print(f"Demo data ({loaded}) is in {output.printable(shown)}{reopen}")
        else:
            print(f"The demo is in {output.printable(shown)} as you left it{reopen}")
        return EXIT_OK
    source = "--db" if named_url else "demo"  # the demo's own file: quitting says where
    return _launch(
        settings.model_copy(update={"database_url": url, "database_source": source}), clock
    )


def _confirm_demo_rebuild(path: str) -> bool | None:
    """Someone worked in the demo since it was built: rebuild only if they say so (no: the
    demo opens as they left it). Without a terminal to ask on, refuse (None: exit 2) and name
    the flag that rebuilds anyway."""
    what = f"the demo at {output.printable(path)} has changes since it was built"
    if not sys.stdin.isatty():
        _fail(f"{what}; rebuilding would wipe them. Rebuild anyway with: itsm demo --reset")
        return None
    try:
        answer = input(f"{what[0].upper()}{what[1:]}. Rebuild it and lose them? [y/N] ")
    except EOFError:
        answer = ""
    return answer.strip().lower() in ("y", "yes")


def cab_policy(settings: Settings) -> CabPolicy:
    from itsm_tui.domain.change_approvals import CabPolicy

    return CabPolicy(
        moderate_quorum=settings.cab_moderate_quorum, high_quorum=settings.cab_high_quorum
    )


def _launch(settings: Settings, clock: Clock) -> int:
    from itsm_tui import cli_database
    from itsm_tui.config import demo_database_path, sqlite_url
    from itsm_tui.services import directory, slas

    create = False
    if cli_database.default_is_missing(settings):
        choice = _ask_first_run(settings)
        if choice is None:
            print("Nothing was created. " + cli_database.missing_default_message(settings))
            return EXIT_OK
        if choice == "demo":
            demo_url = sqlite_url(demo_database_path())
            settings = settings.model_copy(
                update={"database_url": demo_url, "database_source": "demo"}
            )
        create = choice == "new"
    database = _open(settings, create=create)
    try:
        with database.session() as session:
            slas.ensure_defaults(session, clock, settings.timezone)
            directory.resolve_actor(session, clock, settings.username)
    finally:
        database.dispose()
    _limit_frame_rate(settings)
    from itsm_tui.app import ITSMApp

    app = ITSMApp(
        database_url=settings.database_url,
        username=settings.username,
        clock=clock,
        auto_close_days=settings.auto_close_days,
        timezone=settings.timezone,
        cab_policy=cab_policy(settings),
        low_bandwidth=settings.low_bandwidth,
        database_source=settings.database_source,
    )
    app.run()
    if app.account_closed:  # the user was deactivated while the desk was open (it said so)
        return PermissionDenied.exit_code
    if settings.database_source == "demo":
        # `itsm` alone opens the configured desk, not the demo: say how to come back to it.
        print(output.printable(cli_database.demo_whereabouts()))
    return EXIT_OK


def _ask_first_run(settings: Settings) -> str | None:
    """No database was chosen and the default one is missing: ask, never create silently."""
    _limit_frame_rate(settings)
    from itsm_tui.config import demo_database_path
    from itsm_tui.first_run import FirstRunApp
    from itsm_tui.store.database import describe_location

    demo = demo_database_path()
    return FirstRunApp(
        default_path=describe_location(settings.database_url),
        demo_path=str(demo) if demo.exists() else None,
    ).run()


def _launch_wall(args: argparse.Namespace, settings: Settings, clock: Clock) -> int:
    """`itsm wall`: checked like the desk's launch (database, user), then runs until quit."""
    from itsm_tui.services import directory
    from itsm_tui.widgets.wall import VIEWS

    views = tuple(view.strip() for view in args.views.split(",") if view.strip())
    if not views or any(view not in VIEWS for view in views):
        raise ConfigError(f"--views takes a comma-separated list of {', '.join(VIEWS)}")
    if not args.rotate >= 1:  # NaN, 0, and 1e-9 (a rotation that spins a CPU) are refused
        raise ConfigError("--rotate takes a number of seconds, at least 1")
    database = _open(settings)
    try:
        with database.session() as session:
            directory.resolve_actor(session, clock, settings.username)
    finally:
        database.dispose()
    _limit_frame_rate(settings)
    from itsm_tui.wall import WallApp

    WallApp(
        database_url=settings.database_url,
        username=settings.username,
        clock=clock,
        rotate_s=args.rotate,
        views=views,
        timezone=settings.timezone,
        low_bandwidth=settings.low_bandwidth,
    ).run()
    return EXIT_OK


def _limit_frame_rate(settings: Settings) -> None:
    """Textual reads its frame rate once, when first imported: set it before the app loads."""
    if settings.low_bandwidth:
        from itsm_tui.low_bandwidth import limit_frame_rate

        limit_frame_rate(os.environ)


if __name__ == "__main__":
    raise SystemExit(main())
