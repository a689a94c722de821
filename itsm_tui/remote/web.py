"""`itsm serve web`: the desk in a browser tab, through textual-serve.

textual-serve answers `/` with a page that runs xterm.js and opens a websocket to `/ws`; every
websocket (every browser tab) starts the desk command below in its own process and relays its
screen and keys. There is no login of its own: whoever reaches the port acts as the configured
user. So it binds to loopback by default, and anything wider must sit behind a reverse proxy
that authenticates and terminates TLS (the README says how); `public_url` then names the
address browsers use, so the page's websocket URL points through the proxy (wss://).
Other sites' pages cannot drive it through the operator's browser (remote/web_guard.py), and
`max_sessions` bounds the desk processes it runs at once.
"""

from __future__ import annotations

import os
import shlex
import sys
import tempfile
from collections.abc import MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING

from itsm_tui import session_kind
from itsm_tui.remote import ready

if TYPE_CHECKING:  # `itsm --help` loads this module (its defaults): no SQLAlchemy, no pydantic
    from itsm_tui.config import Settings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_MAX_SESSIONS = 20  # desk processes at once (~60-100 MB each): a bound on memory
TITLE = "itsm-tui"


def desk_command(
    settings: Settings,
    environ: MutableMapping[str, str],
    executable: str = sys.executable,
) -> str:
    """The shell command textual-serve runs per browser session: this interpreter's desk for
    the configured database and user, every part quoted. A URL holding a password is not put
    on the command line (any local user can read it with `ps`): it goes to the desk through
    ITSM_DATABASE_URL in `environ`, which textual-serve passes to each session."""
    from sqlalchemy.engine import make_url

    from itsm_tui.config import DATABASE_ENV

    parts = [executable, "-m", "itsm_tui"]
    environ[session_kind.REMOTE_ENV] = session_kind.WEB
    if make_url(settings.database_url).password is None:
        parts += ["--db", settings.database_url]
    else:
        environ[DATABASE_ENV] = settings.database_url
    parts += ["--user", settings.username]
    if settings.low_bandwidth:
        parts.append("--low-bandwidth")
    return shlex.join(parts)


def serve_web(
    settings: Settings,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    public_url: str | None = None,
    max_sessions: int = DEFAULT_MAX_SESSIONS,
    ready_file: Path | None = None,
) -> None:
    """Serve the desk until interrupted (ctrl+c or SIGTERM). Once listening, print the
    `listening on` line to stderr and write the URL to `ready_file` (remote/ready.py). The
    page refers to nothing outside this server (remote/web_server.py)."""
    from itsm_tui.remote.web_server import DeskWebServer, write_page_template

    command = desk_command(settings, os.environ)

    def on_ready() -> None:
        ready.announce(ready.listening_line("web", host, port))
        ready.write(ready_file, ready.url("http", host, port))

    ready.clear(ready_file)
    try:
        with tempfile.TemporaryDirectory(prefix="itsm-serve-web-") as folder:
            templates = write_page_template(Path(folder))
            DeskWebServer(
                command,
                host=host,
                port=port,
                title=TITLE,
                public_url=public_url,
                max_sessions=max_sessions,
                templates=templates,
                on_ready=on_ready,
            ).serve()
    finally:
        ready.clear(ready_file)
