"""How soon per-request audit events are written (issue 6), free of the writer's imports.

Every 250 ms, or as soon as 100 are queued: the daemon's ``AuditBatcher``
(``writer.py``) flushes on this rule and ``run --local-proxy`` uploads its
proxied-request events on it (``proxy/local_backend.py``). They live here so
the CLI's proxy reads them without importing SQLAlchemy.
"""

from __future__ import annotations

DEFAULT_INTERVAL = 0.25
DEFAULT_BATCH_SIZE = 100
