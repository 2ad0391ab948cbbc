"""Start several calls at the same instant on threads: the way races between instances are provoked."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def race(fn: Callable[..., T], calls: Sequence[tuple[object, ...]]) -> list[T]:
    """``fn(*args)`` for every ``args`` in ``calls``, released together by a barrier.

    Returns the results in the order of ``calls``; the first exception any call raised is
    raised here, so a failing thread fails the test instead of vanishing.
    """
    barrier = threading.Barrier(len(calls))
    results: list[T | None] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(i: int, args: tuple[object, ...]) -> None:
        barrier.wait(timeout=10)
        try:
            results[i] = fn(*args)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(calls)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert not any(th.is_alive() for th in threads), "a racing call did not finish in 60 s"
    if errors:
        raise errors[0]
    return results  # type: ignore[return-value]
