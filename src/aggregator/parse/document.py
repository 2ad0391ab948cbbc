"""The reader-neutral shape of an episode page, show notes or transcript.

Every reader (HTML, markdown, transcript) turns its bytes into a :class:`Document` of
ordered :class:`Block` s, so one set of extractors works on all of them. Blocks keep the
structure the extractors rely on: headings and the section they open, list items, links
with their anchor text, table rows, and timestamps of transcript cues.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

BlockKind = Literal["heading", "para", "item", "row", "cue", "meta"]
Region = Literal["main", "chrome"]


@dataclass(frozen=True, slots=True)
class Link:
    text: str
    href: str
    start: int = -1  # offset of the anchor text in its block's text, -1 when not in the text


@dataclass(frozen=True, slots=True)
class Block:
    """One paragraph, list item, heading, table row or transcript turn.

    ``marks`` maps offsets in ``text`` to seconds for transcript turns that join several
    timestamped cues; ``region`` is ``chrome`` for navigation, footers, sidebars and
    related-post excerpts, which are read for the show's own promotion but never for
    sponsors or guests.
    """

    text: str
    kind: BlockKind = "para"
    level: int = 0
    links: tuple[Link, ...] = ()
    start: int | None = None
    marks: tuple[tuple[int, int], ...] = ()
    speaker: str | None = None
    section: str | None = None
    region: Region = "main"
    strong: tuple[str, ...] = ()
    container: int = 0

    def seconds_at(self, offset: int) -> int | None:
        """Seconds of the cue that holds ``offset`` (the block start when no finer mark)."""
        best = self.start
        for off, sec in self.marks:
            if off > offset:
                break
            best = sec
        return best


@dataclass(frozen=True, slots=True)
class Document:
    """What a reader saw, before any interpretation of titles, people or sponsors."""

    kind: str
    blocks: tuple[Block, ...] = ()
    titles: tuple[str, ...] = ()  # candidates, best first
    header: tuple[str, ...] = ()  # transcript header lines before the first cue
    meta: dict[str, str] = field(default_factory=dict)  # lower-cased keys
    jsonld: tuple[dict[str, Any], ...] = ()
    times: tuple[str, ...] = ()  # <time datetime> values in the main content
    chapters: tuple[tuple[int, str], ...] = ()
    speakers: tuple[tuple[str, str | None], ...] = ()  # (name, role) from a speakers line
    url: str | None = None
    duration: int | None = None
