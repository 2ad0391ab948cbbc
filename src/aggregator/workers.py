"""CPU-bound parsing in worker processes that can be stopped.

A hostile feed can make a parser spin or balloon; a thread cannot be stopped and a
``ProcessPoolExecutor`` cannot kill one task's worker without breaking every other task.
pebble's ``ProcessPool`` can: a task over its time limit has its worker killed and
replaced while the other workers carry on. :class:`ParsePool` wraps it as an ordinary
``concurrent.futures.Executor`` (``loop.run_in_executor`` takes it) and turns a timeout or a
dead worker into :class:`~aggregator.model.ParseError`, which callers already report as the
source's own failure.
"""

from __future__ import annotations

import concurrent.futures
import logging
import multiprocessing
import resource
from collections.abc import Callable
from typing import Any

from pebble import ProcessExpired, ProcessPool

from aggregator.model import ParseError

log = logging.getLogger(__name__)

# Imported once by the fork server, so a replacement worker starts in milliseconds. Only
# what the tasks need (feed and page reading): not the daemon's database, HTTP and config.
PRELOAD = ["aggregator.incremental"]


class ParseTimeout(ParseError):
    """A parse ran past its time limit; its worker was killed."""


class WorkerDied(ParseError):
    """The worker process ended during the parse (killed, out of memory, crashed)."""


def _limit_memory(max_bytes: int | None) -> None:
    """Worker initializer: past this address-space size allocations fail with MemoryError
    instead of the whole machine swapping. A sandbox that forbids setrlimit() leaves the
    limit to the service manager (the unit's MemoryMax=)."""
    if max_bytes:
        try:
            resource.setrlimit(resource.RLIMIT_AS, (max_bytes, max_bytes))
        except (OSError, ValueError) as exc:
            log.debug("worker memory limit not set: %s", exc)


class ParsePool(concurrent.futures.Executor):
    """Worker processes with a per-task time limit (and optionally a memory limit each).

    Workers are started by a fork server (not forked from the daemon, whose threads may
    hold locks at fork time) and recycled after ``max_tasks`` to return leaked memory.
    """

    def __init__(
        self,
        workers: int,
        *,
        time_limit: float,
        memory_limit: int | None = None,
        max_tasks: int = 200,
    ) -> None:
        self.time_limit = time_limit
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        self._pool = ProcessPool(
            max_workers=workers,
            max_tasks=max_tasks,
            initializer=_limit_memory,
            initargs=(memory_limit,),
            context=context,
        )

    def submit(  # type: ignore[override]
        self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[Any]:
        inner = self._pool.schedule(fn, args=args, kwargs=kwargs, timeout=self.time_limit)
        outer: concurrent.futures.Future[Any] = concurrent.futures.Future()
        name = getattr(fn, "__name__", "task")

        def settle(done: concurrent.futures.Future[Any]) -> None:
            if done.cancelled():
                outer.cancel()
                return
            exc = done.exception()
            if exc is None:
                outer.set_result(done.result())
            elif isinstance(exc, TimeoutError):
                log.debug("worker killed: %s over %gs", name, self.time_limit)
                outer.set_exception(
                    ParseTimeout(f"parsing stopped after {self.time_limit:g}s (time limit)")
                )
            elif isinstance(exc, ProcessExpired):
                outer.set_exception(WorkerDied(f"parser process died (exit code {exc.exitcode})"))
            elif isinstance(exc, MemoryError):
                outer.set_exception(ParseError("document too large to parse in memory"))
            else:
                outer.set_exception(exc)

        outer.set_running_or_notify_cancel()
        inner.add_done_callback(settle)
        return outer

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop at once when told to cancel (workers mid-parse are killed), else drain."""
        if cancel_futures:
            self._pool.stop()
        else:
            self._pool.close()
        if wait:
            self._pool.join()
