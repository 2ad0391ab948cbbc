"""Logging set-up: one line per event on stderr, as text or JSON.

Messages across the code read ``what happened key=value key=value`` (``source polled
source=Show Name status=added added=3``). Text mode prints them as they are; JSON mode
turns them into fields (``event``, ``source``, ``status``...) so a log shipper can filter on
them without each call site knowing the output format. No timestamps in text mode when
journald is the reader (it adds its own); JSON always carries one so the lines stand alone.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from datetime import UTC, datetime
from typing import Any

ENV_FORMAT = "AGGREGATOR_LOG_FORMAT"
ENV_LEVEL = "AGGREGATOR_LOG_LEVEL"

# key=value where the value runs to the next " key=" (values may hold spaces: show names).
_FIELD = re.compile(r"(?:^|\s)([a-z_]+)=(.*?)(?=\s[a-z_]+=|$)", re.S)
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_RESERVED = frozenset({"time", "level", "logger", "message", "exception"})


def message_fields(message: str) -> tuple[str, dict[str, str]]:
    """``"source failed source=A b url=u reason=x y"`` -> ``("source failed", {...})``;
    without fields, the event is the text before a first ": " (``"reload failed: why"``)."""
    first = _FIELD.search(message)
    if first is None:
        return message.split(": ", 1)[0], {}
    head = message[: first.start()].rstrip(" :")
    fields = {k: v.strip() for k, v in _FIELD.findall(message[first.start() :])}
    return head, fields


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        event, fields = message_fields(message)
        doc: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": event,
            "message": message,
        }
        for key, value in fields.items():
            doc.setdefault(key, value)
        for key, value in record.__dict__.items():  # extra={...} at the call site wins
            if key not in _STANDARD and key not in _RESERVED:
                doc[key] = value
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Environment variables win over the config file so an operator can turn on DEBUG once."""
    level = os.environ.get(ENV_LEVEL, level).upper()
    fmt = os.environ.get(ENV_FORMAT, fmt).lower()
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    elif os.environ.get("JOURNAL_STREAM"):
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "aiohttp.access", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # APScheduler warns each time a tick is skipped because the last poll still runs,
    # which is by design (max_instances=1) on a busy instance.
    logging.getLogger("apscheduler").setLevel(max(logging.ERROR, root.level))
