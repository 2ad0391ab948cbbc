"""MIME assembly (stdlib ``email``) and the SMTP hand-off: the only code that talks SMTP.

The stdlib ``smtplib`` does STARTTLS, implicit TLS, AUTH and timeouts, and the outbox
workflow around it is synchronous database work, so an async client would buy nothing:
callers on an event loop run :func:`send` in a worker thread.
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from collections.abc import Mapping
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, parseaddr

from aggregator.config import ConfigError, SmtpSettings

FALLBACK_DOMAIN = "aggregator.localhost"
# Quoted-printable keeps every line 7-bit and short whatever the server supports, and
# stays readable in the raw message (unlike base64).
_CTE = "quoted-printable"


class SendError(Exception):
    """The server did not take the message. ``permanent`` when retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def addr_spec(mailbox: str) -> str:
    """``"Name <a@b.example>"`` or ``a@b.example`` -> ``a@b.example`` (the SMTP envelope)."""
    return parseaddr(mailbox)[1] or mailbox.strip()


def domain_of(mailbox: str) -> str:
    _, at, domain = addr_spec(mailbox).rpartition("@")
    return domain if at and domain else FALLBACK_DOMAIN


def stable_message_id(*parts: str, domain: str) -> str:
    """The same parts give the same Message-ID, so a re-send is recognisably the same mail."""
    digest = hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def build_message(
    *,
    sender: str,
    recipient: str,
    subject: str,
    text: str,
    html: str,
    date: datetime,
    message_id: str,
    headers: Mapping[str, str] | None = None,
) -> bytes:
    """multipart/alternative, text first then HTML (clients show the last part they can)."""
    msg = EmailMessage(policy=policy.default)
    msg["From"] = sender
    msg["To"] = recipient
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(text, subtype="plain", cte=_CTE)
    msg.add_alternative(html, subtype="html", cte=_CTE)
    return msg.as_bytes(policy=policy.SMTP)


def message_id_of(payload: bytes) -> str | None:
    msg = BytesParser(policy=policy.default).parsebytes(payload, headersonly=True)
    value = msg["Message-ID"]
    return str(value).strip() if value else None


def send(
    smtp: SmtpSettings,
    payload: bytes,
    *,
    recipient: str,
    ssl_context: ssl.SSLContext | None = None,
) -> None:
    """Hand one message to the server; returns only when the server has accepted it.

    ``ssl_context`` is for a private CA (and tests); by default the system's trust store
    and host name checks apply. Raises :class:`SendError`; its text never holds the
    password.
    """
    timeout = smtp.timeout.total_seconds()
    context = ssl_context or ssl.create_default_context()
    try:
        if smtp.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                smtp.host, smtp.port, timeout=timeout, context=context
            )
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=timeout)
    except (OSError, smtplib.SMTPException) as exc:
        raise SendError(f"cannot connect to {smtp.host}:{smtp.port}: {_describe(exc)}") from exc
    try:
        if smtp.security == "starttls":
            client.starttls(context=context)
        if smtp.username:
            client.login(smtp.username, smtp.resolved_password() or "")
        client.sendmail(addr_spec(smtp.from_), [addr_spec(recipient)], payload)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        raise SendError(
            f"recipient refused: {_describe(exc)}", permanent=all(c >= 500 for c in codes)
        ) from exc
    except UnicodeEncodeError:  # smtplib encodes AUTH strings as ASCII
        # ``from None``: the encoding error quotes the password.
        raise SendError(
            f"{smtp.host}:{smtp.port}: SMTP login needs an ASCII username and password"
        ) from None
    except (OSError, smtplib.SMTPException, ConfigError) as exc:
        raise SendError(f"{smtp.host}:{smtp.port}: {_describe(exc)}") from exc
    finally:
        _quit(client)


def _quit(client: smtplib.SMTP) -> None:
    """After acceptance nothing may turn the send into a failure (and so a duplicate)."""
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        client.close()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"{rcpt}: {code} {_text(msg)}" for rcpt, (code, msg) in exc.recipients.items()
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return f"{type(exc).__name__}: {exc}"


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
