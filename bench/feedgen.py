"""Deterministic, realistic podcast feeds for the benchmark.

Feed ``i`` depends only on ``(seed, i)`` and item ``k`` of it only on ``(seed, i, k)``, so the
corpus for N feeds is a prefix of the corpus for more, and "the same feed with one new
episode" is the old bytes with one item more at the top: exactly what a host serves when a
show publishes. Sizes follow real hosted shows: 200-300 items of 2-7 KB show notes (sponsor
reads with promo codes, timestamps, links), about 1.3 MB a feed; half the hosts wrap notes
in CDATA, half escape them; some put the notes only in ``<description>``.

The brands, people and shows are made up.
"""

from __future__ import annotations

import gzip
import os
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

NOW = datetime(2025, 6, 2, 6, 0, tzinfo=UTC)

_WORDS = [
    "the",
    "a",
    "of",
    "and",
    "to",
    "in",
    "is",
    "that",
    "it",
    "for",
    "on",
    "with",
    "as",
    "this",
    "was",
    "at",
    "by",
    "be",
    "are",
    "from",
    "or",
    "an",
    "but",
    "not",
    "have",
    "we",
    "they",
    "you",
    "what",
    "all",
    "when",
    "there",
    "can",
    "more",
    "if",
    "about",
    "so",
    "one",
    "would",
    "their",
    "which",
    "out",
    "up",
    "some",
    "time",
    "very",
    "like",
    "just",
    "also",
    "into",
    "than",
    "people",
    "other",
    "new",
    "how",
    "could",
    "first",
    "then",
    "these",
    "system",
    "model",
    "memory",
    "network",
    "latency",
    "server",
    "client",
    "database",
    "query",
    "index",
    "cache",
    "thread",
    "process",
    "compiler",
    "language",
    "browser",
    "protocol",
    "feed",
    "episode",
    "listener",
    "guest",
    "interview",
    "history",
    "story",
    "science",
    "research",
    "study",
    "experiment",
    "theory",
    "planet",
    "energy",
    "climate",
    "ocean",
    "city",
    "music",
    "album",
    "festival",
    "recipe",
    "kitchen",
    "coffee",
    "running",
    "training",
    "health",
    "sleep",
    "habit",
    "money",
    "market",
    "startup",
    "founder",
    "product",
    "design",
    "team",
    "remote",
    "meeting",
    "project",
    "deadline",
    "release",
    "version",
    "update",
    "bug",
    "security",
    "privacy",
    "backup",
    "storage",
    "hardware",
    "battery",
    "phone",
    "laptop",
    "camera",
    "game",
    "player",
    "season",
    "league",
    "coach",
    "book",
    "author",
    "novel",
    "chapter",
    "film",
    "director",
    "scene",
    "culture",
    "society",
    "policy",
    "economy",
    "budget",
    "school",
    "teacher",
    "student",
    "lesson",
    "community",
    "open",
    "source",
    "contributor",
    "maintainer",
    "license",
    "funding",
    "conference",
    "talk",
    "really",
    "actually",
    "basically",
    "probably",
    "honestly",
    "interesting",
    "important",
    "difficult",
    "simple",
    "complex",
    "fast",
    "slow",
    "better",
    "worse",
]
_FIRST = [
    "Ailsa",
    "Bertil",
    "Caro",
    "Dagny",
    "Eero",
    "Fenna",
    "Gideon",
    "Halla",
    "Ilmari",
    "Jorun",
    "Kasimir",
    "Liesel",
    "Mauno",
    "Noor",
    "Oskari",
    "Pihla",
    "Quilla",
    "Runa",
    "Sten",
    "Tuuli",
    "Ulla",
    "Veikko",
    "Wilja",
    "Xander",
    "Ylva",
    "Zeno",
]
_LAST = [
    "Aaltonen",
    "Brekke",
    "Corvin",
    "Dahlberg",
    "Engstrom",
    "Falkner",
    "Grimsby",
    "Holloway",
    "Iversen",
    "Jokela",
    "Kettunen",
    "Lindahl",
    "Marsh",
    "Nyberg",
    "Ostrander",
    "Pellervo",
    "Quist",
    "Rautio",
    "Solberg",
    "Tallqvist",
    "Uusitalo",
    "Vainio",
    "Westergaard",
]
_BRANDS = (
    ("Northwind Hosting", "northwind-hosting.example", "servers that boot in seconds"),
    ("Quillmate", "quillmate.example", "the notebook that writes your release notes"),
    ("Ferrocart", "ferrocart.example", "checkout for shops of every size"),
    ("Lumen Socks", "lumensocks.example", "the most comfortable socks you will ever own"),
    ("Parcelwise", "parcelwise.example", "shipping labels without the queue"),
    ("Tidewater Coffee", "tidewatercoffee.example", "single-origin beans, roasted to order"),
    ("Cobalt VPN", "cobaltvpn.example", "private browsing on every network"),
    ("Brightloom Learning", "brightloom.example", "courses taught by working engineers"),
    ("Keystone Backup", "keystonebackup.example", "backups you never have to think about"),
    ("Orchard Meals", "orchardmeals.example", "fresh ingredients and recipes at your door"),
)
_CATEGORIES = ("Technology", "Business", "Science", "History", "Society &amp; Culture", "Arts")
_TOPICS = """Why caches lie|The history of the spreadsheet|Scaling a database to billions of
rows|Inside async runtimes|A week offline|Listener questions|Funding open source|How
compilers work|A home lab on a budget|Memory safety|The science of sleep|The perfect
espresso|Your first marathon|How telescopes see|Why estimates are wrong|Designing for
everyone|Burnout, honestly|Debugging at 3am|Retro computing|Learning a language as an
adult|The mailbag returns|Live from the conference|Year in review""".replace("\n", " ")
TOPICS = [t.strip() for t in _TOPICS.split("|")]


@dataclass(frozen=True)
class Show:
    index: int
    title: str
    slug: str
    site: str
    hosts: tuple[str, ...]
    brands: tuple[tuple[str, str, str], ...]
    promo: str
    items: int
    notes_bytes: int
    cdata: bool
    notes_in_description: bool
    every: timedelta
    newest: datetime
    guid_style: int
    transcripts: bool
    chapters: bool


def _rng(*parts: object) -> random.Random:
    return random.Random(":".join(str(p) for p in parts))


def _person(r: random.Random) -> str:
    return f"{r.choice(_FIRST)} {r.choice(_LAST)}"


def _sentence(r: random.Random, lo: int = 8, hi: int = 20) -> str:
    s = " ".join(r.choices(_WORDS, k=r.randint(lo, hi)))
    return s[0].upper() + s[1:] + r.choice("...?!")


def show(seed: int, index: int) -> Show:
    r = _rng("show", seed, index)
    noun = r.choice(["Signal", "Workshop", "Ledger", "Orbit", "Kitchen", "Harbor", "Circuit"])
    adj = r.choice(["Quiet", "Curious", "Stubborn", "Late", "Tiny", "Open", "Golden", "Remote"])
    title = f"The {adj} {noun} {index}"
    slug = f"{adj}-{noun}-{index}".lower()
    return Show(
        index=index,
        title=title,
        slug=slug,
        site=f"https://{slug}.example.com",
        hosts=tuple(_person(r) for _ in range(r.choice((1, 1, 2, 2, 3)))),
        brands=tuple(r.sample(_BRANDS, r.randint(2, 4))),
        promo=f"{noun.upper()}{r.choice((10, 20, 50))}",
        items=r.randint(200, 300),
        notes_bytes=int(r.triangular(2000, 6000, 3200)),
        cdata=r.random() < 0.5,
        notes_in_description=r.random() < 0.3,
        every=timedelta(days=r.choice((1, 3.5, 7, 7, 7, 14))),
        newest=NOW - timedelta(hours=r.randint(2, 24 * 6)),
        guid_style=r.randrange(3),
        transcripts=r.random() < 0.3,
        chapters=r.random() < 0.5,
    )


def _notes(r: random.Random, s: Show, n: int, guest: str | None) -> str:
    parts = [f"<p>{escape(_sentence(r))} {escape(_sentence(r))}</p>"]
    if guest:
        parts.append(
            f"<p>{escape(s.hosts[0])} talks with <strong>{escape(guest)}</strong> about "
            f"{escape(_sentence(r, 5, 10).lower())}</p>"
        )
    for name, domain, pitch in r.sample(s.brands, r.randint(1, min(3, len(s.brands)))):
        code = s.promo if r.random() < 0.7 else f"{name.split()[0].upper()}{n}"
        url = f"https://{domain}/{s.slug}"
        parts.append(
            f'<p>This episode is sponsored by <a href="{url}">{escape(name)}</a>: {pitch}. '
            f'Go to <a href="{url}">{domain}/{s.slug}</a> and use promo code <b>{code}</b> '
            "for 20% off your first order.</p>"
        )
    t, marks = 0, []
    for _ in range(r.randint(4, 9)):
        marks.append(
            f"<li>({t // 3600:02d}:{t % 3600 // 60:02d}:{t % 60:02d}) "
            f"{escape(_sentence(r, 3, 7))}</li>"
        )
        t += r.randint(120, 900)
    parts.append("<p>Chapters:</p><ul>" + "".join(marks) + "</ul>")
    links = (
        f'<li><a href="https://{r.choice(_WORDS)}.example.org/{r.randint(1, 99999)}">'
        f"{escape(_sentence(r, 3, 6))}</a></li>"
        for _ in range(r.randint(3, 7))
    )
    parts.append("<p>Links:</p><ul>" + "".join(links) + "</ul>")
    footer = (
        f'<p>Support the show on <a href="{s.site}/support">our membership page</a>. '
        f"Hosted by {escape(', '.join(s.hosts))}.</p>"
    )
    size = sum(map(len, parts)) + len(footer)
    target = int(s.notes_bytes * r.uniform(0.7, 1.3))
    while size < target:
        p = f"<p>{escape(' '.join(_sentence(r) for _ in range(r.randint(2, 5))))}</p>"
        parts.insert(2, p)
        size += len(p)
    return "\n".join([*parts, footer])


def published(s: Show, n: int) -> datetime:
    """Episode ``n`` (1 = oldest); episodes past ``s.items`` are the ones "published later"."""
    return s.newest - s.every * (s.items - n)


def item(seed: int, s: Show, n: int) -> str:
    r = _rng("item", seed, s.index, n)
    guest = _person(r) if r.random() < 0.6 else None
    notes = _notes(r, s, n, guest)
    summary = _sentence(r, 15, 30)
    duration = r.randint(900, 3 * 3600)
    topic = r.choice(TOPICS)
    title = f"{n}: {topic}" if r.random() < 0.7 else f"Episode {n} - {topic}"
    guid = (
        f'<guid isPermaLink="false">{uuid.UUID(int=r.getrandbits(128), version=4)}</guid>',
        f'<guid isPermaLink="true">{s.site}/episodes/{n}</guid>',
        f'<guid isPermaLink="false">{s.slug}-{n:05d}</guid>',
    )[s.guid_style]
    if s.notes_in_description:
        body = f"<![CDATA[{notes}]]>" if s.cdata else escape(notes)
        desc, content = f"<description>{body}</description>", ""
    else:
        desc = f"<description>{escape(summary)}</description>"
        body = f"<![CDATA[{notes}]]>" if s.cdata else escape(notes)
        content = f"<content:encoded>{body}</content:encoded>"
    audio = f"https://media.example.net/{s.slug}/{n}-{r.getrandbits(40):010x}.mp3"
    lines = [
        "<item>",
        f"<title>{escape(title)}</title>",
        f"<itunes:title>{escape(topic)}</itunes:title>",
        guid,
        f"<link>{s.site}/episodes/{n}</link>",
        f"<pubDate>{format_datetime(published(s, n))}</pubDate>",
        desc,
        content,
        f'<enclosure url={quoteattr(audio)} length="{duration * 16000}" type="audio/mpeg"/>',
        f"<itunes:duration>{duration // 3600}:{duration % 3600 // 60:02d}:{duration % 60:02d}"
        "</itunes:duration>",
        f"<itunes:episode>{n}</itunes:episode>",
        "<itunes:episodeType>full</itunes:episodeType>",
        f"<itunes:explicit>{'true' if r.random() < 0.1 else 'false'}</itunes:explicit>",
    ]
    if s.chapters:
        lines.append(
            f'<podcast:chapters url="{s.site}/chapters/{n}.json" type="application/json+chapters"/>'
        )
    if s.transcripts:
        lines.append(f'<podcast:transcript url="{s.site}/transcripts/{n}.vtt" type="text/vtt"/>')
    lines += [f'<podcast:person role="host">{escape(h)}</podcast:person>' for h in s.hosts]
    if guest:
        lines.append(f'<podcast:person role="guest">{escape(guest)}</podcast:person>')
    lines.append("</item>")
    return "\n".join(x for x in lines if x)


def feed(seed: int, index: int, *, extra: int = 0, keep: int | None = None) -> bytes:
    """Feed ``index``; ``extra`` more episodes than it starts with, newest first; only the
    ``keep`` newest when given (a small feed, for many-source runs)."""
    s = show(seed, index)
    r = _rng("channel", seed, index)
    last = s.items + extra
    built = published(s, last)
    head = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" \
xmlns:podcast="https://podcastindex.org/namespace/1.0" \
xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:atom="http://www.w3.org/2005/Atom">
<channel>
<atom:link href="https://feeds.example.net/{s.slug}" rel="self" type="application/rss+xml"/>
<title>{escape(s.title)}</title>
<link>{s.site}/</link>
<language>en</language>
<description>{escape(_sentence(r, 20, 40))}</description>
<lastBuildDate>{format_datetime(built)}</lastBuildDate>
<itunes:author>{escape(" & ".join(s.hosts))}</itunes:author>
<itunes:image href="{s.site}/cover.jpg"/>
<itunes:category text="{r.choice(_CATEGORIES)}"/>
<itunes:explicit>false</itunes:explicit>
<podcast:guid>{uuid.UUID(int=r.getrandbits(128), version=5)}</podcast:guid>
"""
    head += "".join(f'<podcast:person role="host">{escape(h)}</podcast:person>\n' for h in s.hosts)
    first = max(0, last - keep) if keep is not None else 0
    items = "\n".join(item(seed, s, n) for n in range(last, first, -1))
    return (head + items + "\n</channel>\n</rss>\n").encode()


def write(
    directory: Path, seed: int, index: int, *, extra: int = 0, keep: int | None = None
) -> tuple[int, int]:
    """Write feed ``index`` and its pre-gzipped copy; mtime = newest episode, so the server's
    validators are the same on every run and change when an episode is added."""
    data = feed(seed, index, extra=extra, keep=keep)
    path = directory / f"{index:05d}.xml"
    s = show(seed, index)
    stamp = published(s, s.items + extra).timestamp()
    for target, body in (
        (path, data),
        (path.with_suffix(".xml.gz"), gzip.compress(data, 6, mtime=0)),
    ):
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_bytes(body)
        os.utime(tmp, (stamp, stamp))
        tmp.replace(target)
    return len(data), s.items + extra


def transcript(seed: int, size: int = 70_000) -> bytes:
    """A WebVTT transcript of about ``size`` bytes: two hosts, a guest, two sponsor reads."""
    r = _rng("transcript", seed)
    hosts, guest = (_person(r), _person(r)), _person(r)
    brands = r.sample(_BRANDS, 2)
    lines, t, cue = ["WEBVTT", ""], 0, 0
    while sum(map(len, lines)) < size:
        cue += 1
        who = r.choice((*hosts, guest))
        if cue == 3:
            text = f"Welcome to the show. I'm {hosts[0]}, and today my guest is {guest}."
        elif cue in (40, 400):
            name, domain, pitch = brands[0 if cue == 40 else 1]
            text = (
                f"This episode is brought to you by {name}, {pitch}. Go to {domain} and use "
                f"code SHOW{cue} for a month free."
            )
        else:
            text = _sentence(r, 10, 30)
        end = t + r.randint(3, 12)
        stamp = f"{t // 3600:02d}:{t % 3600 // 60:02d}:{t % 60:02d}.000"
        until = f"{end // 3600:02d}:{end % 3600 // 60:02d}:{end % 60:02d}.000"
        lines += [str(cue), f"{stamp} --> {until}", f"<v {who}>{text}", ""]
        t = end
    return "\n".join(lines).encode()
