"""`itsm serve ...` (remote access, issue 9) and `itsm user key ...` (the SSH keys it accepts).

`serve` is a group of actions: `ssh` is here; `serve web` (textual-serve) joins it in
`register` below. `itsm user key add|list|remove` manage the public keys `serve ssh` checks.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from itsm_tui import output
from itsm_tui.cli import EXIT_OK
from itsm_tui.cli_changes import Command
from itsm_tui.services.errors import ValidationFailed

if TYPE_CHECKING:
    from itsm_tui.cli import Context

DEFAULT_IDLE_TIMEOUT_S = 1800.0


def register(commands: Any, command: Command) -> None:
    """Add `serve` (with its `ssh` action) to the `itsm` parser."""
    serve = commands.add_parser("serve", help="serve the desk to remote users").add_subparsers(
        dest="action", required=True
    )
    _register_ssh(serve, command)
    # `serve web` (textual-serve) is the second action, in its own module.
    from itsm_tui import cli_serve_web

    cli_serve_web.register_web(serve, command)


def _register_ssh(serve: Any, command: Command) -> None:
    # asyncssh (0.1 s to import) loads only when a serve or key command runs, not for every
    # `itsm` command nor every desk.
    sub = command(
        serve,
        "ssh",
        cmd_serve_ssh,
        "SSH server: each session runs its own desk as the SSH login's user (public keys only)",
    )
    sub.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sub.add_argument("--port", type=int, default=2222, help="port (default 2222; 0 = any free)")
    sub.add_argument(
        "--host-key",
        type=Path,
        metavar="PATH",
        default=None,
        help="host key, generated on first start "
        "(default: ssh_host_ed25519_key in the itsm-tui user data directory)",
    )
    sub.add_argument(
        "--authorized-keys",
        type=Path,
        metavar="DIR",
        default=None,
        help="also accept the keys in DIR/<username> or DIR/<username>.pub (authorized_keys)",
    )
    sub.add_argument(
        "--idle-timeout",
        type=float,
        metavar="S",
        default=None,
        help="close a session after S seconds without input (0 = never; default: "
        f"ssh_idle_timeout in config.toml, else {DEFAULT_IDLE_TIMEOUT_S:g})",
    )
    sub.add_argument(
        "--max-sessions", type=int, metavar="N", default=50, help="sessions at once (default 50)"
    )
    sub.add_argument(
        "--max-sessions-per-user",
        type=int,
        metavar="N",
        default=3,
        help="sessions at once per user (default 3)",
    )
    ready_file_flag(sub, "ssh://HOST:PORT")


def ready_file_flag(sub: Any, url: str) -> None:
    """`--ready-file PATH` for `serve ssh` and `serve web` (itsm_tui/remote/ready.py)."""
    sub.add_argument(
        "--ready-file",
        type=Path,
        metavar="PATH",
        default=None,
        help=f"once listening, write the server's URL ({url}) to PATH in one atomic rename; "
        "removed when the server stops",
    )


def check_ready_file(path: Path | None) -> None:
    """Refuse (exit 2, before listening) a ready file whose directory does not exist."""
    if path is not None and not path.parent.is_dir():
        raise ValidationFailed(f"--ready-file: {path.parent} is not a directory")


def register_user_keys(user: Any, command: Command) -> None:
    """Add `key add|list|remove` under `itsm user`."""
    keys = user.add_parser("key", help="SSH public keys for itsm serve ssh").add_subparsers(
        dest="key_action", required=True
    )
    sub = command(keys, "add", cmd_user_key_add, "register a public key (your own, or as admin)")
    sub.add_argument("name")
    sub.add_argument("pubkey_file", metavar="PUBKEY_FILE", help="e.g. ~/.ssh/id_ed25519.pub")
    sub = command(keys, "list", cmd_user_key_list, "list a user's keys by fingerprint")
    sub.add_argument("name")
    sub = command(keys, "remove", cmd_user_key_remove, "remove a key by its SHA256 fingerprint")
    sub.add_argument("name")
    sub.add_argument("fingerprint")


# ---------------------------------------------------------------------------- handlers


def cmd_serve_ssh(ctx: Context) -> int:
    import asyncio

    from itsm_tui.remote.keys import default_host_key_path
    from itsm_tui.remote.ssh_server import DeskServer, ServeOptions, serve

    a = ctx.args
    idle_timeout = _idle_timeout(a.idle_timeout)
    if not 0 <= a.port <= 65535:
        raise ValidationFailed(f"--port must be 0-65535, not {a.port}")
    if a.max_sessions < 1 or a.max_sessions_per_user < 1:
        raise ValidationFailed("--max-sessions and --max-sessions-per-user must be at least 1")
    if a.authorized_keys is not None and not a.authorized_keys.is_dir():
        raise ValidationFailed(f"--authorized-keys: {a.authorized_keys} is not a directory")
    check_ready_file(a.ready_file)
    options = ServeOptions(
        host=a.host,
        port=a.port,
        host_key=a.host_key or default_host_key_path(),
        authorized_keys=a.authorized_keys,
        idle_timeout=idle_timeout,
        max_sessions=a.max_sessions,
        max_sessions_per_user=a.max_sessions_per_user,
        low_bandwidth=ctx.settings.low_bandwidth,  # the flag, env or config.toml
    )
    ctx.session.close()  # the server opens a short session per login; hold none meanwhile
    desk = DeskServer(options, ctx.database, ctx.settings.database_url, ctx.clock)
    asyncio.run(serve(desk, lambda line: print(line, file=sys.stderr, flush=True), a.ready_file))
    return EXIT_OK


def _idle_timeout(given: float | None) -> float:
    """`--idle-timeout`, else config.toml's `ssh_idle_timeout`, else 30 minutes."""
    from itsm_tui.config import load_file_config  # pydantic: not for `itsm --help`

    source = "--idle-timeout"
    if given is None:
        given, source = load_file_config().ssh_idle_timeout, "config.toml ssh_idle_timeout"
    value = DEFAULT_IDLE_TIMEOUT_S if given is None else given
    if not value >= 0 or value == float("inf"):
        raise ValidationFailed(f"{source} must be 0 (off) or a number of seconds, not {value}")
    return value


def _read_key_file(path: str) -> str:
    from itsm_tui.services import user_keys

    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read(user_keys.MAX_KEY_TEXT + 1)
    except OSError as error:
        raise ValidationFailed(f"cannot read {path}: {error.strerror or error}") from None


def cmd_user_key_add(ctx: Context) -> int:
    from itsm_tui.services import user_keys

    a = ctx.args
    text = _read_key_file(a.pubkey_file)
    record = user_keys.add_key(ctx.session, ctx.actor, ctx.clock, a.name, text)
    ctx.emit(f"Added key {record.fingerprint} ({record.key_type}) for {record.username}.", record)
    return EXIT_OK


def cmd_user_key_list(ctx: Context) -> int:
    from itsm_tui.services import user_keys

    rows = user_keys.list_keys(ctx.session, ctx.actor, ctx.args.name)
    ctx.emit(
        output.table(
            ["FINGERPRINT", "TYPE", "COMMENT", "ADDED"],
            [[r.fingerprint, r.key_type, r.comment or "-", output.when(r.added_at)] for r in rows],
        ),
        rows,
    )
    return EXIT_OK


def cmd_user_key_remove(ctx: Context) -> int:
    from itsm_tui.services import user_keys

    a = ctx.args
    record = user_keys.remove_key(ctx.session, ctx.actor, ctx.clock, a.name, a.fingerprint)
    ctx.emit(f"Removed key {record.fingerprint} of {record.username}.", record)
    return EXIT_OK
