"""The rules of follow-ups and satisfaction surveys (HB §6.2.2, §6.3).

* **Scheduling** (`schedule_after_delivery`, called by `repairs.services.deliver`): one
  `FollowUp` per day of the standard in force for the store on the delivery day
  (`follow_up_days` with its chain and store overrides, then `further_follow_up_days`), due that
  many days after the delivery, and the order's `SatisfactionSurvey`, to be sent
  `survey_delay_hours` after it. Idempotent: (order, sequence) and the survey's order are unique,
  and what exists is kept, so a second call changes nothing; a warranty rework is an order of
  its own and gets its own.
* **Follow-ups** (`record_follow_up`): each try is a `FollowUpAttempt`; "not reached" keeps the
  follow-up open for another try, or closes it when the store gives up; a problem reported may
  open a complaint (HB §9.3) through `complaints.services.open_complaint`.
* **Surveys**: the link is an `itsdangerous` token of (tenant, survey, the survey's nonce),
  valid until `expires_at` (sent + `survey_link_valid_days`). One response per order, whoever
  enters it (online, or staff from a phone call, an on-site visit or a paper form, HB §6.3.1):
  the survey row is locked and re-read before answering, and its version is checked, so a
  second answer is refused (409) even when both were started at once. A score at or below
  `survey_low_score` on any dimension opens a complaint in the same unit of work.
* **Results** (`satisfaction`): per stores, period and optionally technician, for the
  technician KPI, the training evaluation and the report.

Nothing here commits; the views and jobs call these inside one unit of work.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from flask import current_app, render_template
from flask_babel import force_locale, format_date
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer
from markupsafe import Markup
from sqlalchemy.orm import joinedload

from repairqc.accounts.models import Role, StaffUser
from repairqc.accounts.permissions import roles_at
from repairqc.db import current_tenant, db, utcnow
from repairqc.errors import Conflict, DomainError, NotFound
from repairqc.feedback.models import (
    COMMENT_MAX,
    DIMENSIONS,
    NOTES_MAX,
    FollowUp,
    FollowUpAttempt,
    FollowUpChannel,
    FollowUpOutcome,
    FollowUpStatus,
    SatisfactionSurvey,
    SurveyChannel,
    SurveyStatus,
)
from repairqc.i18n import normalise_locale
from repairqc.models_base import check_version
from repairqc.repairs.models import RepairOrder
from repairqc.reports.providers import count_if, utc_bounds
from repairqc.standards.services import EffectiveStandard, effective_for_store
from repairqc.stores.models import Store

#: Record follow-ups and enter survey answers taken by phone, on site or on paper (HB §6.3.1).
RECORDERS = frozenset({Role.OWNER, Role.QA_MANAGER, Role.STORE_MANAGER, Role.FRONT_DESK})
#: A lowest score → the complaint category it opens (HB §9.3 classification).
COMPLAINT_CATEGORY = {
    "timeliness": "service_quality",
    "quality": "repair_result",
    "attitude": "service_attitude",
    "price": "price",
}
#: "Satisfied" in the results: the mean of the four dimensions is at least this (of 5).
SATISFIED_FROM = 4
#: The token's salt: a tracking token can never be read as a survey token.
TOKEN_SALT = "repairqc-satisfaction-survey"
#: Surveys sent per run of the dispatch job at most (the next run sends the rest).
DISPATCH_BATCH = 500

#: The largest id a column holds: a larger one from a form is no row (and no database error).
INT32_MAX = 2**31 - 1

logger = logging.getLogger(__name__)


class Refused(Conflict):
    """A step the record's state or the user's role does not allow (409)."""


class LinkExpired(DomainError):
    status_code = 410


class AlreadyAnswered(Conflict):
    """The survey has its response already: never a second one."""


def dimension_labels() -> dict[str, str]:
    return {
        "timeliness": _("Timeliness"),
        "quality": _("Repair quality"),
        "attitude": _("Service attitude"),
        "price": _("Price transparency"),
    }


def may_record(user: StaffUser, store_id: int) -> bool:
    return bool(roles_at(user, store_id) & RECORDERS)


def _check_recorder(user: StaffUser, store_id: int) -> None:
    if not may_record(user, store_id):
        raise Refused(_("Your role at this store does not allow recording customer follow-ups or surveys."))


def standard_for(store: Store, day: date) -> EffectiveStandard:
    """The standard for `store` on `day`; for a day before the tenant's first standard (an
    answer back-dated by staff, a test's past period), today's."""
    try:
        return effective_for_store(store, day)
    except DomainError:
        return effective_for_store(store, utcnow().date())


def store_zone(store: Store) -> tzinfo:
    """The store's time zone (a mistyped one reads as UTC rather than breaking a page or a job)."""
    try:
        return ZoneInfo(store.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return UTC


def aware(moment: datetime) -> datetime:
    """A stored moment as UTC (SQLite hands back naive datetimes)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def local_day(store: Store, now: datetime | None = None) -> date:
    """The day on the store's wall calendar at `now`: what "due today" and "done on time" mean."""
    return aware(now or utcnow()).astimezone(store_zone(store)).date()


def delivery_day(order: RepairOrder, today: date) -> date:
    """The store's calendar day of the delivery, from which follow-ups count (HB §6.2.2: "3 days
    after delivery" counts the shop's days, not UTC's): the local date of `delivered_at` when the
    delivery happened on the caller's (UTC) day `today`; otherwise `today` itself (a delivery
    recorded for another day, a test travelling in time)."""
    if order.delivered_at is None or aware(order.delivered_at).date() != today:
        return today
    return local_day(order.store, order.delivered_at)


# --- scheduling at delivery (HB §6.2.2(2)) ---------------------------------------------------------------


def follow_up_days(standard: EffectiveStandard) -> list[int]:
    """The days after delivery of the follow-ups: the first (overridable per chain and store),
    then the further ones, each once, in order."""
    first = int(standard.target("follow_up_days"))
    return sorted({first, *standard.document.service_targets.further_follow_up_days})


def schedule_after_delivery(order: RepairOrder, *, today: date) -> tuple[list[FollowUp], SatisfactionSurvey]:
    """The order's follow-ups and survey, made now if missing (the delivery's unit of work)."""
    day = delivery_day(order, today)
    standard = standard_for(order.store, day)
    existing = {
        f.sequence: f for f in db.session.scalars(sa.select(FollowUp).where(FollowUp.order_id == order.id))
    }
    follow_ups = []
    for sequence, days in enumerate(follow_up_days(standard), start=1):
        follow_up = existing.get(sequence)
        if follow_up is None:
            follow_up = FollowUp(
                store_id=order.store_id,
                order_id=order.id,
                customer_id=order.customer_id,
                sequence=sequence,
                days_after=days,
                due_on=day + timedelta(days=days),
            )
            db.session.add(follow_up)
        follow_ups.append(follow_up)
    survey = ensure_survey(order, standard)
    db.session.flush()
    return follow_ups, survey


def ensure_survey(order: RepairOrder, standard: EffectiveStandard | None = None) -> SatisfactionSurvey:
    """The order's survey, made now if missing (flushed), to be sent `survey_delay_hours` after
    the delivery. Also for an order delivered before surveys existed, when staff enter an answer
    taken by phone: then only the survey is made, not follow-ups already long overdue."""
    survey = survey_of(order)
    if survey is not None:
        return survey
    delivered_at = order.delivered_at or utcnow()
    if standard is None:
        standard = standard_for(order.store, aware(delivered_at).date())
    delay = standard.document.service_targets.survey_delay_hours
    survey = SatisfactionSurvey(
        store_id=order.store_id,
        order_id=order.id,
        customer_id=order.customer_id,
        technician_id=order.technician_id,
        send_after=delivered_at + timedelta(hours=delay),
        nonce=secrets.token_urlsafe(16),
    )
    db.session.add(survey)
    db.session.flush()
    return survey


def survey_of(order: RepairOrder) -> SatisfactionSurvey | None:
    return db.session.execute(
        sa.select(SatisfactionSurvey).where(SatisfactionSurvey.order_id == order.id)
    ).scalar_one_or_none()


# --- follow-ups ------------------------------------------------------------------------------------------


def due_follow_ups(store_ids: Iterable[int] | None, until: date, *, limit: int = 300) -> list[FollowUp]:
    """Open follow-ups due on or before `until` at the stores (None: every store), oldest first,
    with their order, customer and store (the due list shows them: no query per row)."""
    statement = (
        sa.select(FollowUp)
        .options(joinedload(FollowUp.order), joinedload(FollowUp.customer), joinedload(FollowUp.store))
        .where(FollowUp.status == FollowUpStatus.OPEN, FollowUp.due_on <= until)
        .order_by(FollowUp.due_on, FollowUp.id)
        .limit(limit)
    )
    if store_ids is not None:
        statement = statement.where(FollowUp.store_id.in_(list(store_ids)))
    return list(db.session.scalars(statement))


def record_follow_up(
    follow_up: FollowUp,
    user: StaffUser,
    *,
    channel: FollowUpChannel,
    outcome: FollowUpOutcome,
    notes: str | None,
    give_up: bool = False,
    complaint_category_id: int | None = None,
    today: date,
    now: datetime | None = None,
    expected_version: int | None = None,
) -> FollowUpAttempt:
    """Record one try at `follow_up` (HB §6.2.2): reached (satisfied, or a problem reported) or
    declined completes it; "not reached" leaves it open for another try unless `give_up`.
    A problem reported with a `complaint_category_id` opens a complaint at once."""
    check_version(follow_up, expected_version)
    _check_recorder(user, follow_up.store_id)
    if not follow_up.is_open:
        raise Refused(
            _(
                "This follow-up is already recorded (%(status)s). Reload the page.",
                status=follow_up.status.label,
            )
        )
    notes = (notes or "").strip() or None
    if notes and len(notes) > NOTES_MAX:
        raise DomainError(_("Keep the notes under %(max)s characters.", max=NOTES_MAX), field="notes")
    if outcome is FollowUpOutcome.PROBLEM and not notes:
        raise DomainError(_("Write down the problem the customer reported."), field="notes")
    attempt = FollowUpAttempt(
        store_id=follow_up.store_id,
        follow_up_id=follow_up.id,
        at=now or utcnow(),
        by_id=user.id,
        channel=channel,
        outcome=outcome,
        notes=notes,
    )
    db.session.add(attempt)
    follow_up.attempts = (follow_up.attempts or 0) + 1
    follow_up.channel = channel
    follow_up.outcome = outcome
    follow_up.notes = notes
    if outcome is FollowUpOutcome.NOT_REACHED and not give_up:
        pass  # stays open: try again later
    else:
        follow_up.status = (
            FollowUpStatus.CLOSED if outcome is FollowUpOutcome.NOT_REACHED else FollowUpStatus.DONE
        )
        follow_up.completed_on = today
        follow_up.completed_by_id = user.id
    db.session.flush()
    if outcome is FollowUpOutcome.PROBLEM and complaint_category_id:
        complaint_from_follow_up(follow_up, user, category_id=complaint_category_id)
    return attempt


def complaint_from_follow_up(follow_up: FollowUp, user: StaffUser, *, category_id: int | None):
    """Open the complaint of the problem a customer reported on a follow-up (HB §9.3), once,
    in the category chosen (the built-in ones or the provider's own)."""
    from repairqc.complaints.models import ComplaintCategory, ComplaintChannel
    from repairqc.complaints.services import open_complaint

    _check_recorder(user, follow_up.store_id)
    if follow_up.outcome is not FollowUpOutcome.PROBLEM:
        raise Refused(_("Only a follow-up on which the customer reported a problem opens a complaint."))
    if follow_up.complaint_id is not None:
        raise Refused(_("A complaint was already opened from this follow-up."))
    valid_id = isinstance(category_id, int) and 0 < category_id <= INT32_MAX
    category = db.session.get(ComplaintCategory, category_id) if valid_id else None
    if category is None or not category.is_active:
        raise DomainError(_("Choose the complaint's category."), field="category")
    order = follow_up.order
    description = _(
        "Reported on the follow-up of %(number)s (%(day)s, %(channel)s): %(notes)s",
        number=order.number,
        day=format_date(follow_up.completed_on or follow_up.due_on),
        channel=follow_up.channel.label if follow_up.channel else "",
        notes=follow_up.notes or "",
    )
    complaint = open_complaint(
        store=order.store,
        channel=ComplaintChannel.FOLLOW_UP,
        category=category,
        description=description,
        customer=order.customer,
        order=order,
        language=normalise_locale(order.customer.language) or "en",
        actor=user,
    )
    follow_up.complaint_id = complaint.id
    db.session.flush()
    return complaint


# --- the survey link ----------------------------------------------------------------------------------


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=TOKEN_SALT)


def survey_token(survey: SatisfactionSurvey) -> str:
    """The link's key: signed (tenant, survey, nonce). It expires with the survey's `expires_at`."""
    return _serializer().dumps({"t": current_tenant().id, "s": survey.id, "n": survey.nonce})


def survey_for_token(token: str, *, now: datetime | None = None) -> SatisfactionSurvey:
    """The survey a link names; 404 when forged, revoked or another tenant's, 410 when expired
    and not answered (an answered survey always shows its thank-you)."""
    invalid = NotFound(_("This survey link is not valid."))
    try:
        payload = _serializer().loads(token)
    except BadSignature:
        raise invalid from None
    if not isinstance(payload, dict) or payload.get("t") != current_tenant().id:
        raise invalid
    survey_id = payload.get("s")
    survey = db.session.get(SatisfactionSurvey, survey_id) if isinstance(survey_id, int) else None
    if survey is None or not secrets.compare_digest(str(payload.get("n", "")), survey.nonce):
        raise invalid
    now = now or utcnow()
    if survey.answered_at is None and survey.expires_at is not None and now >= survey.expires_at:
        raise LinkExpired(
            _(
                "This survey link expired on %(date)s. Thank you all the same; you can still call the store.",
                date=format_date(local_day(survey.store, survey.expires_at), "long"),
            )
        )
    return survey


# --- sending (the "survey-dispatch" job) ------------------------------------------------------------------


def surveys_due(now: datetime, *, limit: int = DISPATCH_BATCH) -> list[SatisfactionSurvey]:
    """Scheduled surveys whose time has come, locked (others' locks skipped on PostgreSQL, so two
    dispatchers share the work instead of both sending)."""
    return list(
        db.session.scalars(
            sa.select(SatisfactionSurvey)
            .where(SatisfactionSurvey.status == SurveyStatus.SCHEDULED, SatisfactionSurvey.send_after <= now)
            .order_by(SatisfactionSurvey.send_after, SatisfactionSurvey.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def send_survey(survey: SatisfactionSurvey, *, now: datetime):
    """Write the invitation (once: its event key) in the customer's language and mark the survey
    sent; it goes out after the unit of work commits. No channel: the store asks by phone."""
    from repairqc.notifications.models import MessageStatus
    from repairqc.notifications.services import queue_message, render_content
    from repairqc.tenants.services import tenant_url

    if survey.status is not SurveyStatus.SCHEDULED:
        return None
    order, store = survey.order, survey.store
    standard = standard_for(store, now.date())
    expires_at = now + timedelta(days=standard.document.service_targets.survey_link_valid_days)
    link = tenant_url(f"/survey/{survey_token(survey)}")
    content = render_content(
        "feedback/messages/survey",
        survey.customer,
        survey=survey,
        order=order,
        store=store,
        link=link,
        valid_until=local_day(store, expires_at),
        device=f"{order.device.brand} {order.device.model}".strip(),
    )
    message = queue_message(
        survey.customer,
        event_key=f"survey:{survey.id}:invitation",
        purpose="survey",
        content=content,
        store=store,
    )
    survey.sent_at = now
    survey.expires_at = expires_at
    survey.status = (
        SurveyStatus.NO_CHANNEL if message.status is MessageStatus.NO_CHANNEL else SurveyStatus.SENT
    )
    db.session.flush()
    return message


def dispatch_due_surveys(now: datetime) -> list[int]:
    """Send every survey due by `now`; the ids sent. Idempotent: only scheduled surveys move.

    Each survey in a savepoint: one that cannot be sent (a broken template, a store without a
    standard, a bad address) is logged and left scheduled for the next run, and does not stop
    the others (nor roll back the invitations already written by this run)."""
    sent = []
    for survey in surveys_due(now):
        survey_id = survey.id
        try:
            with db.session.begin_nested():
                message = send_survey(survey, now=now)
        except Exception:
            logger.exception("survey %s: the invitation could not be written; retried next run", survey_id)
            continue
        if message is not None:
            sent.append(survey_id)
    return sent


# --- answers (HB §6.3) ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answers:
    timeliness: int | None
    quality: int | None
    attitude: int | None
    price: int | None
    comment: str | None = None
    would_recommend: bool | None = None

    def scores(self) -> dict[str, int | None]:
        return {name: getattr(self, name) for name in DIMENSIONS}


@dataclass(frozen=True)
class Answered:
    survey: SatisfactionSurvey
    #: The complaint a low score opened, if any.
    complaint: object | None = None


def low_score(store: Store, day: date) -> int:
    return standard_for(store, day).document.service_targets.survey_low_score


def check_answers(answers: Answers) -> None:
    """Every dimension 1-5, the comment within its length (nothing is saved otherwise)."""
    for name, label in dimension_labels().items():
        value = getattr(answers, name)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 5:
            raise DomainError(_("Choose a score from 1 to 5 for “%(what)s”.", what=label), field=name)
    if answers.comment and len(answers.comment) > COMMENT_MAX:
        raise DomainError(_("Keep the comment under %(max)s characters.", max=COMMENT_MAX), field="comment")


def _locked(survey: SatisfactionSurvey) -> SatisfactionSurvey:
    """The survey as committed now, locked until the unit of work ends (a concurrent answer
    waits, then sees the first one; SQLite has one writer, and the version check catches the rest)."""
    return db.session.execute(
        sa.select(SatisfactionSurvey)
        .where(SatisfactionSurvey.id == survey.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


def answer_online(
    survey: SatisfactionSurvey, answers: Answers, *, language: str, now: datetime | None = None
) -> Answered:
    """The customer's own answer through the link (HB §6.3.1 online questionnaire)."""
    return _answer(survey, answers, channel=SurveyChannel.ONLINE, entered_by=None, language=language, now=now)


def enter_response(
    survey: SatisfactionSurvey,
    user: StaffUser,
    answers: Answers,
    *,
    channel: SurveyChannel,
    now: datetime | None = None,
    expected_version: int | None = None,
) -> Answered:
    """A response staff took by phone, on a visit or on a paper form (HB §6.3.1)."""
    _check_recorder(user, survey.store_id)
    if channel is SurveyChannel.ONLINE:
        raise DomainError(_("Choose how the customer answered."), field="channel")
    check_version(survey, expected_version)
    language = normalise_locale(survey.customer.language) or "en"
    return _answer(survey, answers, channel=channel, entered_by=user, language=language, now=now)


def _answer(
    survey: SatisfactionSurvey,
    answers: Answers,
    *,
    channel: SurveyChannel,
    entered_by: StaffUser | None,
    language: str,
    now: datetime | None,
) -> Answered:
    check_answers(answers)
    survey = _locked(survey)
    if survey.answered_at is not None:
        raise AlreadyAnswered(
            _(
                "This survey was already answered on %(date)s; an order has one answer.",
                date=format_date(local_day(survey.store, survey.answered_at), "long"),
            )
        )
    now = now or utcnow()
    for name, value in answers.scores().items():
        setattr(survey, name, value)
    survey.comment = (answers.comment or "").strip() or None
    survey.would_recommend = answers.would_recommend
    survey.answered_at = now
    survey.channel = channel
    survey.entered_by_id = entered_by.id if entered_by is not None else None
    survey.language = language
    survey.status = SurveyStatus.ANSWERED
    db.session.flush()
    complaint = None
    threshold = low_score(survey.store, now.date())
    if min(answers.scores().values()) <= threshold:
        complaint = _complaint_from_survey(survey, language, entered_by)
    return Answered(survey, complaint)


def describe_answers(survey: SatisfactionSurvey) -> str:
    """The answers in words, for the complaint they open (in the current locale)."""
    labels = dimension_labels()
    scores = ", ".join(
        _("%(what)s %(score)s of 5", what=labels[name], score=getattr(survey, name)) for name in DIMENSIONS
    )
    recommend = {True: _("yes"), False: _("no"), None: _("not answered")}[survey.would_recommend]
    text = _(
        "Satisfaction survey of %(number)s (%(channel)s): %(scores)s. Would recommend us: %(recommend)s.",
        number=survey.order.number,
        channel=survey.channel.label if survey.channel else "",
        scores=scores,
        recommend=recommend,
    )
    if survey.comment:
        text += " " + _("Comment: %(comment)s", comment=survey.comment)
    return text


def _complaint_from_survey(survey: SatisfactionSurvey, language: str, entered_by: StaffUser | None):
    """HB §9.3: a low score is a complaint; its category follows the lowest dimension."""
    from repairqc.complaints.models import ComplaintChannel
    from repairqc.complaints.services import open_complaint

    if survey.complaint_id is not None:
        return None
    lowest = min(DIMENSIONS, key=lambda name: getattr(survey, name))
    with force_locale(language):
        description = describe_answers(survey)
    order = survey.order
    complaint = open_complaint(
        store=order.store,
        channel=ComplaintChannel.SURVEY,
        category_code=COMPLAINT_CATEGORY[lowest],
        description=description,
        customer=order.customer,
        order=order,
        survey_id=survey.id,
        language=language,
        actor=entered_by,
    )
    survey.complaint_id = complaint.id
    db.session.flush()
    return complaint


def contact_hours(complaint, now: datetime | None = None) -> int | None:
    """Within how many hours the store will contact the customer about a complaint just opened
    (its first-contact deadline, HB §9.3.3), for the customer's "sorry" message."""
    due = getattr(complaint, "first_contact_due_at", None)
    if due is None:
        return None
    return max(1, round((aware(due) - aware(now or utcnow())).total_seconds() / 3600))


# --- results (HB §6.3.3, §3.2.1) -------------------------------------------------------------------------


@dataclass(frozen=True)
class Satisfaction:
    """The answers of a set of surveys: how many, the average of each dimension (1-5), the
    score 0-100 (the mean of the four mapped 1 → 0, 5 → 100), the share satisfied (mean of the
    four at least `SATISFIED_FROM`) and the share who would recommend us (of those who said)."""

    responses: int
    averages: dict[str, float]
    score: float
    satisfied_pct: float
    recommend_pct: float | None

    def __html__(self) -> str:
        """Rendered where a page prints the results as they are (the training evaluation)."""
        return Markup(render_template("feedback/_satisfaction.html", results=self, labels=dimension_labels()))


def satisfaction(
    store_ids: Iterable[int] | None, start: date, end: date, technician_id: int | None = None
) -> Satisfaction | None:
    """The answers given in [start, end] (whole UTC days) at the stores (None: all), of the
    technician's orders when given; None without any. One statement."""
    low, high = utc_bounds(start, end)
    s = SatisfactionSurvey
    total = s.timeliness + s.quality + s.attitude + s.price
    statement = sa.select(
        sa.func.count(),
        *(sa.func.avg(getattr(s, name)) for name in DIMENSIONS),
        sa.func.avg(total),
        count_if(total >= 4 * SATISFIED_FROM),
        count_if(s.would_recommend.is_(True)),
        sa.func.count(s.would_recommend),
    ).where(s.answered_at >= low, s.answered_at < high)
    if store_ids is not None:
        statement = statement.where(s.store_id.in_(list(store_ids)))
    if technician_id is not None:
        statement = statement.where(s.technician_id == technician_id)
    row = db.session.execute(statement).one()
    responses = int(row[0])
    if not responses:
        return None
    averages = {name: round(float(value), 2) for name, value in zip(DIMENSIONS, row[1:5], strict=True)}
    mean_total = float(row[5])
    said = int(row[8])
    return Satisfaction(
        responses=responses,
        averages=averages,
        score=round((mean_total / 4 - 1) * 25, 2),
        satisfied_pct=round(100.0 * int(row[6]) / responses, 2),
        recommend_pct=round(100.0 * int(row[7]) / said, 2) if said else None,
    )
