"""The customer's satisfaction survey: no sign-in, the signed link is the key (HB §6.3).

Like the tracking page (`repairs.tracking_views`), it speaks to the customer in their language
(the visitor may switch), shows only what the customer knows already (the store, the order
number, the device by brand and model, their first name), and keeps the link out of caches,
indexes and referrers. The four dimensions of HB §6.3.2 are scored 1-5, with a comment and
"would you recommend us". One answer per order: once answered (here or by staff from a phone
call, a visit or a paper form), the link only says thank you. A low score opens a complaint
(`services._complaint_from_survey`) and the customer is told when the store will call.
The answer is rate-limited per client address and tenant, and CSRF-protected.
"""

from __future__ import annotations

from flask import current_app, redirect, render_template, request, session, url_for
from flask_babel import force_locale
from flask_babel import gettext as _

from repairqc.admin.screens import attempt
from repairqc.db import db
from repairqc.errors import DomainError, NotFound
from repairqc.extensions import limiter
from repairqc.feedback import services
from repairqc.feedback.forms import SurveyForm
from repairqc.feedback.models import DIMENSIONS, SatisfactionSurvey
from repairqc.i18n import normalise_locale, select_locale
from repairqc.public_pages import client_key, public_blueprint
from repairqc.repairs.tracking_views import first_name

bp = public_blueprint("survey", __name__)

#: Real tokens are about 90 characters; anything far longer is not worth verifying.
MAX_TOKEN_LENGTH = 512
#: Where the page remembers, for this browser, the survey just answered and what to tell.
JUST_ANSWERED = "survey_just_answered"


def survey_rate_limit() -> str:
    """Answers allowed per client address and tenant (SURVEY_RATE_LIMIT)."""
    return current_app.config["SURVEY_RATE_LIMIT"]


def _client_key() -> str:
    return client_key("survey")


def _locale(survey: SatisfactionSurvey) -> str:
    """The visitor's own choice, else the customer's language, else the browser's."""
    return (
        normalise_locale(session.get("locale"))
        or normalise_locale(survey.customer.language)
        or select_locale()
    )


def _load(token: str):
    """(the survey, None), or (None, the page saying why the link does not work: 404, 410)."""
    try:
        if len(token) > MAX_TOKEN_LENGTH:
            raise NotFound(_("This survey link is not valid."))
        return services.survey_for_token(token), None
    except DomainError as exc:
        page = render_template("feedback/survey/link_error.html", code=exc.status_code, message=exc.message)
        return None, (page, exc.status_code)


def _render(survey: SatisfactionSurvey, token: str, form: SurveyForm, *, error=None, status=200):
    order = survey.order
    just = session.get(JUST_ANSWERED)
    just = just if isinstance(just, dict) and just.get("id") == survey.id else {}
    context = {
        "survey": survey,
        "order": order,
        "store": survey.store,
        "token": token,
        "form": form,
        "error": error,
        "dimensions": [form[name] for name in DIMENSIONS],
        "first_name": first_name(order.customer.full_name),
        "device": f"{order.device.brand} {order.device.model}".strip(),
        "just_answered": bool(just),
        "complaint_opened": bool(just.get("complaint")),
        "contact_hours": just.get("hours"),
        "languages": [("en", "English"), ("zh_Hans_CN", "简体中文")],
    }
    return render_template("feedback/survey/page.html", **context), status


@bp.get("/survey/<token>")
def page(token: str):
    survey, failure = _load(token)
    if failure is not None:
        return failure
    chosen = normalise_locale(request.args.get("lang"))
    if chosen:
        session["locale"] = chosen
        return redirect(url_for(".page", token=token))
    with force_locale(_locale(survey)):
        return _render(survey, token, SurveyForm())


@bp.post("/survey/<token>")
@limiter.limit(survey_rate_limit, methods=["POST"], key_func=_client_key)
def answer(token: str):
    """The customer's answer (HB §6.3.1 online questionnaire)."""
    survey, failure = _load(token)
    if failure is not None:
        return failure
    locale = _locale(survey)
    with force_locale(locale):
        form = SurveyForm(request.form)
        if survey.is_answered:
            return _render(survey, token, form, status=409)
        if not form.validate():
            message = _("Please answer every question marked below.")
            return _render(survey, token, form, error=message, status=400)
        survey_id = survey.id
        result: dict = {}

        def run() -> None:
            result["answered"] = services.answer_online(survey, form.answers(), language=locale)

        error = attempt(run)
        if error is not None:
            db.session.expire_all()
            fresh = db.session.get(SatisfactionSurvey, survey_id)
            return _render(fresh, token, form, error=error.message, status=error.status_code)
        complaint = result["answered"].complaint
        session[JUST_ANSWERED] = {
            "id": survey_id,
            "complaint": complaint is not None,
            "hours": services.contact_hours(complaint) if complaint is not None else None,
        }
    return redirect(url_for(".page", token=token))
