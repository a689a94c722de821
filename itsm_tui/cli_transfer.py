"""`itsm export`, `itsm import` and `itsm backup`: moving a desk's data in and out.

The same contract as every command (see `cli.py`): human text or one JSON document with
`--json`, errors on stderr, exit 2 for bad input (an import file with problems lists every
one of them and writes nothing), 4 when the role does not allow it (import: admins only).
`itsm backup` on PostgreSQL exits 2 with the pg_dump command line to run instead.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from itsm_tui.cli import EXIT_OK
from itsm_tui.output import printable
from itsm_tui.services.errors import ValidationFailed

if TYPE_CHECKING:
    from itsm_tui.cli import Context

Command = Callable[[Any, str, Callable[["Context"], int], str], argparse.ArgumentParser]

# The parser's copy of `transfer_schema.KINDS` and `transfer_export.FORMATS`: those modules load
# SQLModel and pydantic, which `itsm --help` must not pay for (the handlers import them).
# tests/test_cli_startup.py proves the copies equal the originals.
KINDS = ("groups", "users", "services", "cis", "freeze_windows", "changes", "problems", "incidents")
FORMATS = ("json", "csv")


def register(commands: Any, command: Command) -> None:
    """Add `export`, `import` and `backup` to the `itsm` parser."""
    sub = command(
        commands,
        "export",
        cmd_export,
        "write the desk's records as JSON or CSV; `itsm export list`: remote desks' exports",
    )
    sub.add_argument(
        "action",
        nargs="?",
        choices=["list"],
        help="list: the files remote desk users exported on this server (admins only)",
    )
    sub.add_argument("--format", choices=FORMATS, help="default: json")
    sub.add_argument(
        "--what",
        metavar="KINDS",
        help=f"comma-separated kinds (default all): {', '.join(KINDS)}; CSV takes exactly one",
    )
    sub.add_argument("--output", "-o", metavar="FILE", help="write here (default: stdout)")

    sub = command(
        commands,
        "import",
        cmd_import,
        "import an export (or another tool's CSV with --mapping); admins only; all or nothing",
    )
    sub.add_argument("file", metavar="FILE")
    sub.add_argument("--dry-run", action="store_true", help="check and count, write nothing")
    sub.add_argument("--mapping", metavar="MAPPING.toml", help="column and value map (CSV)")
    sub.add_argument("--format", choices=FORMATS, help="default: from the file")
    sub.add_argument(
        "--kind", choices=KINDS, help="what a CSV file holds, when its header fits several kinds"
    )
    sub.add_argument(
        "--max-size", type=int, metavar="MB", help="refuse files larger than this (default 256)"
    )

    sub = command(
        commands,
        "backup",
        cmd_backup,
        "copy a live SQLite desk to PATH (PostgreSQL: prints the pg_dump command, exit 2)",
    )
    sub.add_argument("path", metavar="PATH")
    sub.add_argument("--force", action="store_true", help="replace PATH if it exists")


def cmd_export(ctx: Context) -> int:
    from itsm_tui.services import private_files, protected_paths, transfer_export

    a = ctx.args
    if a.action == "list":
        return cmd_export_list(ctx)
    fmt = a.format or "json"
    kinds = transfer_export.parse_kinds(a.what)
    transfer_export.check_format(kinds, fmt)  # before reading anything
    rows = transfer_export.export_rows(ctx.session, ctx.actor, kinds)
    text = transfer_export.render(rows, fmt)
    counts = {kind: len(items) for kind, items in rows.items()}
    if a.output is None:
        sys.stdout.write(text)
        return EXIT_OK
    target = Path(a.output)
    protected_paths.refuse_protected(target, database_url=ctx.database.url, guard_config=False)
    if not target.parent.is_dir():
        raise ValidationFailed(f"no directory {target.parent} for --output")
    private_files.write_replacing(target, text)  # 0600: the desk's records
    summary = ", ".join(f"{n} {kind}" for kind, n in counts.items())
    ctx.emit(
        f"Exported {summary} to {printable(a.output)}.",
        {"output": a.output, "format": fmt, "counts": counts},
    )
    return EXIT_OK


def cmd_export_list(ctx: Context) -> int:
    """`itsm export list`: what remote desk users exported, for an admin to hand over."""
    from itsm_tui.output import table, when
    from itsm_tui.services import remote_exports

    a = ctx.args
    given = [flag for flag, value in (("--format", a.format), ("--what", a.what)) if value]
    if a.output is not None:
        given.append("--output")
    if given:  # they shape an export; a listing would ignore them and write no file
        raise ValidationFailed(f"{', '.join(given)}: not for `itsm export list`, which only lists")
    found = remote_exports.list_exports(ctx.session, ctx.actor)
    rows = [[f.user, f.name, str(f.bytes), when(f.modified_at), f.path] for f in found]
    human = (
        table(["USER", "FILE", "BYTES", "MODIFIED", "PATH"], rows)
        if found
        else f"No exports in {printable(str(remote_exports.exports_root()))}."
    )
    ctx.emit(human, found)
    return EXIT_OK


def cmd_import(ctx: Context) -> int:
    from itsm_tui.services import transfer_import
    from itsm_tui.services.transfer_mapping import load_mapping

    a = ctx.args
    path = Path(a.file)
    mapping = load_mapping(Path(a.mapping)) if a.mapping else None
    limit = transfer_import.DEFAULT_MAX_MB if a.max_size is None else a.max_size
    data = transfer_import.read_import_file(path, limit)
    try:
        report = transfer_import.import_data(
            ctx.session,
            ctx.actor,
            ctx.clock,
            data,
            source=a.file,
            fmt=a.format,
            mapping=mapping,
            dry_run=a.dry_run,
            kind=a.kind,
        )
    except transfer_import.ImportRefused as refused:
        # One problem per line (the generic error path would fold them into one line).
        print(f"itsm: error: {printable(refused.summary)}", file=sys.stderr)
        for issue in refused.issues:
            print(f"  {printable(issue.text(a.file))}", file=sys.stderr)
        return refused.exit_code
    lines = [
        f"  {kind}: {c.created} created, {c.updated} updated, {c.unchanged} unchanged"
        for kind, c in report.counts.items()
    ]
    head = "Dry run, nothing written" if report.dry_run else "Imported"
    ctx.emit(
        "\n".join([f"{head}: {printable(a.file)}", *lines]) if lines else f"{head}: no records",
        report.as_dict(),
    )
    return EXIT_OK


def cmd_backup(ctx: Context) -> int:
    from itsm_tui.services import backup

    _ = ctx.actor  # only known, active users
    result = backup.backup(ctx.database.url, Path(ctx.args.path), force=ctx.args.force)
    ctx.emit(
        f"Backed up {ctx.database.label} to {printable(result.path)} ({result.bytes} bytes).",
        {"path": result.path, "bytes": result.bytes, "pages": result.pages},
    )
    return EXIT_OK
