"""Audit events as CSV (the page's download).

Hosts and paths come from agents' requests, so a cell that a spreadsheet
would run as a formula (leading ``=``, ``+``, ``-``, ``@``, tab or CR) is
prefixed with ``'``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from authsome.audit.query import event_dict
from authsome.store.models import AuditEvent

CSV_COLUMNS = (
    "id",
    "ts",
    "event",
    "outcome",
    "identity",
    "principal_id",
    "provider",
    "connection",
    "method",
    "host",
    "path",
    "status",
    "detail",
    "prev_hash",
    "hash",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = json.dumps(value, sort_keys=True) if isinstance(value, dict) else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_lines(events: Iterable[AuditEvent]) -> Iterator[str]:
    """The header line, then one line per event."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    yield buffer.getvalue()
    for event in events:
        buffer.seek(0)
        buffer.truncate()
        values = event_dict(event)
        writer.writerow([_cell(values[name]) for name in CSV_COLUMNS])
        yield buffer.getvalue()
