"""`serve web`'s Origin/Host rules case by case (issue 16, point 2): the end-to-end tests in
test_serve_web.py show the server applies them; these pin the edge cases (IPv6, default
ports, every-address binds, look-alike names) without starting servers."""

from __future__ import annotations

import pytest

from itsm_tui.remote.web_guard import MAX_COLUMNS, MAX_ROWS, Site, clamp_size

LOOPBACK = Site.of("127.0.0.1", 8000, None)
EVERYWHERE = Site.of("0.0.0.0", 8000, None)
V6 = Site.of("::1", 8000, None)
PROXIED = Site.of("127.0.0.1", 8000, "https://desk.example.com/itsm/")
LAN = Site.of("10.0.0.5", 8000, None)


@pytest.mark.parametrize(
    ("site", "origin", "allowed"),
    [
        (LOOPBACK, None, True),  # not from a page
        (LOOPBACK, "http://127.0.0.1:8000", True),
        (LOOPBACK, "http://localhost:8000", True),
        (LOOPBACK, "http://[::1]:8000", True),
        (LOOPBACK, "http://LOCALHOST.:8000", True),
        (LOOPBACK, "http://127.0.0.1:8001", False),  # another local service's page
        (LOOPBACK, "https://127.0.0.1:8000", False),
        (LOOPBACK, "http://127.0.0.1", False),  # port 80
        (LOOPBACK, "null", False),
        (LOOPBACK, "http://127.0.0.1:8000/x", False),
        (LOOPBACK, "http://user@127.0.0.1:8000", False),
        (LOOPBACK, "http://evil.example", False),
        (LOOPBACK, "http://127.0.0.1.evil.example:8000", False),
        (EVERYWHERE, "http://localhost:8000", True),
        (V6, "http://127.0.0.1:8000", True),
        (LAN, "http://10.0.0.5:8000", True),
        (LAN, "http://localhost:8000", False),  # a LAN bind is not reached as localhost
        (PROXIED, "https://desk.example.com", True),
        (PROXIED, "https://desk.example.com:443", True),
        (PROXIED, "http://desk.example.com", False),  # downgraded scheme
        (PROXIED, "https://desk.example.com:8443", False),
        (PROXIED, "https://evil.desk.example.com", False),
    ],
)
def test_origins(site: Site, origin: str | None, allowed: bool) -> None:
    assert site.origin_allowed(origin) is allowed


@pytest.mark.parametrize(
    ("site", "host", "allowed"),
    [
        (LOOPBACK, "127.0.0.1:8000", True),
        (LOOPBACK, "localhost:8000", True),
        (LOOPBACK, "[::1]:8000", True),
        (LOOPBACK, "127.0.0.1", False),  # port 80 is not ours
        (LOOPBACK, None, False),
        (LOOPBACK, "", False),
        (LOOPBACK, "rebound.example:8000", False),  # DNS rebinding
        (LOOPBACK, "user@127.0.0.1:8000", False),
        (LOOPBACK, "127.0.0.1:8000/x", False),
        (LOOPBACK, "127.0.0.1:notaport", False),
        (PROXIED, "desk.example.com", True),
        (PROXIED, "desk.example.com:8443", True),  # proxies differ in passing the port
        (PROXIED, "DESK.example.com.", True),
        (PROXIED, "other.example.com", False),
    ],
)
def test_hosts(site: Site, host: str | None, allowed: bool) -> None:
    assert site.host_allowed(host) is allowed


@pytest.mark.parametrize(
    ("width", "height", "size"),
    [
        (80, 24, (80, 24)),
        (4000, 4000, (MAX_COLUMNS, MAX_ROWS)),
        ("90", "30", (90, 30)),
        (0, -5, (1, 1)),
        ("wide", 30, None),
        (None, 30, None),
        (float("inf"), 30, None),
    ],
)
def test_clamp_size(width: object, height: object, size: tuple[int, int] | None) -> None:
    assert clamp_size(width, height) == size
