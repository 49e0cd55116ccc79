"""Running a coroutine's first step inline, and handing the rest to a task."""

from __future__ import annotations

import asyncio

import pytest

from authsome.proxy.eager import call_eagerly

Outcome = list[tuple[object, BaseException | None]]


async def immediate(value: int) -> int:
    return value * 2


async def waits(value: int, delay: float) -> int:
    await asyncio.sleep(delay)
    await asyncio.sleep(0)
    return value + 1


async def fails_at_once() -> int:
    raise ValueError("at once")


async def fails_later() -> int:
    await asyncio.sleep(0.001)
    raise KeyError("later")


def record(outcome: Outcome) -> object:
    return lambda result, error: outcome.append((result, error))


def test_a_coroutine_that_does_not_wait_finishes_inline() -> None:
    async def main() -> None:
        outcome: Outcome = []
        assert call_eagerly(immediate(21), record(outcome)) is None
        assert outcome == [(42, None)]  # before any await

    asyncio.run(main())


def test_a_coroutine_that_waits_continues_in_a_task() -> None:
    async def main() -> None:
        outcome: Outcome = []
        task = call_eagerly(waits(1, 0.01), record(outcome))
        assert task is not None and outcome == []
        await task
        assert outcome == [(2, None)]

    asyncio.run(main())


@pytest.mark.parametrize("factory", [fails_at_once, fails_later])
def test_errors_are_reported(factory: object) -> None:
    async def main() -> None:
        outcome: Outcome = []
        task = call_eagerly(factory(), record(outcome))  # type: ignore[operator]
        if task is not None:
            await asyncio.wait([task])
        [(result, error)] = outcome
        assert result is None and isinstance(error, ValueError | KeyError)

    asyncio.run(main())


def test_cancelling_reaches_the_coroutine() -> None:
    cleaned: list[bool] = []

    async def slow() -> int:
        try:
            await asyncio.sleep(10)
        finally:
            cleaned.append(True)
        return 0

    async def main() -> None:
        outcome: Outcome = []
        task = call_eagerly(slow(), record(outcome))
        assert task is not None
        await asyncio.sleep(0)
        task.cancel()
        await asyncio.wait([task])
        assert cleaned == [True]
        [(result, error)] = outcome
        assert result is None and isinstance(error, asyncio.CancelledError)

    asyncio.run(main())
