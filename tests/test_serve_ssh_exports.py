"""Issue 16 point 1 over a real `itsm serve ssh`: a viewer's report export cannot be pointed at
a server path of their choosing; it lands in their own export folder, 0600, with a name the
desk made up. (One focused test: each server start and desk session costs seconds.)"""

from __future__ import annotations

import stat
from pathlib import Path

import asyncssh

from itsm_tui.clock import FixedClock
from tests.conftest import T0
from tests.test_serve_ssh import PATIENCE_S, _until, connect_to, desk, running_server
from tests.tui_helpers import seeded_desk


async def test_a_viewer_over_ssh_exports_only_into_their_own_folder(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'itsm.sqlite'}"
    database, seeded = seeded_desk(url, FixedClock(T0))
    seeded.session.close()
    database.dispose()
    key = asyncssh.generate_private_key("ssh-ed25519")
    authorized = tmp_path / "authorized"
    authorized.mkdir()
    (authorized / "vic.pub").write_bytes(key.export_public_key())  # vic: a viewer
    chosen = tmp_path / "home" / ".bashrc"  # where an attacker would like the file
    folder = tmp_path / "data" / "itsm-tui" / "exports" / "vic"

    with running_server(tmp_path, url, "--authorized-keys", str(authorized)) as server:
        async with await connect_to(server.port, "vic", key) as conn:
            terminal = await desk(conn, size=(120, 30))
            terminal.send("\x10")  # ctrl+p
            terminal.send("Reports")
            await terminal.wait_for("Figures with drill-down")
            terminal.send("\r")
            mark = len(terminal.output)
            await terminal.wait_for("Export", since=mark)  # the reports screen's footer
            mark = len(terminal.output)
            terminal.send("x")
            await terminal.wait_for("export folder", since=mark)  # and no "File" to type in
            assert "File" not in terminal.text(mark)
            terminal.send(str(chosen))  # typed anyway: there is nowhere it could go
            terminal.send("\x13")  # ctrl+s
            await _until(
                lambda: folder.is_dir() and any(folder.iterdir()),
                "the export in vic's folder",
                PATIENCE_S,
                terminal,
            )
            await terminal.wait_for("Report saved as sla-", since=mark)
            assert str(folder) not in terminal.text(mark)  # the name, never the server path

    written = list(folder.iterdir())
    assert [p.name for p in written] == [written[0].name]
    assert written[0].name.startswith("sla-") and written[0].suffix == ".csv"
    assert written[0].read_text(encoding="utf-8").startswith("policy,kind,count")
    assert stat.S_IMODE(written[0].stat().st_mode) == 0o600
    assert not chosen.exists() and not chosen.parent.exists()
    assert not (tmp_path / "data" / "itsm-tui" / "reports").exists()  # the local default
