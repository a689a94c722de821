"""Whether this desk process serves someone at another machine.

A remote user (serve ssh, serve web, or an sshd forced command) must never name a path on the
server: whatever they type runs with the server account's rights. The servers we start mark
their desk processes with ITSM_REMOTE_SESSION; a desk started by OpenSSH's sshd (a forced
command, or a login shell) is recognised by the variables sshd sets for every session.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

REMOTE_ENV = "ITSM_REMOTE_SESSION"
SSH = "ssh"
WEB = "web"
# sshd sets these for every session it starts, forced commands included.
_SSHD_VARIABLES = ("SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY", "SSH_ORIGINAL_COMMAND")


def remote_kind(environ: Mapping[str, str] | None = None) -> str | None:
    """'ssh' or 'web' for a remote desk, None for a local one. Anything unexpected in
    ITSM_REMOTE_SESSION still counts as remote: the safe side."""
    env = os.environ if environ is None else environ
    marked = env.get(REMOTE_ENV, "").strip().lower()
    if marked:
        return marked if marked in (SSH, WEB) else SSH
    if any(env.get(name) for name in _SSHD_VARIABLES):
        return SSH
    return None


def is_remote(environ: Mapping[str, str] | None = None) -> bool:
    return remote_kind(environ) is not None
