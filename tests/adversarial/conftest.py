"""Fixtures of the adversarial suite: a ledger of planted secrets checked after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.adversarial.ledger import Ledger
from tests.integration.conftest import gateway  # noqa: F401  (re-exported fixture)


@pytest.fixture(autouse=True)
def ledger() -> Iterator[Ledger]:
    """Every test plants its secrets here; none may show up anywhere afterwards."""
    book = Ledger()
    yield book
    leaks = book.leaks()
    assert not leaks, f"planted secrets leaked: {leaks}"
