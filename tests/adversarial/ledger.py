"""Planted secrets and the places they must never reach.

Every adversarial test plants distinctive values (API keys, passwords,
passphrases) through ``Ledger.plant`` and hands over what it saw: CLI
outputs, child environments, daemon homes. ``Ledger.check`` then searches
the daemon log, those outputs, the audit table and every non-database file
under each home.
"""

from __future__ import annotations

import secrets
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

_DATABASE_SUFFIXES = (".db", ".db-wal", ".db-shm")


@dataclass
class Ledger:
    planted: set[str] = field(default_factory=set)
    outputs: list[str] = field(default_factory=list)
    homes: set[Path] = field(default_factory=set)
    logs: set[Path] = field(default_factory=set)

    def plant(self, label: str, *, prefix: str = "") -> str:
        value = f"{prefix}PLANTED{label}{secrets.token_hex(12)}"
        self.planted.add(value)
        return value

    def watch_home(self, home: Path, log: Path | None = None) -> None:
        self.homes.add(home)
        if log is not None:
            self.logs.add(log)

    def record(self, *texts: str) -> None:
        self.outputs.extend(texts)

    def leaks(self) -> list[str]:
        found: list[str] = []
        for where, text in self._places():
            found += [f"{where}: {value[:20]}…" for value in self.planted if value in text]
        return found

    def _places(self) -> list[tuple[str, str]]:
        places = [(f"output {i}", text) for i, text in enumerate(self.outputs)]
        places += [(str(log), log.read_text(errors="replace")) for log in self.logs if log.exists()]
        for home in self.homes:
            for path in home.rglob("*"):
                if path.is_file() and not path.name.endswith(_DATABASE_SUFFIXES):
                    places.append((str(path), path.read_bytes().decode("latin-1")))
            database = home / "server" / "authsome.db"
            if database.exists():
                places.append((f"audit table of {home}", _audit_rows(database)))
        return places


def _audit_rows(database: Path) -> str:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return "\n".join(repr(row) for row in connection.execute("SELECT * FROM audit_events"))
    finally:
        connection.close()
