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
"""

from __future__ import annotations

import asyncio
import re
import signal
from collections.abc import Callable
from pathlib import Path

import textual_serve
from aiohttp import web
from textual_serve.server import Server

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


class DeskWebServer(Server):
    """textual-serve's Server, calling `on_ready` once it listens."""

    def __init__(
        self,
        command: str,
        *,
        host: str,
        port: int,
        title: str,
        public_url: str | None,
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
