"""One desk process on its own pseudo-terminal, driven from asyncio.

The child is a session leader with the pty as its controlling terminal, so a window size set
on the master (TIOCSWINSZ) reaches it as SIGWINCH, exactly as under a local terminal, and a
hang-up (SIGHUP to its process group) ends it as a closed terminal would.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import struct
import termios
from collections.abc import Callable, Mapping, Sequence

GRACE_S = 2.0


def _become_terminal_owner() -> None:
    """Runs in the child between fork and exec: new session, the pty (fd 0) as controlling
    terminal. Only async-signal-safe calls."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def set_window_size(fd: int, columns: int, rows: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


class PtyChild:
    """A running child on a pty: `write` sends it keystrokes, `on_output` gets what it draws,
    `resize` passes a new window size, `terminate` ends it (SIGHUP, SIGTERM, SIGKILL)."""

    def __init__(
        self, process: asyncio.subprocess.Process, master: int, on_output: Callable[[bytes], None]
    ) -> None:
        self.process = process
        self._master = master
        self._on_output = on_output
        self._pending = bytearray()
        self._loop = asyncio.get_running_loop()
        self.output_done = asyncio.Event()
        self._loop.add_reader(master, self._readable)

    @classmethod
    async def spawn(
        cls,
        argv: Sequence[str],
        env: Mapping[str, str],
        columns: int,
        rows: int,
        on_output: Callable[[bytes], None],
    ) -> PtyChild:
        master, slave = os.openpty()
        try:
            set_window_size(master, columns, rows)
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                env=dict(env),
                preexec_fn=_become_terminal_owner,
                close_fds=True,
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)  # the child holds its copy; ours would keep EOF from arriving
        os.set_blocking(master, False)
        return cls(process, master, on_output)

    @property
    def pid(self) -> int:
        return self.process.pid

    def _readable(self) -> None:
        try:
            data = os.read(self._master, 65536)
        except BlockingIOError:
            return
        except OSError:  # EIO: the child closed its side (it exited)
            data = b""
        if data:
            self._on_output(data)
            return
        self._loop.remove_reader(self._master)
        self.output_done.set()

    def write(self, data: bytes) -> None:
        """Send input; what the pty cannot take now is queued, never dropped."""
        if self.output_done.is_set():
            return
        was_empty = not self._pending
        self._pending += data
        if was_empty:
            self._flush()

    def _flush(self) -> None:
        try:
            written = os.write(self._master, self._pending)
        except BlockingIOError:
            written = 0
        except OSError:
            self._pending.clear()
            return
        del self._pending[:written]
        if self._pending:
            self._loop.add_writer(self._master, self._writable)

    def _writable(self) -> None:
        self._loop.remove_writer(self._master)
        self._flush()

    def resize(self, columns: int, rows: int) -> None:
        if columns > 0 and rows > 0 and not self.output_done.is_set():
            set_window_size(self._master, columns, rows)

    async def wait(self) -> int:
        """The exit status as a shell reports it (128 + signal for a killed child)."""
        code = await self.process.wait()
        return 128 - code if code < 0 else code

    async def terminate(self, grace: float = GRACE_S) -> int:
        """Hang up like a closed terminal, then ask, then insist. The desk commits each write
        as one transaction, so any of these leaves no half-written record."""
        for signum in (signal.SIGHUP, signal.SIGTERM, signal.SIGKILL):
            if self.process.returncode is not None:
                break
            try:
                os.killpg(self.process.pid, signum)
            except ProcessLookupError:
                break
            try:
                await asyncio.wait_for(asyncio.shield(self.process.wait()), grace)
            except TimeoutError:
                continue
        return await self.wait()

    async def drain(self, timeout: float = 1.0) -> None:
        """Let the last frame the child drew reach `on_output` before the channel closes."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.output_done.wait(), timeout)

    def close(self) -> None:
        self._loop.remove_reader(self._master)
        self._loop.remove_writer(self._master)
        with contextlib.suppress(OSError):
            os.close(self._master)
