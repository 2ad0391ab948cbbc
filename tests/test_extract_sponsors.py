"""How sponsorship is said, and what is only talk about sponsorship.

Each case is a few sentences of show notes or transcript written for the test; the
expected brands, codes and starts are read off the text by hand.
"""

from __future__ import annotations

import pytest

from aggregator.config import SponsorSettings
from aggregator.extract import enrich_episode, episode_from_document
from aggregator.extract.registry import SponsorRegistry
from aggregator.extract.sponsors import placement
from aggregator.extract.text import (
    KeywordGroup,
    Keywords,
    Lowered,
    clean_url,
    find_all,
    text_domains,
    texts_with_domains,
)
from aggregator.model import Episode, Sponsor
from aggregator.parse.transcript import read_transcript


def _notes(html: str, show: str = "Test Show") -> list[Sponsor]:
    episode = Episode(show=show, title="An Episode", description_html=html)
    return list(enrich_episode(episode).sponsors)


def _paid(sponsors: list[Sponsor]) -> dict[str, Sponsor]:
    return {s.name: s for s in sponsors if s.kind == "sponsor"}


def _spoken(text: str) -> list[Sponsor]:
    return list(episode_from_document(read_transcript(text)).sponsors)


@pytest.mark.parametrize(
    ("html", "brands"),
    [
        ("<p>This episode is sponsored by Halcyon Ledger.</p>", {"Halcyon Ledger"}),
        ("<p>Brought to you by Mossbank, banking for bots.</p>", {"Mossbank"}),
        (
            "<p>Support for this show comes from Tinderbox Cloud, the CI that naps.</p>",
            {"Tinderbox Cloud"},
        ),
        ("<p>Thanks to Wickerly for sponsoring this week's episode.</p>", {"Wickerly"}),
        ("<p>Brindle is sponsoring us this week. Try it free.</p>", {"Brindle"}),
        ("<p>A quick word from our sponsor Ashgrove.</p>", {"Ashgrove"}),
        ("<p>Our sponsor this week is Peregrine Pay.</p>", {"Peregrine Pay"}),
        ("<p>Sponsored by Quartzlight and Tamarind Labs.</p>", {"Quartzlight", "Tamarind Labs"}),
        (
            "<p><strong>Sponsors</strong></p><ul><li><a href='https://kestrel.example/'>Kestrel</a>"
            " &ndash; uptime checks.</li></ul>",
            {"Kestrel"},
        ),
        (
            "<p>Sponsor: Nettlebridge (https://nettlebridge.example) - deploys.</p>",
            {"Nettlebridge"},
        ),
        (
            "<p>Today's show is made possible by <a href='https://lumenfold.example/x'>the people"
            " who made our favourite terminal</a>.</p>",
            {"Lumenfold"},
        ),
        ("<p>Episode sponsor — Crowbar Cloud. Promo code: CROW5.</p>", {"Crowbar Cloud"}),
        ("<p>Nightjar makes this show possible.</p>", {"Nightjar"}),
        ("<p>Thank you Kestrelly for sponsoring this episode!</p>", {"Kestrelly"}),
        ("<p>Huge thanks to Palisade, our sponsor this week.</p>", {"Palisade"}),
        (
            "<p>This podcast is supported by listeners like you and by Harrier DB.</p>",
            {"Harrier DB"},
        ),
        (
            "<p>Many thanks to <a href='https://quillon.example/x'>Quillon</a>, who sponsored this"
            " episode.</p>",
            {"Quillon"},
        ),
        ("<p>Advertisement: Sandpiper Hosting - fast VPS.</p>", {"Sandpiper Hosting"}),
        (
            "<p>Check out this week's sponsor, Mistral Forms, at mistralforms.example.</p>",
            {"Mistral Forms"},
        ),
        ("<p>Test Show is sponsored by Dovetail Data.</p>", {"Dovetail Data"}),
        (
            "<p>This episode is brought to you by Cardwell Metrics (cardwell.example) and by"
            " Strand Notebook.</p>",
            {"Cardwell Metrics", "Strand Notebook"},
        ),
    ],
)
def test_sponsorship_phrasings(html: str, brands: set[str]) -> None:
    assert set(_paid(_notes(html))) == brands


@pytest.mark.parametrize(
    "html",
    [
        "<p>She explains GitHub Sponsors, and how Wrenfield sponsors her work through it.</p>",
        "<p>Our fiscal sponsor, the Tidewell Commons, holds the money.</p>",
        "<p>My employer sponsored my trip to the sprint.</p>",
        "<p>The conference was sponsored by Glenmarrow Inc, who ran the booth.</p>",
        "<p>Interested in sponsoring the show? Email us.</p>",
        "<p>I used Pinehollow at my last job and liked it.</p>",
        "<p>Thanks to everyone who supports us on Patreon!</p>",
        "<h3>Related episodes</h3><p>Episode 3: this one was sponsored by Oldmere.</p>",
        "<h3>Past sponsors</h3><ul><li><a href='https://formerly.example'>Formerly</a></li></ul>",
        "<p>PyCon was sponsored by Blueshift this year.</p>",
        "<p>He thanks Grimsby Labs for supporting his open source work.</p>",
        "<p>We had fun at the sprint, which was sponsored by Glassmoor Labs.</p>",
        "<p>Thanks to Ada Moss for joining us this week.</p>",
        "<p>We're looking for sponsors! Our sponsorship packages start at $500.</p>",
    ],
)
def test_talk_about_sponsorship_is_not_a_sponsor(html: str) -> None:
    assert _paid(_notes(html)) == {}


def test_the_shows_own_things_are_self_promotion() -> None:
    sponsors = _notes(
        "<p>Sponsored by Fenwick.</p><p>Back us on <a href='https://www.patreon.com/ts'>Patreon</a>"
        " and subscribe to our newsletter.</p>"
    )
    kinds = {(s.name, s.kind) for s in sponsors}
    assert kinds == {("Fenwick", "sponsor"), ("Patreon", "self_promo"), ("Test Show", "self_promo")}


def test_an_ad_chapter_naming_the_show_is_self_promotion() -> None:
    html = "<ul><li>00:00 Hello</li><li>10:00 Test Show ad segment / merch</li></ul>"
    sponsors = _notes(html)
    assert [(s.name, s.kind) for s in sponsors] == [("Test Show", "self_promo")]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Sponsored by Fenwick. Use code FENWICK20 for 20% off.", "FENWICK20"),
        ("Sponsored by Fenwick. Use the promo code tally ho, all one word.", "tallyho"),
        ("Sponsored by Fenwick. Use code maple, that's M A P L E, at signup.", "MAPLE"),
        ("Sponsored by Fenwick. Enter coupon SPRING at checkout.", "SPRING"),
        ("Sponsored by Fenwick, code review tools for teams.", None),
        ("Sponsored by Fenwick, with real code review. Use the promo code SAMPLE now.", "SAMPLE"),
    ],
)
def test_codes_as_they_are_said(text: str, code: str | None) -> None:
    assert _paid(_notes(f"<p>{text}</p>"))["Fenwick"].promo_code == code


def test_a_code_for_the_shows_own_course_stays_with_the_show() -> None:
    sponsors = _notes(
        "<p>Sponsored by Fenwick.</p><p>My course is at teststudio.example/course, and "
        "listeners save with the code COURSE10.</p>"
    )
    assert _paid(sponsors)["Fenwick"].promo_code is None
    own = [s for s in sponsors if s.kind == "self_promo"]
    assert [s.promo_code for s in own] == ["COURSE10"]


def test_a_code_next_to_an_unknown_brand_is_not_given_to_another() -> None:
    sponsors = _notes(
        "<p>Thanks to <a href='https://alderpay.example'>Alderpay</a> for sponsoring.</p>"
        "<p>Visit inkwell.example/show and enter promo code INKY at checkout.</p>"
    )
    assert _paid(sponsors)["Alderpay"].promo_code is None


def test_a_code_in_the_sponsor_link_counts() -> None:
    sponsors = _notes(
        "<p>Brought to you by <a href='https://tessello.example/join?code=SHOWPAL&utm_source=x'>"
        "Tessello</a>.</p>"
    )
    tessello = _paid(sponsors)["Tessello"]
    assert tessello.promo_code == "SHOWPAL"
    assert tessello.url == "https://tessello.example/join?code=SHOWPAL"


def test_a_banner_gives_its_code_to_the_linked_brand() -> None:
    sponsors = _notes(
        "<p>We are sponsored by Cobbleworth this week.</p>"
        "<div><a href='https://cobbleworth.example/p'><img src='b.png' alt='banner'></a><br/>"
        "<p>Use the promo code cobble24 to get a $20 credit.</p></div>"
    )
    assert _paid(sponsors)["Cobbleworth"].promo_code == "cobble24"


def test_mentions_merge_and_a_misheard_name_takes_the_domain_spelling() -> None:
    sponsors = _spoken(
        "00:00 HOST: Welcome. This episode is brought to you by Sail Wise.\n"
        "10:00 HOST: Thanks to our sponsor Sailwise, find them at sailwise.example/pod.\n"
        "20:00 HOST: Thanks again to Sailwise for supporting the show.\n"
        "30:00 HOST: Bye.\n"
    )
    [sailwise] = [s for s in sponsors if s.kind == "sponsor"]
    assert sailwise.name == "Sailwise"
    assert sailwise.start == 0
    assert sailwise.url == "https://sailwise.example/pod"


def test_a_short_name_after_the_full_one_is_the_same_brand() -> None:
    sponsors = _spoken(
        "00:10 HOST: Support for this show comes from Harrowgate Cloud.\n"
        "12:00 HOST: Thanks to Harrowgate for supporting the show.\n"
    )
    assert [s.name for s in sponsors if s.kind == "sponsor"] == ["Harrowgate Cloud"]


def test_the_registry_repairs_a_misheard_known_brand() -> None:
    sponsors = _spoken("00:05 HOST: This episode is brought to you by mail trap, email testing.\n")
    assert [s.name for s in sponsors if s.kind == "sponsor"] == ["Mailtrap"]


def test_the_registry_repairs_a_name_that_sounds_alike() -> None:
    sponsors = _spoken("00:05 HOST: This episode is brought to you by hostinjer.\n")
    assert [s.name for s in sponsors if s.kind == "sponsor"] == ["Hostinger"]


def test_an_unknown_lower_case_word_after_a_phrase_is_not_a_brand() -> None:
    sponsors = _spoken("00:05 HOST: This episode is brought to you by coffee, mostly.\n")
    assert _paid(sponsors) == {}


def test_the_registry_names_a_brand_known_only_by_its_link() -> None:
    sponsors = _notes(
        "<p>This week is supported by <a href='https://www.datadoghq.com/podcast'>our "
        "monitoring friends</a>.</p>"
    )
    assert set(_paid(sponsors)) == {"Datadog"}


def test_registry_lookups() -> None:
    registry = SponsorRegistry.default()
    assert registry.lookup("nord vpn").name == "NordVPN"
    assert registry.by_domain("https://go.mailtrap.io/x").name == "Mailtrap"
    assert registry.lookup("Snowvale") is None
    assert registry.repair("Snowvale") is None
    extended = registry.extended(
        [SponsorSettings(name="Snowvale", aliases=("Snow Vale",), domains=("snowvale.example",))]
    )
    assert extended.lookup("snow vale").name == "Snowvale"
    assert extended.by_domain("snowvale.example").name == "Snowvale"
    assert len(extended) == len(registry) + 1
    assert registry.lookup("Snowvale") is None  # the default is not changed


def test_a_configured_brand_canonicalises_its_spelling() -> None:
    registry = SponsorRegistry.default().extended(
        [SponsorSettings(name="Snowvale HQ", aliases=("Snowvale",))]
    )
    episode = Episode(show="S", title="T", description_html="<p>Sponsored by Snowvale.</p>")
    assert [s.name for s in enrich_episode(episode, registry=registry).sponsors] == ["Snowvale HQ"]


@pytest.mark.parametrize(
    ("start", "duration", "expected"),
    [
        (0, 3000, "pre"),
        (299, 3000, "pre"),
        (300, 3000, "mid"),
        (2700, 3000, "mid"),
        (2701, 3000, "post"),
        (100, None, None),
        (None, 3000, None),
    ],
)
def test_placement(start: int | None, duration: int | None, expected: str | None) -> None:
    assert placement(start, duration) == expected


def test_tracking_parameters_are_stripped_from_urls() -> None:
    url = "https://Brand.example/x?utm_source=a&ref=b&fbclid=c&code=KEEP&via=d"
    assert clean_url(url) == "https://brand.example/x?code=KEEP"


_NEEDLES = ("sponsor", "support us", "ad -", "shop", "workshop", "ko-fi", "code")
_TEXTS = [
    "Thanks to our SPONSOR.",
    "Plain prose about a database.",
    "Ad - a workshop today; support us on Ko-fi",
    "İstanbul sponsor, use code X",
    "support  us (two spaces) is not the needle",
]


def test_keywords_mark_the_texts_a_plain_search_finds_needles_in():
    needles = Keywords(_NEEDLES)
    got = needles.group.find_all(_TEXTS)[needles]
    want = [find_all(text, _NEEDLES) for text in _TEXTS]
    assert got[0] == [14]
    assert got[1] == [] and got[4] == []
    assert [bool(g) for g in got] == [bool(w) for w in want]
    assert all(set(g) <= set(w) for g, w in zip(got, want, strict=True))
    # 'workshop' holds 'shop': one of the two overlapping starts is enough
    assert {0, 23, 37} <= set(got[2]) and set(got[2]) & {7, 11}


def test_a_group_finds_each_members_needles_where_another_members_match_hides_them():
    group = KeywordGroup()
    short, long, tail = (
        Keywords(("support",), group),
        Keywords(("support us",), group),
        Keywords(("rt u",), group),
    )
    texts = ["Please SUPPORT US today", "support the team", "no needle"]
    found = group.find_all(texts)
    assert found[short] == [[7], [0], []]
    assert found[long] == [[7], [], []]
    assert found[tail] == [[12], [], []]
    alone = Keywords(("support us",))
    assert alone.group.find_all(texts)[alone] == found[long]


@pytest.mark.parametrize(
    "text", ["Sponsored BY Acme", "ſponsored by Acme", "nothing here", "SPONSORED\tby  X"]
)
def test_lowered_patterns_find_what_case_insensitive_ones_find(text: str) -> None:
    pattern = Lowered(r"\bsponsored\s+by\s+\w+")
    got, want = pattern.search(text), pattern.pattern.search(text)
    assert (got and got.span()) == (want and want.span())


def test_lowered_patterns_must_be_written_in_lower_case():
    with pytest.raises(ValueError):
        Lowered(r"[A-Z]\w+")


def test_texts_with_domains_are_those_text_domains_reads():
    texts = ["see acme.io/show", "Prose. More prose.", "go to acme dot com", "e.g. nothing", "A.B"]
    want = {i for i, t in enumerate(texts) if list(text_domains(t))}
    assert want == {0, 2}
    assert want <= texts_with_domains(texts)
    assert 1 not in texts_with_domains(texts)
