"""Which requests `itsm serve web` answers, and how big a browser's terminal may be.

Origin: a websocket is not bound by the same-origin policy, so without a check any page open
in the operator's browser (another site, an advert) could open `ws://127.0.0.1:8000/ws`, read
the desk's screen and type into it. Browsers always send `Origin` with a websocket (and with a
cross-site request), so a request whose `Origin` is not this server's own page is refused.
A request without `Origin` is the page loading its own files or a program (curl, a test),
not another site's page, and is let through once its `Host` is ours.

Host: DNS rebinding (an attacker's name that first resolves to their server, then to
127.0.0.1) makes the attacker's page same-origin with us in the browser's eyes: its `Origin`
is then the attacker's name, which the Origin check refuses, and its `Host` is too, which is
refused on every route (page, static files, downloads), so nothing here is readable that way.

Allowed: the URL printed at start (`http://HOST:PORT`), with `localhost`, `127.0.0.1` and
`::1` treated as one machine when the server listens on loopback or on every address (the
page then reaches it by any of those names), and `--public-url` (the address behind a
reverse proxy): its exact origin, and its host name in `Host` whatever the port, since
proxies differ in whether they pass it on.

Size: a browser's terminal size goes to the desk as is, and the desk allocates its screen
from it (a 4000x4000 window made a 250 MB desk process over SSH); it is clamped to a size
no screen shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from itsm_tui.remote.screen_limits import MAX_COLUMNS, MAX_ROWS

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_EVERY_ADDRESS = frozenset({"0.0.0.0", "::", ""})
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}

Origin = tuple[str, str, int]  # scheme, host name, port


def _name(host: str) -> str:
    """A host name as compared: lower case, no trailing dot, no IPv6 brackets."""
    return host.strip("[]").rstrip(".").lower()


def _parse_origin(origin: str) -> Origin | None:
    """`scheme://host[:port]` as a comparable triple, or None if it is anything else (a path,
    credentials, `null` from a sandboxed frame or a file)."""
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return None
    default = _DEFAULT_PORTS.get(parts.scheme)
    if default is None or not parts.hostname or parts.username is not None:
        return None
    if parts.path or parts.query or parts.fragment:
        return None
    return parts.scheme, _name(parts.hostname), port if port is not None else default


def _parse_host(host: str) -> tuple[str, int | None] | None:
    """A `Host` header (`name`, `name:port`, `[v6]:port`) as (name, port or None)."""
    try:
        parts = urlsplit(f"//{host}")
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or parts.username is not None or parts.path:
        return None
    return _name(parts.hostname), port


@dataclass(frozen=True)
class Site:
    """The names under which this server is its own page."""

    origins: frozenset[Origin]
    hosts: frozenset[tuple[str, int]]  # name and port, as a browser connects directly
    proxied_names: frozenset[str]  # the public URL's host name, any port

    @classmethod
    def of(cls, host: str, port: int, public_url: str | None) -> Site:
        bound = _name(host)
        names = {bound}
        if bound in LOOPBACK_NAMES or bound in _EVERY_ADDRESS:
            names |= LOOPBACK_NAMES
        origins = {("http", name, port) for name in names}
        hosts = {(name, port) for name in names}
        proxied: set[str] = set()
        if public_url is not None:
            public = _parse_origin(_origin_of(public_url))
            if public is not None:
                origins.add(public)
                proxied.add(public[1])
        return cls(frozenset(origins), frozenset(hosts), frozenset(proxied))

    def host_allowed(self, host: str | None) -> bool:
        """Whether a `Host` header names this server (HTTP/1.1 requires one)."""
        parsed = None if host is None else _parse_host(host)
        if parsed is None:
            return False
        name, port = parsed
        return name in self.proxied_names or (name, port or 80) in self.hosts

    def origin_allowed(self, origin: str | None) -> bool:
        """Whether a request's `Origin` is this server's page (None: not from a page)."""
        return origin is None or _parse_origin(origin) in self.origins


def _origin_of(url: str) -> str:
    """`https://desk.example.com/itsm/` -> `https://desk.example.com`."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def clamp_size(width: object, height: object) -> tuple[int, int] | None:
    """A browser's terminal size as the desk may get it: whole numbers within 1..MAX_COLUMNS
    and 1..MAX_ROWS, or None if either is not a number at all (the resize is then dropped)."""
    try:
        columns, rows = int(width), int(height)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        return None
    return max(1, min(columns, MAX_COLUMNS)), max(1, min(rows, MAX_ROWS))
