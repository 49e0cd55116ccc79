"""Run a coroutine from a protocol callback without a task when it need not wait.

The backend's ``injection_for`` is a coroutine, but it usually returns
without awaiting anything (a cached lookup). Creating a task per request
for it would cost a loop iteration and a few microseconds on every
request; instead the first step runs inline, and only a coroutine that
really suspends is handed to a task (what Python 3.12's eager tasks do).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Generator
from typing import Any, TypeVar

T = TypeVar("T")


def call_eagerly(
    coro: Coroutine[Any, Any, T],
    on_done: Callable[[T | None, BaseException | None], None],
) -> asyncio.Task[T] | None:
    """Start ``coro`` now; ``on_done(result, error)`` runs when it finishes.

    Returns the task that carries on a coroutine that suspended, or None if
    it already finished (``on_done`` has then been called).
    """
    try:
        waiting_on = coro.send(None)
    except StopIteration as stop:
        on_done(stop.value, None)
        return None
    except Exception as exc:  # reported to the caller, which decides what it means
        on_done(None, exc)
        return None
    task: asyncio.Task[T] = asyncio.ensure_future(_Resumed(coro, waiting_on))

    def finished(task: asyncio.Task[T]) -> None:
        if task.cancelled():
            on_done(None, asyncio.CancelledError())
        elif (error := task.exception()) is not None:
            on_done(None, error)
        else:
            on_done(task.result(), None)

    task.add_done_callback(finished)
    return task


class _Resumed(Coroutine[Any, Any, T]):
    """A coroutine already past its first step, resumed under a task.

    Re-yields what the coroutine was waiting on so the task waits for it,
    then relays every send and throw, as ``yield from`` would have.
    """

    def __init__(self, coro: Coroutine[Any, Any, T], waiting_on: Any) -> None:
        self._coro = coro
        self._steps = self._run(waiting_on)

    def _run(self, waiting_on: Any) -> Generator[Any, Any, T]:
        while True:
            try:
                sent = yield waiting_on
            except GeneratorExit:
                self._coro.close()
                raise
            except BaseException as exc:  # relayed, e.g. cancellation
                try:
                    waiting_on = self._coro.throw(exc)
                except StopIteration as stop:
                    return stop.value  # type: ignore[no-any-return]
            else:
                try:
                    waiting_on = self._coro.send(sent)
                except StopIteration as stop:
                    return stop.value  # type: ignore[no-any-return]

    def __await__(self) -> Generator[Any, Any, T]:
        return self._steps

    def send(self, value: Any) -> Any:
        return self._steps.send(value)

    def throw(self, *args: Any) -> Any:
        return self._steps.throw(*args)

    def close(self) -> None:
        self._steps.close()
