"""`ConfigError` on its own, so `itsm --help` can name it without loading pydantic (config.py's
settings models cost about 0.1 s to import); `itsm_tui.config` re-exports it."""

from __future__ import annotations


class ConfigError(ValueError):
    """config.toml exists but cannot be used; the message names the file and the problem."""
