"""The merged feed: RSS 2.0, JSON Feed 1.1, OPML and chapters files, written atomically.

Rendering is pure (data in, bytes out, ``now`` passed in); only :func:`write_atomic` and
:func:`publish_all` touch the disk.

Decisions:
- An item's ``<title>`` is ``"<Show> · <Title>"``: an app lists the merged feed as one
  show, so without the prefix nobody could tell whose episode it is. The plain title goes
  to ``itunes:title``, the show to ``<source>`` and ``itunes:author``.
- Show notes are re-sanitised with nh3 even though the store already holds sanitised HTML:
  the merged feed is read by many apps and must never carry active content.
- Characters that XML 1.0 forbids are dropped by the template environment's ``finalize``
  hook, so no template expression can forget to do it.
- :func:`publish_all` dates the build by the newest item's ``first_seen_at`` rather than
  the wall clock, so an unchanged feed renders to identical bytes, is not rewritten, and
  keeps its ETag: subscribers keep getting cheap 304s.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import logging
import mimetypes
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import jinja2
import nh3
from markupsafe import Markup

from aggregator import __version__
from aggregator.config import MergedFeedSettings, Settings
from aggregator.model import Episode

log = logging.getLogger(__name__)

FEED_XML = "feed.xml"
FEED_JSON = "feed.json"
SOURCES_OPML = "sources.opml"
CHAPTERS_DIR = "chapters"
CHAPTERS_NAME = r"[A-Za-z0-9_-]+"  # also the web route's pattern: no dots, no slashes
_CHAPTERS_PATH = re.compile(rf"{CHAPTERS_DIR}/{CHAPTERS_NAME}\.json")
# Only matters to directories, which a personal merged feed is not submitted to.
CHANNEL_CATEGORY = "Society & Culture"

_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# The built-in table only (not the host's /etc/mime.types), so output is the same everywhere,
# plus the podcast media and transcript types it lacks.
_MIME = mimetypes.MimeTypes()
for _type, _ext in (
    ("audio/mp4", ".m4a"),
    ("audio/mp4", ".m4b"),
    ("video/x-m4v", ".m4v"),
    ("audio/ogg", ".ogg"),
    ("audio/ogg", ".oga"),
    ("audio/flac", ".flac"),
    ("application/x-subrip", ".srt"),
):
    _MIME.add_type(_type, _ext)

Source = tuple[str, str, str | None]  # name, xml_url, html_url


class Publishable(Protocol):
    """What the store hands over (its ``StoredEpisode`` fits): turned into a PublishedItem."""

    @property
    def episode(self) -> Episode: ...
    @property
    def first_seen_at(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class PublishedItem:
    """An episode as the merged feed shows it.

    ``chapters_path`` is where its JSON chapters file lives under the public directory
    (``None`` when it has none); ``source_url`` is the show's own feed, for ``<source>``.
    """

    episode: Episode
    first_seen_at: datetime
    chapters_path: str | None = None
    source_url: str | None = None

    @classmethod
    def of(
        cls, episode: Episode, first_seen_at: datetime, *, source_url: str | None = None
    ) -> PublishedItem:
        """The usual item: a chapters file exactly when the episode has chapters."""
        path = chapters_filename(episode) if episode.chapters else None
        return cls(episode, first_seen_at, path, source_url)


@dataclass(frozen=True, slots=True)
class _Person:
    name: str
    role: str
    href: str | None
    img: str | None


@dataclass(frozen=True, slots=True)
class _Entry:
    """One item with every value the RSS and JSON renderers share, already decided."""

    guid: str
    title: str
    plain_title: str
    show: str
    date: datetime
    link: str | None
    enclosure_url: str | None
    enclosure_type: str | None
    enclosure_length: int
    duration: int | None
    number: int | None
    season: int | None
    image: str | None
    explicit: bool | None
    people: tuple[_Person, ...]
    chapters_url: str | None
    transcript_url: str | None
    transcript_type: str | None
    source_url: str | None
    summary: str | None
    content_html: str | None

    @property
    def pub_date(self) -> str:
        return rfc822(self.date)


def rfc822(dt: datetime) -> str:
    """RSS dates: RFC 822 in UTC, ``+0000``."""
    return format_datetime(_utc(dt))


def rfc3339(dt: datetime) -> str:
    return _utc(dt).isoformat(timespec="seconds")


def xml_safe(value: Any) -> Any:
    """Drop characters XML 1.0 cannot carry; the environment's ``finalize`` hook."""
    if isinstance(value, Markup):
        return Markup(_INVALID_XML.sub("", value))
    if isinstance(value, str):
        return _INVALID_XML.sub("", value)
    return value


def _autoescape(name: str | None) -> bool:
    """Escape everything but plain-text templates (``*.txt``, ``*.txt.j2``): safe by default."""
    return not (name or "").removesuffix(".j2").endswith(".txt")


def template_env(templates_dir: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir),
        autoescape=_autoescape,
        undefined=jinja2.StrictUndefined,
        finalize=xml_safe,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def stable_guid(ep: Episode) -> str:
    """The episode's guid; for the rare source without one, a hash of what identifies it."""
    if ep.guid:
        return ep.guid
    key = ep.enclosure.url if ep.enclosure else ep.link or ep.title
    return "aggregator:" + hashlib.sha1(f"{ep.show}\x1f{key}".encode()).hexdigest()


def chapters_filename(ep: Episode) -> str:
    """Stable per episode, so a chapters URL handed to an app keeps working."""
    digest = hashlib.sha1(f"{ep.show}\x1f{stable_guid(ep)}".encode()).hexdigest()[:16]
    return f"{CHAPTERS_DIR}/{digest}.json"


def render_chapters_json(ep: Episode) -> bytes:
    """Podcasting 2.0 JSON chapters."""
    chapters = []
    for c in sorted(ep.chapters, key=lambda c: c.start):
        chapter: dict[str, Any] = {"startTime": c.start, "title": c.title}
        if c.url:
            chapter["url"] = c.url
        chapters.append(chapter)
    return _json({"version": "1.2.0", "chapters": chapters})


def render_rss(
    items: Sequence[PublishedItem],
    feed: MergedFeedSettings,
    *,
    self_url: str,
    now: datetime,
    env: jinja2.Environment,
) -> bytes:
    """The merged RSS feed; ``now`` is its ``lastBuildDate``."""
    text = env.get_template("feed.xml.j2").render(
        feed=feed,
        self_url=self_url,
        last_build_date=rfc822(now),
        generator=f"aggregator {__version__}",
        category=CHANNEL_CATEGORY,
        items=_entries(items, feed.max_items, self_url),
    )
    return text.encode("utf-8")


def render_json_feed(
    items: Sequence[PublishedItem], feed: MergedFeedSettings, *, self_url: str
) -> bytes:
    """JSON Feed 1.1; ``self_url`` is this document's URL, chapters URLs resolve against it."""
    doc: dict[str, Any] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": feed.title,
        "home_page_url": feed.link,
        "feed_url": self_url,
        "description": feed.description,
        "language": feed.language,
    }
    if feed.image:
        doc["icon"] = feed.image
    if feed.author:
        doc["authors"] = [{"name": feed.author}]
    doc["items"] = [_json_item(e) for e in _entries(items, feed.max_items, self_url)]
    return _json(doc)


def _json_item(e: _Entry) -> dict[str, Any]:
    item: dict[str, Any] = {"id": e.guid, "title": e.title}
    if e.link:
        item["url"] = e.link
    if e.content_html:
        item["content_html"] = e.content_html
    else:
        item["content_text"] = e.summary or e.title
    if e.summary:
        item["summary"] = e.summary
    item["date_published"] = rfc3339(e.date)
    if e.image:
        item["image"] = e.image
    item["authors"] = [{"name": e.show}]
    if e.enclosure_url:
        attachment: dict[str, Any] = {"url": e.enclosure_url, "mime_type": e.enclosure_type}
        if e.enclosure_length:
            attachment["size_in_bytes"] = e.enclosure_length
        if e.duration:
            attachment["duration_in_seconds"] = e.duration
        item["attachments"] = [attachment]
    podcast = {
        "show": e.show,
        "title": e.plain_title,
        "episode": e.number,
        "season": e.season,
        "chapters_url": e.chapters_url,
        "transcript_url": e.transcript_url,
    }
    item["_podcast"] = {k: v for k, v in podcast.items() if v is not None}
    return item


def render_opml(
    sources: Sequence[Source], *, title: str, now: datetime, env: jinja2.Environment
) -> bytes:
    """OPML 2.0 of the followed feeds; ``now`` is its ``dateModified``."""
    rows = [{"name": n, "xml_url": x, "html_url": h} for n, x, h in sources]
    text = env.get_template("sources.opml.j2").render(
        title=title, date_modified=rfc822(now), sources=rows
    )
    return text.encode("utf-8")


def select(items: Iterable[PublishedItem], cap: int) -> list[PublishedItem]:
    """Newest first, one item per guid (the newest), at most ``cap``."""
    ordered = sorted(items, key=lambda i: (_date(i), stable_guid(i.episode)), reverse=True)
    seen: set[str] = set()
    chosen: list[PublishedItem] = []
    for item in ordered:
        guid = stable_guid(item.episode)
        if guid in seen:
            continue
        seen.add(guid)
        chosen.append(item)
        if len(chosen) == cap:
            break
    return chosen


def _entries(items: Iterable[PublishedItem], cap: int, base_url: str) -> list[_Entry]:
    return [_entry(i, base_url) for i in select(items, cap)]


def _entry(item: PublishedItem, base_url: str) -> _Entry:
    ep = item.episode
    enc = ep.enclosure
    chapters_url = urljoin(base_url, item.chapters_path) if item.chapters_path else ep.chapters_url
    transcript_type = ep.transcript_type
    if ep.transcript_url and not transcript_type:
        transcript_type = _guess_type(ep.transcript_url) or "text/html"
    return _Entry(
        guid=stable_guid(ep),
        title=f"{ep.show} · {ep.title}" if ep.title else ep.show,
        plain_title=ep.title or ep.show,
        show=ep.show,
        date=_date(item),
        link=ep.link,
        enclosure_url=enc.url if enc else None,
        enclosure_type=(enc.type or _guess_type(enc.url) or "application/octet-stream")
        if enc
        else None,
        enclosure_length=max(enc.length or 0, 0) if enc else 0,
        duration=ep.duration if ep.duration and ep.duration > 0 else None,
        number=ep.number,
        season=ep.season,
        image=ep.image,
        explicit=ep.explicit,
        people=tuple(_Person(p.name, p.role, p.href, p.img) for p in ep.people),
        chapters_url=chapters_url,
        transcript_url=ep.transcript_url,
        transcript_type=transcript_type,
        source_url=item.source_url,
        summary=_summary(ep),
        content_html=_content_html(ep),
    )


def _sponsor_line(ep: Episode) -> str | None:
    reads = [
        f"{s.name} (code {s.promo_code})" if s.promo_code else s.name
        for s in ep.sponsors
        if s.kind == "sponsor"
    ]
    return f"Sponsors: {', '.join(reads)}" if reads else None


def _summary(ep: Episode) -> str | None:
    """Plain text: the episode's summary, then the sponsor line."""
    text = ep.summary.strip() if ep.summary else None
    parts = [p for p in (text, _sponsor_line(ep)) if p]
    return "\n\n".join(parts) or None


def _content_html(ep: Episode) -> str | None:
    line = _sponsor_line(ep)
    notes = (ep.description_html or "") + (f"<p>{html.escape(line)}</p>" if line else "")
    return nh3.clean(notes) if notes.strip() else None


def _guess_type(url: str) -> str | None:
    return _MIME.guess_type(urlsplit(url).path)[0]


def _utc(dt: datetime) -> datetime:
    """Naive datetimes are UTC: that is how the store keeps them."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _date(item: PublishedItem) -> datetime:
    return _utc(item.episode.published or item.first_seen_at)


def _json(doc: Any) -> bytes:
    return json.dumps(_clean(doc), ensure_ascii=False, indent=1).encode("utf-8") + b"\n"


def _clean(value: Any) -> Any:
    """The same characters as in the XML go, so both feeds show the same text."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return xml_safe(value)


def write_atomic(directory: Path, name: str, data: bytes) -> None:
    """Write ``name`` and its ``.gz`` sibling so a reader sees the old or new file, never half.

    gzip's mtime is 0, so the same content always gives the same ``.gz`` bytes.
    """
    target = directory / name
    target.parent.mkdir(parents=True, exist_ok=True)
    _replace(target.with_name(target.name + ".gz"), gzip.compress(data, mtime=0))
    _replace(target, data)


def _replace(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; these files are public
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # make the rename itself durable
    finally:
        os.close(dir_fd)


def _unchanged(directory: Path, name: str, data: bytes) -> bool:
    try:
        return (directory / name).read_bytes() == data and (
            directory / f"{name}.gz"
        ).read_bytes() == gzip.compress(data, mtime=0)
    except FileNotFoundError:
        return False


def publish_all(
    items: Sequence[PublishedItem | Publishable],
    sources: Sequence[Source],
    settings: Settings,
    *,
    now: datetime,
    env: jinja2.Environment,
) -> list[str]:
    """Render every published file into ``settings.public_dir``; return the names rewritten.

    ``merged_feed.link`` is the public base URL the files are served under. Files whose
    bytes would not change are left alone, and chapters files of episodes that left the
    feed are removed. ``sources`` are the followed feeds as ``(name, xml_url, html_url)``.
    """
    feed = settings.merged_feed
    base = feed.link if feed.link.endswith("/") else feed.link + "/"
    by_name = {name: xml_url for name, xml_url, _ in sources}
    chosen = [
        i if i.source_url else replace(i, source_url=by_name.get(i.episode.show))
        for i in select(map(_published, items), feed.max_items)
    ]
    built = max((_utc(i.first_seen_at) for i in chosen), default=now)
    docs = {
        FEED_XML: render_rss(chosen, feed, self_url=urljoin(base, FEED_XML), now=built, env=env),
        FEED_JSON: render_json_feed(chosen, feed, self_url=urljoin(base, FEED_JSON)),
        SOURCES_OPML: render_opml(sources, title=feed.title, now=built, env=env),
    }
    for item in chosen:
        if item.chapters_path and item.episode.chapters:
            if not _CHAPTERS_PATH.fullmatch(item.chapters_path):
                raise ValueError(f"unsafe chapters path {item.chapters_path!r}")
            docs[item.chapters_path] = render_chapters_json(item.episode)

    public = settings.public_dir
    written = []
    for name, data in docs.items():
        if not _unchanged(public, name, data):
            write_atomic(public, name, data)
            written.append(name)
    _prune_chapters(public, set(docs))
    log.debug("publish: %d items, %d files rewritten", len(chosen), len(written))
    return written


def _published(item: PublishedItem | Publishable) -> PublishedItem:
    if isinstance(item, PublishedItem):
        return item
    return PublishedItem.of(item.episode, item.first_seen_at)


def _prune_chapters(public: Path, keep: set[str]) -> None:
    folder = public / CHAPTERS_DIR
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        name = f"{CHAPTERS_DIR}/{path.name.removesuffix('.gz')}"
        if _CHAPTERS_PATH.fullmatch(name) and name not in keep:
            path.unlink(missing_ok=True)
            log.debug("publish: removed stale %s", path.name)
