"""`itsm serve web [--host 127.0.0.1] [--port 8000] [--public-url URL] [--max-sessions N]
[--ready-file PATH]`: the desk in a browser.

Checked like the desk's own launch (the database opens, the user exists) before the server
starts, so a typo fails at once instead of in every browser tab.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from itsm_tui.cli import EXIT_OK, Context
from itsm_tui.cli_serve import check_ready_file, ready_file_flag
from itsm_tui.remote import web
from itsm_tui.services.errors import ValidationFailed


def register_web(serve: Any, command: Callable[..., argparse.ArgumentParser]) -> None:
    """Add `web` to the `serve` subcommands (`command` is cli.build_parser's helper)."""
    sub = command(
        serve,
        "web",
        cmd_serve_web,
        "serve the desk to browsers (textual-serve); NO authentication of its own: keep it "
        "on loopback or behind an authenticating reverse proxy with TLS",
    )
    sub.add_argument("--host", default=web.DEFAULT_HOST, help="default 127.0.0.1 (loopback)")
    sub.add_argument("--port", type=int, default=web.DEFAULT_PORT, help="default 8000")
    sub.add_argument(
        "--public-url",
        metavar="URL",
        help="the address browsers use, e.g. https://desk.example.com behind a proxy "
        "(default http://HOST:PORT)",
    )
    sub.add_argument(
        "--max-sessions",
        type=int,
        metavar="N",
        default=web.DEFAULT_MAX_SESSIONS,
        help=f"desk sessions (browser tabs) at once (default {web.DEFAULT_MAX_SESSIONS})",
    )
    ready_file_flag(sub, "http://HOST:PORT")


def cmd_serve_web(ctx: Context) -> int:
    a = ctx.args
    if not 1 <= a.port <= 65_535:
        raise ValidationFailed(f"--port must be between 1 and 65535, not {a.port}")
    if a.public_url is not None and not a.public_url.startswith(("http://", "https://")):
        raise ValidationFailed("--public-url must start with http:// or https://")
    if a.max_sessions < 1:
        raise ValidationFailed(f"--max-sessions must be at least 1, not {a.max_sessions}")
    check_ready_file(a.ready_file)
    _ = ctx.actor  # an unknown user fails here (exit 4), not in every browser tab
    ctx.session.close()  # hold no connection or snapshot while serving
    ctx.database.dispose()
    web.serve_web(
        ctx.settings,
        host=a.host,
        port=a.port,
        public_url=a.public_url,
        max_sessions=a.max_sessions,
        ready_file=a.ready_file,
    )
    return EXIT_OK
