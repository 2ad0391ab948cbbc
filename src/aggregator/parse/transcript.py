"""Transcripts -> :class:`Document`: plain, timestamped (mm:ss, hh:mm:ss, [hh:mm:ss]),
WebVTT, SRT and the Podcasting 2.0 JSON format.

A transcript becomes header lines (title, dates, speakers, chapters written above the
talk) and turns: consecutive cues of one speaker joined into one block, with ``marks``
keeping each cue's start so a sponsor read can be placed to the second. Lines are read
one at a time and blank lines carry no meaning, so re-wrapping or doubling blank lines
does not change what is read.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from aggregator.parse.document import Block, Document
from aggregator.parse.html import clean_ws, decode

log = logging.getLogger(__name__)

_STAMP = r"(?:(\d{1,2}):)?(\d{1,2}):(\d{2})(?:[.,]\d{1,3})?"
_CUE_LINE = re.compile(rf"^[\[(]?{_STAMP}[\])]?(?:\s*[-–—|]\s*|\s+|$)(.*)$")
_ARROW = re.compile(rf"^{_STAMP}\s*-->\s*{_STAMP}")
_SPEAKER = re.compile(
    r"^((?:[A-Z\u00c0-\u024f][\w.'’\u00c0-\u024f-]*|Dr\.|Mr\.|Ms\.|Mrs\.)"
    r"(?:[ \t]+[A-Z\u00c0-\u024f\d][\w.'’\u00c0-\u024f-]*){0,3})\s*:\s+(\S.*)$"
)
_LABEL_LINE = re.compile(
    rf"^((?:[A-Z\u00c0-\u024f][\w.'’\u00c0-\u024f-]*|Speaker)(?:[ \t]+[\w.'’\u00c0-\u024f-]+){{0,3}})"
    rf"[ \t]+[\[(]?{_STAMP}[\])]?$"
)
_VOICE = re.compile(r"<v(?:\.[\w.-]+)?\s+([^>]+)>")
_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_HEADER_KEYS = frozenset(
    {
        "published",
        "date",
        "recorded",
        "aired",
        "source",
        "speakers",
        "speaker",
        "title",
        "episode",
        "guest",
        "guests",
        "host",
        "hosts",
        "transcript",
        "note",
        "notes",
        "duration",
        "length",
        "show",
        "chapters",
        "timestamps",
        "season",
        "language",
        "url",
        "link",
    }
)
_CHAPTER_HEAD = re.compile(
    r"^(?:chapters?|timestamps?|chapter markers|time ?codes?)\s*:?\s*$", re.I
)
_SPEAKERS_LINE = re.compile(r"^(?:speakers|participants|voices|people)\s*:\s*(.+)$", re.I)
_TURN_CHARS = 1500
_HEADER_MAX = 12


@dataclass
class _Cue:
    text: str
    start: int | None = None
    speaker: str | None = None


def seconds(h: str | None, m: str, s: str) -> int:
    return int(h or 0) * 3600 + int(m) * 60 + int(s)


def read_transcript(data: bytes | str, *, url: str | None = None) -> Document:
    """Any transcript flavour; the flavour is recognised from the text itself."""
    text = decode(data).lstrip("\ufeff")
    stripped = text.lstrip()
    if stripped.startswith("{") or stripped.startswith("["):
        cues = _json_cues(stripped)
        if cues is not None:
            return _document([], cues, [], url)
    if stripped.startswith("WEBVTT"):
        header, cues = _cued(stripped.splitlines()[1:], vtt=True)
        return _document(header, cues, [], url)
    lines = [clean_ws(line).strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if _is_srt(lines):
        return _document([], _cued(lines, vtt=False)[1], [], url)
    return _plain(lines, url)


def _json_cues(text: str) -> list[_Cue] | None:
    try:
        data: Any = json.loads(text)
    except ValueError:
        return None
    segments = data.get("segments") if isinstance(data, dict) else data
    if not isinstance(segments, list):
        return None
    cues = []
    for seg in segments:
        if not isinstance(seg, dict):
            continue
        body = clean_ws(str(seg.get("body") or seg.get("text") or "")).strip()
        start = seg.get("startTime", seg.get("start"))
        speaker = seg.get("speaker")
        if body:
            cues.append(
                _Cue(
                    body,
                    int(start) if isinstance(start, int | float) else None,
                    clean_ws(str(speaker)).strip() if speaker else None,
                )
            )
    return cues


def _is_srt(lines: list[str]) -> bool:
    return len(lines) >= 2 and lines[0].isdigit() and bool(_ARROW.match(lines[1]))


def _cued(lines: list[str], *, vtt: bool) -> tuple[list[str], list[_Cue]]:
    """VTT and SRT: a timing line starts a cue and its text lines follow; a line right
    before a timing line is the cue's id. VTT NOTE blocks become header lines."""
    rows = [clean_ws(raw).strip() for raw in lines]
    header: list[str] = []
    cues: list[_Cue] = []
    current: _Cue | None = None
    block = ""  # the VTT block being skipped or noted: "", "NOTE", "STYLE"
    for i, line in enumerate(rows):
        if not line:
            block = ""
            continue
        m = _ARROW.match(line)
        if m:
            current = _Cue("", seconds(m.group(1), m.group(2), m.group(3)))
            cues.append(current)
            block = ""
            continue
        if vtt and (block or (current is None and line.startswith(("NOTE", "STYLE", "REGION")))):
            block = block or line.split()[0]
            if block == "NOTE" and line.removeprefix("NOTE").strip():
                header.append(line.removeprefix("NOTE").strip())
            continue
        nxt = rows[i + 1] if i + 1 < len(rows) else ""
        if current is None or _ARROW.match(nxt):
            continue  # text before the first cue, or a cue id
        voice = _VOICE.search(line)
        if voice:
            current.speaker = clean_ws(voice.group(1)).strip()
        line = _TAG.sub("", line).strip()
        if not vtt or not voice:
            m2 = _SPEAKER.match(line)
            if m2 and not current.text and len(m2.group(1)) <= 40:
                current.speaker, line = m2.group(1), m2.group(2)
        current.text = f"{current.text} {line}".strip() if current.text else line
    return header, [c for c in cues if c.text]


def _plain(lines: list[str], url: str | None) -> Document:
    """Plain or timestamped text: header lines, then cues, speaker turns or prose."""
    split = [_strip_stamp(line) for line in lines]
    labels: Counter[str] = Counter()
    stamped: set[str] = set()
    for stamp, rest in split:
        m = _SPEAKER.match(rest)
        if m:
            labels[m.group(1)] += 1
            if stamp is not None:
                stamped.add(m.group(1))
    speakers = stamped | {
        label
        for label, n in labels.items()
        if (n >= 2 or label.isupper()) and (label.lower() not in _HEADER_KEYS or n >= 3)
    }
    header: list[str] = []
    chapters: list[tuple[int, str]] = []
    cues: list[_Cue] = []
    in_chapters = False
    body_started = False
    pending: tuple[str, int] | None = None
    for line, (stamp, rest) in zip(lines, split, strict=True):
        if _CHAPTER_HEAD.match(line):
            in_chapters = True
            (cues.append(_Cue(line)) if body_started else header.append(line))
            continue
        if in_chapters and stamp is not None and len(rest) <= 120:
            chapters.append((stamp, rest))
            continue
        in_chapters = False
        label = _LABEL_LINE.match(line)
        if label:  # "Jane Doe  12:30" on its own line, the words on the lines after it
            body_started = True
            pending = (label.group(1), seconds(label.group(2), label.group(3), label.group(4)))
            continue
        if pending is not None:
            cues.append(_Cue(line, pending[1], pending[0]))
            pending = None
            continue
        m = _SPEAKER.match(rest)
        is_turn = bool(m and m.group(1) in speakers)
        if not body_started:
            if stamp is None and not is_turn and not _dialogue(line, header):
                header.append(line)
                continue
            body_started = True
        if is_turn and m:
            cues.append(_Cue(m.group(2), stamp, m.group(1)))
        elif stamp is not None:
            cues.append(_Cue(rest, stamp, None))
        elif cues:
            cues.append(_Cue(line, None, cues[-1].speaker))
        else:
            cues.append(_Cue(line))
    return _document(header, cues, chapters, url)


def _dialogue(line: str, header: list[str]) -> bool:
    """A long prose line after a few header lines, or many lines: the talk has begun."""
    return len(header) >= _HEADER_MAX or len(line) > 300 or (len(header) >= 3 and len(line) > 120)


def _strip_stamp(line: str) -> tuple[int | None, str]:
    m = _CUE_LINE.match(line)
    if not m:
        return None, line
    return seconds(m.group(1), m.group(2), m.group(3)), m.group(4).strip()


def _document(
    header: list[str], cues: list[_Cue], chapters: list[tuple[int, str]], url: str | None
) -> Document:
    blocks: list[Block] = [Block(text=line, kind="meta") for line in header]
    blocks.extend(_turns(cues))
    speakers = _speakers_line(header)
    last = max((c.start for c in cues if c.start is not None), default=None)
    return Document(
        kind="transcript",
        blocks=tuple(blocks),
        header=tuple(header),
        chapters=tuple(chapters),
        speakers=speakers,
        url=url,
        duration=last,
    )


def _turns(cues: list[_Cue]) -> list[Block]:
    """Join consecutive cues of one speaker (bounded in size) into turns with marks."""
    out: list[Block] = []
    text = ""
    marks: list[tuple[int, int]] = []
    speaker: str | None = None
    start: int | None = None

    def flush() -> None:
        if text:
            out.append(
                Block(text=text, kind="cue", start=start, marks=tuple(marks), speaker=speaker)
            )

    for cue in cues:
        if text and (cue.speaker != speaker or len(text) + len(cue.text) > _TURN_CHARS):
            flush()
            text, marks, start = "", [], None
        speaker = cue.speaker
        if text:
            text += "\n"
        if cue.start is not None:
            marks.append((len(text), cue.start))
            if start is None:
                start = cue.start
        text += cue.text
    flush()
    return out


def _speakers_line(header: list[str]) -> tuple[tuple[str, str | None], ...]:
    for line in header:
        m = _SPEAKERS_LINE.match(line)
        if not m:
            continue
        out = []
        for part in re.split(r"\s*(?:,|;|\band\b|&)\s*", m.group(1)):
            role_m = re.search(r"\(([^)]*)\)", part)
            name = re.sub(r"\([^)]*\)", "", part).strip()
            role = None
            if role_m:
                role = "host" if "host" in role_m.group(1).lower() else "guest"
            if name:
                out.append((name, role))
        return tuple(out)
    return ()
