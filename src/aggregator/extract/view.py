"""One document as the sponsor, promo code and self-promotion stages read it.

The stages read the same blocks in turn: each block's sentences, the keywords found in
it and the episode's domains are computed once, when first asked for, and shared.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from functools import cached_property

from aggregator.extract.text import (
    KeywordGroup,
    Keywords,
    Span,
    domain_label,
    sentences,
    text_domains,
    texts_with_domains,
)
from aggregator.parse.document import Document

_ANY_WORD = re.compile(r"[^\W_][\w'’-]*")
_CAPITALISED_WORD = re.compile(r"\b[A-Z\u00c0-\u00de][\w'’-]*")


class DocView:
    """A document with what several stages ask of it computed once."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.blocks = doc.blocks
        self.texts = [block.text for block in doc.blocks]
        self._sents: dict[int, tuple[Span, ...]] = {}
        self._starts: dict[int, list[int]] = {}
        self._found: dict[KeywordGroup, dict[Keywords, list[list[int]]]] = {}

    def hits(self, keywords: Keywords) -> list[list[int]]:
        """``KeywordGroup.find_all`` of the block texts for ``keywords``, one pass for its whole group."""
        group = keywords.group
        if group not in self._found:
            self._found[group] = group.find_all(self.texts)
        return self._found[group][keywords]

    @cached_property
    def domains(self) -> dict[str, str]:
        """Each domain label the main content links or names, with its first URL."""
        out: dict[str, str] = {}
        with_domains = texts_with_domains(self.texts)
        for bi, block in enumerate(self.blocks):
            if block.region != "main":
                continue
            for link in block.links:
                if link.href.startswith(("http://", "https://")):
                    out.setdefault(domain_label(link.href), link.href)
            for _s, _e, url in text_domains(block.text) if bi in with_domains else ():
                out.setdefault(domain_label(url), url)
        return out

    @cached_property
    def word_stats(self) -> tuple[Counter[str], set[str]]:
        """How often each word is said (lower-cased), and which words are ever capitalised."""
        text = "\n".join(self.texts)
        counts = Counter(_ANY_WORD.findall(text.lower()))
        capitalised = {w.lower() for w in _CAPITALISED_WORD.findall(text)}
        return counts, capitalised

    def sents(self, bi: int) -> tuple[Span, ...]:
        if bi not in self._sents:
            self._sents[bi] = sentences(self.blocks[bi].text)
        return self._sents[bi]

    def sentence_at(self, bi: int, offset: int) -> Span:
        sents = self.sents(bi)
        if bi not in self._starts:
            self._starts[bi] = [s.start for s in sents]
        i = bisect_right(self._starts[bi], offset) - 1
        if i >= 0 and offset <= sents[i].end:
            return sents[i]
        return Span(0, len(self.blocks[bi].text))
