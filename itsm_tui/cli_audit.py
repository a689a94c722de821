"""`itsm audit verify`: prove the audit trail is whole (no entry altered, inserted or deleted
behind the application's back). Exits 0 when the hash chain is intact, 1 with every break
listed when it is not, so a cron job or monitoring hook can alarm on it.

`itsm audit checkpoint` signs the chain's head with a key kept outside the database and
appends it to a checkpoint log; `itsm audit verify --checkpoint FILE` then also proves the
chain still holds every checkpointed head, which a plain SHA-256 chain cannot prove against
someone who can write the tables and recompute it (docs/audit.md)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from itsm_tui import output
from itsm_tui.cli import EXIT_FAILURE, EXIT_OK
from itsm_tui.cli_changes import Command

if TYPE_CHECKING:
    from itsm_tui.cli import Context
    from itsm_tui.services.audit_verify import AuditVerifyReport


def register(commands: Any, command: Command) -> None:
    audit = commands.add_parser("audit", help="the audit trail").add_subparsers(
        dest="action", required=True
    )
    sub = command(
        audit,
        "verify",
        cmd_audit_verify,
        "check the audit trail's hash chain; exit 1 when an entry was altered or deleted",
    )
    sub.add_argument(
        "--checkpoint",
        nargs="?",
        const="",
        metavar="FILE",
        help="also check the signed checkpoints in FILE (default: the checkpoint log in the "
        "config directory); exit 1 when the chain no longer holds one or one is forged",
    )
    _key_flag(sub)
    sub = command(
        audit,
        "checkpoint",
        cmd_audit_checkpoint,
        "verify the chain, then sign its head with the audit key and append it to a "
        "checkpoint log kept outside the database",
    )
    sub.add_argument(
        "--output",
        metavar="FILE",
        help="the checkpoint log to append to (default: audit-checkpoints.jsonl in the "
        "config directory)",
    )
    _key_flag(sub)


def _key_flag(sub: Any) -> None:
    sub.add_argument(
        "--key",
        metavar="FILE",
        help="the audit key file (default: audit.key in the config directory; created 0600 "
        "by the first checkpoint)",
    )


def _key_path(ctx: Context) -> Path:
    from itsm_tui.audit_files import default_key_path

    return Path(ctx.args.key) if ctx.args.key else default_key_path()


def _break_lines(report: AuditVerifyReport) -> list[str]:
    return [f"  {output.printable(b.problem)}" for b in report.breaks]


def cmd_audit_verify(ctx: Context) -> int:
    from itsm_tui.audit_files import default_checkpoint_log, load_key, read_checkpoint_log
    from itsm_tui.services.audit_verify import begin_snapshot, verify_audit_chain

    _ = ctx.actor  # only known users may audit
    checkpoints = []
    log: Path | None = None
    if ctx.args.checkpoint is not None:
        log = Path(ctx.args.checkpoint) if ctx.args.checkpoint else default_checkpoint_log()
        checkpoints = read_checkpoint_log(log, load_key(_key_path(ctx)))
    begin_snapshot(ctx.session)
    report = verify_audit_chain(ctx.session, ctx.clock.now(), checkpoints)
    verdict = (
        "the chain is intact."
        if report.ok
        else f"{len(report.breaks)} breaks: the trail was changed outside itsm."
    )
    against = (
        ""
        if log is None
        else f" against {report.checkpoints_checked} checkpoints in {output.printable(str(log))}"
    )
    human = [f"Checked {report.entries_checked} audit entries{against}: {verdict}"]
    human += _break_lines(report)
    ctx.emit("\n".join(human), report)
    return EXIT_OK if report.ok else EXIT_FAILURE


def cmd_audit_checkpoint(ctx: Context) -> int:
    from itsm_tui.audit_files import (
        append_checkpoint,
        default_checkpoint_log,
        load_key,
        load_or_create_key,
    )
    from itsm_tui.domain.audit_checkpoint import key_id, to_line
    from itsm_tui.services.audit_verify import (
        AuditCheckpointRecord,
        begin_snapshot,
        take_checkpoint,
    )

    _ = ctx.actor  # only known users may audit
    key_path = _key_path(ctx)
    log = Path(ctx.args.output) if ctx.args.output else default_checkpoint_log()
    if ctx.args.output:  # appending to the live database or its journal would break the desk
        from itsm_tui.services.protected_paths import refuse_protected

        refuse_protected(log, database_url=ctx.database.url, guard_config=False)
    if key_path.exists():
        load_key(key_path)  # a shared or broken key file is refused before any work
    begin_snapshot(ctx.session)
    report, checkpoint = take_checkpoint(ctx.session, ctx.clock.now())
    if checkpoint is None:
        human = [
            f"Checked {report.entries_checked} audit entries: {len(report.breaks)} breaks; "
            "no checkpoint written (it would vouch for a changed trail)."
        ]
        ctx.emit("\n".join(human + _break_lines(report)), report)
        return EXIT_FAILURE
    key, created = load_or_create_key(key_path)
    append_checkpoint(log, to_line(checkpoint, key))
    record = AuditCheckpointRecord(
        seq=checkpoint.seq,
        entry_hash=checkpoint.entry_hash,
        at=checkpoint.at,
        key_id=key_id(key),
        file=str(log),
        key_created=created,
    )
    human = [
        f"Checkpoint of the audit chain at entry #{checkpoint.seq} "
        f"(hash {checkpoint.entry_hash[:12]}…) taken {output.when(checkpoint.at)}, "
        f"appended to {output.printable(str(log))}."
    ]
    if created:
        human.append(
            f"Created the audit key {output.printable(str(key_path))} (mode 0600). Verifying "
            "needs it: keep it, and a copy, where the desk's database role cannot reach."
        )
    ctx.emit("\n".join(human), record)
    return EXIT_OK
