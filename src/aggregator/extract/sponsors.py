"""Sponsors of one episode, from how shows actually announce them.

Evidence, strongest first: a sponsorship phrase naming the brand ("sponsored by X",
"support for this show comes from X", "thanks to X for supporting the show", "X is
sponsoring us", "a quick word from our sponsor X"); an entry under a "Sponsors" heading
or after a "Sponsor:" label; a chapter titled "Sponsor: X"; a sponsorship phrase whose
only clue is a link (the brand then comes from the link's domain). Talk *about*
sponsorship (GitHub Sponsors, fiscal sponsors, an employer paying for a trip, "interested
in sponsoring?") never counts, nor does anything in site chrome.

Mentions of one brand are merged; a name a transcript misheard is repaired from the
brand's URL, its other spellings in the episode, or the registry. Codes and offers are
then attached to the brand read nearest to them.
"""

from __future__ import annotations

import re
from collections import Counter

from aggregator.extract.brands import BrandGroup, SponsorContext, clean_name, group_mentions
from aggregator.extract.codes import attach_codes
from aggregator.extract.mentions import Mention, find_mentions
from aggregator.extract.promo import find_offer
from aggregator.extract.registry import SponsorRegistry
from aggregator.extract.text import Span, brand_from_label, clean_url, is_url_like
from aggregator.extract.view import DocView
from aggregator.model import Placement, Sponsor
from aggregator.parse.document import Document

__all__ = ["SponsorContext", "find_sponsors", "placement"]

_ANOTHER_READ = re.compile(r"sponsor|thanks|brought to you", re.I)


def find_sponsors(
    doc: Document, ctx: SponsorContext, registry: SponsorRegistry, view: DocView | None = None
) -> list[Sponsor]:
    """Paid third-party reads of this episode, each brand once, mentions merged (``view``:
    the document's, when another stage reads it too)."""
    d = view or DocView(doc)
    mentions = find_mentions(d, ctx.show)
    groups = group_mentions(d, mentions, ctx, registry)
    attach_codes(d, groups)
    duration = ctx.duration or doc.duration
    out = []
    for g in groups:
        if g.self_promo:
            continue
        out.append(_sponsor(d, g, duration))
    return out


def _display(g: BrandGroup) -> str:
    """The brand as it writes itself: the registry's name, else a written spelling, else
    (speech splits compound names: "Quill Stream") the spoken spelling with fewest gaps."""
    if g.canonical:
        return g.canonical
    counts = Counter(n for n in g.names if not is_url_like(n))
    if not counts:
        return brand_from_label(g.key)
    written = {clean_name(m.name) for m in g.mentions if not m.heard and not m.lower}
    if written & counts.keys():
        return max(written & counts.keys(), key=lambda n: (counts[n], -n.count(" ")))

    def rank(n: str) -> tuple[int, int, int]:
        return (-n.count(" "), counts[n], n[:1].isupper())

    best = max(counts, key=rank)
    return best if any(c.isupper() for c in best) else brand_from_label(best)


def _sponsor(d: DocView, g: BrandGroup, duration: int | None) -> Sponsor:
    primary = max(g.mentions, key=lambda m: (m.strength, -m.block))
    starts = [m.start for m in g.mentions if m.start is not None]
    start = min(starts) if starts else None
    evidence = _evidence(d, primary)
    offer = _offer(d, g, primary)
    strength = max(m.strength for m in g.mentions)
    confidence = min(0.99, strength + 0.02 * (len(g.mentions) - 1) + (0.03 if g.canonical else 0))
    return Sponsor(
        name=_display(g),
        url=clean_url(g.url) if g.url and not g.url.startswith("mailto:") else None,
        promo_code=g.code,
        offer=offer,
        start=start,
        placement=placement(start, duration),
        kind="sponsor",
        evidence=evidence,
        confidence=round(confidence, 2),
    )


def _evidence(d: DocView, m: Mention) -> str | None:
    if m.block < 0:
        return m.evidence
    end = m.sentence.end
    if m.offset >= end:  # "sponsored by" ends one cue, the brand opens the next
        end = d.sentence_at(m.block, m.offset).end
    text = d.blocks[m.block].text[m.sentence.start : end].replace("\n", " ").strip()
    return text if len(text) <= 280 else text[:277].rstrip() + "…"


def _offer(d: DocView, g: BrandGroup, primary: Mention) -> str | None:
    places: list[tuple[int, Span]] = []
    if g.code_sentence:
        places.append(g.code_sentence)
    if primary.block >= 0:
        sents = d.sents(primary.block)
        idx = next((i for i, s in enumerate(sents) if s.start == primary.sentence.start), None)
        if idx is not None:
            places.append((primary.block, sents[idx]))
            for s in sents[idx + 1 : idx + 4]:
                if _ANOTHER_READ.search(d.blocks[primary.block].text, s.start, s.end):
                    break
                places.append((primary.block, s))
    for bi, span in places:
        found = find_offer(d.blocks[bi].text[span.start : span.end])
        if found:
            return found
    return None


def placement(start: int | None, duration: int | None) -> Placement | None:
    """pre / mid / post-roll: the first and last 10 % of the episode, or the middle."""
    if start is None or not duration or duration <= 0:
        return None
    share = start / duration
    if share < 0.1:
        return "pre"
    if share > 0.9:
        return "post"
    return "mid"
