"""Outgoing e-mail over SMTP (a local server in tests), or to the log in development."""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterable
from email.message import EmailMessage

from flask import current_app

logger = logging.getLogger(__name__)


#: (file name, content type such as "application/pdf", the file's bytes)
Attachment = tuple[str, str, bytes]


def send_mail(to: str, subject: str, body: str, attachments: Iterable[Attachment] = ()) -> None:
    """Send a plain-text mail, with files attached (a monthly report as PDF, for example)."""
    config = current_app.config
    attachments = tuple(attachments)
    message = EmailMessage()
    message["From"] = config["MAIL_DEFAULT_SENDER"]
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    if config["MAIL_BACKEND"] == "console":
        # Files are named, not dumped: their base64 would bury the text in the log.
        files = "".join(
            f"\n[attached: {name} ({kind}, {len(data)} bytes)]" for name, kind, data in attachments
        )
        logger.warning("mail (console backend, not sent)\n%s%s", message.as_string(), files)
        return
    for filename, content_type, data in attachments:
        maintype, _, subtype = content_type.partition("/")
        if not subtype:
            maintype, subtype = "application", "octet-stream"
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=30) as smtp:
        if config["MAIL_USE_TLS"]:
            smtp.starttls()
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        smtp.send_message(message)
