"""itsm-tui: a keyboard-first IT Service Management desk for the terminal."""

__version__ = "0.1.0"
