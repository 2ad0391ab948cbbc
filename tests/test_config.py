from datetime import timedelta
from pathlib import Path

import pytest

from aggregator.config import ConfigError, cron_trigger, load_settings, parse_duration, parse_size

GOOD = """\
state_dir: st
poll:
  interval: 2h
  max_bytes: 10MB
feeds:
  - name: One
    url: http://127.0.0.1:9/one.xml
smtp:
  host: 127.0.0.1
  from: Digest <d@example.org>
  password_env: SMTP_PW
digests:
  - name: weekly
    schedule: "0 7 * * 1"
    timezone: Europe/Berlin
    to: a@example.org
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "feeds.yaml"
    p.write_text(text)
    return p


def test_valid_config_is_typed_and_paths_resolve(tmp_path):
    s = load_settings(write(tmp_path, GOOD))
    assert s.poll.interval == timedelta(hours=2)
    assert s.poll.max_bytes == 10_000_000
    assert s.state_dir == tmp_path / "st"
    assert s.database_url == f"sqlite:///{tmp_path / 'st' / 'aggregator.db'}"
    assert s.digests[0].to == ("a@example.org",)
    assert s.smtp is not None and s.smtp.from_ == "Digest <d@example.org>"


def test_unknown_key_names_file_line_and_key(tmp_path):
    p = write(tmp_path, GOOD.replace("  max_bytes: 10MB", "  max_bytes: 10MB\n  timout: 3s"))
    with pytest.raises(ConfigError) as err:
        load_settings(p)
    assert str(err.value) == f"{p}:5: poll.timout: unknown key 'timout'"


def test_bad_value_in_a_list_names_its_line(tmp_path):
    p = write(tmp_path, GOOD.replace("http://127.0.0.1:9/one.xml", "ftp://x/one.xml"))
    with pytest.raises(ConfigError) as err:
        load_settings(p)
    assert f"{p}:7: feeds[0].url: expected an http:// or https:// URL" in str(err.value)


def test_bad_cron_and_timezone_are_explained(tmp_path):
    p = write(
        tmp_path, GOOD.replace("0 7 * * 1", "61 7 * * 1").replace("Europe/Berlin", "Mars/Base")
    )
    with pytest.raises(ConfigError) as err:
        load_settings(p)
    msg = str(err.value)
    assert f"{p}:14: digests[0].schedule: expected a 5-field cron expression" in msg
    assert f"{p}:15: digests[0].timezone: expected an IANA time zone" in msg


def test_yaml_syntax_error_names_the_line(tmp_path):
    p = write(tmp_path, "feeds:\n  - name: [unclosed\n")
    with pytest.raises(ConfigError, match=rf"^{p}:\d+: invalid YAML"):
        load_settings(p)


def test_missing_feeds_and_duplicate_names(tmp_path):
    with pytest.raises(ConfigError, match="feeds: required key is missing"):
        load_settings(write(tmp_path, "state_dir: x\n"))
    dup = "feeds:\n  - {name: A, url: 'http://h/1'}\n  - {name: A, url: 'http://h/2'}\n"
    with pytest.raises(ConfigError, match="feed names must be unique; repeated: A"):
        load_settings(write(tmp_path, dup))


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config"):
        load_settings(tmp_path / "nope.yaml")


def test_config_path_from_environment(tmp_path, monkeypatch):
    p = write(tmp_path, GOOD)
    monkeypatch.setenv("AGGREGATOR_CONFIG", str(p))
    assert load_settings().feeds[0].name == "One"


def test_secrets_from_env_and_file(tmp_path, monkeypatch):
    s = load_settings(write(tmp_path, GOOD))
    assert s.smtp is not None
    with pytest.raises(ConfigError, match="SMTP_PW is not set"):
        s.smtp.resolved_password()
    monkeypatch.setenv("SMTP_PW", "hunter2")
    assert s.smtp.resolved_password() == "hunter2"
    assert "hunter2" not in repr(s)
    (tmp_path / "pw").write_text("from-file\n")
    s2 = load_settings(write(tmp_path, GOOD.replace("password_env: SMTP_PW", "password_file: pw")))
    assert s2.smtp is not None and s2.smtp.resolved_password() == "from-file"


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("15m", 900), ("1h", 3600), ("2d", 172800), (45, 45)]
)
def test_durations(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize(("text", "size"), [("25MB", 25_000_000), ("1KiB", 1024), (10, 10)])
def test_sizes(text, size):
    assert parse_size(text) == size


def test_shipped_feeds_yaml_is_valid():
    s = load_settings(Path(__file__).parents[1] / "feeds.yaml")
    assert len(s.feeds) == 6


@pytest.mark.parametrize(
    ("expr", "weekdays"),
    [
        ("0 7 * * 1", {0}),  # cron's 1 is Monday (datetime.weekday() 0)
        ("0 7 * * 0", {6}),
        ("0 7 * * 7", {6}),
        ("0 7 * * 1-5", {0, 1, 2, 3, 4}),
        ("0 7 * * sat,sun", {5, 6}),
        ("0 7 * * */2", {6, 1, 3, 5}),  # Sun, Tue, Thu, Sat as in cron
    ],
)
def test_cron_weekdays_follow_cron_not_apscheduler(expr, weekdays):
    from datetime import UTC, datetime

    trigger = cron_trigger(expr, "UTC")
    t = datetime(2026, 1, 1, tzinfo=UTC)
    seen = set()
    for _ in range(14):
        t = trigger.get_next_fire_time(None, t)
        assert t is not None
        seen.add(t.weekday())
        t = t + timedelta(minutes=1)
    assert seen == weekdays
