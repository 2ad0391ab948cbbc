"""Sharing one database between instances: leases that are renewed while work is running.

Due sources are claimed with a lease (``Store.due_sources(owner=, lease=)``); a singleton
job (publishing, a digest) runs under a named lease (``Store.try_lease``). A lease that is
not renewed expires, which is how a dead instance's work comes back to the others; so a
live instance renews what it still holds, and the lease itself can stay short.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from datetime import datetime, timedelta
from typing import TypeVar

from aggregator.config import PollSettings
from aggregator.store import SourceState, Store

log = logging.getLogger(__name__)

T = TypeVar("T")
RENEWALS_PER_LEASE = 4
JOB_LEASE = timedelta(minutes=10)


def source_lease(poll: PollSettings) -> timedelta:
    """Four request timeouts: one source's poll is a fetch and a parse, each stopped at the
    timeout, and the lease is renewed every timeout while the batch runs. A killed
    instance's sources are due again one lease after its last renewal."""
    return poll.timeout * RENEWALS_PER_LEASE


@asynccontextmanager
async def renewing(
    store: Store,
    owner: str,
    sources: Sequence[SourceState],
    ttl: timedelta,
    clock: Callable[[], datetime],
) -> AsyncIterator[None]:
    """Keep this owner's leases on ``sources`` alive while the block runs; a source whose
    outcome is recorded has no lease any more and is left alone."""
    ids = [s.id for s in sources]

    async def renew() -> None:
        while True:
            await asyncio.sleep(ttl.total_seconds() / RENEWALS_PER_LEASE)
            try:
                kept = await asyncio.to_thread(store.renew_leases, ids, owner, until=clock() + ttl)
            except Exception as exc:  # the next renewal may get through; expiry is the fallback
                log.warning("lease renewal failed owner=%s: %s", owner, exc)
                continue
            log.debug("leases renewed owner=%s sources=%d", owner, kept)

    task = asyncio.create_task(renew()) if ids else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task


async def alone(
    store: Store,
    name: str,
    owner: str,
    job: Callable[[], Awaitable[T]],
    *,
    clock: Callable[[], datetime],
    ttl: timedelta = JOB_LEASE,
) -> tuple[bool, T | None]:
    """Run ``job`` if no other instance holds the lease ``name``; (ran, its result)."""
    if not await asyncio.to_thread(store.try_lease, name, owner, now=clock(), ttl=ttl):
        log.debug("job skipped: another instance holds the lease job=%s", name)
        return False, None
    try:
        return True, await job()
    finally:
        await asyncio.to_thread(store.release_lease, name, owner)
