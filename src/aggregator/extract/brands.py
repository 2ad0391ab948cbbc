"""Mentions of one brand merged into one sponsor, with its name repaired and its URL.

A spelling a transcript misheard ("Quill Stream", "hostinjer") joins the brand it stands for:
the brand's domain in the episode, a written spelling elsewhere in it, or the registry.
Names of the show itself, its hosts and its guests are never sponsors.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from aggregator.extract.mentions import Mention
from aggregator.extract.registry import SponsorRegistry, similar
from aggregator.extract.selfpromo import SELF_PLATFORMS
from aggregator.extract.text import (
    Span,
    brand_from_label,
    domain_label,
    host_of,
    is_url_like,
    key,
    phrase_set,
)
from aggregator.extract.view import DocView

_GENERIC = frozenset(
    key(w)
    for w in phrase_set(
        "sponsor, sponsors, our sponsor, our sponsors, listeners, you, us, them, everyone, "
        "the team, team, company, the company, people, friends, folks, ad, ads, break, "
        "the show, the podcast, this episode, episode, show, podcast, today, intro, outro, "
        "partner, partners"
    )
)
_IMAGE_WORDS = re.compile(r"\s+(?:sponsor\s+)?(?:logo|banner|image|icon|badge)$", re.I)
VANITY = ("get", "try", "use", "go", "join", "hello", "with", "meet", "the")


@dataclass
class BrandGroup:
    key: str
    mentions: list[Mention] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    canonical: str | None = None
    domains: set[str] = field(default_factory=set)
    url: str | None = None
    self_promo: bool = False
    code: str | None = None
    code_explicit: bool = False
    code_sentence: tuple[int, Span] | None = None


@dataclass
class SponsorContext:
    """What the sponsor rules need to know about the episode besides its blocks."""

    show: str | None = None
    hosts: Sequence[str] = ()
    guests: Sequence[str] = ()
    site: str | None = None  # the show's own web host, e.g. "show.fm"
    duration: int | None = None


def _is_self_name(k: str, ctx: SponsorContext) -> bool:
    if not k:
        return False
    if k in SELF_PLATFORMS:
        return True
    for s in _show_keys(ctx.show or ""):
        if k == s or (len(k) >= 4 and s.startswith(k)) or (len(s) >= 4 and k.startswith(s)):
            return True
        if len(k) >= 5 and similar(k, s) >= 0.85:
            return True
    return False


@lru_cache(maxsize=256)
def _show_keys(show: str) -> frozenset[str]:
    """The show's name as a key, with and without 'The' and 'Podcast' (asked per mention)."""
    bare = re.sub(r"(?i)^the\s+|\s+(?:podcast|show|fm|radio)$", "", show)
    return frozenset({key(show), key(bare)} - {""})


def _is_person(k: str, ctx: SponsorContext) -> bool:
    people = [*ctx.hosts, *ctx.guests]
    return any(k == key(p) or k == key(p.split()[0]) for p in people if p.strip())


def group_mentions(
    d: DocView, mentions: list[Mention], ctx: SponsorContext, registry: SponsorRegistry
) -> list[BrandGroup]:
    groups: dict[str, BrandGroup] = {}
    recurs: dict[str, bool] = {}
    confirmed = {key(m.name) for m in mentions if not m.lower and not m.heard}
    spoken = [m for m in mentions if m.heard or m.lower]
    written = [m for m in mentions if not (m.heard or m.lower)]
    for m in [*written, *spoken]:
        name = clean_name(_spoken_name(m, d, registry) if m.tail else m.name)
        if not name:
            continue
        url = m.url
        if is_url_like(name):
            url = url or name
            brand = registry.by_domain(name)
            name = brand.name if brand else _spelling_for_label(domain_label(name), mentions)
        k = key(name)
        if not k or k in _GENERIC or len(k) < 2 or _is_person(k, ctx):
            continue
        brand = registry.lookup(name)
        canonical = brand.name if brand else None
        known_domains = set(brand.domains) if brand else set()
        if not canonical and url:
            by_url = registry.by_domain(url)
            if by_url and similar(name, by_url.name) >= 0.6:
                canonical = by_url.name
        if canonical is None and (m.heard or m.lower) and k not in d.domains and k not in confirmed:
            target = _repair(k, name, d, groups, registry)
            if target is None and m.lower and not recurs.setdefault(k, _recurs(d, name)):
                continue
            if target is not None:
                canonical = target
        gk = key(canonical) if canonical else k
        g = _find_group(groups, gk, d)
        if g is None:
            g = groups.setdefault(gk, BrandGroup(gk))
        if canonical and not g.canonical:
            g.canonical = canonical
            brand = registry.lookup(canonical)
            if brand:
                known_domains |= set(brand.domains)
        g.domains |= {domain_label(dm) for dm in known_domains}
        g.mentions.append(m)
        g.names.append(name)
        if url and not g.url:
            g.url = url
        if (
            _is_self_name(g.key, ctx)
            or _is_self_name(k, ctx)
            or (url and ctx.site and host_of(url).endswith(ctx.site))
        ):
            g.self_promo = True
    for g in groups.values():
        if not g.url or not _label_of_brand(domain_label(g.url), labels_for(g)):
            g.url = _best_url(d, g) or g.url
    return _merge_short_names([g for g in groups.values() if g.mentions])


def _spoken_name(m: Mention, d: DocView, registry: SponsorRegistry) -> str:
    """The longest reading of a lower-case name and the words after it that the episode's
    domains or the registry know ('mail trap' -> Mailtrap)."""
    readings = [" ".join((m.name, *m.tail[:n])) for n in range(len(m.tail), -1, -1)]
    for reading in readings:
        if key(reading) in d.domains or registry.lookup(reading):
            return reading
    for reading in readings[:-1]:
        brand = registry.repair(reading)
        if brand:
            return brand.name
    return m.name


def _merge_short_names(groups: list[BrandGroup]) -> list[BrandGroup]:
    """'Acme' said after 'Acme Cloud' is the same brand: fold it into the long one."""
    out = list(groups)
    for short in groups:
        if len(short.key) < 4:
            continue
        for long in out:
            if long is short or not long.key.startswith(short.key) or long.key == short.key:
                continue
            if any(len(n.split()) > 1 and key(n.split()[0]) == short.key for n in long.names):
                long.mentions.extend(short.mentions)
                long.url = long.url or short.url
                long.self_promo = long.self_promo or short.self_promo
                out.remove(short)
                break
    return out


def clean_name(name: str) -> str:
    """A captured name without quotes, a leading 'the', a possessive or an image caption."""
    name = name.strip().strip("\"“”‘’'*_()[]")
    name = _IMAGE_WORDS.sub("", name)
    name = re.sub(r"^(?:the|our)\s+(?=[A-Z])", "", name)
    name = re.sub(r"['’]s$", "", name).strip(" .,:;!?-–—")
    return name


def _spelling_for_label(label: str, mentions: list[Mention]) -> str:
    for m in mentions:
        if key(m.name) == label and not is_url_like(m.name):
            return m.name
    return brand_from_label(label)


def _repair(
    k: str, name: str, d: DocView, groups: dict[str, BrandGroup], registry: SponsorRegistry
) -> str | None:
    """The brand a misheard name stands for: a written spelling, a domain, the registry."""
    best, score = None, 0.85
    for gk, g in groups.items():
        s = similar(name, g.canonical or g.names[0]) if g.names else 0.0
        if s >= score and gk != k:
            best, score = g.canonical or g.names[0], s
    for label in d.domains:
        s = similar(k, label)
        if s >= score:
            best, score = _spelling_for_label(label, []), s
    if best:
        return best
    brand = registry.repair(name)
    return brand.name if brand else None


def _recurs(d: DocView, name: str) -> bool:
    """A lower-case brand is believed when the episode keeps saying it, once capitalised."""
    if " " in name:
        return False
    counts, capitalised = d.word_stats
    return counts[name.lower()] >= 2 and name.lower() in capitalised


def _find_group(groups: dict[str, BrandGroup], gk: str, d: DocView) -> BrandGroup | None:
    if gk in groups:
        return groups[gk]
    for g in groups.values():
        if gk in labels_for(g) or gk in {domain_label(u) for u in urls_of(g)}:
            return g
    return None


def labels_for(g: BrandGroup) -> set[str]:
    labels = {g.key, *(key(n) for n in g.names), *g.domains}
    if g.canonical:
        labels.add(key(g.canonical))
    return labels


def _label_of_brand(label: str, labels: set[str]) -> bool:
    """Whether a domain label names the brand: 'brand', 'getbrand', 'brandhq'."""
    if label in labels:
        return True
    for lb in labels:
        if len(lb) < 4:
            continue
        if any(label == p + lb for p in VANITY) or label in (lb + "hq", lb + "app", lb + "io"):
            return True
    return False


def urls_of(g: BrandGroup) -> list[str]:
    return [m.url for m in g.mentions if m.url]


def _best_url(d: DocView, g: BrandGroup) -> str | None:
    labels = labels_for(g)
    for label in labels:
        if label in d.domains:
            return d.domains[label]
    for label, url in d.domains.items():
        if _label_of_brand(label, labels):
            return url
    for label, url in d.domains.items():
        if any(
            len(lb) >= 4 and (label.startswith(lb) or lb.startswith(label))
            for lb in labels
            if len(label) >= 4
        ):
            return url
    return None
