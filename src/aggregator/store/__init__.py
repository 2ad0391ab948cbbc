"""The only SQL in aggregator: tables, migrations, upserts, leases and queries.

Use :class:`Store`; it hands out the plain values of :mod:`aggregator.store.records`.
"""

from aggregator.store.records import (
    NotModified,
    OutboxRow,
    PageWork,
    SourceHealth,
    SourceState,
    SponsorRow,
    StoredEpisode,
    UpsertResult,
)
from aggregator.store.store import Store

__all__ = [
    "NotModified",
    "OutboxRow",
    "PageWork",
    "SourceHealth",
    "SourceState",
    "SponsorRow",
    "Store",
    "StoredEpisode",
    "UpsertResult",
]
