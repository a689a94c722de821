"""textual-serve's server, made self-contained and able to say when it listens.

Imported only by `itsm serve web` (textual-serve and aiohttp are not needed elsewhere).

Self-contained: textual-serve's page links a stylesheet on fonts.googleapis.com for its
"Roboto Mono", so a browser on a NOC screen or an air-gapped desk waits on the internet (and
tells Google who opened the desk). textual-serve already ships that font (Apache-2.0) among its
static files, so the page is served from a copy of textual-serve's own template with every
external link removed and `@font-face` rules pointing at those files instead. Everything the
page then loads (script, stylesheet, fonts, background image, websocket) comes from this
server; tests/test_serve_web.py checks it.

Ready: textual-serve's `serve` silences aiohttp's "Running on" message, which aiohttp prints
once every socket is listening; that moment is when we announce readiness.

Guarded (remote/web_guard.py): a request from another site's page (its `Origin`) or for
another host name (its `Host`: DNS rebinding) gets 403 on every route, before any handler;
every answer forbids framing (`X-Frame-Options`, CSP `frame-ancestors`), since a frame's
request carries no `Origin` and its page's websocket carries ours;
at most `max_sessions` desk processes run at once, and when they do the page and the
websocket get 503 with a sentence saying so, before any desk process starts; a browser's
terminal size is clamped before the desk sees it. textual-serve's websocket handler is
repeated here for the two last points: its AppService is created inside it.
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path

import textual_serve
from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from itsm_tui.remote import web_guard

log = logging.getLogger("itsm serve web")

TEMPLATE = "app_index.html"  # the page textual-serve's handle_index renders
UPSTREAM_TEMPLATE = Path(textual_serve.__file__).parent / "templates" / TEMPLATE
# A <link> to another host (http:, https: or protocol-relative).
_EXTERNAL_LINK = re.compile(r"<link\b[^>]*\bhref=\"(?:https?:)?//[^\"]*\"[^>]*>\s*", re.I)
# Inline SVG in HTML needs no namespace; the URL would only look like an external reference.
_SVG_NAMESPACE = re.compile(r"\s+xmlns=\"http://www\.w3\.org/2000/svg\"")
_FONT_FACES = """<style>
      @font-face {
        font-family: "Roboto Mono";
        font-style: normal;
        font-weight: 100 700;
        src: url("{{ config.static.url }}fonts/RobotoMono-VariableFont_wght.ttf")
          format("truetype");
      }
      @font-face {
        font-family: "Roboto Mono";
        font-style: italic;
        font-weight: 100 700;
        src: url("{{ config.static.url }}fonts/RobotoMono-Italic-VariableFont_wght.ttf")
          format("truetype");
      }
    </style>
  """


def local_page_template(upstream: str) -> str:
    """textual-serve's page template without external links, with the font served here."""
    page = _SVG_NAMESPACE.sub("", _EXTERNAL_LINK.sub("", upstream))
    return page.replace("</head>", _FONT_FACES + "</head>", 1)


def write_page_template(folder: Path) -> Path:
    """Write the local page template into `folder` (textual-serve's `templates_path`)."""
    (folder / TEMPLATE).write_text(
        local_page_template(UPSTREAM_TEMPLATE.read_text(encoding="utf-8")), encoding="utf-8"
    )
    return folder


# Sent with every answer (page, files, downloads, refusals): no other page may frame ours.
NO_FRAMING = {"X-Frame-Options": "DENY", "Content-Security-Policy": "frame-ancestors 'none'"}


async def _forbid_framing(_request: web.Request, response: web.StreamResponse) -> None:
    """Another site's page could put the desk in an invisible frame: the frame's request has
    no Origin, and the page's script then opens the websocket with our own, so each frame
    started a desk process (filling --max-sessions) and took the user's clicks and keys."""
    response.headers.update(NO_FRAMING)


class DeskAppService(AppService):
    """One browser tab's desk process, which never gets a terminal size beyond the clamp,
    and whose tab is closed when it ends."""

    async def start(self, width: int, height: int) -> None:
        await super().start(*(web_guard.clamp_size(width, height) or (80, 24)))

    async def set_terminal_size(self, width: int, height: int) -> None:
        size = web_guard.clamp_size(width, height)
        if size is not None:
            await super().set_terminal_size(*size)

    async def run(self) -> None:
        """textual-serve's relay until the desk process ends, then the tab's websocket is
        closed. A desk that ends without saying so (it failed at start: its database gone,
        its user deactivated) left the tab open and blank, holding a --max-sessions slot for
        as long as the tab stayed open. (A desk that quits has already closed it.)"""
        await super().run()
        await self.remote_close()


class DeskWebServer(Server):
    """textual-serve's Server, guarded (module docstring), calling `on_ready` once it listens."""

    def __init__(
        self,
        command: str,
        *,
        host: str,
        port: int,
        title: str,
        public_url: str | None,
        max_sessions: int,
        templates: Path,
        on_ready: Callable[[], None],
    ) -> None:
        super().__init__(
            command,
            host=host,
            port=port,
            title=title,
            public_url=public_url,
            templates_path=templates,
        )
        self._on_ready = on_ready
        self._site = web_guard.Site.of(host, port, public_url)
        self._max_sessions = max_sessions
        self._sessions = 0  # desk processes running (or starting) now

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(self._refuse_other_sites)
        app.on_response_prepare.append(_forbid_framing)
        return app

    @web.middleware
    async def _refuse_other_sites(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """403 for a foreign `Host` or `Origin`, on every route, before its handler runs."""
        host, origin = request.headers.get("Host"), request.headers.get("Origin")
        if not self._site.host_allowed(host):
            refusal = f"Host {host!r} is not this server"
        elif not self._site.origin_allowed(origin):
            refusal = f"Origin {origin!r} is another site"
        else:
            return await handler(request)
        # The path is decoded (`%1B` is an ESC): quoted like the headers, so a request cannot
        # write control codes to the operator's terminal through the log.
        log.warning("refused %s %r: %s", request.method, request.path, refusal)
        return web.Response(
            status=403, text="itsm serve web: refused: only this server's own page may use it.\n"
        )

    def _full(self) -> web.Response | None:
        """The 503 answer while `max_sessions` desks run, else None."""
        if self._sessions < self._max_sessions:
            return None
        sessions = "session" if self._max_sessions == 1 else "sessions"
        return web.Response(
            status=503,
            text=f"itsm serve web: the desk is full ({self._max_sessions} {sessions} open); "
            "close a desk tab or try again later.\n",
        )

    async def handle_index(self, request: web.Request) -> web.StreamResponse:  # type: ignore[override]
        """The page, or a page saying the desk is full (its websocket would be refused)."""
        full = self._full()
        if full is not None:
            return full
        response: web.StreamResponse = await super().handle_index(request)
        return response

    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:  # type: ignore[override]
        """textual-serve's handler with a session slot held for the desk's lifetime, and a
        DeskAppService (clamped sizes). Refused while full: no upgrade, no desk process."""
        full = self._full()
        if full is not None:
            log.warning("refused a desk session: %d running (--max-sessions)", self._sessions)
            return full
        self._sessions += 1  # taken before any await: two requests cannot both pass the check
        try:
            return await self._run_session(request)
        finally:
            self._sessions -= 1

    async def _run_session(self, request: web.Request) -> web.WebSocketResponse:
        """textual-serve 1.1.3's `handle_websocket`, with DeskAppService for AppService."""
        websocket = web.WebSocketResponse(heartbeat=15)
        width = to_int(request.query.get("width", "80"), 80)
        height = to_int(request.query.get("height", "24"), 24)
        app_service: AppService | None = None
        try:
            await websocket.prepare(request)
            app_service = DeskAppService(
                self.command,
                write_bytes=websocket.send_bytes,
                write_str=websocket.send_str,
                close=websocket.close,
                download_manager=self.download_manager,
                debug=self.debug,
            )
            await app_service.start(width, height)
            try:
                await self._process_messages(websocket, app_service)
            finally:
                await app_service.stop()
        except asyncio.CancelledError:
            await websocket.close()
        except Exception as error:
            log.exception(error)
        finally:
            if app_service is not None:
                await app_service.stop()
        return websocket

    def serve(self, debug: bool = False) -> None:
        """textual-serve's `serve` (logging, ctrl+c and SIGTERM end it gracefully), with
        aiohttp's `print` hook, called once every site listens, as the ready signal."""
        self.debug = debug
        self.initialize_logging()
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.request_exit)
        web.run_app(
            self._make_app(),
            host=self.host,
            port=self.port,
            handle_signals=False,
            loop=loop,
            print=lambda *_: self._on_ready(),
        )
