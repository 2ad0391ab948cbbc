"""Digests from the database to the mailbox, exactly once.

The workflow is an outbox: :func:`prepare_digest` renders every recipient's message and
writes them, with the new watermark, in one transaction *before* anything is sent;
:func:`deliver_due` hands due rows to SMTP and records the outcome. All retry state
(status, attempts, next attempt) lives in the database, so restarts lose nothing and
never repeat a message marked sent. The one gap SMTP leaves, a crash after the server
accepted a message but before it was marked sent, is closed by re-sending (at most one
duplicate, with the same Message-ID) and saying so in the log.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import jinja2

from aggregator import digest as content
from aggregator import mail
from aggregator.config import DigestSettings, Settings, SmtpSettings
from aggregator.model import Episode
from aggregator.store.records import OutboxRow, OutboxStatus, StoredEpisode

log = logging.getLogger(__name__)

FIRST_RETRY = timedelta(minutes=1)
MAX_RETRY = timedelta(hours=6)
MAX_ATTEMPTS = 20  # with the doubling up to 6 h, about three days of trying
MIN_SENDING_LEASE = timedelta(minutes=10)


class DigestStore(Protocol):
    """What this module needs from :class:`aggregator.store.Store`."""

    def digest_watermark(self, name: str) -> datetime | None: ...

    def episodes_between(
        self, start: datetime, end: datetime, *, shows: Sequence[str] | None = None
    ) -> list[StoredEpisode]: ...

    def enqueue_digest(
        self,
        name: str,
        period: str,
        payloads: Mapping[str, bytes],
        *,
        watermark: datetime,
        now: datetime,
    ) -> int: ...

    def outbox_due(self, now: datetime) -> list[OutboxRow]: ...

    def outbox_mark(
        self,
        outbox_id: int,
        *,
        status: OutboxStatus,
        now: datetime,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
        message_id: str | None = None,
        expect_attempts: int | None = None,
    ) -> bool: ...


Sender = Callable[..., None]  # (smtp, payload, *, recipient) -> None, raises mail.SendError


@dataclass
class DeliveryReport:
    """Outbox row ids by outcome of one :func:`deliver_due` pass."""

    sent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)  # will be retried
    gave_up: list[int] = field(default_factory=list)
    resent: list[int] = field(default_factory=list)  # found in 'sending': maybe a duplicate


def find_digest(settings: Settings, name: str) -> DigestSettings:
    for d in settings.digests:
        if d.name == name:
            return d
    raise KeyError(f"no digest named {name!r}")


def backoff(attempts: int, rand: Callable[[], float] = random.random) -> timedelta:
    """1 min doubling to 6 h, ±25 % jitter so many failed rows do not retry in lockstep."""
    base = min(MAX_RETRY, FIRST_RETRY * 2 ** max(0, attempts - 1))
    return base * (0.75 + 0.5 * rand())


def compose(
    settings: Settings,
    digest: DigestSettings,
    episodes: Sequence[Episode],
    *,
    window: content.Window,
    period: str,
    now: datetime,
    env: jinja2.Environment,
) -> dict[str, bytes]:
    """One complete RFC 5322 message per recipient (pure). Keys are the configured ``to``."""
    if settings.smtp is None:
        raise ValueError("digests need an smtp section for the From address")
    sender = settings.smtp.from_
    sender_addr = mail.addr_spec(sender)
    domain = mail.domain_of(sender)
    payloads: dict[str, bytes] = {}
    for recipient in digest.to:
        view = content.build_view(
            digest,
            episodes,
            window=window,
            period=period,
            recipient=mail.addr_spec(recipient),
            sender=sender_addr,
        )
        rendered = content.render(env, view)
        payloads[recipient] = mail.build_message(
            sender=sender,
            recipient=recipient,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            date=now,
            message_id=mail.stable_message_id(
                digest.name, period, mail.addr_spec(recipient).lower(), domain=domain
            ),
            headers={
                "List-Id": f"Podcast digest {digest.name} <{digest.name}.aggregator.localhost>",
                "List-Unsubscribe": f"<{view.unsubscribe}>",
                "Auto-Submitted": "auto-generated",
            },
        )
    return payloads


def _episodes(store: DigestStore, digest: DigestSettings, window: content.Window) -> list[Episode]:
    stored = store.episodes_between(window.start, window.end)
    return content.select((s.episode for s in stored), digest)


def prepare_digest(
    store: DigestStore,
    settings: Settings,
    name: str,
    *,
    fire_time: datetime,
    now: datetime,
    env: jinja2.Environment,
) -> int:
    """Queue the digest for the period ending at ``fire_time``; returns messages queued.

    Idempotent per period: a run whose period the watermark already covers queues nothing.
    """
    digest = find_digest(settings, name)
    watermark = store.digest_watermark(name)
    if watermark is not None and watermark >= fire_time:
        log.info(
            "digest already prepared digest=%s period=%s",
            name,
            content.period_key(digest, fire_time),
        )
        return 0
    return _enqueue(
        store,
        settings,
        digest,
        content.period_key(digest, fire_time),
        content.window(digest, fire_time, watermark),
        now=now,
        env=env,
    )


def _enqueue(
    store: DigestStore,
    settings: Settings,
    digest: DigestSettings,
    period: str,
    window: content.Window,
    *,
    now: datetime,
    env: jinja2.Environment,
) -> int:
    episodes = _episodes(store, digest, window)
    payloads: dict[str, bytes] = {}
    if episodes or digest.send_empty:
        payloads = compose(
            settings, digest, episodes, window=window, period=period, now=now, env=env
        )
    # Also when empty: the watermark records that this period was handled.
    queued = store.enqueue_digest(digest.name, period, payloads, watermark=window.end, now=now)
    if payloads:
        log.info(
            "digest queued digest=%s period=%s episodes=%d recipients=%d",
            digest.name,
            period,
            len(episodes),
            queued,
        )
    else:
        log.info("digest skipped, nothing new digest=%s period=%s", digest.name, period)
    return queued


def run_scheduled_digest(
    store: DigestStore, settings: Settings, name: str, *, now: datetime
) -> int:
    """The daemon's cron job: queue the period of the schedule's latest run.

    Delivery is left to the periodic :func:`deliver_due` job, so only one code path ever
    sends (two concurrent senders could both send a row).
    """
    digest = find_digest(settings, name)
    env = content.make_env(settings.templates)
    return prepare_digest(
        store, settings, name, fire_time=content.last_fire_time(digest, now), now=now, env=env
    )


def sending_lease(smtp: SmtpSettings) -> timedelta:
    """How long a row may sit in 'sending' before it counts as abandoned by a crash."""
    return max(MIN_SENDING_LEASE, smtp.timeout * 10)


def deliver_due(
    store: DigestStore,
    smtp: SmtpSettings,
    *,
    now: datetime,
    send: Sender = mail.send,
    rand: Callable[[], float] = random.random,
) -> DeliveryReport:
    """Send every due outbox row once; failures get a later ``next_attempt_at``."""
    report = DeliveryReport()
    for row in store.outbox_due(now):
        where = f"digest={row.digest} period={row.period} to={row.recipient}"
        if row.status == "sending":
            log.warning(
                "digest re-sending a message found in 'sending' %s: the previous run "
                "stopped during or right after the hand-off, so the recipient may get "
                "it twice (same Message-ID)",
                where,
            )
            report.resent.append(row.id)
        _deliver_one(store, smtp, row, where, report, now=now, send=send, rand=rand)
    return report


def _deliver_one(
    store: DigestStore,
    smtp: SmtpSettings,
    row: OutboxRow,
    where: str,
    report: DeliveryReport,
    *,
    now: datetime,
    send: Sender,
    rand: Callable[[], float],
) -> None:
    """One row through 'sending' to 'sent' or 'failed', noted in ``report``."""
    # Committed before the hand-off: a crash from here on leaves the row in 'sending',
    # and the lease makes it due again once this attempt can no longer be running.
    claimed = store.outbox_mark(
        row.id,
        status="sending",
        now=now,
        next_attempt_at=now + sending_lease(smtp),
        expect_attempts=row.attempts,
    )
    if not claimed:  # another sender took it since outbox_due read it
        return
    try:
        send(smtp, row.payload, recipient=row.recipient)
    except Exception as exc:
        if not isinstance(exc, mail.SendError):
            log.exception("digest send crashed %s", where)
        attempts = row.attempts + 1
        error = str(exc) if isinstance(exc, mail.SendError) else f"{type(exc).__name__}: {exc}"
        permanent = isinstance(exc, mail.SendError) and exc.permanent
        if permanent or attempts >= MAX_ATTEMPTS:
            store.outbox_mark(row.id, status="failed", now=now, error=error)
            log.error("digest not delivered, giving up %s attempts=%d: %s", where, attempts, error)
            report.gave_up.append(row.id)
            return
        retry_at = now + backoff(attempts, rand)
        store.outbox_mark(row.id, status="failed", now=now, error=error, next_attempt_at=retry_at)
        log.warning(
            "digest send failed %s attempt=%d retry_at=%s: %s",
            where,
            attempts,
            retry_at.isoformat(timespec="seconds"),
            error,
        )
        report.failed.append(row.id)
        return
    store.outbox_mark(row.id, status="sent", now=now, message_id=mail.message_id_of(row.payload))
    log.info("digest sent %s", where)
    report.sent.append(row.id)


def dry_run(
    store: DigestStore,
    settings: Settings,
    name: str,
    out_dir: Path,
    *,
    now: datetime,
    env: jinja2.Environment,
) -> list[Path]:
    """Write the messages a digest would send now as ``.eml`` files; record nothing."""
    digest = find_digest(settings, name)
    window = content.window(digest, now, store.digest_watermark(name))
    episodes = _episodes(store, digest, window)
    if not episodes and not digest.send_empty:
        return []
    payloads = compose(
        settings,
        digest,
        episodes,
        window=window,
        period=content.manual_period_key(now),
        now=now,
        env=env,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for recipient, payload in payloads.items():
        path = out_dir / f"{name}-{_slug(mail.addr_spec(recipient))}.eml"
        path.write_bytes(payload)
        paths.append(path)
    return paths


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.@_-]+", "_", text)


def digest_command(
    settings: Settings, name: str, *, dry_run_dir: Path | None, send: bool, now: datetime
) -> int:
    """``aggregator digest NAME (--dry-run DIR | --send)``; returns the exit status."""
    from aggregator.store import Store

    if (dry_run_dir is None) == (not send):
        raise ValueError("expected exactly one of dry_run_dir and send")
    if settings.smtp is None:
        raise ValueError("digests need an smtp section")
    now = now.astimezone(UTC)
    env = content.make_env(settings.templates)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.database_url)
    try:
        store.upgrade()
        if dry_run_dir is not None:
            paths = dry_run(store, settings, name, dry_run_dir, now=now, env=env)
            for p in paths:
                print(p)
            if not paths:
                print(f"digest {name}: nothing new since the last digest; no files written")
            return 0
        digest = find_digest(settings, name)
        watermark = store.digest_watermark(name)
        if watermark is not None and watermark >= now:
            print(f"digest {name}: the last digest already covers {now.isoformat()}")
            return 0
        queued = _enqueue(
            store,
            settings,
            digest,
            content.manual_period_key(now),
            content.window(digest, now, watermark),
            now=now,
            env=env,
        )
        report = deliver_due(store, settings.smtp, now=now)
        print(
            f"digest {name}: {queued} queued, {len(report.sent)} sent, "
            f"{len(report.failed) + len(report.gave_up)} failed"
        )
        return 0 if not (report.failed or report.gave_up) else 1
    finally:
        store.close()
