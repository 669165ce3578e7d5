"""A real SMTP server for mail tests (aiosmtpd on a free local port)."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller


class Mailbox:
    """The aiosmtpd handler: keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.port = 0

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def smtp_server() -> Iterator[Mailbox]:
    box = Mailbox()
    box.port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


def send_mail_to(box: Mailbox, app, monkeypatch) -> None:
    """Point the app's mail at `box`, with jobs in-process; monkeypatch restores it."""
    settings = {"MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": box.port,
                "MAIL_USE_TLS": False, "MAIL_USERNAME": "", "SERVER_PORT": "", "REDIS_URL": ""}  # fmt: skip
    for key, value in settings.items():
        monkeypatch.setitem(app.config, key, value)
