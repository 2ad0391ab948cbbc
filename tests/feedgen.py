"""Realistic podcast feeds made up for tests: RSS 2.0 + itunes + podcast namespaces.

Deterministic for a given (show, count, start): the same arguments give the same bytes, so a
test can "publish one more episode" by calling again with ``count + 1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape, quoteattr

EPOCH = datetime(2025, 1, 6, 9, 30, tzinfo=UTC)


@dataclass(frozen=True)
class Show:
    slug: str
    title: str
    host: str
    every: timedelta = timedelta(days=7)


SHOWS = (
    Show("pyweekly", "Py Weekly Roundtable", "Aino Virtanen"),
    Show("typecast", "Typecast: Static Types in Python", "Bram Okafor", timedelta(days=14)),
    Show("asyncio-hour", "The Asyncio Hour", "Chidi Laurent", timedelta(days=3)),
    Show("packaging-pod", "Wheels & Sdists", "Dana Ferreira"),
    Show("datafrog", "Data Frog Radio", "Emeka Lindqvist", timedelta(days=1)),
)


def episode_guid(show: Show, n: int) -> str:
    return f"{show.slug}-ep-{n:04d}"


def published(show: Show, n: int) -> datetime:
    return EPOCH + show.every * n


def render_feed(show: Show, count: int, *, base: str = "https://example.invalid") -> bytes:
    """A feed with episodes 1..count, newest first, like real podcast feeds."""
    items = []
    for n in range(count, 0, -1):
        title = f"Episode {n}: Topic number {n} on {show.title.split(':')[0]}"
        guest = f"Guest Person{n}"
        notes = (
            f"<p>In this episode {show.host} talks with {escape(guest)} about topic {n}.</p>"
            f'<ul><li><a href="{base}/{show.slug}/{n}/links">Links</a></li></ul>'
            f"<p>Sponsored by Examplebrand: visit "
            f'<a href="https://examplebrand.invalid/{show.slug}?utm_source=pod">examplebrand</a>'
            f" and use code {show.slug.upper().replace('-', '')}{n}.</p>"
        )
        items.append(
            f"""  <item>
    <title>{escape(title)}</title>
    <guid isPermaLink="false">{episode_guid(show, n)}</guid>
    <link>{base}/{show.slug}/{n}</link>
    <pubDate>{format_datetime(published(show, n))}</pubDate>
    <description>{escape(notes)}</description>
    <content:encoded><![CDATA[{notes}]]></content:encoded>
    <enclosure url={quoteattr(f"{base}/{show.slug}/audio/{n}.mp3")} length="{1_000_000 + n}" type="audio/mpeg"/>
    <itunes:duration>{n % 2}:{(n * 7) % 60:02d}:{(n * 13) % 60:02d}</itunes:duration>
    <itunes:episode>{n}</itunes:episode>
    <itunes:explicit>false</itunes:explicit>
    <podcast:person role="host">{escape(show.host)}</podcast:person>
    <podcast:person role="guest">{escape(guest)}</podcast:person>
  </item>"""
        )
    body = "\n".join(items)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"
     xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:podcast="https://podcastindex.org/namespace/1.0">
<channel>
  <title>{escape(show.title)}</title>
  <link>{base}/{show.slug}</link>
  <description>A made-up show for tests.</description>
  <language>en</language>
  <itunes:author>{escape(show.host)}</itunes:author>
  <itunes:image href="{base}/{show.slug}/cover.jpg"/>
{body}
</channel>
</rss>
""".encode()
