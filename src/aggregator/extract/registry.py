"""The sponsor registry: known brands with their aliases and domains.

The extractor finds sponsors without it. The registry canonicalises what it found
("datadoghq.com" is Datadog), names a brand that only a link revealed, and repairs names
that speech recognition misheard ("hostinjer" for Hostinger) by comparing how they sound.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING

from ruamel.yaml import YAML

from aggregator.extract.text import key, registrable

if TYPE_CHECKING:  # config pulls in pydantic and APScheduler, which parser workers never use
    from aggregator.config import SponsorSettings

_REPAIR_CUTOFF = 0.85
_REPAIR_CACHE = 4096


@dataclass(frozen=True, slots=True)
class Brand:
    name: str
    aliases: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()

    @property
    def spellings(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@lru_cache(maxsize=4096)
def sound_key(text: str) -> str:
    """A rough phonetic key, enough to pair a misheard word with a brand name.

    Soft c, ph and ck become what they sound like, doubled letters and silent h fold, and
    vowels after the first letter are dropped, so 'sitrus' and 'Citrus' share 'strs'.
    """
    k = key(text)
    k = re.sub(r"c(?=[eiy])", "s", k)
    k = k.replace("ph", "f").replace("ck", "k").replace("q", "k").replace("x", "ks")
    k = re.sub(r"c", "k", k)
    k = re.sub(r"z", "s", k)
    k = re.sub(r"(?<=[a-z])h", "", k)
    k = re.sub(r"(.)\1+", r"\1", k)
    return k[:1] + re.sub(r"[aeiouy]", "", k[1:])


def similar(heard: str, known: str) -> float:
    """How alike two brand spellings are (0..1): equal keys, equal sound, else letters."""
    return _similar_keys(key(heard), sound_key(heard), key(known), sound_key(known))


def _similar_keys(a: str, sa: str, b: str, sb: str) -> float:
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    if sa == sb and len(sa) >= 3:
        return 0.9
    if abs(len(a) - len(b)) > max(len(a), len(b)) * (1 - _REPAIR_CUTOFF) + 1:
        return 0.0
    if a[0] != b[0] and sa[:1] != sb[:1]:
        return 0.0
    matcher = difflib.SequenceMatcher(None, a, b)
    if matcher.real_quick_ratio() < _REPAIR_CUTOFF or matcher.quick_ratio() < _REPAIR_CUTOFF:
        return matcher.quick_ratio() * 0.5
    return matcher.ratio()


class SponsorRegistry:
    """Known brands, looked up by name, alias or domain, and by sound for repairs."""

    def __init__(self, brands: Iterable[Brand] = ()) -> None:
        self._brands: list[Brand] = []
        self._sounds: list[tuple[Brand, str, str]] = []
        self._repaired: dict[str, Brand | None] = {}
        self._by_key: dict[str, Brand] = {}
        self._by_domain: dict[str, Brand] = {}
        for brand in brands:
            self._add(brand)

    def _add(self, brand: Brand) -> None:
        self._brands.append(brand)
        for spelling in brand.spellings:
            self._by_key.setdefault(key(spelling), brand)
            self._sounds.append((brand, key(spelling), sound_key(spelling)))
        for domain in brand.domains:
            self._by_domain.setdefault(domain.lower().strip(), brand)

    @classmethod
    def default(cls) -> SponsorRegistry:
        """The registry shipped in ``aggregator/data/sponsors.yaml``."""
        return _default()

    def extended(self, extra: Sequence[SponsorSettings]) -> SponsorRegistry:
        """A new registry with ``extra`` (from feeds.yaml) ahead of the shipped brands."""
        added = [
            Brand(s.name, tuple(s.aliases), tuple(d.lower() for d in s.domains)) for s in extra
        ]
        return SponsorRegistry([*added, *self._brands])

    def __iter__(self) -> Iterator[Brand]:
        return iter(self._brands)

    def __len__(self) -> int:
        return len(self._brands)

    def lookup(self, name: str) -> Brand | None:
        """Exact lookup by name or alias, ignoring case, spaces and punctuation."""
        return self._by_key.get(key(name)) if name else None

    def by_domain(self, url_or_host: str) -> Brand | None:
        """The brand whose domain the URL or host belongs to."""
        host = url_or_host.lower()
        if "://" in host:
            host = host.split("://", 1)[1]
        host = host.split("/")[0].split(":")[0]
        while host:
            if host in self._by_domain:
                return self._by_domain[host]
            if "." not in host:
                break
            host = host.split(".", 1)[1]
        reg = registrable(url_or_host.split("://")[-1].split("/")[0])
        return self._by_domain.get(reg)

    def repair(self, heard: str) -> Brand | None:
        """The known brand a misheard name most likely stands for, if any is close."""
        found = self.lookup(heard)
        if found or len(key(heard)) < 4:
            return found
        if heard in self._repaired:
            return self._repaired[heard]
        heard_key, heard_sound = key(heard), sound_key(heard)
        best, score = None, _REPAIR_CUTOFF
        for brand, spelling_key, spelling_sound in self._sounds:
            s = _similar_keys(heard_key, heard_sound, spelling_key, spelling_sound)
            if s >= score and (best is None or s > score):
                best, score = brand, s
        if len(self._repaired) >= _REPAIR_CACHE:
            self._repaired.clear()
        self._repaired[heard] = best
        return best


@lru_cache(maxsize=1)
def _default() -> SponsorRegistry:
    text = resources.files("aggregator").joinpath("data/sponsors.yaml").read_text("utf-8")
    rows = YAML(typ="safe", pure=True).load(text) or []
    return SponsorRegistry(
        Brand(
            str(r["name"]),
            tuple(str(a) for a in r.get("aliases") or ()),
            tuple(str(d).lower() for d in r.get("domains") or ()),
        )
        for r in rows
    )
