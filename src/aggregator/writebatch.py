"""Many small writes that arrive together, committed in one transaction.

A steady-state poll is mostly 304s, each needing one tiny UPDATE; committing them one by
one costs more than the requests. :class:`WriteBatch` gathers what arrives within a few
milliseconds (or up to ``size`` items) and hands the lot to one blocking ``write`` call in
a thread. Each caller still returns only once its own item is committed, and sees the
write's exception if it failed, so callers keep their one-at-a-time semantics.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class WriteBatch(Generic[T]):
    def __init__(
        self, write: Callable[[Sequence[T]], object], *, size: int = 256, delay: float = 0.01
    ) -> None:
        self._write = write
        self._size = size
        self._delay = delay
        self._items: list[T] = []
        self._done: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def add(self, item: T) -> None:
        """Queue ``item``; return when the batch holding it is committed."""
        loop = asyncio.get_running_loop()
        if self._done is not None and self._done.get_loop() is not loop:
            self._items, self._done = [], None  # left behind by a loop that has ended
        if self._done is None:
            self._done = loop.create_future()
            self._timer = loop.call_later(self._delay, self._flush)
        done = self._done
        self._items.append(item)
        if len(self._items) >= self._size:
            self._flush()
        await asyncio.shield(done)

    def _flush(self) -> None:
        if self._done is None:
            return
        items, done = self._items, self._done
        self._items, self._done = [], None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        task = asyncio.ensure_future(self._commit(items, done))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _commit(self, items: list[T], done: asyncio.Future[None]) -> None:
        try:
            await asyncio.to_thread(self._write, items)
        except Exception as exc:
            done.set_exception(exc)
            done.exception()  # retrieved here too: a caller that was cancelled never asks
        else:
            done.set_result(None)
