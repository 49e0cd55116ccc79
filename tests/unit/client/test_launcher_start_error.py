"""What the launcher repeats from a daemon that refused to start: its error line only."""

from __future__ import annotations

from pathlib import Path

from authsome.client.launcher import start_error
from authsome.home import HomeLayout


def _layout_with_log(tmp_path: Path, text: str) -> HomeLayout:
    layout = HomeLayout(tmp_path)
    layout.server_dir.mkdir(parents=True)
    layout.daemon_log.write_text(text)
    return layout


def test_the_last_error_line_after_the_offset_is_relayed_with_its_fix(tmp_path: Path) -> None:
    earlier = "error: port 1 on 127.0.0.1 (API) is in use by another program\n"
    layout = _layout_with_log(
        tmp_path,
        earlier
        + "2024-01-01 INFO authsome.daemon: opening the store\n"
        + "\x1b[31merror:\x1b[0m port 4242 on 127.0.0.1 (API) is in use by another program "
        "that is not Authsome (try: authsome daemon start --port 0)\n",
    )
    reason, fix = start_error(layout, len(earlier))
    assert (
        reason == "port 4242 on 127.0.0.1 (API) is in use by another program that is not Authsome"
    )
    assert fix == "authsome daemon start --port 0"


def test_nothing_but_error_lines_is_repeated(tmp_path: Path) -> None:
    layout = _layout_with_log(
        tmp_path,
        "Traceback (most recent call last):\nValueError: bad value sk-live-0123456789abcdefghij\n",
    )
    assert start_error(layout, 0) == (None, None)


def test_a_missing_log_gives_no_reason(tmp_path: Path) -> None:
    assert start_error(HomeLayout(tmp_path), 0) == (None, None)
