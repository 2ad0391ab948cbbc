"""``feeds.yaml`` + environment -> frozen, typed :class:`Settings`.

Validated once, at the edge. Every error names the file, the line, the key and what was
expected, because a typo in a config file is the most common way a daemon fails to start.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

ENV_CONFIG = "AGGREGATOR_CONFIG"
DEFAULT_CONFIG = "feeds.yaml"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$", re.I)
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|kib|mib|gib)?\s*$", re.I)
_SIZE_UNITS = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}


def parse_duration(value: Any) -> timedelta:
    """``90s``, ``15m``, ``1h``, ``2d``; a bare number is seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 90s, 15m or 1h")
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    m = _DURATION.match(str(value))
    if not m:
        raise ValueError(f"expected a duration such as 90s, 15m or 1h, got {value!r}")
    return timedelta(seconds=float(m.group(1)) * _DURATION_UNITS[(m.group(2) or "s").lower()])


def parse_size(value: Any) -> int:
    """``25MB``, ``512KiB``; a bare number is bytes."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as 25MB")
    if isinstance(value, int):
        return value
    m = _SIZE.match(str(value))
    if not m:
        raise ValueError(f"expected a size such as 25MB or 512KiB, got {value!r}")
    return int(float(m.group(1)) * _SIZE_UNITS[(m.group(2) or "b").lower()])


def _positive(td: timedelta) -> timedelta:
    if td.total_seconds() <= 0:
        raise ValueError("expected a duration greater than zero")
    return td


Duration = Annotated[timedelta, BeforeValidator(parse_duration), AfterValidator(_positive)]
Size = Annotated[int, BeforeValidator(parse_size), Field(gt=0)]


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^\s/]+", value or ""):
        raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
    return value.strip()


HttpUrl = Annotated[str, AfterValidator(_http_url)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LogSettings(_Strict):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, v: Any) -> Any:
        return v.upper() if isinstance(v, str) else v


class PollSettings(_Strict):
    interval: Duration = timedelta(hours=1)
    min_interval: Duration = timedelta(minutes=15)
    max_interval: Duration = timedelta(hours=24)
    concurrency: int = Field(default=16, ge=1, le=512)
    per_host: int = Field(default=4, ge=1, le=64)
    timeout: Duration = timedelta(seconds=30)
    max_bytes: Size = 25 * 1000**2
    max_redirects: int = Field(default=5, ge=0, le=20)
    tick: Duration = timedelta(seconds=30)
    page_interval: Duration = timedelta(days=7)

    @model_validator(mode="after")
    def _bounds(self) -> PollSettings:
        if not self.min_interval <= self.interval <= self.max_interval:
            raise ValueError("expected min_interval <= interval <= max_interval")
        return self


class MergedFeedSettings(_Strict):
    title: str = "Aggregated podcasts"
    link: str = "http://127.0.0.1:8080/"
    description: str = "Every episode of the shows I follow, in one feed."
    image: str | None = None
    author: str | None = None
    language: str = "en"
    max_items: int = Field(default=300, ge=1, le=100_000)


class FeedSettings(_Strict):
    name: str = Field(min_length=1)
    url: HttpUrl
    follow_pages: bool = False


class PageSettings(_Strict):
    show: str = Field(min_length=1)
    url: HttpUrl


class SponsorSettings(_Strict):
    name: str = Field(min_length=1)
    aliases: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()


class SmtpSettings(_Strict):
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: str | None = Field(default=None, repr=False)
    password_env: str | None = None
    password_file: Path | None = None
    from_: str = Field(alias="from")
    timeout: Duration = timedelta(seconds=30)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_password_source(self) -> SmtpSettings:
        given = [k for k in ("password", "password_env", "password_file") if getattr(self, k)]
        if len(given) > 1:
            raise ValueError(
                f"expected at most one of password, password_env, password_file; got {given}"
            )
        return self

    def resolved_password(self) -> str | None:
        """Read lazily so a rotated secret file is picked up and never sits in logs."""
        if self.password:
            return self.password
        if self.password_env:
            value = os.environ.get(self.password_env)
            if value is None:
                raise ConfigError(
                    f"smtp.password_env: environment variable {self.password_env} is not set"
                )
            return value
        if self.password_file:
            return self.password_file.read_text(encoding="utf-8").strip()
        return None


class Filter(_Strict):
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"expected an IANA time zone such as Europe/Berlin, got {value!r}"
        ) from exc
    return value


_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _cron_weekdays(field: str) -> str:
    """Cron's day-of-week field (0 or 7 = Sunday, names allowed) as APScheduler day names.

    APScheduler 3's ``from_crontab`` numbers weekdays from Monday = 0, so ``0 7 * * 1``
    would run on Tuesdays; spelling the days out keeps cron's meaning.
    """
    if field == "*":
        return field
    days: set[int] = set()
    for part in field.lower().split(","):
        rng, _, step_s = part.partition("/")
        step = int(step_s) if step_s else 1
        if rng == "*":
            lo, hi = 0, 6
        else:
            ends = [
                _WEEKDAYS.index(x[:3]) if x[:3] in _WEEKDAYS else int(x) for x in rng.split("-")
            ]
            lo, hi = ends[0], ends[-1] if len(ends) > 1 else (6 if step_s else ends[0])
        if not (0 <= lo <= 7 and 0 <= hi <= 7 and step > 0):
            raise ValueError(f"day of week out of range in {field!r}")
        days.update(d % 7 for d in range(lo, hi + 1, step))
    return ",".join(_WEEKDAYS[d] for d in sorted(days))


def cron_trigger(expr: str, timezone: str = "UTC") -> CronTrigger:
    """A 5-field crontab line as an APScheduler trigger, with cron's weekday numbering."""
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"expected 5 fields (minute hour day month weekday), got {len(fields)}")
    minute, hour, day, month, weekday = fields
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=_cron_weekdays(weekday),
        timezone=ZoneInfo(timezone),
    )


def _cron(value: str) -> str:
    try:
        cron_trigger(value)
    except (ValueError, IndexError) as exc:
        raise ValueError(f"expected a 5-field cron expression such as '0 7 * * 1': {exc}") from exc
    return value


class DigestSettings(_Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    schedule: Annotated[str, AfterValidator(_cron)] = "0 7 * * *"
    timezone: Annotated[str, AfterValidator(_timezone)] = "UTC"
    to: tuple[str, ...] = Field(min_length=1)
    subject: str = "{{ count }} new episode{{ 's' if count != 1 }} from {{ shows|length }} show{{ 's' if shows|length != 1 }}"
    shows: Filter = Filter()
    keywords: Filter = Filter()
    send_empty: bool = False

    @field_validator("to", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("to")
    @classmethod
    def _addresses(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for addr in v:
            if not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", addr) and not re.search(
                r"<[^@\s]+@[^@\s]+>", addr
            ):
                raise ValueError(f"expected an email address, got {addr!r}")
        return v


class Settings(_Strict):
    """The whole validated configuration. Paths are absolute, resolved against the config file."""

    config_path: Path | None = None
    state_dir: Path = Path("state")
    database: str | None = None
    output_dir: Path | None = None
    templates_dir: Path | None = None
    listen: str = "127.0.0.1:8080"
    metrics_public: bool = False
    allow_private_addresses: bool = False
    user_agent_contact: str = "https://github.com/aggregator-podcasts/aggregator"
    log: LogSettings = LogSettings()
    poll: PollSettings = PollSettings()
    merged_feed: MergedFeedSettings = MergedFeedSettings()
    feeds: tuple[FeedSettings, ...] = Field(min_length=1)
    pages: tuple[PageSettings, ...] = ()
    sponsors: tuple[SponsorSettings, ...] = ()
    smtp: SmtpSettings | None = None
    digests: tuple[DigestSettings, ...] = ()

    @field_validator("listen")
    @classmethod
    def _host_port(cls, v: str) -> str:
        host, _, port = v.rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) < 65536:
            raise ValueError(f"expected host:port such as 127.0.0.1:8080, got {v!r}")
        return v

    @model_validator(mode="after")
    def _unique_and_consistent(self) -> Settings:
        names = [f.name for f in self.feeds]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"feed names must be unique; repeated: {', '.join(dupes)}")
        urls = [f.url for f in self.feeds]
        dup_urls = sorted({u for u in urls if urls.count(u) > 1})
        if dup_urls:
            raise ValueError(f"feed urls must be unique; repeated: {', '.join(dup_urls)}")
        digest_names = [d.name for d in self.digests]
        if len(set(digest_names)) != len(digest_names):
            raise ValueError("digest names must be unique")
        if self.digests and self.smtp is None:
            raise ValueError("digests are configured but smtp is missing")
        return self

    @property
    def listen_host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def listen_port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    @property
    def database_url(self) -> str:
        return self.database or f"sqlite:///{self.state_dir / 'aggregator.db'}"

    @property
    def public_dir(self) -> Path:
        return self.output_dir or self.state_dir / "public"

    @property
    def templates(self) -> Path:
        return self.templates_dir or default_templates_dir()


def default_templates_dir() -> Path:
    """The checkout's ``templates/``; ``AGGREGATOR_TEMPLATES`` overrides for other installs."""
    env = os.environ.get("AGGREGATOR_TEMPLATES")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "templates"


class ConfigError(Exception):
    """A configuration that cannot be used; the message is meant for the user as is."""


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    return Path(explicit or os.environ.get(ENV_CONFIG) or DEFAULT_CONFIG)


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """Read, validate and resolve a config file. Raises :class:`ConfigError`."""
    p = config_path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read config: {exc.strerror or exc}") from exc
    return parse_settings(text, p)


def parse_settings(text: str, path: Path) -> Settings:
    yaml = YAML(typ="rt")
    try:
        tree = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: invalid YAML: {exc.problem}") from exc
    if not isinstance(tree, CommentedMap):
        raise ConfigError(f"{path}:1: expected a mapping with at least a 'feeds:' list")
    data = _plain(tree)
    base = path.resolve().parent
    try:
        settings = Settings.model_validate({**data, "config_path": path.resolve()})
    except ValidationError as exc:
        raise ConfigError(_describe(exc, tree, path)) from exc
    return _resolve_paths(settings, base)


def _resolve_paths(s: Settings, base: Path) -> Settings:
    def absolute(p: Path | None) -> Path | None:
        return None if p is None else (p if p.is_absolute() else base / p)

    smtp = s.smtp
    if smtp and smtp.password_file:
        smtp = smtp.model_copy(update={"password_file": absolute(smtp.password_file)})
    database = s.database
    if database and database.startswith("sqlite:///") and not database.startswith("sqlite:////"):
        rel = database.removeprefix("sqlite:///")
        if rel and rel != ":memory:":
            database = f"sqlite:///{base / rel}"
    return s.model_copy(
        update={
            "state_dir": absolute(s.state_dir),
            "output_dir": absolute(s.output_dir),
            "templates_dir": absolute(s.templates_dir),
            "database": database,
            "smtp": smtp,
        }
    )


def _plain(node: Any) -> Any:
    if isinstance(node, CommentedMap):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, CommentedSeq):
        return [_plain(v) for v in node]
    return node


def _line_of(tree: Any, loc: tuple[int | str, ...]) -> int | None:
    """Walk the round-trip tree along a pydantic error location to the nearest known line."""
    node, line = tree, None
    for key in loc:
        if isinstance(node, CommentedMap) and key in node:
            line = node.lc.key(key)[0] + 1
            node = node[key]
        elif isinstance(node, CommentedSeq) and isinstance(key, int) and key < len(node):
            line = node.lc.item(key)[0] + 1
            node = node[key]
        else:
            break
    return line


def _describe(exc: ValidationError, tree: Any, path: Path) -> str:
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in loc).replace(
            ".[", "["
        )
        line = _line_of(tree, loc) or 1
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = f"unknown key '{loc[-1]}'"
        elif err["type"] == "missing":
            msg = "required key is missing"
        lines.append(f"{path}:{line}: {key or '(top level)'}: {msg}")
    return "\n".join(lines)
