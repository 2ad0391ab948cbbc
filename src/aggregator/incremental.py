"""The CPU-bound half of a feed poll: read only what changed, then extract. Runs in a worker.

A feed that gained an episode differs from what is stored by one item. :func:`read_feed`
compares each item's digest with the source's :class:`~aggregator.parse.feed_scan.ItemIndex`
and hands feedparser and extraction only the new and edited items, inside the feed's own
prolog and channel. An unchanged item's bytes and context are those it was stored from, so
the store already holds exactly what a whole parse would give it. Whatever the scan cannot
vouch for (a changed channel, show name, URL, charset, sponsor registry or program version;
an item without guid, enclosure or link, or sharing one with another item; malformed XML)
is read whole, as it would be without an index.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from aggregator import __version__
from aggregator.extract import SponsorRegistry, enrich_episode
from aggregator.model import Episode, ParsedFeed
from aggregator.parse.feed import FeedEntries, parse_entries
from aggregator.parse.feed_scan import FeedScan, ItemIndex, scan_items, subset

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FeedReading:
    parsed: ParsedFeed  # read in part: only the new and edited episodes
    published: tuple[datetime, ...]  # every current item's publication time (the rhythm)
    index: bytes  # the source's next item index; b"" when none could be made
    partial: bool


def registry_fingerprint(registry: SponsorRegistry) -> bytes:
    return hashlib.blake2b(repr(tuple(registry)).encode(), digest_size=16).digest()


def read_feed(
    data: bytes,
    show: str,
    url: str,
    content_type: str | None,
    registry: SponsorRegistry,
    previous: bytes | None,
) -> FeedReading:
    """Episodes of the items that are not in ``previous`` (all of them without it)."""
    scan = scan_items(data)
    context = None
    if scan is not None:
        context = _context(scan, show, url, content_type, registry)
        old = ItemIndex.from_bytes(previous)
        if old is not None and old.context == context:
            changed = [i for i, item in enumerate(scan.items) if item.digest not in old.published]
            if _separable(scan, changed):
                reading = _read_part(
                    data, scan, changed, old, context, show, url, content_type, registry
                )
                if reading is not None:
                    return reading
    read = parse_entries(data, show=show, base_url=url, content_type=content_type)
    index = b""
    if scan is not None and context is not None and len(scan.items) == len(read.entries):
        times = {item.digest: _epoch(ep) for item, ep in zip(scan.items, read.entries, strict=True)}
        index = ItemIndex(context, times).to_bytes()
    published = tuple(_times(_epoch(ep) for ep in read.entries))
    return FeedReading(_enriched(read, registry), published, index, partial=False)


def _read_part(
    data: bytes,
    scan: FeedScan,
    changed: list[int],
    old: ItemIndex,
    context: bytes,
    show: str,
    url: str,
    content_type: str | None,
    registry: SponsorRegistry,
) -> FeedReading | None:
    read = parse_entries(
        subset(data, scan, changed), show=show, base_url=url, content_type=content_type
    )
    if len(read.entries) != len(changed):
        log.debug("%s: the items read in part do not line up, reading it whole", show)
        return None
    times = {item.digest: old.published.get(item.digest, math.nan) for item in scan.items}
    for i, ep in zip(changed, read.entries, strict=True):
        times[scan.items[i].digest] = _epoch(ep)
    published = tuple(_times(times[item.digest] for item in scan.items))
    index = ItemIndex(context, times).to_bytes()
    return FeedReading(_enriched(read, registry), published, index, partial=True)


def _context(
    scan: FeedScan, show: str, url: str, content_type: str | None, registry: SponsorRegistry
) -> bytes:
    h = hashlib.blake2b(scan.context, digest_size=16)
    for part in (show, url, content_type or "", __version__):
        h.update(b"\0" + part.encode("utf-8", "surrogatepass"))
    h.update(registry_fingerprint(registry))
    return h.digest()


def _separable(scan: FeedScan, changed: Sequence[int]) -> bool:
    """Each changed item can be stored on its own: it has a key no other item shares (the
    store merges repeated items, which needs them all)."""
    if not changed:
        return True
    counts = Counter(item.key for item in scan.items)
    return all(scan.items[i].key is not None and counts[scan.items[i].key] == 1 for i in changed)


def _enriched(read: FeedEntries, registry: SponsorRegistry) -> ParsedFeed:
    parsed = read.as_parsed()
    episodes = tuple(enrich_episode(ep, registry=registry) for ep in parsed.episodes)
    return replace(parsed, episodes=episodes)


def _epoch(ep: Episode | None) -> float:
    if ep is None or ep.published is None:
        return math.nan
    try:
        return ep.published.timestamp()
    except (OverflowError, ValueError):
        return math.nan


def _times(epochs: Iterable[float]) -> list[datetime]:
    found = []
    for t in epochs:
        if not math.isnan(t):
            try:
                found.append(datetime.fromtimestamp(t, UTC))
            except (OverflowError, ValueError, OSError):
                continue
    return found
