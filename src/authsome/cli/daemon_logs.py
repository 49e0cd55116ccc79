"""``authsome daemon logs [-f]``: the background daemon's log (it never holds secrets)."""

from __future__ import annotations

import contextlib
import re
import time
from pathlib import Path
from typing import Any

import click

from authsome.cli.output import OutputMode, emit_data, emit_json_line, json_option
from authsome.home import HomeLayout

_RECORD = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) "
    r"(?P<level>[A-Z]+) (?P<logger>[\w.]+): (?P<message>.*)$"
)
_BLOCK = 64 * 1024


def last_lines(path: Path, count: int) -> tuple[list[str], int]:
    """The last ``count`` lines of ``path`` and the offset of its end."""
    with path.open("rb") as handle:
        end = handle.seek(0, 2)
        start, data = end, b""
        while start > 0 and data.count(b"\n") <= count:
            start = max(0, start - _BLOCK)
            handle.seek(start)
            data = handle.read(end - start)
    lines = data.decode(errors="replace").splitlines()
    return (lines[-count:] if count else []), end


def as_record(line: str) -> dict[str, Any]:
    """A log line as JSON: timestamp, level, logger and message when it has that shape."""
    match = _RECORD.match(line)
    return match.groupdict() if match else {"message": line}


def _emit(line: str) -> None:
    if OutputMode.json:
        emit_json_line(as_record(line))
    else:
        emit_data(line)


def follow(path: Path, offset: int, *, interval: float = 0.2) -> None:
    """Print lines appended after ``offset`` until interrupted (survives truncation)."""
    pending = b""
    while True:
        size = path.stat().st_size if path.exists() else 0
        if size < offset:
            offset = 0  # truncated or replaced: start again from its beginning
        if size > offset:
            with path.open("rb") as handle:
                handle.seek(offset)
                chunk = handle.read(size - offset)
            offset += len(chunk)
            *complete, pending = (pending + chunk).split(b"\n")
            for raw in complete:
                _emit(raw.decode(errors="replace"))
        time.sleep(interval)


@click.command("logs")
@click.option(
    "-f", "--follow", "keep_following", is_flag=True, help="Keep printing new lines (Ctrl-C stops)."
)
@click.option("-n", "--lines", default=50, show_default=True, help="How many last lines to show.")
@json_option
def logs(keep_following: bool, lines: int, as_json: bool) -> None:
    """Show this home's daemon log (JSON lines with --json).

    With -f it keeps printing new lines until Ctrl-C, which is the normal way
    to stop it: exit 0, nothing on stderr.
    """
    from authsome.errors import DaemonUnavailable

    path = HomeLayout.from_env().daemon_log
    if not path.exists():
        raise DaemonUnavailable(
            f"no daemon log at {path}: this home's daemon has not run in the background",
            hint="authsome daemon start",
        )
    if not keep_following:
        _show_last(path, lines)
        return
    with contextlib.suppress(KeyboardInterrupt):
        follow(path, _show_last(path, lines))


def _show_last(path: Path, lines: int) -> int:
    """Print the last ``lines`` lines; return the offset to follow from."""
    shown, end = last_lines(path, max(lines, 0))
    for line in shown:
        _emit(line)
    return end
