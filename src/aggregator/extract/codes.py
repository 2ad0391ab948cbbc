"""Promo codes given to the brand whose read they belong to.

A code belongs to the sponsor named (or linked) in its sentence; else to the nearest
sponsor named a few sentences before it in the same block; else, for a banner ("<img
link> + Use code X") or a read split over cues, to the sponsor named at the end of the
previous block in the same place. Codes in the show's own promotions and codes next to a
brand we did not recognise stay unattached.
"""

from __future__ import annotations

from functools import lru_cache

from aggregator.extract.brands import VANITY, BrandGroup, labels_for, urls_of
from aggregator.extract.mentions import eligible
from aggregator.extract.promo import CODE_WORDS, code_in_url, find_codes
from aggregator.extract.selfpromo import is_self_promo_text
from aggregator.extract.text import Span, domain_label, key, text_domains, words
from aggregator.extract.view import DocView
from aggregator.parse.document import Block


def _mention_keys(g: BrandGroup) -> set[str]:
    out = set(labels_for(g))
    out |= {p + lb for lb in list(out) if len(lb) >= 4 for p in VANITY}
    for n in [*g.names, g.canonical or ""]:
        first = n.split()[0] if n.split() else ""
        if len(key(first)) >= 5 and len(n.split()) > 1:
            out.add(key(first))
    for u in urls_of(g) + ([g.url] if g.url else []):
        out.add(domain_label(u))
    return out - {""}


def _mentioned(block: Block, span: Span, keys: set[str]) -> int | None:
    """Offset of the first mention of the brand (by name or domain) inside ``span``."""
    firsts = _first_said(block.text, span.start, span.end)
    said = [firsts[k] for k in keys & firsts.keys()]
    if said:
        return min(said)
    for link in block.links:
        if span.start <= max(link.start, 0) < span.end and domain_label(link.href) in keys:
            return max(link.start, 0)
    return None


@lru_cache(maxsize=256)
def _first_said(text: str, start: int, end: int) -> dict[str, int]:
    """Where each brand key is first said in ``text[start:end]``: a word, two words
    joined, or a word's domain label; read once for all the sponsors asked about."""
    firsts: dict[str, int] = {}
    prev = ""
    for w in words(text, start, end):
        firsts.setdefault(key(w.text), w.start)
        if prev:
            firsts.setdefault(key(prev + w.text), w.start)
        firsts.setdefault(domain_label(w.text), w.start)
        prev = w.text
    return firsts


def attach_codes(d: DocView, groups: list[BrandGroup]) -> None:
    """Give each sponsor the first code said in its read (see the module docstring)."""
    sponsors = [g for g in groups if not g.self_promo]
    if not sponsors:
        return
    keys = {id(g): _mention_keys(g) for g in sponsors}
    code_words = d.hits(CODE_WORDS)
    for bi, block in enumerate(d.blocks):
        if not code_words[bi] or not eligible(block):
            continue
        for code in find_codes(block.text):
            sent = d.sentence_at(bi, code.start)
            s_text = block.text[sent.start : sent.end]
            if is_self_promo_text(s_text):
                continue
            owner = _owner(d, bi, block, sent, code.start, sponsors, keys)
            if owner is not None and not owner.code_explicit:
                owner.code, owner.code_explicit = code.code, True
                owner.code_sentence = (bi, sent)
    for block in d.blocks:
        if not block.links or not eligible(block):
            continue
        for link in block.links:
            found = code_in_url(link.href)
            if not found:
                continue
            label = domain_label(link.href)
            for g in sponsors:
                if g.code is None and label in keys[id(g)]:
                    g.code = found


def _foreign_domain(block: Block, sent: Span, keys: dict[int, set[str]]) -> bool:
    known = set().union(*keys.values()) if keys else set()
    labels = {domain_label(u) for _s, _e, u in text_domains(block.text[sent.start : sent.end])}
    labels |= {
        domain_label(lk.href)
        for lk in block.links
        if sent.start <= max(lk.start, 0) < sent.end and lk.href.startswith("http")
    }
    return bool(labels - known - {""})


def _owner(
    d: DocView,
    bi: int,
    block: Block,
    sent: Span,
    offset: int,
    sponsors: list[BrandGroup],
    keys: dict[int, set[str]],
) -> BrandGroup | None:
    def in_span(b: Block, span: Span, before: int | None = None) -> BrandGroup | None:
        best, best_at = None, -1
        for g in sponsors:
            at = _mentioned(b, span if before is None else Span(span.start, before), keys[id(g)])
            if at is not None and at > best_at:
                best, best_at = g, at
        return best

    found = in_span(block, sent, offset) or in_span(block, sent)
    if found:
        return found
    if _foreign_domain(block, sent, keys):
        return None  # the code belongs to a brand we did not recognise
    sents = d.sents(bi)
    idx = next((i for i, s in enumerate(sents) if s.start == sent.start), 0)
    for s in reversed(sents[max(0, idx - 3) : idx]):
        if is_self_promo_text(block.text[s.start : s.end]):
            return None
        if not block.marks and "\n" in block.text[s.end : sent.start]:
            return None  # plain text: a new line is a new paragraph or list item
        found = in_span(block, s)
        if found:
            return found
    for back in (1, 2):
        pb = bi - back
        if pb < 0:
            break
        prev = d.blocks[pb]
        if prev.region != "main" or prev.kind == "heading":
            break
        same_place = (
            (prev.speaker == block.speaker)
            if block.kind == "cue"
            else (prev.container == block.container)
        )
        if not same_place:
            break
        p_sents = d.sents(pb)
        for s in reversed(p_sents[-3:]):
            found = in_span(prev, s)
            if found:
                return found
    return None
