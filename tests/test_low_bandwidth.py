"""`--low-bandwidth`: the desk and the wall drop animations, use ANSI colours and a slower
header clock; the frame rate is capped through Textual's environment before the app loads.
Set by the flag, ITSM_LOW_BANDWIDTH or config.toml."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from itsm_tui import low_bandwidth
from itsm_tui.app import ITSMApp
from itsm_tui.cli import main
from itsm_tui.clock import FixedClock
from itsm_tui.config import ConfigError, config_file, load_file_config, resolve_settings
from itsm_tui.wall import WallApp
from itsm_tui.widgets.desk_header import DeskHeader
from tests.conftest import Desk
from tests.tui_helpers import app_for, settle


async def test_the_low_bandwidth_desk_runs_without_animations_in_ansi_colours(
    desk_db: tuple[str, Desk], clock: FixedClock
) -> None:
    url, _ = desk_db
    app = app_for(url, clock, low_bandwidth=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert app.animation_level == "none"
        assert app.theme == low_bandwidth.THEME == "ansi-dark"
        assert app.current_theme.ansi  # colours go out as 16-colour codes
        # the header clock shows minutes, so an idle desk repaints it once a minute
        assert app.screen.query_one(DeskHeader).now_text == "2026-03-02 09:00 UTC"
    default = app_for(url, clock)
    assert default.animation_level != "none"
    assert not default.current_theme.ansi


def test_the_wall_takes_the_same_settings(desk_db: tuple[str, Desk], clock: FixedClock) -> None:
    url, _ = desk_db
    wall = WallApp(database_url=url, username="vic", clock=clock, low_bandwidth=True)
    try:
        assert (wall.animation_level, wall.theme) == ("none", "ansi-dark")
    finally:
        wall.reader.close()


def test_the_flag_caps_the_frame_rate_and_reaches_desk_and_wall(
    desk_db: tuple[str, Desk], clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = desk_db
    monkeypatch.delenv(low_bandwidth.FPS_ENV, raising=False)  # restored after the test
    started: list[ITSMApp | WallApp] = []
    monkeypatch.setattr(ITSMApp, "run", lambda self: started.append(self))
    monkeypatch.setattr(WallApp, "run", lambda self: started.append(self))
    assert main(["--db", url, "--user", "alice"], clock=clock) == 0
    assert low_bandwidth.FPS_ENV not in os.environ  # the default leaves Textual's 60
    assert main(["--db", url, "--user", "alice", "--low-bandwidth"], clock=clock) == 0
    assert os.environ[low_bandwidth.FPS_ENV] == "10"
    assert main(["--db", url, "wall", "--user", "vic", "--low-bandwidth"], clock=clock) == 0
    assert [type(app).__name__ for app in started] == ["ITSMApp", "ITSMApp", "WallApp"]
    assert [app.low_bandwidth for app in started] == [False, True, True]
    assert started[1].theme == "ansi-dark"


def test_the_setting_comes_from_the_environment_or_config_toml() -> None:
    def resolved(environ: dict[str, str], flag: bool = False) -> bool:
        return resolve_settings(
            cli_database_url="sqlite:///x", cli_user="a", cli_low_bandwidth=flag, environ=environ
        ).low_bandwidth

    assert resolved({}) is False
    assert resolved({}, flag=True) is True
    assert resolved({"ITSM_LOW_BANDWIDTH": "yes"}) is True
    assert resolved({"ITSM_LOW_BANDWIDTH": "0"}) is False
    assert resolved({"ITSM_LOW_BANDWIDTH": "0"}, flag=True) is True  # the flag wins
    with pytest.raises(ConfigError, match="ITSM_LOW_BANDWIDTH must be 1 or 0"):
        resolved({"ITSM_LOW_BANDWIDTH": "maybe"})
    path: Path = config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("low_bandwidth = true\n")
    assert resolved({}) is True
    assert resolved({"ITSM_LOW_BANDWIDTH": "off"}) is False  # the environment wins
    path.write_text('low_bandwidth = "sometimes"\n')
    with pytest.raises(ConfigError, match="low_bandwidth: Input should be a valid boolean"):
        load_file_config()
