"""Text messages to customers through an HTTP gateway (a real local server stands in for it)."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from repairqc.repairs.models import ContactChannel, RepairOrderStatus
from repairqc.repairs.tasks import notify_customer
from repairqc.sms import SmsFailed, send_sms
from tests.conftest import in_tenant, sample_intake, staff, store
from tests.test_repair_workflow import repaired_order


@contextlib.contextmanager
def gateway(app, status: int = 200) -> Iterator[list[dict]]:
    """An SMS gateway on a free local port answering `status`; yields what it received."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"auth": self.headers["Authorization"], **json.loads(body)})
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    saved = {key: app.config[key] for key in ("SMS_BACKEND", "SMS_GATEWAY_URL", "SMS_GATEWAY_TOKEN")}
    app.config.update(
        SMS_BACKEND="http",
        SMS_GATEWAY_URL=f"http://127.0.0.1:{server.server_port}/send",
        SMS_GATEWAY_TOKEN="secret-token",
    )
    try:
        yield received
    finally:
        app.config.update(saved)
        server.shutdown()
        server.server_close()


def test_a_customer_who_prefers_sms_gets_the_quote_link_by_text(app, alpha):
    with in_tenant(app, alpha), gateway(app) as received:
        order = repaired_order(alpha)
        order.customer.preferred_channel = ContactChannel.SMS
        order.customer.language = "zh_Hans_CN"
        event = order.events[-1]
        assert event.to_status is RepairOrderStatus.QC
        assert notify_customer(order.id, None) == order.customer.phone  # a (revised) quote
    assert len(received) == 1
    message = received[0]
    assert message["to"] == "+86 138 0013 8000" and message["auth"] == "Bearer secret-token"
    assert order.number in message["body"] and "/track/" in message["body"]
    assert "904.00" in message["body"]
    # In the customer's language: the Chinese catalog's "quote", not the English template.
    assert "报价" in message["body"] and "Approve or decline" not in message["body"], message["body"]


def test_a_customer_with_only_a_phone_gets_a_text_and_one_with_e_mail_a_mail(app, alpha):
    from repairqc.repairs import services

    with in_tenant(app, alpha), gateway(app) as received:
        phone_only = services.receive_order(
            store(alpha),
            staff(alpha, "frontdesk"),
            sample_intake(new_customer=services.NewCustomer("Text Only", phone="+86 137 0000 0001")),
        )
        assert notify_customer(phone_only.id, phone_only.events[-1].id) == "+86 137 0000 0001"
        with_mail = services.receive_order(store(alpha), staff(alpha, "frontdesk"), sample_intake())
        assert notify_customer(with_mail.id, with_mail.events[-1].id) == "li@example.com"  # console mail
    assert [m["to"] for m in received] == ["+86 137 0000 0001"]


def test_a_customer_who_prefers_sms_gets_a_mail_when_there_is_no_gateway(app, alpha, mailbox):
    assert app.config["SMS_BACKEND"] == "none"
    with in_tenant(app, alpha):
        order = repaired_order(alpha)
        order.customer.preferred_channel = ContactChannel.SMS
        assert order.customer.phone and order.customer.email == "li@example.com"
        before = len(mailbox.to("li@example.com"))
        assert notify_customer(order.id, None) == "li@example.com"  # not the phone: nothing can text it
        number = order.number
    mails = mailbox.to("li@example.com")
    assert len(mails) == before + 1 and number in mails[-1]["Subject"]


def test_a_gateway_refusal_is_an_error_so_the_job_is_retried(app, alpha):
    with in_tenant(app, alpha), gateway(app, status=500) as received, pytest.raises(SmsFailed):
        send_sms("+86 137 0000 0002", "hello")
    assert len(received) == 1


def test_no_texts_without_a_gateway(app, alpha):
    assert app.config["SMS_BACKEND"] == "none"
    with in_tenant(app, alpha):
        order = repaired_order(alpha)
        order.customer.preferred_channel = ContactChannel.SMS
        order.customer.email = None
        assert notify_customer(order.id, None) is None  # nobody to tell: the store calls
