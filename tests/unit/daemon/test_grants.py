"""Grants: what an identity may use, and the reveal check export and --reveal call."""

from __future__ import annotations

import pytest

from authsome.daemon.services.caller import Caller
from authsome.daemon.services.grants import Grant, require_reveal
from authsome.errors import OperationNotAllowed


class RecordingAudit:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, object]]] = []

    def add(self, event: str, outcome: str, **fields: object) -> None:
        self.events.append((event, outcome, fields))


def _caller(grant: Grant) -> Caller:
    return Caller("id", "brisk-amber-otter", "jkt", "active", "p1", "user", "a@b.c", "v1", grant)


@pytest.mark.parametrize(
    ("grant", "provider", "reason"),
    [
        (Grant(providers=None, reveal=True), "openai", None),
        (Grant(providers=frozenset({"openai"}), reveal=True), "openai", None),
        (Grant(providers=None, reveal=False), "openai", "reveal not granted"),
        (Grant(providers=frozenset({"github"}), reveal=True), "openai", "not in grant"),
        (Grant(providers=frozenset(), reveal=True), "openai", "not in grant"),
    ],
)
def test_require_reveal(grant: Grant, provider: str, reason: str | None) -> None:
    audit = RecordingAudit()
    if reason is None:
        require_reveal(audit, _caller(grant), provider, action="export")  # type: ignore[arg-type]
        assert audit.events == []
        return
    with pytest.raises(OperationNotAllowed, match=reason):
        require_reveal(audit, _caller(grant), provider, action="export")  # type: ignore[arg-type]
    assert audit.events == [
        (
            "export",
            "denied",
            {
                "identity": "brisk-amber-otter",
                "principal_id": "p1",
                "provider": provider,
                "detail": {"reason": reason},
            },
        )
    ]


def test_describe() -> None:
    assert Grant(providers=None).describe() == "all providers; reveal not allowed"
    assert Grant(frozenset({"b", "a"}), reveal=True).describe() == "a, b; reveal allowed"
    assert Grant(frozenset()).describe() == "no providers; reveal not allowed"
