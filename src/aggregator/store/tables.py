"""The database schema as SQLModel tables.

These classes only describe tables (for Alembic and for typed column references); the
store queries them with SQLAlchemy Core so no ORM object ever leaves this package.
Migrations in ``aggregator/migrations`` must create exactly this schema; a test compares
the two.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Dialect,
    Double,
    Index,
    LargeBinary,
    MetaData,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

# Named constraints keep future SQLite batch migrations (table rebuilds) possible.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in and out on every backend.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones, so values are stored as
    naive UTC text (which also keeps them comparable as strings). Naive input is refused
    because guessing its zone is how off-by-hours bugs start.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store takes aware UTC datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(SQLModel, registry=registry(metadata=metadata)):
    pass


def _utc(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


class ShowTable(Base, table=True):
    __tablename__ = "show"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    title: str | None = None
    link: str | None = None
    image: str | None = None
    description: str | None = Field(default=None, sa_type=Text)
    author: str | None = None


class SourceTable(Base, table=True):
    __tablename__ = "source"
    __table_args__ = (CheckConstraint("kind IN ('feed', 'page')", name="kind"),)

    id: int | None = Field(default=None, primary_key=True)
    show_id: int = Field(foreign_key="show.id", index=True)
    kind: str
    name: str
    url: str = Field(unique=True)
    original_url: str
    follow_pages: bool = False
    active: bool = True
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    next_check_at: datetime | None = _utc(index=True)
    last_checked_at: datetime | None = _utc()
    last_success_at: datetime | None = _utc()
    last_status: int | None = None
    last_error: str | None = Field(default=None, sa_type=Text)
    consecutive_failures: int = 0
    muted: bool = False
    muted_reason: str | None = Field(default=None, sa_type=Text)
    ttl_seconds: int | None = None
    lease_owner: str | None = None
    lease_until: datetime | None = _utc()
    avg_post_interval_s: int | None = None
    created_at: datetime = _utc(nullable=False)
    # Digests of the feed's items as last stored (aggregator.parse.feed_scan.ItemIndex).
    item_index: bytes | None = Field(default=None, sa_type=LargeBinary)


class EpisodeTable(Base, table=True):
    __tablename__ = "episode"
    __table_args__ = (
        UniqueConstraint("show_id", "identity_key"),
        # Read backwards for "newest first"; a B-tree serves DESC scans on both backends.
        Index("ix_episode_published", "published", "first_seen_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    show_id: int = Field(foreign_key="show.id")
    source_id: int = Field(foreign_key="source.id", index=True)
    identity_key: str
    guid: str | None = None
    title: str = Field(sa_type=Text)
    number: int | None = None
    season: int | None = None
    published: datetime | None = _utc()
    duration: int | None = None
    link: str | None = None
    enclosure_url: str | None = None
    enclosure_type: str | None = None
    enclosure_length: int | None = Field(default=None, sa_type=BigInteger)
    image: str | None = None
    description_html: str | None = Field(default=None, sa_type=Text)
    summary: str | None = Field(default=None, sa_type=Text)
    explicit: bool | None = None
    chapters_url: str | None = None
    transcript_url: str | None = None
    transcript_type: str | None = None
    links: list[str] | None = Field(default=None, sa_type=JSON)
    content_hash: str | None = None
    first_seen_at: datetime = _utc(nullable=False, index=True)
    updated_at: datetime = _utc(nullable=False)
    page_checked_at: datetime | None = _utc()
    page_hash: str | None = None


class PersonTable(Base, table=True):
    __tablename__ = "person"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)


class EpisodePersonTable(Base, table=True):
    __tablename__ = "episode_person"
    __table_args__ = (CheckConstraint("role IN ('host', 'guest')", name="role"),)

    episode_id: int = Field(foreign_key="episode.id", primary_key=True, ondelete="CASCADE")
    person_id: int = Field(foreign_key="person.id", primary_key=True, index=True)
    role: str = Field(primary_key=True)
    href: str | None = None
    img: str | None = None
    position: int = 0


class ChapterTable(Base, table=True):
    __tablename__ = "chapter"

    id: int | None = Field(default=None, primary_key=True)
    episode_id: int = Field(foreign_key="episode.id", index=True, ondelete="CASCADE")
    start: int
    title: str = Field(sa_type=Text)
    url: str | None = None


class SponsorTable(Base, table=True):
    __tablename__ = "sponsor"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    domain: str | None = None


class SponsorMentionTable(Base, table=True):
    __tablename__ = "sponsor_mention"
    __table_args__ = (
        UniqueConstraint("episode_id", "sponsor_id", "source_kind"),
        CheckConstraint("source_kind IN ('feed', 'page', 'transcript')", name="source_kind"),
        CheckConstraint("kind IN ('sponsor', 'self_promo')", name="kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    episode_id: int = Field(foreign_key="episode.id", ondelete="CASCADE")
    sponsor_id: int = Field(foreign_key="sponsor.id", index=True)
    source_kind: str
    url: str | None = None
    promo_code: str | None = None
    offer: str | None = Field(default=None, sa_type=Text)
    start: int | None = None
    placement: str | None = None
    kind: str = "sponsor"
    evidence: str | None = Field(default=None, sa_type=Text)
    confidence: float = Field(default=0.5, sa_type=Double)
    position: int = 0


class DigestStateTable(Base, table=True):
    __tablename__ = "digest_state"

    name: str = Field(primary_key=True)
    watermark: datetime | None = _utc()
    last_sent_at: datetime | None = _utc()


class OutboxTable(Base, table=True):
    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("digest", "period", "recipient"),
        CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed')", name="status"),
        Index("ix_outbox_status", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    digest: str
    period: str
    recipient: str
    status: str = "pending"
    attempts: int = 0
    next_attempt_at: datetime | None = _utc()
    message_id: str | None = None
    created_at: datetime = _utc(nullable=False)
    sent_at: datetime | None = _utc()
    last_error: str | None = Field(default=None, sa_type=Text)
    payload: bytes = Field(sa_type=LargeBinary)


class LeaseTable(Base, table=True):
    __tablename__ = "lease"

    name: str = Field(primary_key=True)
    owner: str
    until: datetime = _utc(nullable=False)


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


show = _table(ShowTable)
source = _table(SourceTable)
episode = _table(EpisodeTable)
person = _table(PersonTable)
episode_person = _table(EpisodePersonTable)
chapter = _table(ChapterTable)
sponsor = _table(SponsorTable)
sponsor_mention = _table(SponsorMentionTable)
digest_state = _table(DigestStateTable)
outbox = _table(OutboxTable)
lease = _table(LeaseTable)
