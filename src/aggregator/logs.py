"""Logging set-up: one line per event on stderr, as text or JSON.

No timestamps in text mode when journald is the reader (it adds its own); JSON always carries
one so the lines stand alone when shipped elsewhere.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime

ENV_FORMAT = "AGGREGATOR_LOG_FORMAT"
ENV_LEVEL = "AGGREGATOR_LOG_LEVEL"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


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
    for noisy in ("httpx", "httpcore", "apscheduler", "aiohttp.access", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
