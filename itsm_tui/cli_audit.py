"""`itsm audit verify`: prove the audit trail is whole (no entry altered, inserted or deleted
behind the application's back). Exits 0 when the hash chain is intact, 1 with every break
listed when it is not, so a cron job or monitoring hook can alarm on it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from itsm_tui import output
from itsm_tui.cli import EXIT_FAILURE, EXIT_OK
from itsm_tui.cli_changes import Command

if TYPE_CHECKING:
    from itsm_tui.cli import Context


def register(commands: Any, command: Command) -> None:
    audit = commands.add_parser("audit", help="the audit trail").add_subparsers(
        dest="action", required=True
    )
    command(
        audit,
        "verify",
        cmd_audit_verify,
        "check the audit trail's hash chain; exit 1 when an entry was altered or deleted",
    )


def cmd_audit_verify(ctx: Context) -> int:
    from itsm_tui.services.audit_verify import verify_audit_chain

    _ = ctx.actor  # only known users may audit
    report = verify_audit_chain(ctx.session, ctx.clock.now())
    verdict = (
        "the chain is intact."
        if report.ok
        else f"{len(report.breaks)} breaks: the trail was changed outside itsm."
    )
    human = [f"Checked {report.entries_checked} audit entries: {verdict}"]
    human += [f"  {output.printable(b.problem)}" for b in report.breaks]
    ctx.emit("\n".join(human), report)
    return EXIT_OK if report.ok else EXIT_FAILURE
