"""The audit key and the checkpoint log: the files that keep audit checkpoints trustworthy.

Why files, and why here: a checkpoint is only worth something if the key that signs it is
out of reach of whoever can write the database. The key lives in the config directory of
the account that takes checkpoints (`<config>/audit.key`, 0600, created on first use) and
never enters the database or any output. Run checkpoints from an account the desk's
database role does not control (see docs/audit.md).
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from itsm_tui.config import config_dir
from itsm_tui.config_errors import ConfigError
from itsm_tui.domain.audit_checkpoint import KEY_BYTES, CheckpointLine, read_line
from itsm_tui.services.errors import NotFound, ValidationFailed

KEY_FILE = "audit.key"
CHECKPOINT_LOG = "audit-checkpoints.jsonl"


def default_key_path() -> Path:
    return config_dir() / KEY_FILE


def default_checkpoint_log() -> Path:
    return config_dir() / CHECKPOINT_LOG


def load_or_create_key(path: Path) -> tuple[bytes, bool]:
    """The key at `path`, or a new random one written there 0600 (O_EXCL, so two first
    checkpoints racing keep one key). Returns (key, whether it was created now)."""
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = secrets.token_bytes(KEY_BYTES)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return load_key(path), False
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(key.hex() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        return key, True
    return load_key(path), False


def load_key(path: Path) -> bytes:
    """The key at `path`; a missing, shared or malformed key file is a clear refusal."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ConfigError(
            f"no audit key at {path}: checkpoints can only be verified with the key that "
            "signed them; copy that key there (mode 0600) or pass --key FILE"
        ) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"the audit key {path} is open to other users (mode {stat.S_IMODE(mode):04o}); "
            f"make it private with: chmod 600 {path}"
        )
    try:
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (ValueError, UnicodeDecodeError):
        key = b""
    if len(key) != KEY_BYTES:
        raise ConfigError(f"{path} is not an itsm audit key ({KEY_BYTES * 2} hex digits)")
    return key


def append_checkpoint(path: Path, line: str) -> None:
    """Append one checkpoint line, durably (the log is the evidence a rewrite is measured
    against). One write of one short line: concurrent appenders do not interleave."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(descriptor, (line + "\n").encode("ascii"))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def read_checkpoint_log(path: Path, key: bytes) -> list[CheckpointLine]:
    """Every non-blank line of a checkpoint log, authenticated with `key`."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise NotFound(f"no checkpoint file {path}") from None
    except IsADirectoryError:
        raise ValidationFailed(f"{path} is a directory, not a checkpoint file") from None
    lines = [
        read_line(number, line, key)
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip()
    ]
    if not lines:
        raise ValidationFailed(f"{path} holds no checkpoints")
    return lines
