"""`itsm change ...` and `itsm freeze ...`: change management from scripts.

The same contract as the incident commands (see `cli.py`): global flags before or after the
command, human text or one JSON document with `--json`, errors on stderr with exit codes
2 bad input, 3 not found, 4 permission denied, 5 conflict (a stale `--expect-version`).
Every command is one service call, so one transaction: a refused command writes nothing.

`change update` edits fields (`update_change`) or moves the state (`move_change`, with
`--state`), never both in one run: two transactions could leave half of it applied.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from itsm_tui import output_changes as render
from itsm_tui.cli import EXIT_OK, _given, _inclusive_end, cab_policy
from itsm_tui.domain.enums import (
    ApprovalDecision,
    ChangeOutcome,
    ChangeRisk,
    ChangeState,
    ChangeType,
)
from itsm_tui.output import printable, when
from itsm_tui.services.errors import ValidationFailed

if TYPE_CHECKING:
    from itsm_tui.cli import Context
    from itsm_tui.domain import conflicts

# The services, pydantic and the input models are imported in the handlers: this module is
# loaded to build the parser, and `itsm --help` must not pay for them.

Command = Callable[[Any, str, Callable[["Context"], int], str], argparse.ArgumentParser]

CONFLICTS_HELP = (
    "list what clashes with a change's planned window: other booked changes on the same CI, "
    "service or assignee, freeze windows, CI maintenance windows. Exits 0 whether or not "
    "there are conflicts (an empty list); scripts read the list, or `--json | jq length`"
)


# ---------------------------------------------------------------------------- parser


def register(commands: Any, command: Command) -> None:
    """Add `change` and `freeze` to the `itsm` parser; `command` is `build_parser`'s helper
    that adds the global flags and the handler to a subcommand."""
    change = commands.add_parser("change", help="change management").add_subparsers(
        dest="action", required=True
    )
    sub = command(change, "new", cmd_change_new, "request a change")
    sub.add_argument("--title", required=True)
    sub.add_argument(
        "--type", dest="change_type", choices=[t.value for t in ChangeType], default=None
    )
    _field_flags(sub, creating=True)

    sub = command(change, "list", cmd_change_list, "list changes by planned start")
    sub.add_argument("--state", action="append", default=[], choices=[s.value for s in ChangeState])
    _period_flags(sub, "changes whose planned window overlaps")
    sub.add_argument("--service", metavar="S")
    sub.add_argument("--group", metavar="G")
    sub.add_argument("--assignee", metavar="U|me")

    sub = command(
        change, "show", cmd_change_show, "show one change with approvals, incidents, conflicts"
    )
    sub.add_argument("number")

    sub = command(
        change,
        "update",
        cmd_change_update,
        "edit a change's fields, or move it with --state (not both at once)",
    )
    sub.add_argument("number")
    sub.add_argument("--title")
    sub.add_argument("--type", dest="change_type", choices=[t.value for t in ChangeType])
    _field_flags(sub, creating=False)
    sub.add_argument("--state", choices=[s.value for s in ChangeState])
    sub.add_argument("--approvers", metavar="U,U", help="CAB members to ask (--state authorize)")
    sub.add_argument("--outcome", choices=[o.value for o in ChangeOutcome])
    sub.add_argument("--review-notes", metavar="TEXT")
    sub.add_argument("--window-override", action="store_true", help="implement outside window")
    _override_flags(sub)
    sub.add_argument("--expect-version", type=int, metavar="V")

    sub = command(change, "approve", cmd_change_approve, "approve a change in authorize")
    sub.add_argument("number")
    sub.add_argument("--comment", default="", metavar="TEXT")
    sub = command(change, "reject", cmd_change_reject, "reject a change back to new, saying why")
    sub.add_argument("number")
    sub.add_argument("--comment", required=True, metavar="TEXT")

    sub = command(change, "schedule", cmd_change_schedule, "schedule a change, booking its window")
    sub.add_argument("number")
    sub.add_argument("--start", metavar="TIME", help="ISO 8601 with offset")
    sub.add_argument("--end", metavar="TIME", help="ISO 8601 with offset")
    _override_flags(sub)
    sub.add_argument("--expect-version", type=int, metavar="V")

    sub = command(change, "conflicts", cmd_change_conflicts, CONFLICTS_HELP)
    sub.add_argument("number")
    sub = command(change, "note", cmd_change_note, "add a work note to a change's journal")
    sub.add_argument("number")
    sub.add_argument("text")

    freeze = commands.add_parser("freeze", help="change freeze windows").add_subparsers(
        dest="action", required=True
    )
    sub = command(freeze, "add", cmd_freeze_add, "add a freeze window (change manager)")
    sub.add_argument("name")
    sub.add_argument("--start", required=True, metavar="TIME", help="ISO 8601 with offset")
    sub.add_argument("--end", required=True, metavar="TIME", help="ISO 8601 with offset")
    sub.add_argument("--service", metavar="S", help="default: every service")
    sub.add_argument("--reason", default="", metavar="TEXT")
    sub = command(freeze, "list", cmd_freeze_list, "list freeze windows by start")
    _period_flags(sub, "freezes that overlap")
    sub = command(freeze, "remove", cmd_freeze_remove, "remove a freeze window (change manager)")
    sub.add_argument("name")


def _field_flags(sub: argparse.ArgumentParser, *, creating: bool) -> None:
    """The change's own fields, shared by `new` and `update` so both spell them alike."""
    sub.add_argument("--description", metavar="TEXT")
    sub.add_argument("--justification", metavar="TEXT")
    sub.add_argument("--service", metavar="S" if creating else "S|none")
    sub.add_argument(
        "--ci",
        action="append",
        metavar="C[,C]" if creating else "C[,C]|none",
        help="repeat or comma-separate" + ("" if creating else "; replaces the list"),
    )
    sub.add_argument("--impact", type=int, choices=[1, 2, 3])
    _switch(sub, "--outage-expected", "--no-outage", "outage_expected")
    _switch(sub, "--tested", "--untested", "tested")
    _switch(sub, "--backout", "--no-backout", "backout_possible")
    sub.add_argument(
        "--risk", dest="risk_override", choices=[r.value for r in ChangeRisk], help="override"
    )
    sub.add_argument("--risk-reason", metavar="TEXT", help="why the risk is overridden")
    if not creating:
        sub.add_argument(
            "--recompute-risk", action="store_true", help="drop an override, use the answers"
        )
    sub.add_argument("--start", metavar="TIME", help="planned start, ISO 8601 with offset")
    sub.add_argument("--end", metavar="TIME", help="planned end, ISO 8601 with offset")
    sub.add_argument("--implementation-plan", metavar="TEXT")
    sub.add_argument("--backout-plan", metavar="TEXT")
    sub.add_argument("--test-plan", metavar="TEXT")
    sub.add_argument("--assignee", metavar="U|me" if creating else "U|me|none")
    sub.add_argument("--group", metavar="G" if creating else "G|none")
    sub.add_argument("--freeze-justification", metavar="TEXT", help="emergency changes only")


def _switch(sub: argparse.ArgumentParser, yes: str, no: str, dest: str) -> None:
    pair = sub.add_mutually_exclusive_group()
    pair.add_argument(yes, dest=dest, action="store_true", default=None)
    pair.add_argument(no, dest=dest, action="store_false")


def _override_flags(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--override",
        action="store_true",
        help="schedule over conflicts (change managers, with --reason)",
    )
    sub.add_argument("--reason", default="", metavar="TEXT", help="journaled on the change")


def _period_flags(sub: argparse.ArgumentParser, what: str) -> None:
    sub.add_argument(
        "--from", dest="start", metavar="D", help=f"{what} from: YYYY-MM-DD or ISO time (UTC)"
    )
    sub.add_argument("--to", dest="end", metavar="D", help="inclusive date, or ISO time")


# ---------------------------------------------------------------------------- input helpers


def _period(a: argparse.Namespace) -> conflicts.Window | None:
    from itsm_tui.cli_inputs import Period
    from itsm_tui.services.validation import validate

    return validate(Period, **_given(start=a.start, end=_inclusive_end(a.end))).window()


def _names(values: Sequence[str] | None) -> tuple[str, ...] | None:
    """`--ci a,b --ci c` as ('a', 'b', 'c'); `--ci none` as () to clear the list."""
    from itsm_tui.services import changes

    if values is None:
        return None
    names = tuple(p.strip() for v in values for p in v.split(",") if p.strip())
    return () if [n.lower() for n in names] == [changes.NONE] else names


def _me(ctx: Context, name: str | None) -> str | None:
    """`--assignee me` is the acting user, as in the incident commands."""
    return ctx.actor.username if name is not None and name.strip().lower() == "me" else name


def _field_values(ctx: Context) -> dict[str, Any]:
    """The field flags that were given, named as the service inputs name them."""
    a = ctx.args
    values = _given(
        title=a.title,
        change_type=a.change_type,
        description=a.description,
        justification=a.justification,
        service=a.service,
        cis=_names(a.ci),
        impact=a.impact,
        outage_expected=a.outage_expected,
        tested=a.tested,
        backout_possible=a.backout_possible,
        risk_override=a.risk_override,
        risk_override_reason=a.risk_reason,
        planned_start=a.start,
        planned_end=a.end,
        implementation_plan=a.implementation_plan,
        backout_plan=a.backout_plan,
        test_plan=a.test_plan,
        assignee=_me(ctx, a.assignee),
        group=a.group,
        freeze_justification=a.freeze_justification,
    )
    if getattr(a, "recompute_risk", False):
        values["recompute_risk"] = True
    return values


# Field names back to the flags that set them, for messages.
_FLAGS = {
    "change_type": "--type",
    "cis": "--ci",
    "risk_override": "--risk",
    "risk_override_reason": "--risk-reason",
    "recompute_risk": "--recompute-risk",
    "planned_start": "--start",
    "planned_end": "--end",
    "outage_expected": "--outage-expected/--no-outage",
    "tested": "--tested/--untested",
    "backout_possible": "--backout/--no-backout",
}
# What a state move books in the same step (`move_change` takes the window itself).
_MOVE_FIELDS = frozenset({"planned_start", "planned_end"})


def _flag(name: str) -> str:
    return _FLAGS.get(name, "--" + name.replace("_", "-"))


def _emit(ctx: Context, human: str, data: Any) -> None:
    print(render.to_json(data) if ctx.json else human)


# ---------------------------------------------------------------------------- change handlers


def cmd_change_new(ctx: Context) -> int:
    from itsm_tui.services import changes
    from itsm_tui.services.validation import validate

    data = validate(changes.ChangeCreate, **_field_values(ctx))
    record = changes.create_change(ctx.session, ctx.actor, ctx.clock, data)
    _emit(
        ctx,
        f"Created {record.number} ({record.change_type}, {record.risk} risk): "
        f"{printable(record.title)}",
        render.data(record),
    )
    return EXIT_OK


def cmd_change_list(ctx: Context) -> int:
    from itsm_tui.services import changes

    a = ctx.args
    _ = ctx.actor  # only known users may read
    states = tuple(ChangeState(s) for s in dict.fromkeys(a.state))
    records = changes.list_changes(
        ctx.session,
        states=states,
        window=_period(a),
        service=a.service,
        group=a.group,
        assignee=_me(ctx, a.assignee),
    )
    _emit(ctx, render.change_table(records), render.data(records))
    return EXIT_OK


def cmd_change_show(ctx: Context) -> int:
    from itsm_tui.services import change_history, changes

    _ = ctx.actor  # only known users may read
    record = changes.get_change(ctx.session, ctx.args.number)
    found = changes.change_conflicts(ctx.session, record.number)
    journal = change_history.change_history(ctx.session, record.number).journal
    payload = render.data(record)
    payload["conflicts"] = render.data(found)
    payload["journal"] = [entry.model_dump(mode="json") for entry in journal]
    _emit(ctx, render.change_text(record, found, journal), payload)
    return EXIT_OK


def cmd_change_note(ctx: Context) -> int:
    from itsm_tui.services import changes

    a = ctx.args
    entry = changes.add_note(ctx.session, ctx.actor, ctx.clock, a.number, a.text)
    number = a.number.strip().upper()
    ctx.emit(f"Added a work note to {number}.", {"number": number, **entry.model_dump(mode="json")})
    return EXIT_OK


def cmd_change_update(ctx: Context) -> int:
    from itsm_tui.services import changes
    from itsm_tui.services.validation import validate

    a = ctx.args
    fields = _field_values(ctx)
    policy = cab_policy(ctx.settings)
    if a.state is None:
        stray = [
            f
            for f, given in (("--approvers", a.approvers), ("--window-override", a.window_override))
            if given
        ]
        if stray:
            raise ValidationFailed(f"{' and '.join(stray)} go with --state")
        data = validate(
            changes.ChangeUpdate,
            **fields,
            **_given(outcome=a.outcome, review_notes=a.review_notes),
            conflict_override=a.override,
            reason=a.reason,
        )
        record = changes.update_change(
            ctx.session,
            ctx.actor,
            ctx.clock,
            a.number,
            data,
            expect_version=a.expect_version,
            policy=policy,
        )
    else:
        edits = [_flag(name) for name in fields if name not in _MOVE_FIELDS]
        if edits:
            raise ValidationFailed(
                f"--state moves the change and {', '.join(edits)} edit it: run them as two "
                "commands (edit first, then move with --expect-version)"
            )
        move = validate(
            changes.ChangeMove,
            state=a.state,
            **_given(
                outcome=a.outcome,
                review_notes=a.review_notes,
                approvers=_names([a.approvers]) if a.approvers is not None else None,
                planned_start=a.start,
                planned_end=a.end,
            ),
            reason=a.reason,
            window_override=a.window_override,
            conflict_override=a.override,
        )
        record = changes.move_change(
            ctx.session,
            ctx.actor,
            ctx.clock,
            a.number,
            move,
            expect_version=a.expect_version,
            policy=policy,
        )
    _emit(
        ctx,
        f"Updated {record.number} (version {record.version}, {record.state}).",
        render.data(record),
    )
    return EXIT_OK


def _vote(ctx: Context, decision: ApprovalDecision, verb: str) -> int:
    from itsm_tui.services import changes

    record = changes.vote(
        ctx.session,
        ctx.actor,
        ctx.clock,
        ctx.args.number,
        decision,
        comment=ctx.args.comment,
        policy=cab_policy(ctx.settings),
    )
    _emit(
        ctx,
        f"{verb} {record.number} (version {record.version}, {record.state}).",
        render.data(record),
    )
    return EXIT_OK


def cmd_change_approve(ctx: Context) -> int:
    return _vote(ctx, ApprovalDecision.APPROVED, "Approved")


def cmd_change_reject(ctx: Context) -> int:
    return _vote(ctx, ApprovalDecision.REJECTED, "Rejected")


def cmd_change_schedule(ctx: Context) -> int:
    from itsm_tui.services import changes
    from itsm_tui.services.validation import validate

    a = ctx.args
    move = validate(
        changes.ChangeMove,
        state=ChangeState.SCHEDULED,
        **_given(planned_start=a.start, planned_end=a.end),
        reason=a.reason,
        conflict_override=a.override,
    )
    record = changes.move_change(
        ctx.session,
        ctx.actor,
        ctx.clock,
        a.number,
        move,
        expect_version=a.expect_version,
        policy=cab_policy(ctx.settings),
    )
    window = when(record.planned_start) + " to " + when(record.planned_end)
    _emit(
        ctx,
        f"Scheduled {record.number} for {window} (version {record.version}).",
        render.data(record),
    )
    return EXIT_OK


def cmd_change_conflicts(ctx: Context) -> int:
    from itsm_tui.services import changes

    _ = ctx.actor  # only known users may read
    found = changes.change_conflicts(ctx.session, ctx.args.number)
    _emit(ctx, render.conflict_table(found), render.data(found))
    return EXIT_OK


# ---------------------------------------------------------------------------- freeze handlers


def cmd_freeze_add(ctx: Context) -> int:
    from itsm_tui.services import freeze_windows
    from itsm_tui.services.validation import validate

    a = ctx.args
    data = validate(
        freeze_windows.FreezeCreate,
        name=a.name,
        starts_at=a.start,
        ends_at=a.end,
        reason=a.reason,
        **_given(service=a.service),
    )
    record = freeze_windows.add_freeze(ctx.session, ctx.actor, ctx.clock, data)
    scope = record.service or "every service"
    _emit(
        ctx,
        f"Added freeze window {printable(record.name)} on {printable(scope)}, "
        f"{when(record.starts_at)} to {when(record.ends_at)}.",
        render.data(record),
    )
    return EXIT_OK


def cmd_freeze_list(ctx: Context) -> int:
    from itsm_tui.services import freeze_windows

    _ = ctx.actor  # only known users may read
    records = freeze_windows.list_freezes(ctx.session, overlapping=_period(ctx.args))
    _emit(ctx, render.freeze_table(records), render.data(records))
    return EXIT_OK


def cmd_freeze_remove(ctx: Context) -> int:
    from itsm_tui.services import freeze_windows

    name = ctx.args.name.strip()
    freeze_windows.remove_freeze(ctx.session, ctx.actor, ctx.clock, name)
    _emit(
        ctx,
        f"Removed freeze window {printable(name)}.",
        {"name": name, "status": "removed"},
    )
    return EXIT_OK
