"""A generated digest must not look like spam: SpamAssassin's local rules score it <= 0.5."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aggregator import deliver
from aggregator import digest as content
from aggregator.config import Settings, default_templates_dir
from test_digest import load_episodes

SPAMASSASSIN = shutil.which("spamassassin")
MAX_SCORE = 0.5


@pytest.mark.skipif(
    SPAMASSASSIN is None,
    reason="spamassassin is not installed (Debian: apt-get install spamassassin)",
)
def test_a_digest_scores_as_ham(tmp_path: Path) -> None:
    settings = Settings.model_validate(
        {
            "feeds": [{"name": "Tidal Notes", "url": "https://feeds.example/tidal.xml"}],
            "smtp": {"host": "127.0.0.1", "from": "Podcast Digest <digest@example.org>"},
            "digests": [{"name": "weekly", "to": ["Zoë Ångström <zoe@example.org>"]}],
        }
    )
    # Real time here: date rules compare the Date header with the time of the scan.
    now = datetime.now(UTC).replace(microsecond=0)
    (payload,) = deliver.compose(
        settings,
        settings.digests[0],
        load_episodes(),
        window=content.Window(now - timedelta(days=7), now),
        period=content.period_key(settings.digests[0], now),
        now=now,
        env=content.make_env(default_templates_dir()),
    ).values()
    assert SPAMASSASSIN is not None
    result = subprocess.run(
        [SPAMASSASSIN, "-L", "-t"],  # local tests only: no DNS, no network lists
        input=payload,
        capture_output=True,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        timeout=120,
        check=False,
    )
    report = result.stdout.decode("utf-8", "replace")
    status = re.search(
        r"^X-Spam-Status: \w+, score=(-?[\d.]+) .*?tests=(.*?)autolearn", report, re.M | re.S
    )
    assert status, f"no X-Spam-Status in spamassassin output: {result.stderr.decode()[-2000:]}"
    score, rules = float(status.group(1)), " ".join(status.group(2).split())
    assert score <= MAX_SCORE, f"spam score {score} > {MAX_SCORE}; rules hit: {rules}"
