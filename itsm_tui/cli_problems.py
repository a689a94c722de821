"""`itsm problem ...` and `itsm kedb search`: problem management from scripts.

The same contract as the incident and change commands (see `cli.py`): global flags before or
after the command, human text or one JSON document with `--json`, errors on stderr with exit
codes 2 bad input, 3 not found, 4 permission denied, 5 conflict (a stale `--expect-version`).
Every command is one service call, so one transaction, with two exceptions the services own:
`resolve-incidents` resolves each incident in its own transaction (as bulk actions do) and
exits 1 when any was refused, after listing every outcome; `fix-change` requests the change,
then links it.

`problem update` edits fields (`update_problem`) or moves the state (`move_problem`, with
`--state`, which takes `--reason` and `--resolution-notes`), never both in one run: two
transactions could leave half of it applied.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from itsm_tui import output_changes
from itsm_tui import output_problems as render
from itsm_tui.cli import EXIT_FAILURE, EXIT_OK, _given, _level
from itsm_tui.cli_changes import Command, _me, _names, _switch
from itsm_tui.domain import patterns
from itsm_tui.domain.enums import ChangeType, ProblemState
from itsm_tui.output import printable
from itsm_tui.services.errors import ValidationFailed

if TYPE_CHECKING:
    from itsm_tui.cli import Context

# The services and pydantic are imported in the handlers: this module is loaded to build the
# parser, and `itsm --help` must not pay for them.

CANDIDATES_HELP = (
    "groups of recent incidents not linked to a problem that share a CI, a service and "
    "category, or similar titles; dismissed ones stay hidden until they grow"
)
KEDB_HELP = (
    "search known errors (problems with a root cause and a workaround) by words in their "
    "number, title, description, root cause or workaround; more matching words first"
)
RESOLVE_HELP = (
    "resolve every open incident linked to a resolved problem, with the problem's resolution "
    "as their notes; one transaction per incident. Prints each outcome; exits 0 when all were "
    "resolved, 1 when any was refused"
)


# ---------------------------------------------------------------------------- parser


def register(commands: Any, command: Command) -> None:
    """Add `problem` and `kedb` to the `itsm` parser; `command` is `build_parser`'s helper
    that adds the global flags and the handler to a subcommand."""
    problem = commands.add_parser("problem", help="problem management").add_subparsers(
        dest="action", required=True
    )
    sub = command(problem, "new", cmd_problem_new, "record a problem")
    sub.add_argument("--title", required=True)
    _field_flags(sub, creating=True)
    sub.add_argument(
        "--incident",
        action="append",
        metavar="INC[,INC]",
        help="link these incidents at once (repeat or comma-separate)",
    )

    sub = command(problem, "list", cmd_problem_list, "list problems by priority, then age")
    sub.add_argument(
        "--state", action="append", default=[], choices=[s.value for s in ProblemState]
    )
    sub.add_argument("--service", metavar="S")
    _switch(sub, "--known-error", "--no-known-error", "known_error")
    sub.add_argument("--search", metavar="TEXT", help="in number, title, text, cause, workaround")

    sub = command(
        problem, "show", cmd_problem_show, "show one problem with its incidents and journal"
    )
    sub.add_argument("number")

    sub = command(
        problem,
        "update",
        cmd_problem_update,
        "edit a problem's fields, or move it with --state (not both at once)",
    )
    sub.add_argument("number")
    sub.add_argument("--title")
    _field_flags(sub, creating=False)
    sub.add_argument("--fix-change", metavar="CHG|none", help="the change that fixes it")
    sub.add_argument("--resolution-notes", metavar="TEXT")
    sub.add_argument("--state", choices=[s.value for s in ProblemState])
    sub.add_argument(
        "--reason",
        metavar="TEXT",
        help="with --state: to step back, cancel, or resolve without "
        "a successful fix change; journaled",
    )
    sub.add_argument("--expect-version", type=int, metavar="V")

    sub = command(problem, "link", cmd_problem_link, "link incidents to a problem")
    sub.add_argument("number")
    sub.add_argument("incidents", nargs="+", metavar="INC")
    sub.add_argument(
        "--no-workaround",
        dest="apply_workaround",
        action="store_false",
        help="do not add a known error's workaround to the incidents as a work note",
    )
    sub = command(problem, "unlink", cmd_problem_unlink, "unlink incidents from a problem")
    sub.add_argument("number")
    sub.add_argument("incidents", nargs="+", metavar="INC")

    sub = command(problem, "resolve-incidents", cmd_problem_resolve_incidents, RESOLVE_HELP)
    sub.add_argument("number")

    sub = command(
        problem,
        "fix-change",
        cmd_problem_fix_change,
        "request a normal change pre-filled from the problem and set it as its fix",
    )
    sub.add_argument("number")
    sub.add_argument("--title", help="default: 'Fix PRB...: <problem title>'")
    sub.add_argument("--type", dest="change_type", choices=[t.value for t in ChangeType])
    sub.add_argument("--start", metavar="TIME", help="planned start, ISO 8601 with offset")
    sub.add_argument("--end", metavar="TIME", help="planned end, ISO 8601 with offset")
    sub.add_argument("--assignee", metavar="U|me", help="default: the problem's")
    sub.add_argument("--group", metavar="G", help="default: the problem's")

    sub = command(problem, "candidates", cmd_problem_candidates, CANDIDATES_HELP)
    _detection_flags(sub)
    sub = command(
        problem,
        "dismiss",
        cmd_problem_dismiss,
        "dismiss a recurring-incident candidate at its current size (it returns if it grows)",
    )
    sub.add_argument("key", help="as `problem candidates` prints it, e.g. ci:mail-01")
    _detection_flags(sub)
    sub = command(
        problem,
        "promote",
        cmd_problem_promote,
        "open a problem from a recurring-incident candidate, its incidents linked",
    )
    sub.add_argument("key", help="as `problem candidates` prints it, e.g. ci:mail-01")
    sub.add_argument("--title", help="default: 'Recurring: <what they share> (N incidents)'")
    _detection_flags(sub)

    kedb = commands.add_parser("kedb", help="known-error database").add_subparsers(
        dest="action", required=True
    )
    sub = command(kedb, "search", cmd_kedb_search, KEDB_HELP)
    sub.add_argument("text", help="words to find ('' lists every known error)")
    sub.add_argument("--service", metavar="S")
    sub.add_argument("--ci", metavar="C")
    sub.add_argument("--limit", type=int, default=20, metavar="N", help="at most N (default 20)")


def _field_flags(sub: argparse.ArgumentParser, *, creating: bool) -> None:
    """The problem's own fields, shared by `new` and `update` so both spell them alike."""
    clear = "" if creating else "|none"
    sub.add_argument("--description", metavar="TEXT")
    sub.add_argument("--service", metavar="S" + clear)
    sub.add_argument(
        "--ci",
        action="append",
        metavar="C[,C]" + clear,
        help="repeat or comma-separate" + ("" if creating else "; replaces the list"),
    )
    sub.add_argument("--impact", type=_level, choices=[1, 2, 3])
    sub.add_argument("--urgency", type=_level, choices=[1, 2, 3])
    sub.add_argument("--assignee", metavar="U|me" + clear)
    sub.add_argument("--group", metavar="G" + clear)
    sub.add_argument("--root-cause", metavar="TEXT")
    sub.add_argument(
        "--workaround", metavar="TEXT", help="with a root cause, makes it a known error"
    )


def _detection_flags(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--days", type=int, default=patterns.DEFAULT_DAYS, metavar="N", help="window (default 30)"
    )
    sub.add_argument(
        "--min-size",
        type=int,
        default=patterns.DEFAULT_MIN_SIZE,
        metavar="N",
        help="fewest incidents that make a candidate (default 3)",
    )


# ---------------------------------------------------------------------------- input helpers


def _field_values(ctx: Context) -> dict[str, Any]:
    """The field flags that were given, named as the service inputs name them."""
    a = ctx.args
    return _given(
        title=a.title,
        description=a.description,
        service=a.service,
        cis=_names(a.ci),
        impact=a.impact,
        urgency=a.urgency,
        assignee=_me(ctx, a.assignee),
        group=a.group,
        root_cause=a.root_cause,
        workaround=a.workaround,
    )


def _flag(name: str) -> str:
    return "--ci" if name == "cis" else "--" + name.replace("_", "-")


def _emit(ctx: Context, human: str, data: Any) -> None:
    print(render.to_json(data) if ctx.json else human)


def _incident_numbers(values: list[str] | None) -> tuple[str, ...]:
    return _names(values) or ()


# ---------------------------------------------------------------------------- handlers


def cmd_problem_new(ctx: Context) -> int:
    from itsm_tui.services import problems
    from itsm_tui.services.validation import validate

    data = validate(
        problems.ProblemCreate,
        **_field_values(ctx),
        incidents=_incident_numbers(ctx.args.incident),
    )
    record = problems.create_problem(ctx.session, ctx.actor, ctx.clock, data)
    linked = f", {record.incident_count} incident(s) linked" if record.incidents else ""
    _emit(
        ctx,
        f"Created {record.number} (P{record.priority}{linked}): {printable(record.title)}",
        render.data(record),
    )
    return EXIT_OK


def cmd_problem_list(ctx: Context) -> int:
    from itsm_tui.services import problems

    a = ctx.args
    _ = ctx.actor  # only known users may read
    records = problems.list_problems(
        ctx.session,
        states=tuple(ProblemState(s) for s in dict.fromkeys(a.state)),
        service=a.service,
        known_error=a.known_error,
        text=a.search,
    )
    _emit(ctx, render.problem_table(records), render.data(records))
    return EXIT_OK


def cmd_problem_show(ctx: Context) -> int:
    from itsm_tui.services import problems

    _ = ctx.actor  # only known users may read
    record = problems.get_problem(ctx.session, ctx.args.number)
    history = problems.problem_history(ctx.session, record.number)
    payload = render.data(record)
    payload["journal"] = [entry.model_dump(mode="json") for entry in history.journal]
    payload["audit"] = [entry.model_dump(mode="json") for entry in history.audit]
    _emit(ctx, render.problem_text(record, history.journal), payload)
    return EXIT_OK


def cmd_problem_update(ctx: Context) -> int:
    from itsm_tui.services import problems
    from itsm_tui.services.validation import validate

    a = ctx.args
    fields = _given(**_field_values(ctx), fix_change=a.fix_change)
    if a.state is None:
        if a.reason is not None:
            raise ValidationFailed("--reason goes with --state")
        data = validate(
            problems.ProblemUpdate, **fields, **_given(resolution_notes=a.resolution_notes)
        )
        record = problems.update_problem(
            ctx.session, ctx.actor, ctx.clock, a.number, data, expect_version=a.expect_version
        )
    else:
        if fields:
            edits = ", ".join(_flag(name) for name in fields)
            raise ValidationFailed(
                f"--state moves the problem and {edits} edit it: run them as two commands "
                "(edit first, then move with --expect-version)"
            )
        move = validate(
            problems.ProblemMove,
            state=a.state,
            **_given(reason=a.reason, resolution_notes=a.resolution_notes),
        )
        record = problems.move_problem(
            ctx.session, ctx.actor, ctx.clock, a.number, move, expect_version=a.expect_version
        )
    _emit(
        ctx,
        f"Updated {record.number} (version {record.version}, {record.state}).",
        render.data(record),
    )
    return EXIT_OK


def cmd_problem_link(ctx: Context) -> int:
    from itsm_tui.services import problems

    a = ctx.args
    numbers = _incident_numbers(a.incidents)
    record = problems.link_incidents(
        ctx.session,
        ctx.actor,
        ctx.clock,
        a.number,
        numbers,
        apply_workaround=a.apply_workaround,
    )
    _emit(
        ctx,
        f"Linked {', '.join(n.upper() for n in numbers)} to {record.number} "
        f"({record.incident_count} incident(s) linked).",
        render.data(record),
    )
    return EXIT_OK


def cmd_problem_unlink(ctx: Context) -> int:
    from itsm_tui.services import problems

    a = ctx.args
    numbers = _incident_numbers(a.incidents)
    record = problems.unlink_incidents(ctx.session, ctx.actor, ctx.clock, a.number, numbers)
    _emit(
        ctx,
        f"Unlinked {', '.join(n.upper() for n in numbers)} from {record.number} "
        f"({record.incident_count} incident(s) linked).",
        render.data(record),
    )
    return EXIT_OK


def cmd_problem_resolve_incidents(ctx: Context) -> int:
    from itsm_tui.services import problems

    number = ctx.args.number.strip().upper()
    result = problems.resolve_linked_incidents(ctx.session, ctx.actor, ctx.clock, number)
    payload = {"problem": number, **output_changes.data(result)}
    _emit(ctx, render.resolution_text(number, result), payload)
    return EXIT_OK if not result.refused else EXIT_FAILURE


def cmd_problem_fix_change(ctx: Context) -> int:
    from itsm_tui.services import problems

    a = ctx.args
    overrides = _given(
        title=a.title,
        change_type=a.change_type,
        planned_start=a.start,
        planned_end=a.end,
        assignee=_me(ctx, a.assignee),
        group=a.group,
    )
    change = problems.change_from_problem(ctx.session, ctx.actor, ctx.clock, a.number, **overrides)
    _emit(
        ctx,
        f"Created {change.number} ({change.change_type}, {change.risk} risk) as the fix for "
        f"{a.number.strip().upper()}: {printable(change.title)}",
        output_changes.data(change),
    )
    return EXIT_OK


# ---------------------------------------------------------------------------- candidates


def cmd_problem_candidates(ctx: Context) -> int:
    from itsm_tui.services import problem_candidates

    _ = ctx.actor  # only known users may read
    found = problem_candidates.find_candidates(
        ctx.session, ctx.clock, days=ctx.args.days, min_size=ctx.args.min_size
    )
    _emit(ctx, render.candidate_table(found), render.candidate_data(found))
    return EXIT_OK


def cmd_problem_dismiss(ctx: Context) -> int:
    """Dismiss at the size the candidate has now, so it comes back only when it grows."""
    from itsm_tui.services import problem_candidates

    a = ctx.args
    key = a.key.strip()
    size = problem_candidates.dismiss_current(
        ctx.session, ctx.actor, ctx.clock, key, days=a.days, min_size=a.min_size
    )
    _emit(
        ctx,
        f"Dismissed {printable(key)} at {size} incidents; it comes back if it grows.",
        {"key": key, "incident_count": size, "status": "dismissed"},
    )
    return EXIT_OK


def cmd_problem_promote(ctx: Context) -> int:
    from itsm_tui.services import problem_candidates

    a = ctx.args
    record = problem_candidates.promote_candidate(
        ctx.session,
        ctx.actor,
        ctx.clock,
        a.key.strip(),
        title=a.title,
        days=a.days,
        min_size=a.min_size,
    )
    _emit(
        ctx,
        f"Created {record.number} (P{record.priority}, {record.incident_count} incident(s) "
        f"linked): {printable(record.title)}",
        render.data(record),
    )
    return EXIT_OK


# ---------------------------------------------------------------------------- known errors


def cmd_kedb_search(ctx: Context) -> int:
    from itsm_tui.cli_inputs import Search
    from itsm_tui.services import known_errors
    from itsm_tui.services.validation import validate

    a = ctx.args
    _ = ctx.actor  # only known users may read
    limit = validate(Search, limit=a.limit).limit
    hits = known_errors.search_known_errors(
        ctx.session, a.text, service=a.service, ci=a.ci, limit=limit
    )
    _emit(ctx, render.known_error_text(hits), output_changes.data(hits))
    if len(hits) == a.limit:
        # stderr, so `--json | jq length` scripts still get a clean array but a person sees it.
        print(
            f"itsm: note: showing the first {a.limit}; there may be more (raise --limit)",
            file=sys.stderr,
        )
    return EXIT_OK
