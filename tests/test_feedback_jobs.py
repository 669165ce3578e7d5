"""The hourly "survey-dispatch" job (HB §6.3) run by a real RQ worker, mailing a real local SMTP
server: each survey due (delivery + survey_delay_hours) is sent once, in the customer's
language, with a link that opens the survey; a customer without e-mail or text messages is left
for the store to ask.

The worker is another process and sees committed rows only, so these tests commit into two
scratch tenants of their own (deleted at the end of the module); the job is queued for each of
them directly (the fan-out would also reach the session tenants, which must stay as seeded).
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from rq import Queue
from rq.job import Job

from repairqc.db import db, utcnow
from repairqc.feedback import services
from repairqc.feedback.models import SatisfactionSurvey, SurveyStatus
from repairqc.feedback.tasks import dispatch_surveys
from repairqc.jobs import enqueue
from repairqc.jobs.periodic import periodic_job, run_moment
from repairqc.notifications.models import CustomerMessage
from tests.conftest import SeededTenant, committed
from tests.test_feedback_services import delivered_order
from tests.test_jobs import run_worker
from tests.test_supervision_jobs import worker_env  # noqa: F401  (the fixture: Redis queues + SMTP)

SUBJECT = "How was your repair at"


def run_dispatch(backend, env: dict, tenants_: list[SeededTenant], now) -> None:
    """Queue the job for each tenant as the fan-out would, and let a real worker do the work."""
    with backend.app.app_context():
        for tenant in tenants_:
            enqueue(dispatch_surveys, now.date().isoformat(), now.isoformat(), tenant=tenant.ref)
    queues = [f"{env['prefix']}default", f"{env['prefix']}emails"]
    run_worker(backend.app, queues, **env["settings"])
    for name in queues:
        failed = Queue(name, connection=env["conn"]).failed_job_registry
        assert [Job.fetch(i, connection=env["conn"]).latest_result() for i in failed.get_job_ids()] == []


def test_the_entry_is_hourly_and_names_the_job():
    entry = periodic_job("survey-dispatch")
    assert entry.tenant_job() is dispatch_surveys and entry.cron.split()[1:] == ["*", "*", "*", "*"]


def test_the_run_sends_for_now_today_and_for_the_end_of_another_day():
    now = utcnow()
    assert abs((run_moment(now.date().isoformat()) - now).total_seconds()) < 60
    assert run_moment("2026-01-05").isoformat().startswith("2026-01-05T23:59:59")
    assert run_moment("2026-01-05", "2026-01-05T10:00:00").hour == 10


def test_due_surveys_are_sent_once_in_the_customers_language(
    backend,
    east,
    west,
    worker_env,  # noqa: F811
):
    box = worker_env["box"]
    with committed(backend, east):
        english = services.survey_of(delivered_order(east, email="en.customer@example.com")).id
        chinese = services.survey_of(
            delivered_order(east, email="zh.customer@example.com", language="zh_Hans_CN")
        ).id
        phone_only = services.survey_of(delivered_order(east, email=None)).id
    with committed(backend, west):
        theirs = services.survey_of(delivered_order(west, email="west.customer@example.com")).id
    with committed(backend, east):
        due = db.session.get(SatisfactionSurvey, english).send_after

    def survey_mails():
        return [m for m in box.messages if SUBJECT in m["Subject"] or "/survey/" in m.get_content()]

    run_dispatch(backend, worker_env, [east, west], due - timedelta(hours=1))  # not yet
    assert survey_mails() == []

    run_dispatch(backend, worker_env, [east, west], due + timedelta(hours=1))
    mails = survey_mails()
    assert sorted(m["To"] for m in mails) == [
        "en.customer@example.com",
        "west.customer@example.com",
        "zh.customer@example.com",
    ]
    (en,) = [m for m in mails if m["To"] == "en.customer@example.com"]
    assert en["Subject"].startswith(SUBJECT) and east.store_sentinel("S1") in en["Subject"]
    body = en.get_content()
    assert f"http://{east.host}/survey/" in body and "SENTINEL-L" not in body
    (zh,) = [m for m in mails if m["To"] == "zh.customer@example.com"]
    assert "年" in zh.get_content()  # the link's end date, written the Chinese way
    with committed(backend, east):
        statuses = {
            s.id: s.status
            for s in db.session.scalars(
                sa.select(SatisfactionSurvey).where(SatisfactionSurvey.id.in_([english, chinese, phone_only]))
            )
        }
        assert statuses == {
            english: SurveyStatus.SENT,
            chinese: SurveyStatus.SENT,
            phone_only: SurveyStatus.NO_CHANNEL,
        }
        languages = dict(
            db.session.execute(
                sa.select(CustomerMessage.event_key, CustomerMessage.language).where(
                    CustomerMessage.purpose == "survey"
                )
            ).all()
        )
        assert languages[f"survey:{chinese}:invitation"] == "zh_Hans_CN"
        assert languages[f"survey:{english}:invitation"] == "en"
    with committed(backend, west):
        assert db.session.get(SatisfactionSurvey, theirs).status is SurveyStatus.SENT

    # the link opens the survey on the tenant's host
    link = "/survey/" + body.split("/survey/", 1)[1].split()[0]
    with backend.app.app_context():
        page = backend.app.test_client().get(link, base_url=f"http://{east.host}")
    assert page.status_code == 200 and 'data-testid="survey-form"' in page.text

    # the same hour again, and a day later: nothing twice
    run_dispatch(backend, worker_env, [east, west], due + timedelta(hours=1))
    run_dispatch(backend, worker_env, [east, west], due + timedelta(days=1))
    assert len(survey_mails()) == 3
    with committed(backend, east):
        assert (
            db.session.scalar(
                sa.select(sa.func.count())
                .select_from(CustomerMessage)
                .where(CustomerMessage.event_key == f"survey:{english}:invitation")
            )
            == 1
        )
