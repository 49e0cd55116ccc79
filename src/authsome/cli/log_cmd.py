"""``authsome log``: read, follow, export and verify the audit trail."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from typing import Any

import click

from authsome.cli.output import emit_json, emit_json_line, json_option, say, table

DEFAULT_COUNT = 50
PAGE = 500
FOLLOW_INTERVAL = 1.0
HEADERS = ("TIME", "EVENT", "OUTCOME", "AGENT", "PROVIDER/CONNECTION", "HOST/PATH")
_WIDTHS = (21, 24, 12, 26, 24)


@click.command("log")
@click.option(
    "-n",
    "--limit",
    "count",
    type=click.IntRange(min=1),
    default=None,
    help=f"Show the newest N events [default: {DEFAULT_COUNT}; all of them with --since].",
)
@click.option("--since", metavar="WHEN", help="Only events since 1h, 30m, 7d, 2w or 2026-12-01.")
@click.option("--event", "event_name", metavar="NAME", help="Only this event (e.g. login).")
@click.option("--provider", metavar="NAME", help="Only events about this provider.")
@click.option("--identity", metavar="HANDLE", help="Only events of this agent.")
@click.option(
    "--outcome", type=click.Choice(["success", "failure", "denied"]), help="Only this outcome."
)
@click.option(
    "-f", "--follow", is_flag=True, help="Keep printing new events; Ctrl-C stops (exit 0)."
)
@click.option(
    "--verify",
    is_flag=True,
    help="Check the hash chain instead (admins): exit 0 when intact, 1 at the first bad event.",
)
@json_option
def log(
    count: int | None,
    since: str | None,
    event_name: str | None,
    provider: str | None,
    identity: str | None,
    outcome: str | None,
    follow: bool,
    verify: bool,
    as_json: bool,
) -> None:
    """Show the audit trail: what your agents did with your credentials.

    \b
    Examples:
      authsome log                          the newest 50 events
      authsome log --since 1h --outcome denied
      authsome log --json --since 2026-12-01 > audit.jsonl
      authsome log --follow                 live tail
      authsome log --verify                 check that no event was edited or deleted
    """
    from authsome.client.connect import open_client

    filters = {
        "since": since,
        "event": event_name,
        "provider": provider,
        "identity": identity,
        "outcome": outcome,
    }
    if verify:
        if follow or count is not None or any(filters.values()):
            raise click.UsageError("--verify checks the whole chain; it takes no filters")
        with open_client() as client:
            report = client.audit_verify()
        _print_report(report, as_json)
        if not report["intact"]:
            # Not click's Exit: ``main`` runs click with standalone_mode=False,
            # which turns Exit into a return value.
            sys.exit(1)
        return
    # Ctrl-C is how a follow ends, not a failure: exit 0 with nothing on stderr.
    stop: contextlib.AbstractContextManager[None] = (
        contextlib.suppress(KeyboardInterrupt) if follow else contextlib.nullcontext()
    )
    with open_client() as client, stop:
        if count is None and since is not None:
            events: Iterator[dict[str, Any]] = _oldest_first(client, 0, filters)
        else:
            events = iter(_newest(client, count or DEFAULT_COUNT, filters))
        last_id = _print_events(events, as_json=as_json, follow=follow)
        if follow:
            _follow(client, last_id, filters, as_json=as_json)


def _newest(client: Any, count: int, filters: dict[str, str | None]) -> list[dict[str, Any]]:
    """The newest ``count`` matching events, oldest first."""
    found: list[dict[str, Any]] = []
    cursor: int | None = None
    while len(found) < count:
        page = client.audit_events(limit=min(PAGE, count - len(found)), before=cursor, **filters)
        found.extend(page["events"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    found.reverse()
    return found


def _oldest_first(
    client: Any, after: int, filters: dict[str, str | None]
) -> Iterator[dict[str, Any]]:
    """Every matching event after id ``after``, streamed in pages."""
    while True:
        page = client.audit_events(limit=PAGE, after=after, **filters)
        yield from page["events"]
        if page["next_cursor"] is None:
            return
        after = page["next_cursor"]


def _print_events(events: Iterator[dict[str, Any]], *, as_json: bool, follow: bool) -> int:
    """Print ``events``; return the newest id printed (0 for none)."""
    last_id = 0
    if as_json or follow:
        for event in events:
            if as_json:
                emit_json_line(event)
            else:
                say(_line(event))
            last_id = max(last_id, int(event["id"]))
        return last_id
    rows = []
    for event in events:
        rows.append(_cells(event))
        last_id = max(last_id, int(event["id"]))
    from rich.markup import escape

    table(
        HEADERS,
        [[escape(cell) for cell in row] for row in rows],
        empty="no audit events match",
    )
    return last_id


def _follow(client: Any, last_id: int, filters: dict[str, str | None], *, as_json: bool) -> None:
    if not as_json:
        say(f"-- following new events (Ctrl-C stops) after #{last_id}")
    while True:
        time.sleep(FOLLOW_INTERVAL)
        found = _print_events(_oldest_first(client, last_id, filters), as_json=as_json, follow=True)
        last_id = max(last_id, found)


def _printable(text: str) -> str:
    """Hosts and paths come from agents' requests: no control characters on a terminal."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def _cells(event: dict[str, Any]) -> list[str]:
    when = str(event["ts"]).replace("T", " ")[:19] + "Z"
    outcome = str(event["outcome"])
    if event.get("status") is not None:
        outcome += f" {event['status']}"
    target = ""
    if event.get("host"):
        target = f"{event['host']}{event.get('path') or ''}"
        if event.get("method"):
            target = f"{event['method']} {target}"
    where = "/".join(str(event[key]) for key in ("provider", "connection") if event.get(key))
    cells = [when, str(event["event"]), outcome, event.get("identity") or "", where, target]
    return [_printable(cell) for cell in cells]


def _line(event: dict[str, Any]) -> str:
    cells = _cells(event)
    padded = [cell.ljust(width) for cell, width in zip(cells, _WIDTHS, strict=False)]
    return " ".join([*padded, cells[-1]]).rstrip()


def _print_report(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(report)
        return
    if report["intact"]:
        if not report["checked"]:
            say("audit log intact: no events yet")
            return
        say(
            f"audit log intact: {report['checked']} events checked "
            f"(#{report['first_id']} to #{report['head_id']}); "
            f"head hash {report['head_hash']}"
        )
        return
    click.echo(
        f"audit log BROKEN at event #{report['broken_id']}: {report['reason']} "
        f"({report['checked']} events before it check out)",
        err=True,
    )


COMMANDS = [log]
