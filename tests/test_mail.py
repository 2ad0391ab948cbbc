"""MIME assembly and the SMTP hand-off, against a real aiosmtpd server on 127.0.0.1."""

from __future__ import annotations

import logging
import socket
import ssl
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest
import trustme

from aggregator import mail
from aggregator.config import SmtpSettings
from smtpserver import password_checker, server_context, smtp_server

SENDER = "Zoë’s Digest <digest@example.org>"
RECIPIENT = "Jürgen Groß <jurgen@example.org>"
SUBJECT = "Neue Folgen: Crème brûlée für 200 🍮"
TEXT = "Hallo Jürgen,\nzwei neue Folgen.\n"
HTML = "<html><body><p>Hallo J&uuml;rgen, <b>zwei</b> Folgen. Ünïcødé</p></body></html>\n"
WHEN = datetime(2024, 3, 5, 6, 0, tzinfo=UTC)
PASSWORD = "s3cret-app-password"


def message(recipient: str = RECIPIENT) -> bytes:
    return mail.build_message(
        sender=SENDER,
        recipient=recipient,
        subject=SUBJECT,
        text=TEXT,
        html=HTML,
        date=WHEN,
        message_id="<abc123@example.org>",
        headers={"List-Id": "Podcast digest daily <daily.aggregator.localhost>"},
    )


def smtp(port: int, **kw: Any) -> SmtpSettings:
    fields = {"host": "127.0.0.1", "port": port, "security": "none", "timeout": "5s"}
    fields["from"] = SENDER
    return SmtpSettings(**{**fields, **kw})


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def tls(ca: trustme.CA) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context trusting the throwaway CA)."""
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return server_context(ca.issue_cert("127.0.0.1", "localhost")), client


@pytest.fixture
def closed_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    yield port


def test_message_is_7bit_multipart_alternative_text_then_html() -> None:
    raw = message()
    assert raw.isascii()
    lines = raw.split(b"\r\n")
    assert b"\n" not in b"".join(lines)  # CRLF everywhere
    assert max(len(line) for line in lines) <= 78
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    assert msg["Subject"] == SUBJECT
    assert msg["From"].addresses[0].display_name == "Zoë’s Digest"
    assert msg["To"].addresses[0].display_name == "Jürgen Groß"
    assert msg["To"].addresses[0].addr_spec == "jurgen@example.org"
    assert msg["Date"].datetime == WHEN
    assert msg["Message-ID"] == "<abc123@example.org>"
    assert msg["MIME-Version"] == "1.0"
    assert msg["List-Id"] == "Podcast digest daily <daily.aggregator.localhost>"
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert [p.get_content_charset() for p in parts] == ["utf-8", "utf-8"]
    # Text travels with CRLF line ends, its canonical form in MIME.
    assert parts[0].get_content().replace("\r\n", "\n") == TEXT
    assert parts[1].get_content().replace("\r\n", "\n") == HTML


def test_stable_message_id_depends_only_on_its_parts() -> None:
    period = "2024-03-05T07:00:00+01:00"
    a = mail.stable_message_id("daily", period, "a@example.org", domain="example.org")
    again = mail.stable_message_id("daily", period, "a@example.org", domain="example.org")
    other = mail.stable_message_id("daily", period, "b@example.org", domain="example.org")
    assert a == again != other
    assert a.startswith("<") and a.endswith("@example.org>")


@pytest.mark.parametrize(
    ("mailbox", "addr", "domain"),
    [
        ("Zoë <zoe@example.org>", "zoe@example.org", "example.org"),
        ("plain@mail.example.net", "plain@mail.example.net", "mail.example.net"),
    ],
)
def test_envelope_address_and_domain(mailbox: str, addr: str, domain: str) -> None:
    assert (mail.addr_spec(mailbox), mail.domain_of(mailbox)) == (addr, domain)


def test_send_hands_the_exact_bytes_to_the_server() -> None:
    with smtp_server() as (server, inbox):
        mail.send(smtp(server.port), message(), recipient=RECIPIENT)
    (got,) = inbox.received
    assert got.mail_from == "digest@example.org"
    assert got.rcpt_to == ("jurgen@example.org",)
    assert got.message()["Message-ID"] == "<abc123@example.org>"
    assert got.message()["Subject"] == SUBJECT


def test_starttls_and_auth_without_logging_the_password(
    tls: tuple[ssl.SSLContext, ssl.SSLContext],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server_ctx, client_ctx = tls
    monkeypatch.setenv("DIGEST_TEST_SMTP_PASSWORD", PASSWORD)
    caplog.set_level(logging.DEBUG)
    with smtp_server(
        tls_context=server_ctx,
        require_starttls=True,
        authenticator=password_checker("digest", PASSWORD),
        auth_require_tls=True,
    ) as (server, inbox):
        good = smtp(
            server.port,
            security="starttls",
            username="digest",
            password_env="DIGEST_TEST_SMTP_PASSWORD",
        )
        mail.send(good, message(), recipient=RECIPIENT, ssl_context=client_ctx)
        bad = good.model_copy(update={"password_env": None, "password": "wrong-" + PASSWORD})
        with pytest.raises(mail.SendError) as refused:
            mail.send(bad, message(), recipient=RECIPIENT, ssl_context=client_ctx)
    assert [r.login for r in inbox.received] == ["digest"]
    assert "535" in str(refused.value)
    assert PASSWORD not in str(refused.value)
    assert PASSWORD not in caplog.text


def test_starttls_refuses_a_server_that_does_not_offer_it(
    tls: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    with smtp_server() as (server, inbox), pytest.raises(mail.SendError, match="STARTTLS"):
        mail.send(
            smtp(server.port, security="starttls"),
            message(),
            recipient=RECIPIENT,
            ssl_context=tls[1],
        )
    assert inbox.received == []


def test_implicit_tls(tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_ctx, client_ctx = tls
    with smtp_server(ssl_context=server_ctx) as (server, inbox):
        mail.send(
            smtp(server.port, security="ssl"),
            message(),
            recipient=RECIPIENT,
            ssl_context=client_ctx,
        )
    assert len(inbox.received) == 1


def test_tls_checks_the_certificate_by_default(tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    with (
        smtp_server(ssl_context=tls[0]) as (server, inbox),
        pytest.raises(mail.SendError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        mail.send(smtp(server.port, security="ssl"), message(), recipient=RECIPIENT)
    assert inbox.received == []


@pytest.mark.parametrize(
    ("reply", "permanent"), [("550 5.1.1 No such user", True), ("451 4.3.0 Try later", False)]
)
def test_refused_recipient_is_permanent_only_for_5xx(reply: str, permanent: bool) -> None:
    with smtp_server() as (server, inbox):
        inbox.refuse["jurgen@example.org"] = reply
        with pytest.raises(mail.SendError) as exc:
            mail.send(smtp(server.port), message(), recipient=RECIPIENT)
    assert exc.value.permanent is permanent
    assert reply.split()[0] in str(exc.value)
    assert inbox.received == []


def test_server_down_is_a_temporary_failure(closed_port: int) -> None:
    with pytest.raises(mail.SendError, match="cannot connect") as exc:
        mail.send(smtp(closed_port), message(), recipient=RECIPIENT)
    assert exc.value.permanent is False


def test_silent_server_times_out() -> None:
    with socket.socket() as listener:  # accepts the TCP connection, never says hello
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        start = time.monotonic()
        with pytest.raises(mail.SendError):
            silent = smtp(listener.getsockname()[1], timeout="300ms")
            mail.send(silent, message(), recipient=RECIPIENT)
        assert time.monotonic() - start < 3


def test_message_id_of_reads_the_header() -> None:
    assert mail.message_id_of(message()) == "<abc123@example.org>"


def test_non_ascii_credentials_fail_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    """smtplib's AUTH is ASCII only; that must be a send error, not a crash."""
    checker = password_checker("digest", "Pässword")
    with smtp_server(authenticator=checker, auth_require_tls=False) as (server, inbox):
        settings = smtp(server.port, username="digest", password="Pässword")
        with pytest.raises(mail.SendError, match="ASCII") as exc:
            mail.send(settings, message(), recipient=RECIPIENT)
    assert "Pässword" not in str(exc.value)
    assert inbox.received == []
