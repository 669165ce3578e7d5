"""Customer messages (issue #8 "Notifications", HB §6.2.2): one row per event on the customer's
profile, sent once, in the customer's language, by e-mail or text message; SMS through a
pluggable provider with the logging provider as the product's default."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC

import pytest
import sqlalchemy as sa
from rq import Queue

from repairqc.config import load_config
from repairqc.db import db, tenant_context, unit_of_work
from repairqc.jobs import enqueue
from repairqc.notifications import services
from repairqc.notifications.models import CustomerMessage, MessageChannel, MessageStatus
from repairqc.notifications.tasks import deliver_customer_message
from repairqc.repairs.models import ContactChannel, Customer
from repairqc.repairs.tasks import notify_customer, send_intake_receipt
from repairqc.sms import send_sms
from repairqc.tenants import services as tenants
from tests.conftest import SeededTenant, in_tenant, provision_seeded, sample_intake, staff, store
from tests.test_jobs import run_worker
from tests.test_supervision_jobs import worker_env  # noqa: F401  (the fixture: Redis queues + SMTP)

#: Texts the pluggable provider below received: (to, body).
TEXTS: list[tuple[str, str]] = []


def capture_text(to: str, body: str, config) -> None:
    """A provider named by SMS_BACKEND=tests.test_notifications:capture_text."""
    TEXTS.append((to, body))


def content(word: str = "Hello") -> services.MessageContent:
    return services.MessageContent(
        subject=f"{word} subject", email_body=f"{word} mail", sms_body=f"{word} text"
    )


def customer(**values) -> Customer:
    row = Customer(store_id=values.pop("store_id"), full_name=values.pop("full_name", "Wang Fang"), **values)
    db.session.add(row)
    db.session.flush()
    return row


def rows(event_key: str) -> list[CustomerMessage]:
    return list(db.session.scalars(sa.select(CustomerMessage).where(CustomerMessage.event_key == event_key)))


def test_the_logging_provider_is_the_default_and_logs_instead_of_sending(app, caplog, monkeypatch):
    assert (
        load_config(app.instance_path, {"REPAIRQC_ENV": "testing", "SECRET_KEY": "x"})["SMS_BACKEND"]
        == "console"
    )
    monkeypatch.setitem(app.config, "SMS_BACKEND", "console")
    with app.app_context(), caplog.at_level(logging.WARNING, logger="repairqc.sms"):
        send_sms("+86 137 0000 0009", "Your phone is ready")
    assert "+86 137 0000 0009" in caplog.text and "Your phone is ready" in caplog.text


def test_an_unknown_sms_backend_is_refused_at_start(app):
    with pytest.raises(RuntimeError, match="SMS_BACKEND"):
        load_config(
            app.instance_path, {"REPAIRQC_ENV": "testing", "SECRET_KEY": "x", "SMS_BACKEND": "pigeon"}
        )


def test_a_provider_of_ones_own_is_named_by_its_module_and_function(app, alpha, monkeypatch):
    TEXTS.clear()
    monkeypatch.setitem(app.config, "SMS_BACKEND", "tests.test_notifications:capture_text")
    with in_tenant(app, alpha):
        person = customer(
            store_id=store(alpha).id, phone="+86 137 0000 0010", preferred_channel=ContactChannel.SMS
        )
        message, created = services.record_message(
            person, event_key="test:own-provider", purpose="test", content=content()
        )
        assert created and message.channel is MessageChannel.SMS and message.body == "Hello text"
        assert services.deliver(message) and message.status is MessageStatus.SENT and message.sent_at
    assert TEXTS == [("+86 137 0000 0010", "Hello text")]


def test_the_channel_follows_the_customers_preference_and_what_can_be_used(app, alpha, monkeypatch):
    with in_tenant(app, alpha):
        s1 = store(alpha).id
        both = customer(
            store_id=s1, phone="+86 137 1", email="a@example.com", preferred_channel=ContactChannel.SMS
        )
        phone_only = customer(store_id=s1, phone="+86 137 2")
        mail_only = customer(store_id=s1, email="b@example.com", preferred_channel=ContactChannel.SMS)
        nothing = customer(store_id=s1)
        # No SMS provider (SMS_BACKEND=none): texts are impossible, e-mail is used where there is one.
        assert [services.channel_for(c) for c in (both, phone_only, mail_only, nothing)] == [
            MessageChannel.EMAIL, None, MessageChannel.EMAIL, None,
        ]  # fmt: skip
        monkeypatch.setitem(app.config, "SMS_BACKEND", "console")
        assert [services.channel_for(c) for c in (both, phone_only, mail_only, nothing)] == [
            MessageChannel.SMS, MessageChannel.SMS, MessageChannel.EMAIL, None,
        ]  # fmt: skip


def test_a_customer_nobody_can_reach_is_logged_as_not_sent(app, alpha, mailbox):
    with in_tenant(app, alpha):
        person = customer(store_id=store(alpha).id, phone="+86 137 0000 0011")
        message = services.queue_message(
            person, event_key="test:no-channel", purpose="test", content=content()
        )
        assert (
            message.status is MessageStatus.NO_CHANNEL
            and message.channel is None
            and message.recipient is None
        )
        assert services.deliver(message) is False
    assert mailbox.messages == []


def test_one_event_is_written_and_sent_once_however_often_it_is_told(app, alpha, mailbox):
    with in_tenant(app, alpha), unit_of_work():
        person = customer(store_id=store(alpha).id, email="once@example.com")
        first = services.queue_message(
            person, event_key="test:once", purpose="test", content=content("First")
        )
        again = services.queue_message(
            person, event_key="test:once", purpose="test", content=content("Second")
        )
        assert again is first
    with in_tenant(app, alpha):
        [row] = rows("test:once")
        assert (
            row.status is MessageStatus.SENT
            and row.body == "First mail"
            and row.recipient == "once@example.com"
        )
        # The job handed the same id again (a retry, a manual re-run) sends nothing.
        assert deliver_customer_message(row.id) is None
    [mail] = mailbox.to("once@example.com")
    assert mail["Subject"] == "First subject"


def test_order_news_is_logged_on_the_profile_and_never_sent_twice(app, alpha, mailbox):
    from repairqc.repairs import services as repairs

    with in_tenant(app, alpha):
        order = repairs.receive_order(store(alpha), staff(alpha, "frontdesk"), sample_intake())
        event_id = order.events[-1].id
        assert send_intake_receipt(order.id) == "li@example.com"
        assert send_intake_receipt(order.id) is None  # the receipt was sent already
        assert notify_customer(order.id, event_id) == "li@example.com"
        assert notify_customer(order.id, event_id) is None
        logged = services.messages_of(order.customer)
        assert [(m.purpose, m.status) for m in logged] == [
            ("status", MessageStatus.SENT), ("receipt", MessageStatus.SENT),
        ]  # fmt: skip
        assert all(order.number in (m.subject or "") for m in logged)
    assert len(mailbox.to("li@example.com")) == 2


def test_the_message_is_written_in_the_customers_language(app, alpha, mailbox):
    from repairqc.repairs import services as repairs

    with in_tenant(app, alpha):
        intake = sample_intake(
            new_customer=repairs.NewCustomer(
                "Zhang Wei", phone="+86 138 0000 1234", email="zhang@example.com"
            )
        )
        order = repairs.receive_order(store(alpha), staff(alpha, "frontdesk"), intake)
        order.customer.language = "zh-CN"
        send_intake_receipt(order.id)
        [logged] = services.messages_of(order.customer)
        assert logged.language == "zh_Hans_CN"
    [mail] = mailbox.to("zhang@example.com")
    assert "我们已收到" in mail["Subject"] or "收到" in mail["Subject"], mail["Subject"]
    assert "Hello" not in mail.get_content()


def test_messages_of_one_tenant_are_not_found_from_the_other(app, alpha, beta):
    with in_tenant(app, alpha):
        person = customer(store_id=store(alpha).id, email="iso@example.com")
        services.record_message(person, event_key="test:isolation", purpose="test", content=content())
        db.session.flush()
    with in_tenant(app, beta):
        assert services.message_for("test:isolation") is None
        assert rows("test:isolation") == []


# --- a real worker ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def north(backend) -> Iterator[SeededTenant]:
    with backend.app.app_context():
        tenant = provision_seeded("N", extra_rows=0)
    yield tenant
    with backend.app.app_context(), unit_of_work():
        tenants.delete_tenant(tenant.ref.slug)


def test_a_real_worker_sends_the_message_once(backend, north, worker_env):  # noqa: F811
    app, box = backend.app, worker_env["box"]
    with app.app_context(), tenant_context(north.ref), unit_of_work():
        person = customer(store_id=north.store_ids["S1"], email="worker@example.com")
        message = services.queue_message(person, event_key="test:worker", purpose="test", content=content())
    with app.app_context(), tenant_context(north.ref):
        message_id = db.session.execute(
            sa.select(CustomerMessage.id).where(CustomerMessage.event_key == "test:worker")
        ).scalar_one()
        enqueue(deliver_customer_message, message_id)  # a duplicate delivery of the same message
    queue = f"{worker_env['prefix']}emails"
    assert Queue(queue, connection=worker_env["conn"]).count == 2
    run_worker(app, [queue], **worker_env["settings"])
    assert Queue(queue, connection=worker_env["conn"]).failed_job_registry.count == 0
    assert [m["Subject"] for m in box.to("worker@example.com")] == ["Hello subject"]
    with app.app_context(), tenant_context(north.ref):
        row = db.session.get(CustomerMessage, message_id)
        assert row.status is MessageStatus.SENT and row.sent_at is not None
    assert message is not None


def test_a_message_whose_job_was_lost_is_sent_once_by_the_safety_net(app, alpha, mailbox, monkeypatch):
    from datetime import timedelta

    from repairqc.notifications import tasks

    with in_tenant(app, alpha):
        lost = customer(store_id=store(alpha).id, email="lost@example.com")
        failing = customer(store_id=store(alpha).id, email="failing@example.com")
        # written, but no job queued: the queue was down when the unit of work committed
        first, _ = services.record_message(
            lost, event_key="test:lost", purpose="test", content=content("Lost")
        )
        second, _ = services.record_message(
            failing, event_key="test:failing", purpose="test", content=content("Failing")
        )
        db.session.flush()
        written = first.created_at if first.created_at.tzinfo else first.created_at.replace(tzinfo=UTC)
        day = written.date().isoformat()
        # still fresh: its own job may just be slow (or retrying)
        assert first.id not in tasks.deliver_pending_messages(
            day, (written + timedelta(minutes=5)).isoformat()
        )
        real = tasks.deliver

        def deliver(message):
            if message.recipient == "failing@example.com":
                raise OSError("mail server refused")
            return real(message)

        monkeypatch.setattr(tasks, "deliver", deliver)
        later = (written + timedelta(hours=2)).isoformat()
        sent = tasks.deliver_pending_messages(day, later)
        assert first.id in sent and second.id not in sent  # one failing does not hold up the other
        assert first.status is MessageStatus.SENT and second.status is MessageStatus.PENDING
        assert first.id not in tasks.deliver_pending_messages(day, later)  # never twice
    assert [m["Subject"] for m in mailbox.to("lost@example.com")] == ["Lost subject"]
    assert mailbox.to("failing@example.com") == []
