"""The digest workflow end to end: real Store (SQLite file and PostgreSQL), real SMTP server
(aiosmtpd on 127.0.0.1), and a fake clock driving the schedule over a simulated week."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest

from aggregator import deliver
from aggregator import digest as content
from aggregator.config import Settings, SmtpSettings
from aggregator.model import Enclosure, Episode
from aggregator.store import Store
from smtpserver import Inbox, LoopbackController, smtp_server

MONDAY = datetime(2024, 3, 4, 0, 0, tzinfo=UTC)
SHOWS = ("Tidal Notes", "Café Über Alles", "Spreadsheet Nights")
SCRIPT_TITLE = "Crème brûlée für 200 <script>alert(1)</script>"
ZOE = "Zoë Ångström <zoe@example.org>"
DAILY = {
    "name": "daily",
    "schedule": "0 7 * * *",
    "timezone": "Europe/Berlin",  # 06:00 UTC in March
    "to": [ZOE, "sam@example.org"],
    "subject": "Neues für dich: {{ count }} Folge{{ 'n' if count != 1 }}",
    "shows": {"exclude": ["Spreadsheet Nights"]},
}
WEEKLY = {
    "name": "weekly",
    "schedule": "0 8 * * mon",
    "timezone": "UTC",
    "to": ["weekly@example.org"],
    "shows": {"include": ["Tidal Notes", "Spreadsheet Nights"]},
}


@dataclass
class Clock:
    """The only time there is in these tests."""

    now: datetime

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def make_settings(tmp_path: Path, db_url: str, port: int, *digests: dict[str, Any]) -> Settings:
    return Settings.model_validate(
        {
            "state_dir": tmp_path,
            "database": db_url,
            "feeds": [
                {"name": show, "url": f"https://feeds.example/{i}.xml"}
                for i, show in enumerate(SHOWS)
            ],
            "smtp": {
                "host": "127.0.0.1",
                "port": port,
                "security": "none",
                "from": "Podcast Digest <digest@example.org>",
                "timeout": "5s",
            },
            "digests": list(digests),
        }
    )


def smtp_of(settings: Settings) -> SmtpSettings:
    assert settings.smtp is not None
    return settings.smtp


def open_store(settings: Settings, now: datetime) -> Store:
    store = Store(settings.database_url)
    store.upgrade()
    store.sync_sources(settings, now)
    return store


def add_episode(store: Store, show: str, title: str, now: datetime) -> None:
    source = {s.name: s.id for s in store.all_sources()}[show]
    slug = "-".join(title.lower().split()[:3])
    ep = Episode(
        show=show,
        title=title,
        guid=f"{show}/{slug}",
        published=now,
        duration=1800,
        link=f"https://shows.example/{slug}",
        enclosure=Enclosure(f"https://cdn.example/{slug}.mp3", "audio/mpeg"),
        summary=f"About {title}.",
    )
    store.upsert_episodes(source, [ep], now=now)


def text_of(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def html_of(msg: EmailMessage) -> str:
    part = msg.get_body(("html",))
    assert part is not None
    return str(part.get_content())


@pytest.fixture
def server() -> Iterator[tuple[LoopbackController, Inbox]]:
    with smtp_server() as running:
        yield running


# The week: (first seen, show, title). Times are tick times, so first_seen_at is exact.
WEEK = [
    (MONDAY, "Spreadsheet Nights", "Opening night"),
    (MONDAY + timedelta(hours=10), "Tidal Notes", "Salt marshes at night"),
    (MONDAY + timedelta(days=1, hours=5, minutes=30), "Café Über Alles", SCRIPT_TITLE),
    (MONDAY + timedelta(days=2, hours=12), "Spreadsheet Nights", "Pivot tables"),
    # Exactly at Friday's fire time: windows are [start, end), so Saturday's digest has it.
    (MONDAY + timedelta(days=4, hours=6), "Tidal Notes", "Tide pools, part 2"),
    (MONDAY + timedelta(days=7, hours=7, minutes=30), "Tidal Notes", "Before the weekly"),
]
TITLES = [title for _, _, title in WEEK]


def simulate(settings: Settings, clock: Clock, until: datetime, *, restart_at: datetime) -> Store:
    """Tick every 30 minutes like the daemon: poll (add episodes), fire due digests, deliver."""
    step = timedelta(minutes=30)
    triggers = {d.name: content.trigger(d) for d in settings.digests}
    next_fire = {name: t.get_next_fire_time(None, clock.now) for name, t in triggers.items()}
    store = open_store(settings, clock.now)
    while clock.now <= until:
        if clock.now == restart_at:
            store.close()
            store = open_store(settings, clock.now)
            # A restarted daemon may run the latest (misfired) job again: it must queue nothing.
            for name in triggers:
                assert deliver.run_scheduled_digest(store, settings, name, now=clock.now) == 0
        for when, show, title in WEEK:
            if when == clock.now:
                add_episode(store, show, title, clock.now)
        for name, trigger in triggers.items():
            fire = next_fire[name]
            if fire is not None and fire <= clock.now:
                deliver.run_scheduled_digest(store, settings, name, now=clock.now)
                next_fire[name] = trigger.get_next_fire_time(fire, clock.now)
        deliver.deliver_due(store, smtp_of(settings), now=clock.now)
        clock.advance(step)
    return store


def test_a_week_of_two_digests_delivers_each_episode_once_to_each_reader(
    db_url: str, tmp_path: Path, server: tuple[LoopbackController, Inbox]
) -> None:
    controller, inbox = server
    settings = make_settings(tmp_path, db_url, controller.port, DAILY, WEEKLY)
    clock = Clock(MONDAY)
    store = simulate(
        settings, clock, MONDAY + timedelta(days=7, hours=9), restart_at=MONDAY + timedelta(days=2)
    )
    try:
        rows = store.outbox_rows()
    finally:
        store.close()

    def received_titles(address: str) -> list[set[str]]:
        return [{t for t in TITLES if t in text_of(m)} for m in inbox.to(address)]

    tuesday = {"Salt marshes at night", SCRIPT_TITLE}
    assert received_titles("zoe@example.org") == [tuesday, {"Tide pools, part 2"}]
    assert received_titles("sam@example.org") == [tuesday, {"Tide pools, part 2"}]
    assert received_titles("weekly@example.org") == [
        {"Opening night"},
        {"Salt marshes at night", "Pivot tables", "Tide pools, part 2", "Before the weekly"},
    ]
    assert len(inbox.received) == 6
    assert len({r.message()["Message-ID"] for r in inbox.received}) == 6
    assert [(r.status, r.attempts) for r in rows] == [("sent", 1)] * 6
    assert {r.period for r in rows if r.digest == "daily"} == {
        "2024-03-05T07:00:00+01:00",
        "2024-03-09T07:00:00+01:00",
    }

    first = inbox.to("zoe@example.org")[0]
    assert first["Subject"] == "Neues für dich: 2 Folgen"
    assert first["To"].addresses[0].display_name == "Zoë Ångström"
    assert first["List-Id"] == "Podcast digest daily <daily.aggregator.localhost>"
    assert first["List-Unsubscribe"] == "<mailto:digest@example.org?subject=unsubscribe%20daily>"
    assert "Café Über Alles" in text_of(first)
    html = html_of(first)
    assert "Crème brûlée für 200 &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html


def test_smtp_outage_is_retried_with_backoff_until_the_server_returns(
    db_url: str, tmp_path: Path
) -> None:
    with smtp_server() as (controller, _):
        port = controller.port
    settings = make_settings(tmp_path, db_url, port, DAILY)
    fire = MONDAY + timedelta(hours=6)
    clock = Clock(fire - timedelta(hours=1))
    store = open_store(settings, clock.now)
    add_episode(store, "Tidal Notes", "Salt marshes at night", clock.now)
    clock.now = fire
    assert deliver.run_scheduled_digest(store, settings, "daily", now=clock.now) == 2

    def tick() -> deliver.DeliveryReport:
        return deliver.deliver_due(store, smtp_of(settings), now=clock.now, rand=lambda: 0.5)

    tried: list[int] = []
    while clock.now < fire + timedelta(minutes=20):  # server down
        if tick().failed:
            tried.append(int((clock.now - fire).total_seconds() // 60))
        clock.advance(timedelta(minutes=1))
    # Backoff doubles from one minute (jitter pinned to its middle).
    assert tried == [0, 1, 3, 7, 15]
    failed = store.outbox_rows("daily")
    assert {(r.status, r.attempts) for r in failed} == {("failed", 5)}
    assert all(r.next_attempt_at == fire + timedelta(minutes=31) for r in failed)
    assert all(r.last_error and "cannot connect" in r.last_error for r in failed)

    with smtp_server(port=port) as (_, inbox):
        sent_at: list[int] = []
        while clock.now <= fire + timedelta(hours=1):
            if tick().sent:
                sent_at.append(int((clock.now - fire).total_seconds() // 60))
            clock.advance(timedelta(minutes=1))
    rows = store.outbox_rows("daily")
    store.close()
    assert sent_at == [31]
    assert sorted(r for m in inbox.received for r in m.rcpt_to) == [
        "sam@example.org",
        "zoe@example.org",
    ]
    assert {(r.status, r.attempts, r.last_error) for r in rows} == {("sent", 6, None)}


def test_a_crash_after_the_hand_off_resends_once_and_says_so(
    db_url: str,
    tmp_path: Path,
    server: tuple[LoopbackController, Inbox],
    caplog: pytest.LogCaptureFixture,
) -> None:
    controller, inbox = server
    settings = make_settings(tmp_path, db_url, controller.port, {**DAILY, "to": [ZOE]})
    fire = MONDAY + timedelta(hours=6)
    store = open_store(settings, fire)
    add_episode(store, "Tidal Notes", "Salt marshes at night", fire - timedelta(hours=1))
    deliver.run_scheduled_digest(store, settings, "daily", now=fire)

    def send_then_die(*args: Any, **kwargs: Any) -> None:
        deliver.mail.send(*args, **kwargs)
        raise SystemExit("killed between acceptance and marking")

    with pytest.raises(SystemExit):
        deliver.deliver_due(store, smtp_of(settings), now=fire, send=send_then_die)
    assert [r.status for r in store.outbox_rows()] == ["sending"]
    store.close()

    caplog.set_level(logging.INFO, logger="aggregator.deliver")
    store = open_store(settings, fire)  # the restarted daemon
    smtp = smtp_of(settings)
    early = deliver.deliver_due(store, smtp, now=fire + timedelta(minutes=5))
    assert early == deliver.DeliveryReport()  # the lease of the lost attempt still runs
    late = deliver.deliver_due(store, smtp, now=fire + deliver.sending_lease(smtp))
    again = deliver.deliver_due(store, smtp, now=fire + timedelta(days=1))
    rows = store.outbox_rows()
    store.close()

    assert (len(late.sent), late.resent) == (1, [rows[0].id])
    assert again == deliver.DeliveryReport()
    assert len(inbox.received) == 2  # the one duplicate, and no more
    assert len({r.message()["Message-ID"] for r in inbox.received}) == 1
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "may get it twice" in warnings[0].getMessage()
    assert "zoe@example.org" in warnings[0].getMessage()
    assert [(r.status, r.attempts) for r in rows] == [("sent", 2)]


def test_a_refused_recipient_is_given_up_and_the_others_still_get_theirs(
    db_url: str,
    tmp_path: Path,
    server: tuple[LoopbackController, Inbox],
    caplog: pytest.LogCaptureFixture,
) -> None:
    controller, inbox = server
    inbox.refuse["zoe@example.org"] = "550 5.1.1 No such mailbox"
    settings = make_settings(tmp_path, db_url, controller.port, DAILY)
    fire = MONDAY + timedelta(hours=6)
    store = open_store(settings, fire)
    add_episode(store, "Tidal Notes", "Salt marshes at night", fire - timedelta(hours=1))
    deliver.run_scheduled_digest(store, settings, "daily", now=fire)
    report = deliver.deliver_due(store, smtp_of(settings), now=fire)
    later = deliver.deliver_due(store, smtp_of(settings), now=fire + timedelta(days=3))
    rows = {r.recipient: r for r in store.outbox_rows()}
    store.close()
    assert (len(report.sent), len(report.gave_up), later) == (1, 1, deliver.DeliveryReport())
    assert rows[ZOE].status == "failed" and rows[ZOE].next_attempt_at is None
    assert "550" in (rows[ZOE].last_error or "")
    assert rows["sam@example.org"].status == "sent"
    assert [r.rcpt_to for r in inbox.received] == [("sam@example.org",)]
    assert any(r.levelno == logging.ERROR and "giving up" in r.getMessage() for r in caplog.records)


def test_preparing_a_period_twice_queues_it_once(db_url: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, db_url, 25, DAILY)
    fire = MONDAY + timedelta(hours=6)
    store = open_store(settings, fire)
    add_episode(store, "Tidal Notes", "Salt marshes at night", fire - timedelta(hours=1))
    env = content.make_env(settings.templates)
    first = deliver.prepare_digest(store, settings, "daily", fire_time=fire, now=fire, env=env)
    second = deliver.prepare_digest(
        store, settings, "daily", fire_time=fire, now=fire + timedelta(minutes=3), env=env
    )
    rows = store.outbox_rows()
    mark = store.digest_watermark("daily")
    store.close()
    assert (first, second) == (2, 0)
    assert len(rows) == 2
    assert mark == fire


def test_dry_run_writes_eml_files_and_records_nothing(db_url: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, db_url, 25, DAILY)
    now = MONDAY + timedelta(hours=9)
    store = open_store(settings, MONDAY)
    add_episode(store, "Café Über Alles", SCRIPT_TITLE, MONDAY + timedelta(hours=1))
    add_episode(store, "Spreadsheet Nights", "Pivot tables", MONDAY + timedelta(hours=2))
    env = content.make_env(settings.templates)
    paths = deliver.dry_run(store, settings, "daily", tmp_path / "out", now=now, env=env)
    rows, mark = store.outbox_rows(), store.digest_watermark("daily")
    store.close()
    assert sorted(p.name for p in paths) == [
        "daily-sam@example.org.eml",
        "daily-zoe@example.org.eml",
    ]
    assert (rows, mark) == ([], None)
    msg = BytesParser(policy=policy.default).parsebytes(paths[0].read_bytes())
    assert isinstance(msg, EmailMessage)
    assert SCRIPT_TITLE in text_of(msg)
    assert "Pivot tables" not in text_of(msg)  # the daily digest excludes that show


def test_digest_command_sends_now_and_records_it(
    db_url: str,
    tmp_path: Path,
    server: tuple[LoopbackController, Inbox],
    capsys: pytest.CaptureFixture[str],
) -> None:
    controller, inbox = server
    settings = make_settings(tmp_path, db_url, controller.port, DAILY)
    store = open_store(settings, MONDAY)
    add_episode(store, "Tidal Notes", "Salt marshes at night", MONDAY + timedelta(hours=1))
    store.close()
    now = MONDAY + timedelta(hours=3, minutes=17)

    out = tmp_path / "preview"
    assert deliver.digest_command(settings, "daily", dry_run_dir=out, send=False, now=now) == 0
    assert len(list(out.glob("*.eml"))) == 2 and inbox.received == []

    assert deliver.digest_command(settings, "daily", dry_run_dir=None, send=True, now=now) == 0
    assert deliver.digest_command(settings, "daily", dry_run_dir=None, send=True, now=now) == 0
    later = now + timedelta(hours=1)
    assert deliver.digest_command(settings, "daily", dry_run_dir=None, send=True, now=later) == 0
    store = Store(settings.database_url)
    rows, mark = store.outbox_rows(), store.digest_watermark("daily")
    store.close()
    assert len(inbox.received) == 2
    assert {(r.period, r.status) for r in rows} == {("manual-2024-03-04T03:17:00+00:00", "sent")}
    assert mark == later  # the empty run still records that it covered its hour
    assert "2 queued, 2 sent, 0 failed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("attempts", "rand", "expected"),
    [
        (1, 0.0, timedelta(seconds=45)),
        (1, 1.0, timedelta(seconds=75)),
        (3, 0.5, timedelta(minutes=4)),
        (9, 0.5, timedelta(hours=4, minutes=16)),
        (10, 0.5, timedelta(hours=6)),
        (40, 1.0, timedelta(hours=7, minutes=30)),
    ],
)
def test_backoff_doubles_from_a_minute_to_six_hours(
    attempts: int, rand: float, expected: timedelta
) -> None:
    assert deliver.backoff(attempts, lambda: rand) == expected


def test_retries_stop_after_about_three_days(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with smtp_server() as (controller, _):
        port = controller.port  # nothing listens here any more
    settings = make_settings(tmp_path, db_url, port, {**DAILY, "to": ["sam@example.org"]})
    fire = MONDAY + timedelta(hours=6)
    store = open_store(settings, fire)
    add_episode(store, "Tidal Notes", "Salt marshes at night", fire - timedelta(hours=1))
    deliver.run_scheduled_digest(store, settings, "daily", now=fire)
    now, tries = fire, 0
    while True:
        report = deliver.deliver_due(store, smtp_of(settings), now=now, rand=lambda: 0.5)
        tries += 1
        if report.gave_up:
            break
        (row,) = store.outbox_rows()
        assert row.next_attempt_at is not None and tries < deliver.MAX_ATTEMPTS
        now = row.next_attempt_at
    (row,) = store.outbox_rows()
    later = deliver.deliver_due(store, smtp_of(settings), now=now + timedelta(days=30))
    store.close()
    # 1 + 2 + ... + 256 minutes, then ten waits of 6 hours.
    assert (tries, now - fire) == (20, timedelta(minutes=511, hours=60))
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 20, None)
    assert later == deliver.DeliveryReport()
    assert any("giving up" in r.getMessage() for r in caplog.records)


def test_an_unexpected_error_in_sending_is_a_failed_attempt(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path, db_url, 25, {**DAILY, "to": ["sam@example.org"]})
    fire = MONDAY + timedelta(hours=6)
    store = open_store(settings, fire)
    add_episode(store, "Tidal Notes", "Salt marshes at night", fire - timedelta(hours=1))
    deliver.run_scheduled_digest(store, settings, "daily", now=fire)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("bug in a sender")

    report = deliver.deliver_due(store, smtp_of(settings), now=fire, send=broken, rand=lambda: 0.5)
    (row,) = store.outbox_rows()
    store.close()
    assert len(report.failed) == 1
    assert (row.status, row.next_attempt_at) == ("failed", fire + timedelta(minutes=1))
    assert row.last_error == "RuntimeError: bug in a sender"
    assert any(r.levelno == logging.ERROR and r.exc_info for r in caplog.records)
