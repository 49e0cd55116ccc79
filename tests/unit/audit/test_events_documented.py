"""docs/audit-events.md lists exactly the event names the source writes."""

from __future__ import annotations

import re
from pathlib import Path

from tests.unit.audit.event_names import scan_event_names

DOC = Path(__file__).resolve().parents[3] / "docs" / "audit-events.md"
_ROW = re.compile(r"^\| `([a-z0-9_]+)` \|", re.MULTILINE)


def _documented() -> tuple[set[str], set[str]]:
    """(written events, reserved events) from the page's two tables."""
    text = DOC.read_text()
    events_part, _, reserved_part = text.partition("### Reserved")
    events_part = events_part.partition("## Events")[2]
    reserved_part = reserved_part.partition("## ")[0]
    return set(_ROW.findall(events_part)), set(_ROW.findall(reserved_part))


def test_every_written_event_is_documented_and_every_documented_one_is_written() -> None:
    scan = scan_event_names()
    assert not scan.unresolved, (
        "cannot tell which event names these write; use a literal or a module constant: "
        f"{scan.unresolved}"
    )
    documented, reserved = _documented()
    written = set(scan.names)
    missing = {name: sorted(scan.names[name]) for name in written - documented}
    assert not missing, f"add these to docs/audit-events.md: {missing}"
    stale = documented - written
    assert not stale, f"documented but never written (move to Reserved or remove): {stale}"
    assert not reserved & written, "a reserved event is written now: move it to the table"


def test_the_scanner_follows_parameters_and_imported_constants() -> None:
    names = scan_event_names().names
    # "export"/"reveal" reach record_event through an ``action`` parameter,
    # "audit_pruned" through a constant imported from audit.chain, and
    # "audit_dropped" through a field dict given to checked_fields.
    assert {"export", "reveal", "audit_pruned", "audit_dropped", "daemon_stopped"} <= set(names)
    assert any(place.startswith("daemon/routes/reveal.py") for place in names["export"])
