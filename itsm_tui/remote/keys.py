"""Keys for the SSH server: its host key (generated once, kept 0600) and the client keys
found in an authorized-keys directory (`DIR/<username>` or `DIR/<username>.pub`)."""

from __future__ import annotations

import os
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


def _key_of_line(line: str) -> asyncssh.SSHKey | None:
    """One authorized_keys line -> its key; options before the key type are skipped (they
    are not enforced: this server only ever runs the desk). Comments and junk give None."""
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    words = line.split()
    for index, word in enumerate(words):
        if word.startswith(_KEY_PREFIXES):
            try:
                return asyncssh.import_public_key(" ".join(words[index:]))
            except (asyncssh.KeyImportError, ValueError):
                return None
    return None


def directory_keys(directory: Path | None, username: str) -> list[asyncssh.SSHKey]:
    """The keys in `DIR/<username>` and `DIR/<username>.pub`, read now (no cache, so an edit
    takes effect at the next login). A name with a path separator never reaches a file."""
    if directory is None or "/" in username or username.startswith("."):
        return []
    keys = []
    for name in (username, f"{username}.pub"):
        path = directory / name
        if path.is_file():
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                if (key := _key_of_line(line)) is not None:
                    keys.append(key)
    return keys
