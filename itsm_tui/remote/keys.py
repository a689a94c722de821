"""Keys for the SSH server: its host key (generated once, kept 0600) and the client keys
found in an authorized-keys directory (`DIR/<username>` or `DIR/<username>.pub`), with the
authorized_keys options each line carries (`HONOURED_OPTIONS`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import asyncssh
import platformdirs

HOST_KEY_NAME = "ssh_host_ed25519_key"
_KEY_PREFIXES = ("ssh-", "ecdsa-", "sk-")


def default_host_key_path() -> Path:
    return Path(platformdirs.user_data_dir("itsm-tui")) / HOST_KEY_NAME


def load_or_create_host_key(path: Path) -> asyncssh.SSHKey:
    """Read the host key, or generate an ed25519 one on first start. Created with O_EXCL and
    mode 0600 so no other user ever reads it, and clients see the same key on every start."""
    if path.exists():
        return asyncssh.read_private_key(str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    key = asyncssh.generate_private_key("ssh-ed25519", comment="itsm-tui host key")
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key.export_private_key("openssh"))
    return key


# The authorized_keys options this server honours. `from=` is checked against the client's
# address at each login; the others forbid what the server never offers anyway (forwarding,
# ~/.ssh/rc). Any other option (`command=`, `no-pty`, `environment=`, `cert-authority`...) asks
# for something a server that only runs the desk on a terminal cannot do, so a key carrying
# one is refused rather than accepted with the option silently dropped.
HONOURED_OPTIONS = frozenset(
    {"from", "restrict", "no-port-forwarding", "no-agent-forwarding", "no-x11-forwarding"}
    | {"no-user-rc"}
)


@dataclass(frozen=True)
class DirectoryKey:
    """One line of an authorized-keys file: its key, and the line itself (with its options)
    as asyncssh reads it, to match `from=` against the client at login."""

    key: asyncssh.SSHKey
    line: asyncssh.SSHAuthorizedKeys
    where: str  # `DIR/alice.pub line 3`, for the log

    def refusal(self, offered: asyncssh.SSHKey, address: str) -> str | None:
        """Why `offered` (this line's key) may not log in from `address`, or None."""
        try:
            options = self.line.validate(offered, address, address)
        except ValueError:  # not an IP address asyncssh can match (a scoped IPv6 one, say)
            return f"from= cannot be checked against {address}"
        if options is None:
            return f"its from= option does not allow {address}"
        unknown = sorted(set(options) - HONOURED_OPTIONS)
        if unknown:
            names = ", ".join(unknown)
            return f"option {names} is not supported (this server only runs the desk)"
        return None


def _key_of_line(line: str) -> asyncssh.SSHKey | None:
    """The key on an authorized_keys line, whatever options come before its type."""
    words = line.split()
    for index, word in enumerate(words):
        if word.startswith(_KEY_PREFIXES):
            try:
                return asyncssh.import_public_key(" ".join(words[index:]))
            except (asyncssh.KeyImportError, ValueError):
                return None
    return None


def _entry_of_line(line: str, where: str) -> DirectoryKey | None:
    """One authorized_keys line with its options; comments, junk and unreadable options
    give None (an unreadable option never lets its key in)."""
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    key = _key_of_line(line)
    if key is None:
        return None
    try:
        parsed = asyncssh.import_authorized_keys(line)
    except (asyncssh.KeyImportError, ValueError):
        return None
    return DirectoryKey(key, parsed, where)


def directory_keys(directory: Path | None, username: str) -> list[DirectoryKey]:
    """The keys in `DIR/<username>` and `DIR/<username>.pub`, read now (no cache, so an edit
    takes effect at the next login). A name with a path separator never reaches a file."""
    if directory is None or "/" in username or username.startswith("."):
        return []
    keys = []
    for name in (username, f"{username}.pub"):
        path = directory / name
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            for number, line in enumerate(text.splitlines(), start=1):
                if (entry := _entry_of_line(line, f"{path} line {number}")) is not None:
                    keys.append(entry)
    return keys
