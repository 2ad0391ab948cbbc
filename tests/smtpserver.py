"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it accepts, for the mail tests."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_to: tuple[str, ...]
    data: bytes
    login: str | None

    def message(self) -> EmailMessage:
        msg = BytesParser(policy=policy.default).parsebytes(self.data)
        assert isinstance(msg, EmailMessage)
        return msg


@dataclass
class Inbox:
    """The handler: accepts everything except the recipients told to refuse."""

    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # address -> SMTP reply

    async def handle_RCPT(
        self, server: SMTPServer, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        auth = session.auth_data
        login = auth.login.decode() if isinstance(auth, LoginPassword) else None
        self.received.append(
            Received(envelope.mail_from or "", tuple(envelope.rcpt_tos), data, login)
        )
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [r.message() for r in self.received if address in r.rcpt_to]


class LoopbackController(Controller):
    """aiosmtpd's Controller on an ephemeral port (it needs the port before it can probe)."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def password_checker(user: str, password: str) -> Callable[..., AuthResult]:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> AuthResult:
        ok = isinstance(auth, LoginPassword) and (auth.login, auth.password) == (
            user.encode(),
            password.encode(),
        )
        return AuthResult(success=ok, handled=False, auth_data=auth if ok else None)

    return check


@contextmanager
def smtp_server(
    inbox: Inbox | None = None, *, port: int = 0, **kwargs: Any
) -> Iterator[tuple[LoopbackController, Inbox]]:
    """Start a server (``kwargs`` go to aiosmtpd: tls_context, ssl_context, authenticator...)."""
    inbox = inbox or Inbox()
    controller = LoopbackController(
        inbox, hostname="127.0.0.1", port=port, ready_timeout=10, **kwargs
    )
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


def server_context(cert: Any) -> ssl.SSLContext:
    """A server-side TLS context from a ``trustme`` leaf certificate."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    return ctx
