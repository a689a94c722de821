"""Remote access to the desk: `itsm serve ssh` (each SSH session runs its own desk process
on a pty) and `itsm serve web` (textual-serve)."""
