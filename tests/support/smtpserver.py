"""A real SMTP server for tests: aiosmtpd on 127.0.0.1 that records messages.

    with SMTPServer() as smtp:                 # plain SMTP on a free port
        ...send to smtp.host, smtp.port...
        smtp.messages[0].message["Subject"]

    smtp.reply("RCPT", "451 4.3.0 try again later")   # answer the next RCPTs with 451
    smtp.reply("DATA", None)                            # back to accepting

Also: STARTTLS / implicit TLS with a throw-away certificate
(:func:`tls_contexts`), AUTH PLAIN/LOGIN against a user table, a port where
nothing listens (:func:`unused_port`) and a server that accepts the TCP
connection but never says a word (:func:`silent_server`).
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

HOST = "127.0.0.1"


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes  # exactly what came after DATA
    peer_tls: bool
    auth_login: str | None

    @property
    def message(self) -> EmailMessage:
        return BytesParser(policy=policy.default).parsebytes(self.data)  # type: ignore[return-value]

    @property
    def header_block(self) -> bytes:
        return self.data.split(b"\r\n\r\n", 1)[0]


@dataclass
class _Handler:
    messages: list[ReceivedMail] = field(default_factory=list)
    #: SMTP verb ("MAIL", "RCPT", "DATA") -> the reply to give instead of accepting
    replies: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]) -> str:
        if reply := self.replies.get("MAIL"):
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        if reply := self.replies.get("RCPT"):
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if reply := self.replies.get("DATA"):
            return reply
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        with self.lock:
            self.messages.append(
                ReceivedMail(
                    mail_from=envelope.mail_from,
                    rcpt_tos=tuple(envelope.rcpt_tos),
                    data=envelope.original_content or envelope.content,
                    # STARTTLS swaps the transport, implicit TLS starts with one
                    peer_tls=server.transport.get_extra_info("ssl_object") is not None,
                    auth_login=login,
                )
            )
        return "250 Message accepted for delivery"


class _Controller(Controller):
    """aiosmtpd's Controller on a port the OS picks (port=0): no race between
    finding a free port and binding it."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SMTPServer:
    """aiosmtpd on 127.0.0.1.

    ``tls``: an :class:`ssl.SSLContext` for implicit TLS (port 465 style);
    ``starttls``: one offered through STARTTLS (and then required);
    ``users``: login -> password, enables AUTH (after TLS, as aiosmtpd insists).
    """

    def __init__(
        self,
        *,
        tls: ssl.SSLContext | None = None,
        starttls: ssl.SSLContext | None = None,
        users: dict[str, str] | None = None,
        port: int = 0,
    ):
        self.handler = _Handler()
        # a fixed ``port`` brings a server back where nothing listened before
        # (delivery-fault tests: refused, then the server recovers)
        kwargs: dict[str, Any] = {"hostname": HOST, "port": port, "server_hostname": "mx.test"}
        if tls is not None:
            kwargs["ssl_context"] = tls
        if starttls is not None:
            kwargs.update(tls_context=starttls, require_starttls=True)
        if users is not None:
            kwargs.update(authenticator=self._authenticator(users), auth_required=True)
        self._controller = _Controller(self.handler, **kwargs)
        self.host = HOST
        self.port = 0

    @staticmethod
    def _authenticator(users: dict[str, str]):  # noqa: ANN205
        def check(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
            if isinstance(auth_data, LoginPassword):
                if users.get(auth_data.login.decode()) == auth_data.password.decode():
                    return AuthResult(success=True, auth_data=auth_data)
            return AuthResult(success=False, handled=False)

        return check

    @property
    def messages(self) -> list[ReceivedMail]:
        with self.handler.lock:
            return list(self.handler.messages)

    def reply(self, verb: str, reply: str | None) -> None:
        """Answer every later ``verb`` ("MAIL", "RCPT", "DATA") with ``reply``
        (e.g. "451 4.3.0 try later"); None goes back to accepting."""
        if reply is None:
            self.handler.replies.pop(verb.upper(), None)
        else:
            self.handler.replies[verb.upper()] = reply

    def start(self) -> "SMTPServer":
        self._controller.start()
        self.port = self._controller.port
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> "SMTPServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def unused_port() -> int:
    """A TCP port on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@contextmanager
def silent_server() -> Iterator[int]:
    """A listening socket that never accepts: the TCP handshake completes (the
    kernel queues it) but no greeting ever comes.  Yields its port."""
    s = socket.socket()
    try:
        s.bind((HOST, 0))
        s.listen(8)
        yield s.getsockname()[1]
    finally:
        s.close()


def tls_contexts(directory: Path, hostname: str = "localhost") -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A throw-away self-signed certificate for ``hostname`` and 127.0.0.1:
    (server context, client context that trusts exactly that certificate)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = _dt.datetime.now(_dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(minutes=5))
        .not_valid_after(now + _dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(hostname), x509.IPAddress(ipaddress.ip_address(HOST))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert_pem)
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cadata=cert_pem.decode())
    return server, client
