"""When each connection was last used (``Connection.last_used_at``), off the hot path.

The proxy and ``/resolve`` call ``note`` for every credential they hand out.
That is a dictionary lookup; a connection noted in the last
``MIN_GAP_SECONDS`` is not noted again, so whatever the request rate a
connection's row is written at most once per that gap (a write per request
would serialise every request on the store's write lock, like
``Identity.last_seen_at`` in ``caller.py``). A task on the daemon's loop
writes what was noted every ``interval`` seconds, in one transaction, and
once more at shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import UTC, datetime

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from authsome.background import stop_task
from authsome.store.db import transaction
from authsome.store.models import Connection

log = logging.getLogger("authsome.daemon")

#: A connection's last use is written at most once per this many seconds.
MIN_GAP_SECONDS = 60.0

UsageKey = tuple[str, str, str]  # vault id, provider, connection name


class ConnectionUsage:
    """Uses noted from the loop or worker threads, written in batches."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        interval: float = 2.0,
        min_gap: float = MIN_GAP_SECONDS,
    ) -> None:
        self._sessions = sessions
        self._interval = interval
        self._min_gap = min_gap
        self._noted_at: dict[UsageKey, float] = {}  # monotonic time of the last note kept
        self._pending: dict[UsageKey, datetime] = {}
        self._lock = threading.Lock()
        self._task: asyncio.Task[None] | None = None

    def note(self, vault_id: str, provider: str, connection: str) -> None:
        """``connection`` of ``provider`` in ``vault_id`` was used just now."""
        key = (vault_id, provider, connection)
        now = time.monotonic()
        if now - self._noted_at.get(key, -self._min_gap) < self._min_gap:
            return  # the common case: noted less than a minute ago, no lock taken
        with self._lock:
            self._noted_at[key] = now
            self._pending[key] = datetime.now(UTC)

    def start(self) -> None:
        """Write noted uses every ``interval`` seconds on the running loop."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        """Stop the writer and write what is still noted."""
        await stop_task(self._task)
        self._task = None
        await self._flush_logged()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            if self._pending:
                await self._flush_logged()

    async def _flush_logged(self) -> None:
        try:
            await asyncio.to_thread(self.flush)
        except Exception as exc:  # the store is down: try again with the next batch
            log.warning("could not record when connections were used (%s)", type(exc).__name__)

    def flush(self) -> None:
        """Write every noted use now (any thread); on failure they stay noted."""
        with self._lock:
            batch, self._pending = self._pending, {}
            self._forget_old(time.monotonic())
        try:
            with transaction(self._sessions) as db:
                for (vault_id, provider, name), when in batch.items():
                    db.execute(
                        update(Connection)
                        .where(
                            Connection.vault_id == vault_id,
                            Connection.provider == provider,
                            Connection.name == name,
                        )
                        .values(last_used_at=when)
                        .execution_options(synchronize_session=False)
                    )
        except Exception:
            with self._lock:
                for key, when in batch.items():
                    self._pending.setdefault(key, when)  # a newer note wins
            raise

    def _forget_old(self, now: float) -> None:
        """Drop throttle entries past the gap, so the map holds only recent uses."""
        for key in [k for k, at in self._noted_at.items() if now - at >= self._min_gap]:
            del self._noted_at[key]
