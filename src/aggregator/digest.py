"""Digest content: which episodes, in what order, rendered as text and HTML.

Pure: no database, no network, no clock. The caller passes the fire time, the watermark
and the episodes; :mod:`aggregator.deliver` does the I/O around it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import css_inline
import jinja2
from apscheduler.triggers.cron import CronTrigger
from selectolax.lexbor import LexborHTMLParser

from aggregator.config import DigestSettings, cron_trigger
from aggregator.model import Episode

SUMMARY_CHARS = 260  # about three lines in a 640 px column
_OLDEST = datetime.min.replace(tzinfo=UTC)
# How far back to look for the schedule's latest run, widening until one is found.
_LOOKBACKS = (
    timedelta(hours=2),
    timedelta(days=2),
    timedelta(days=8),
    timedelta(days=32),
    timedelta(days=367),
    timedelta(days=366 * 8),
)
# Subjects are plain text from the config: never HTML-escaped; undefined names render empty
# so the default subject's inline ``if`` without ``else`` works.
_SUBJECT_ENV = jinja2.Environment(autoescape=False)
# @media rules (dark mode, narrow screens) cannot be inlined; keep them in a <style> block.
_INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


@dataclass(frozen=True, slots=True)
class Window:
    """Episodes first seen in ``[start, end)`` belong to one digest (the store's query)."""

    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True, slots=True)
class SponsorView:
    name: str
    url: str | None
    promo_code: str | None
    offer: str | None
    own: bool  # the show's own product, not a paid read

    @property
    def text(self) -> str:
        """One line for the plain-text part."""
        own = " (from the show)" if self.own else ""
        code = f", code {self.promo_code}" if self.promo_code else ""
        offer = f": {self.offer}" if self.offer else ""
        return f"{self.name}{own}{code}{offer}"


@dataclass(frozen=True, slots=True)
class EpisodeView:
    """One episode, formatted once so the text and HTML parts say the same thing."""

    title: str
    number: int | None
    url: str | None
    date: str | None
    duration: str | None
    meta: tuple[str, ...]  # number, date, duration: the line above the title
    guests: tuple[str, ...]
    summary: str | None
    sponsors: tuple[SponsorView, ...]
    links: tuple[Link, ...]


@dataclass(frozen=True, slots=True)
class ShowGroup:
    show: str
    episodes: tuple[EpisodeView, ...]


@dataclass(frozen=True, slots=True)
class DigestView:
    """Everything the templates see."""

    name: str
    subject: str
    recipient: str
    sender: str
    since: str
    until: str
    count: int
    groups: tuple[ShowGroup, ...]
    unsubscribe: str  # mailto: URL, also the List-Unsubscribe header
    unsubscribe_subject: str


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str


def trigger(digest: DigestSettings) -> CronTrigger:
    """The digest's cron as the daemon schedules it, so fire times and periods agree."""
    return cron_trigger(digest.schedule, digest.timezone)


def period_key(digest: DigestSettings, fire_time: datetime) -> str:
    """The period a scheduled run stands for: its fire time in the digest's own zone."""
    return fire_time.astimezone(ZoneInfo(digest.timezone)).isoformat()


def manual_period_key(now: datetime) -> str:
    return f"manual-{now.astimezone(UTC).isoformat()}"


def schedule_period(digest: DigestSettings, fire_time: datetime) -> timedelta:
    """The gap from ``fire_time`` to the next run; how far the very first digest looks back."""
    nxt = trigger(digest).get_next_fire_time(None, fire_time + timedelta(seconds=1))
    if nxt is None:  # only a trigger with an end date runs out
        raise ValueError(f"digest {digest.name}: schedule has no next run")
    return nxt - fire_time


def last_fire_time(digest: DigestSettings, now: datetime) -> datetime:
    """The schedule's latest run at or before ``now``: the period a (late) job stands for."""
    cron = trigger(digest)
    for back in _LOOKBACKS:
        t = cron.get_next_fire_time(None, now - back)
        if t is None or t > now:
            continue
        while (nxt := cron.get_next_fire_time(t, t + timedelta(seconds=1))) and nxt <= now:
            t = nxt
        return t
    raise ValueError(f"digest {digest.name}: schedule {digest.schedule!r} never ran before {now}")


def window(digest: DigestSettings, end: datetime, watermark: datetime | None) -> Window:
    start = watermark if watermark is not None else end - schedule_period(digest, end)
    return Window(start=start.astimezone(UTC), end=end.astimezone(UTC))


def wanted(episode: Episode, digest: DigestSettings) -> bool:
    """Show and keyword filters, case-insensitive; keywords look at title and summary."""
    show = episode.show.casefold()
    if digest.shows.include and show not in {s.casefold() for s in digest.shows.include}:
        return False
    if show in {s.casefold() for s in digest.shows.exclude}:
        return False
    text = f"{episode.title}\n{episode.summary or ''}".casefold()
    if digest.keywords.include and not any(k.casefold() in text for k in digest.keywords.include):
        return False
    return not any(k.casefold() in text for k in digest.keywords.exclude)


def select(episodes: Iterable[Episode], digest: DigestSettings) -> list[Episode]:
    return [e for e in episodes if wanted(e, digest)]


def group_by_show(episodes: Iterable[Episode]) -> list[ShowGroup]:
    """Shows ordered by their newest episode, episodes newest first."""
    by_show: dict[str, list[Episode]] = {}
    for ep in sorted(episodes, key=_published, reverse=True):
        by_show.setdefault(ep.show, []).append(ep)
    return [
        ShowGroup(show=show, episodes=tuple(episode_view(e) for e in eps))
        for show, eps in by_show.items()
    ]


def _published(ep: Episode) -> datetime:
    return ep.published.astimezone(UTC) if ep.published else _OLDEST


def episode_view(ep: Episode) -> EpisodeView:
    links = [
        Link(label, url)
        for label, url in (
            ("Episode page", ep.link),
            ("Audio", ep.enclosure.url if ep.enclosure else None),
            ("Transcript", ep.transcript_url),
        )
        if _web_url(url)
    ]
    date = _date(ep.published) if ep.published else None
    duration = format_duration(ep.duration) if ep.duration else None
    number = f"#{ep.number}" if ep.number is not None else None
    return EpisodeView(
        title=" ".join(ep.title.split()),
        number=ep.number,
        url=_web_url(ep.link) or _web_url(ep.enclosure.url if ep.enclosure else None),
        date=date,
        duration=duration,
        meta=tuple(x for x in (number, date, duration) if x),
        guests=tuple(ep.guests),
        summary=short_summary(ep),
        sponsors=tuple(
            SponsorView(s.name, _web_url(s.url), s.promo_code, s.offer, s.kind == "self_promo")
            for s in ep.sponsors
        ),
        links=tuple(links),
    )


def format_duration(seconds: int) -> str:
    """``h:mm``, rounded to the nearest minute."""
    minutes = (seconds + 30) // 60
    return f"{minutes // 60}:{minutes % 60:02d}"


def short_summary(ep: Episode, limit: int = SUMMARY_CHARS) -> str | None:
    """Two or three lines of plain text, cut at a word boundary."""
    text = ep.summary
    if not text and ep.description_html:
        text = LexborHTMLParser(ep.description_html).text(separator=" ")
    text = " ".join((text or "").split())
    if not text:
        return None
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:.-–—")
    return f"{cut}…"


def _date(d: datetime) -> str:
    """The date in the zone the source gave, spelled out so no reader misreads 03/04."""
    return f"{d:%a} {d.day} {d:%b %Y}"


def _moment(d: datetime) -> str:
    return f"{_date(d)}, {d:%H:%M} {d:%Z}"


def _web_url(url: str | None) -> str | None:
    """Only http(s) links reach the email; a feed could carry ``javascript:`` or worse."""
    return url if url and url.lower().startswith(("http://", "https://")) else None


def render_subject(digest: DigestSettings, *, count: int, shows: Sequence[str], period: str) -> str:
    text = _SUBJECT_ENV.from_string(digest.subject).render(
        count=count, shows=list(shows), digest=digest.name, period=period
    )
    return " ".join(text.split()) or f"Digest {digest.name}"


def unsubscribe_subject(digest_name: str) -> str:
    return f"unsubscribe {digest_name}"


def unsubscribe_mailto(sender_addr: str, digest_name: str) -> str:
    return f"mailto:{sender_addr}?subject={quote(unsubscribe_subject(digest_name))}"


def build_view(
    digest: DigestSettings,
    episodes: Sequence[Episode],
    *,
    window: Window,
    period: str,
    recipient: str,
    sender: str,
) -> DigestView:
    """``recipient`` and ``sender`` are bare addresses, as the footer names them."""
    groups = group_by_show(episodes)
    tz = ZoneInfo(digest.timezone)
    return DigestView(
        name=digest.name,
        subject=render_subject(
            digest, count=len(episodes), shows=[g.show for g in groups], period=period
        ),
        recipient=recipient,
        sender=sender,
        since=_moment(window.start.astimezone(tz)),
        until=_moment(window.end.astimezone(tz)),
        count=len(episodes),
        groups=tuple(groups),
        unsubscribe=unsubscribe_mailto(sender, digest.name),
        unsubscribe_subject=unsubscribe_subject(digest.name),
    )


def make_env(templates_dir: Path) -> jinja2.Environment:
    """HTML templates autoescape (titles come from strangers' feeds); text ones do not."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir),
        autoescape=jinja2.select_autoescape(["html", "html.j2"], default_for_string=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(env: jinja2.Environment, view: DigestView) -> Rendered:
    text = env.get_template("digest.txt.j2").render(d=view)
    html = env.get_template("digest.html.j2").render(d=view)
    return Rendered(subject=view.subject, text=text, html=_INLINER.inline(html))
