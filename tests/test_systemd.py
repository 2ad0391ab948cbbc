"""The shipped unit file passes systemd's own checks: verify is silent, security scores <= 1.5.

The unit's ExecStart points at /opt/aggregator, which does not exist on a test machine, so
the test verifies a copy whose ExecStart is this virtualenv's ``aggregator`` (everything
else byte for byte). Both tests skip where systemd-analyze is not installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[1] / "systemd" / "aggregator.service"
INSTALLED = "/opt/aggregator/.venv/bin/aggregator"
ANALYZE = shutil.which("systemd-analyze")

needs_analyze = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")


@pytest.fixture
def unit(tmp_path: Path) -> Path:
    here = Path(sys.executable).parent / "aggregator"
    assert here.exists(), here
    text = UNIT.read_text()
    assert INSTALLED in text
    copy = tmp_path / "aggregator.service"
    copy.write_text(text.replace(INSTALLED, str(here)))
    return copy


@needs_analyze
def test_verify_prints_nothing(unit: Path) -> None:
    done = subprocess.run(
        [str(ANALYZE), "verify", "--man=no", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


@needs_analyze
def test_security_exposure_is_at_most_1_5(unit: Path) -> None:
    done = subprocess.run(
        [str(ANALYZE), "security", "--offline=true", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout)
    assert match, done.stdout + done.stderr
    assert float(match.group(1)) <= 1.5


def test_unit_declares_what_the_daemon_relies_on() -> None:
    """Type=notify and the watchdog are what app.Daemon speaks; the stop timeout must leave
    room for its drain grace."""
    from aggregator.app import STOP_GRACE

    text = UNIT.read_text()
    settings = dict(
        line.split("=", 1) for line in text.splitlines() if "=" in line and line[0] != "#"
    )
    assert settings["Type"] == "notify"
    assert settings["WatchdogSec"].removesuffix("s").isdigit()
    assert settings["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert float(settings["TimeoutStopSec"].removesuffix("s")) >= STOP_GRACE + 10
    for hardening in ("DynamicUser", "ProtectSystem", "NoNewPrivileges", "PrivateTmp"):
        assert hardening in settings
