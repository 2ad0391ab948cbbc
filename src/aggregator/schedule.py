"""When to look at a source again: pure arithmetic over history, headers, failures and ``now``.

Kept free of the clock and of randomness (both are parameters) so the policy can be tested
exhaustively, and so the daemon, ``poll --once`` and the tests all agree on it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from statistics import median

MAX_BACKOFF = timedelta(days=7)
JITTER = 0.1  # +/- 10 % so sources added together do not stay in lock-step
POSTS_PER_INTERVAL = 8  # poll about eight times per typical gap between episodes


@dataclass(frozen=True, slots=True)
class Bounds:
    default: timedelta = timedelta(hours=1)
    minimum: timedelta = timedelta(minutes=15)
    maximum: timedelta = timedelta(hours=24)


def median_gap(published: Sequence[datetime | None]) -> timedelta | None:
    """The median time between a show's 20 most recent episodes; None with fewer than two."""
    dates = sorted({d for d in published if d is not None}, reverse=True)[:20]
    gaps = [(a - b).total_seconds() for a, b in pairwise(dates)]
    gaps = [g for g in gaps if g > 0]
    return timedelta(seconds=median(gaps)) if gaps else None


def posting_interval(gap: timedelta | None, bounds: Bounds) -> timedelta:
    """The show's own rhythm: a fraction of the median gap between its recent episodes.

    A daily show is checked every three hours, a weekly one every 21 hours, a monthly one at
    the upper bound, and a show without a known rhythm at the default interval.
    """
    if gap is None:
        return bounds.default
    interval = gap / POSTS_PER_INTERVAL
    return max(bounds.minimum, min(bounds.maximum, interval))


def next_check(
    now: datetime,
    *,
    bounds: Bounds,
    gap: timedelta | None = None,
    ttl: timedelta | None = None,
    max_age: timedelta | None = None,
    retry_after: datetime | None = None,
    failures: int = 0,
    rng: random.Random | None = None,
) -> datetime:
    """The next time a source is due.

    Success: the posting interval, raised to the feed's TTL and the response's max-age
    (servers asking us to come back later are obeyed), capped at ``bounds.maximum``.
    Failure number *n*: the interval doubled *n* times, up to :data:`MAX_BACKOFF`.
    Retry-After is honoured up to the same cap. Jitter never leaves ``[minimum, cap]``.
    """
    interval = posting_interval(gap, bounds)
    for hint in (ttl, max_age):
        if hint is not None and hint > interval:
            interval = hint
    cap = bounds.maximum
    if failures > 0:
        cap = MAX_BACKOFF
        interval = min(interval * (2 ** min(failures, 20)), MAX_BACKOFF)
    interval = min(interval, cap)
    jitter = (rng or random.Random()).uniform(-JITTER, JITTER)
    due = now + interval * (1 + jitter)
    if retry_after is not None and retry_after > due:
        due = min(retry_after, now + cap)
    return min(max(due, now + bounds.minimum), now + cap)
