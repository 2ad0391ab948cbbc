"""Render a sample digest (invented shows) and screenshot it in headless Chromium.

Run from the repository root: ``.venv/bin/python docs/make_digest_screenshots.py``.
Writes ``docs/digest-desktop.png`` and ``docs/digest-phone.png``; ``--dark`` adds
``docs/digest-dark.png`` (prefers-color-scheme: dark) for checking, not for committing.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from aggregator import digest as content
from aggregator.config import DigestSettings, default_templates_dir
from aggregator.model import Enclosure, Episode, Person, Sponsor

DOCS = Path(__file__).resolve().parent
EST = timezone(timedelta(hours=-5))
CET = timezone(timedelta(hours=1))
SIZES = {"desktop": (1280, 1560), "phone": (390, 1760)}


def sample() -> list[Episode]:
    return [
        Episode(
            show="Tidal Notes",
            title="Salt marshes at night",
            number=41,
            published=datetime(2024, 3, 4, 18, 30, tzinfo=EST),
            duration=2730,
            link="https://tidal.example/41",
            enclosure=Enclosure("https://cdn.tidal.example/41.mp3", "audio/mpeg"),
            transcript_url="https://tidal.example/41/transcript",
            people=(Person("Marguerite Okonjo-Ibáñez"), Person("Dee Marsh", role="host")),
            summary=(
                "We wade out after dark with a hydrophone and a thermos. Crabs click, reeds "
                "hiss, and a heron complains about the whole thing. Marguerite explains why "
                "the marsh is loudest an hour after the tide turns."
            ),
            sponsors=(
                Sponsor("Loamwell Boots", promo_code="TIDAL15", offer="15% off your first pair"),
                Sponsor("Tidal Notes Supporters", kind="self_promo"),
            ),
        ),
        Episode(
            show="Tidal Notes",
            title="Listener mail: the great kelp debate",
            number=40,
            published=datetime(2024, 3, 2, 9, 0, tzinfo=EST),
            duration=1980,
            link="https://tidal.example/40",
            enclosure=Enclosure("https://cdn.tidal.example/40.mp3", "audio/mpeg"),
            summary="Is kelp a plant? You wrote in. Many of you were upset.",
        ),
        Episode(
            show="Café Über Alles",
            title="Crème brûlée for 200 — a disaster in three acts",
            published=datetime(2024, 3, 3, 12, 0, tzinfo=CET),
            duration=5430,
            link="https://cafe.example/ep/creme",
            enclosure=Enclosure("https://cafe.example/audio/creme.mp3", "audio/mpeg"),
            people=(Person("Søren Ærø"), Person("Ünal Çelik")),
            summary=(
                "A catering order goes wrong in every way a catering order can go wrong, and "
                "then in one more. Our guests tell the story with the patience of people who "
                "have finally stopped smelling burnt sugar in their dreams, and they explain "
                "what the torch was really for."
            ),
            sponsors=(Sponsor("Copperpot Knives", promo_code="CAFE", offer="free sharpening"),),
        ),
        Episode(
            show="Spreadsheet Nights",
            title="Pivot tables and the meaning of life",
            number=7,
            published=datetime(2024, 3, 1, 20, 0, tzinfo=UTC),
            duration=1500,
            link="https://sheets.example/7",
            enclosure=Enclosure("https://sheets.example/7.m4a", "audio/mp4"),
            summary="Accountants weigh in on keyboard shortcuts, and one of them has opinions.",
            sponsors=(Sponsor("Gridline", promo_code="NIGHTS"),),
        ),
        Episode(
            show="The Long Way Round",
            title=(
                "Walking the old post road from one end to the other, with a map that was "
                "wrong in instructive ways"
            ),
            number=112,
            published=datetime(2024, 2, 29, 7, 0, tzinfo=UTC),
            duration=7260,
            link="https://longway.example/112",
            enclosure=Enclosure("https://longway.example/112.mp3", "audio/mpeg"),
            transcript_url="https://longway.example/112.vtt",
            people=(Person("Priya Raghunathan"), Person("Tomás O’Byrne")),
            summary="Eleven days, one blister diary, and a very patient innkeeper.",
        ),
    ]


def render() -> str:
    digest = DigestSettings(name="weekly", to=["reader@example.org"], timezone="Europe/Berlin")
    end = datetime(2024, 3, 5, 6, 0, tzinfo=UTC)
    view = content.build_view(
        digest,
        sample(),
        window=content.Window(end - timedelta(days=7), end),
        period=content.period_key(digest, end),
        recipient="reader@example.org",
        sender="digest@example.org",
    )
    return content.render(content.make_env(default_templates_dir()), view).html


def screenshot(browser: str, page: Path, out: Path, size: tuple[int, int], *extra: str) -> None:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--screenshot={out}",
                f"--window-size={size[0]},{size[1]}",
                *extra,
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


def main(argv: list[str]) -> int:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("chromium not found (Debian: apt-get install chromium)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "digest.html"
        page.write_text(render(), encoding="utf-8")
        for name, size in SIZES.items():
            screenshot(browser, page, DOCS / f"digest-{name}.png", size)
        if "--dark" in argv:
            screenshot(
                browser,
                page,
                DOCS / "digest-dark.png",
                SIZES["desktop"],
                "--force-dark-mode",
                "--blink-settings=preferredColorScheme=0",
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
