"""A desk knows whether it serves someone at another machine (issue 16): remote desks never
let a user name a server path."""

from __future__ import annotations

import pytest

from itsm_tui.session_kind import REMOTE_ENV, is_remote, remote_kind


@pytest.mark.parametrize(
    ("environ", "kind"),
    [
        ({}, None),
        ({"HOME": "/root", "TERM": "xterm"}, None),
        ({REMOTE_ENV: "ssh"}, "ssh"),
        ({REMOTE_ENV: "web"}, "web"),
        ({REMOTE_ENV: "WEB "}, "web"),
        ({REMOTE_ENV: "something-else"}, "ssh"),  # unexpected: the safe side
        ({"SSH_CONNECTION": "10.0.0.9 50000 10.0.0.1 22"}, "ssh"),  # sshd forced command
        ({"SSH_CLIENT": "10.0.0.9 50000 22"}, "ssh"),
        ({"SSH_ORIGINAL_COMMAND": "itsm"}, "ssh"),
        ({"SSH_CONNECTION": ""}, None),
    ],
)
def test_remote_kind(environ: dict[str, str], kind: str | None) -> None:
    assert remote_kind(environ) == kind
    assert is_remote(environ) is (kind is not None)
