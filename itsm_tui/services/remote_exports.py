"""Where a remote desk's exports go: a fixed per-user folder, names the desk makes up.

A desk served over `serve ssh`, `serve web` or an sshd forced command runs with the server
account's rights, so a path typed there would let any desk user (a viewer included) write
any file that account can (issue 16: `~/.bashrc`, the live database). Remote exports
therefore go to `<data dir>/exports/<username>/<report>-<UTC stamp>.<format>`: the folder
from the acting user's validated name, the file name from the report's key and the injected
clock, never from anything typed. Files are 0600 and folders 0700. An admin lists them with
`itsm export list`; the web desk also hands each one to the browser as a download.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session

from itsm_tui.config import data_dir
from itsm_tui.services.actors import reload_actor
from itsm_tui.services.directory import USERNAME_PATTERN, require_admin
from itsm_tui.services.errors import ValidationFailed
from itsm_tui.services.private_files import PRIVATE_DIR_MODE, create_new
from itsm_tui.services.records import Record
from itsm_tui.store.models import User

EXPORTS_FOLDER = "exports"
# Same-second exports of one report get -2, -3, ...: enough for any typist, and a bound.
MAX_SAME_NAME = 100
# Each user's folder keeps their newest exports only: a remote user scripting the export key
# must not fill the server's disk. Their browser has its own copy (serve web); over SSH an
# admin fetches them soon after.
KEPT_PER_USER = 50
_EXPORT_NAME = re.compile(r"-(\d{8}-\d{6})(?:-(\d+))?\.[a-z]+")


def exports_root() -> Path:
    return data_dir() / EXPORTS_FOLDER


def user_export_dir(username: str) -> Path:
    """The acting user's folder. Usernames are validated on creation (`directory`); one that
    could name another folder ("..", "a/b") from an older database is refused anyway."""
    if not USERNAME_PATTERN.fullmatch(username):
        raise ValidationFailed(f"cannot export for the user name {username!r}")
    return exports_root() / username


def write_export(username: str, key: str, extension: str, now: datetime, text: str) -> Path:
    """Write `text` as a new 0600 file in the user's folder and return its path. `key` and
    `extension` come from the desk's own enums (a report key, a format), never from input."""
    folder = user_export_dir(username)
    for part in (key, extension):
        if not part.replace("-", "").isalnum():
            raise ValidationFailed(f"not an export name part: {part!r}")
    folder.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    folder.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
    stamp = now.astimezone(UTC).strftime("%Y%m%d-%H%M%S")
    for attempt in range(1, MAX_SAME_NAME + 1):
        suffix = "" if attempt == 1 else f"-{attempt}"
        target = folder / f"{key}-{stamp}{suffix}.{extension}"
        try:
            create_new(target, text)
        except FileExistsError:
            continue
        except OSError as error:
            raise ValidationFailed(f"cannot write {target}: {error.strerror or error}") from error
        _keep_newest(folder)
        return target
    raise ValidationFailed(f"{MAX_SAME_NAME} exports of {key} in one second; try again")


def _keep_newest(folder: Path) -> None:
    """Delete all but the newest KEPT_PER_USER exports, newest by the stamp in the names the
    desk made (file times are too coarse to order same-second exports). Files the desk did
    not name are left alone."""
    made: list[tuple[str, int, Path]] = []
    for path in folder.iterdir():
        match = _EXPORT_NAME.search(path.name)
        if match and match.end() == len(path.name) and path.is_file() and not path.is_symlink():
            made.append((match[1], int(match[2] or 1), path))
    made.sort()
    for _stamp, _attempt, path in made[: max(0, len(made) - KEPT_PER_USER)]:
        path.unlink(missing_ok=True)


class ExportFile(Record):
    user: str
    name: str
    bytes: int
    modified_at: datetime
    path: str


def list_exports(session: Session, actor: User) -> list[ExportFile]:
    """Every remote export on this server, by user then name. Admins only, as they are now
    (not when the command started): the files hold whatever the exporting user could see."""
    require_admin(reload_actor(session, actor), "listing exports")
    root = exports_root()
    if not root.is_dir():
        return []
    found: list[ExportFile] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink()):
        for file in sorted(p for p in folder.iterdir() if p.is_file() and not p.is_symlink()):
            stat = file.stat()
            found.append(
                ExportFile(
                    user=folder.name,
                    name=file.name,
                    bytes=stat.st_size,
                    modified_at=datetime.fromtimestamp(stat.st_mtime, UTC),
                    path=str(file),
                )
            )
    return found
