"""The improvement screens (HB §2.3.1, §2.3.2, §5.2.3 continuous improvement), under "Ch.5".

* `SuggestionsView` (/admin/improvements/suggestions/): the suggestions the user may see
  (filters: status, area, store, mine), submitting one (every member of staff), and one
  suggestion's page with its timeline and, for this user and its state, the next step: adopt or
  reject (QA, owner), start and record the implementation (the responsible person, QA, owner),
  review the effect (QA, owner).
* `ReviewsView` (/admin/improvements/reviews/): the periodic process reviews (HB §2.3.1), one
  review's page, and recording or correcting one (QA, owner) with the figures of its period.

Thin (aesthetics.md §7): each POST loads its record locked within the user's scope (404
otherwise: another tenant's or another store's suggestion does not exist for them), checks the
hidden `version` the page showed (409 when stale), calls one service in one unit of work and
redirects; a refusal re-renders the page with what the user typed and the message, with its
status, nothing saved. The generated lists stay at /admin/improvement_suggestions/, ...
"""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload
from wtforms import Form

from repairqc.accounts.models import StaffUser
from repairqc.accounts.permissions import Action, current_grants
from repairqc.accounts.scoping import scoped_select
from repairqc.admin.screens import (
    ScopedScreen,
    as_id,
    attempt,
    field_errors,
    load_scoped,
    required_version,
    staff,
    stores_for,
    today,
    validated,
)
from repairqc.db import db
from repairqc.forms_base import store_choices
from repairqc.improvements import services
from repairqc.improvements.forms import (
    AdoptForm,
    EffectForm,
    ImplementForm,
    RejectForm,
    ReviewForm,
    StartForm,
    SuggestionForm,
)
from repairqc.improvements.models import (
    EffectRating,
    ImprovementArea,
    ImprovementSuggestion,
    ProcessReview,
    SuggestionSource,
    SuggestionStatus,
    process_review_suggestions,
)
from repairqc.stores.models import Store

#: Rows per list; the page says when there are more (filters narrow them down).
LIST_LIMIT = 300
PROVIDER_WIDE = "provider"
#: Suggestions whose course has ended: not adopted, or effect reviewed.
CLOSED = (SuggestionStatus.REJECTED, SuggestionStatus.REVIEWED)


def _store_filter(stores: list[Store]) -> tuple[Store | None, bool]:
    """?store=<id> among the user's stores (404 for another: no probing), or ?store=provider."""
    raw = request.args.get("store", "")
    if not raw:
        return None, False
    if raw == PROVIDER_WIDE:
        return None, True
    store = next((s for s in stores if s.id == as_id(raw)), None)
    if store is None:
        abort(404)
    return store, False


def _date_arg(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name) or "")
    except ValueError:
        return None


# --- suggestions -----------------------------------------------------------------------------------


class SuggestionsView(ScopedScreen):
    model_name = "ImprovementSuggestion"

    @expose("/")
    def index(self):
        stores = stores_for("ImprovementSuggestion")
        store, provider_wide = _store_filter(stores)
        status = request.args.get("status", "")
        if status not in {"open", *(s.value for s in SuggestionStatus)}:
            status = ""
        area = request.args.get("area", "")
        if area not in {a.value for a in ImprovementArea}:
            area = ""
        mine = request.args.get("mine") == "1"
        S = ImprovementSuggestion
        statement = scoped_select(S)
        if store is not None:
            statement = statement.where(S.store_id == store.id)
        elif provider_wide:
            statement = statement.where(S.store_id.is_(None))
        if status == "open":
            statement = statement.where(S.status.not_in(CLOSED))
        elif status:
            statement = statement.where(S.status == SuggestionStatus(status))
        if area:
            statement = statement.where(S.area == ImprovementArea(area))
        if mine:
            me = staff().id
            statement = statement.where(sa.or_(S.submitted_by_id == me, S.responsible_id == me))
        total = db.session.execute(sa.select(sa.func.count()).select_from(statement.subquery())).scalar_one()
        suggestions = list(
            db.session.execute(
                statement.options(joinedload(S.store), joinedload(S.submitted_by), joinedload(S.responsible))
                .order_by(S.id.desc())
                .limit(LIST_LIMIT)
            ).scalars()
        )
        return self.render(
            "improvements/suggestions.html",
            suggestions=suggestions,
            total=total,
            limit=LIST_LIMIT,
            stores=stores,
            filters={"store": store, "provider": provider_wide, "status": status, "area": area, "mine": mine},
            statuses=list(SuggestionStatus),
            areas=list(ImprovementArea),
            can_submit=services.may_submit(staff()) and not current_grants().read_only,
            day=today(),
        )

    @expose("/new", methods=("GET", "POST"))
    def new(self):
        user = staff()
        if not services.may_submit(user) or current_grants().read_only:
            abort(403)
        stores, provider_wide = services.submission_stores(user)
        if not stores and not provider_wide:
            abort(403)
        form = SuggestionForm(request.form if request.method == "POST" else None, data=self._initial(stores))
        choices = store_choices(stores)
        if provider_wide:
            choices = [("", _("The whole provider (no store)")), *choices]
        elif len(stores) > 1:
            choices = [("", "—"), *choices]
        form.store.choices = choices
        if request.method == "GET":
            return self.render("improvements/suggestion_form.html", form=form, refusal_messages=[])
        by_id = {str(s.id): s for s in stores}
        created: dict = {}

        def submit() -> None:
            validated(form)
            made = services.submit_suggestion(
                user,
                area=ImprovementArea(form.area.data),
                title=form.title.data,
                problem=form.problem.data,
                proposal=form.proposal.data,
                store=by_id.get(form.store.data or ""),
                source=SuggestionSource(form.source.data),
                source_reference=form.source_reference.data,
            )
            created["id"] = made.id

        error = attempt(submit)
        if error is None:
            flash(_("Thank you: your suggestion is submitted. QA decides whether to adopt it."), "success")
            return redirect(url_for(".show", suggestion_id=created["id"]))
        messages = field_errors(form, error)
        return self.render(
            "improvements/suggestion_form.html", form=form, refusal_messages=messages
        ), error.status_code

    @staticmethod
    def _initial(stores: list[Store]) -> dict:
        """Store staff default to their store; HQ to the whole provider. ?source= preselects."""
        data = {"store": str(stores[0].id) if len(stores) == 1 and not current_grants().tenant_roles else ""}
        source = request.args.get("source", "")
        if source in {s.value for s in SuggestionSource} and source != SuggestionSource.EFFECT_REVIEW.value:
            data["source"] = source
        return data

    @expose("/<int:suggestion_id>/")
    def show(self, suggestion_id: int):
        return self._page(load_scoped(ImprovementSuggestion, suggestion_id))

    @expose("/<int:suggestion_id>/<step>", methods=("POST",))
    def act(self, suggestion_id: int, step: str):
        if step not in STEP_FORMS:
            abort(404)
        forms: dict[str, Form] = {}
        result: dict = {}

        def run() -> None:
            suggestion = load_scoped(ImprovementSuggestion, suggestion_id, for_update=True)
            form = forms[step] = self._form(step, suggestion, request.form)
            version = required_version()
            validated(form)
            user, day = staff(), today()
            if step == "adopt":
                responsible = db.session.get(StaffUser, as_id(form.responsible.data) or 0)
                services.adopt_suggestion(
                    suggestion,
                    user,
                    responsible=responsible,
                    due_on=form.due_on.data,
                    plan=form.plan.data,
                    note=form.note.data,
                    today=day,
                    expected_version=version,
                )
            elif step == "reject":
                services.reject_suggestion(
                    suggestion, user, reason=form.reason.data, expected_version=version
                )
            elif step == "start":
                services.start_implementation(suggestion, user, note=form.note.data, expected_version=version)
            elif step == "implement":
                services.record_implementation(
                    suggestion,
                    user,
                    implemented_on=form.implemented_on.data,
                    what_was_done=form.what_was_done.data,
                    effect_review_due_on=form.effect_review_due_on.data,
                    today=day,
                    expected_version=version,
                )
            else:
                follow_up = services.review_effect(
                    suggestion,
                    user,
                    rating=EffectRating(form.rating.data),
                    notes=form.notes.data,
                    reopen=form.reopen.data,
                    expected_version=version,
                )
                result["follow_up"] = follow_up.id if follow_up is not None else None

        error = attempt(run)
        if error is None:
            flash(str(STEP_DONE[step]), "success")
            if result.get("follow_up"):
                flash(_("The problem is reopened as suggestion #%(id)s.", id=result["follow_up"]), "info")
            return redirect(url_for(".show", suggestion_id=suggestion_id))
        form = forms.get(step)
        messages = field_errors(form, error) if form is not None else [error.message]
        db.session.expire_all()
        return self._page(
            load_scoped(ImprovementSuggestion, suggestion_id), submitted=forms, refusal_messages=messages
        ), error.status_code

    @staticmethod
    def _form(step: str, suggestion: ImprovementSuggestion, formdata=None) -> Form:
        day = today()
        defaults = {
            "adopt": {"due_on": day + timedelta(days=30)},
            "implement": {"implemented_on": day},
        }
        form = STEP_FORMS[step](formdata, prefix=step, data=None if formdata else defaults.get(step))
        if step == "adopt":
            form.responsible.choices = [("", "—")] + [
                (str(person.id), person.full_name) for person in services.responsible_candidates(suggestion)
            ]
        return form

    def _page(self, suggestion: ImprovementSuggestion, *, submitted=None, refusal_messages=None):
        user = staff()
        status = suggestion.status
        decider = services.may_decide(user)
        implementer = services.may_implement(user, suggestion)
        own_blocked = (
            decider
            and status is SuggestionStatus.SUBMITTED
            and suggestion.submitted_by_id == user.id
            and services.other_decider_exists(user)
        )
        show = {
            "adopt": decider and status is SuggestionStatus.SUBMITTED and not own_blocked,
            "reject": decider and status is SuggestionStatus.SUBMITTED and not own_blocked,
            "start": implementer and status is SuggestionStatus.ADOPTED,
            "implement": implementer and status in services.SUGGESTION_PENDING,
            "effect": decider and status is SuggestionStatus.IMPLEMENTED,
        }
        submitted = submitted or {}
        for key in submitted:
            show[key] = True
        forms = {key: submitted.get(key) or self._form(key, suggestion) for key in STEP_FORMS if show[key]}
        S = ImprovementSuggestion
        follow_ups = list(
            db.session.execute(
                scoped_select(S).where(S.follow_up_of_id == suggestion.id).order_by(S.id)
            ).scalars()
        )
        original = None
        if suggestion.follow_up_of_id is not None:
            original = db.session.execute(scoped_select(S).where(S.id == suggestion.follow_up_of_id)).scalar()
        reviews = []
        links = process_review_suggestions
        if current_grants().can("ProcessReview", Action.VIEW):
            reviews = list(
                db.session.execute(
                    sa.select(ProcessReview)
                    .join(links, links.c.review_id == ProcessReview.id)
                    .where(links.c.suggestion_id == suggestion.id)
                    .order_by(ProcessReview.held_on.desc())
                ).scalars()
            )
        day = today()
        return self.render(
            "improvements/suggestion.html",
            suggestion=suggestion,
            show=show,
            forms=forms,
            own_blocked=own_blocked,
            refusal_messages=refusal_messages or [],
            refusal_on_field=refusal_messages == [],
            events=suggestion.events,
            follow_ups=follow_ups,
            original=original,
            reviews=reviews,
            overdue=suggestion.is_overdue(day),
            review_due=status is SuggestionStatus.IMPLEMENTED
            and suggestion.effect_review_due_on is not None
            and suggestion.effect_review_due_on <= day,
            default_review_days=services.EFFECT_REVIEW_DEFAULT_DAYS,
            S=SuggestionStatus,
        )


STEP_FORMS: dict[str, type[Form]] = {
    "adopt": AdoptForm,
    "reject": RejectForm,
    "start": StartForm,
    "implement": ImplementForm,
    "effect": EffectForm,
}
STEP_DONE = {
    "adopt": _l("The suggestion is adopted; the submitter and the responsible person are told."),
    "reject": _l("The decision is recorded; the submitter is told the reason."),
    "start": _l("The implementation has started."),
    "implement": _l("The implementation is recorded; the effect is reviewed on the date set."),
    "effect": _l("The effect review is recorded."),
}


# --- process reviews (HB §2.3.1) ---------------------------------------------------------------------


class ReviewsView(ScopedScreen):
    model_name = "ProcessReview"

    @expose("/")
    def index(self):
        reviews = list(
            db.session.execute(
                scoped_select(ProcessReview)
                .options(joinedload(ProcessReview.recorded_by))
                .order_by(ProcessReview.held_on.desc(), ProcessReview.id.desc())
                .limit(LIST_LIMIT)
            ).scalars()
        )
        return self.render(
            "improvements/reviews.html",
            reviews=reviews,
            next_due=services.process_review_due_on(),
            day=today(),
            can_record=services.may_decide(staff()) and not current_grants().read_only,
        )

    @expose("/<int:review_id>/")
    def show(self, review_id: int):
        review = load_scoped(ProcessReview, review_id)
        S = ImprovementSuggestion
        linked = list(
            db.session.execute(
                scoped_select(S)
                .join(process_review_suggestions, process_review_suggestions.c.suggestion_id == S.id)
                .where(process_review_suggestions.c.review_id == review.id)
                .order_by(S.id)
            ).scalars()
        )
        figures = None
        if services.may_decide(staff()):
            figures = services.period_figures(review.period_start, review.period_end, today())
        return self.render(
            "improvements/review.html",
            review=review,
            linked=linked,
            figures=figures,
            can_edit=services.may_decide(staff()) and not current_grants().read_only,
        )

    @expose("/new", methods=("GET", "POST"))
    def new(self):
        return self._edit(None)

    @expose("/<int:review_id>/edit", methods=("GET", "POST"))
    def edit(self, review_id: int):
        return self._edit(review_id)

    def _edit(self, review_id: int | None):
        user = staff()
        if not services.may_decide(user) or current_grants().read_only:
            abort(403)
        review = load_scoped(ProcessReview, review_id) if review_id is not None else None
        day = today()
        if request.method == "POST":
            form = ReviewForm(request.form)
        else:
            form = ReviewForm(data=self._initial(review, day))
        start, end = self._period(form, day)
        form.suggestions.choices = self._suggestion_choices(start, end, review)
        figures = services.period_figures(start, end, day)
        context = {
            "form": form,
            "review": review,
            "figures": figures,
            "period": (start, end),
            "version": review.version if review is not None else None,
        }
        if request.method == "GET":
            return self.render("improvements/review_form.html", refusal_messages=[], **context)
        saved: dict = {}

        def save() -> None:
            target = load_scoped(ProcessReview, review_id, for_update=True) if review_id is not None else None
            version = required_version() if target is not None else None
            validated(form)
            made = services.save_process_review(
                user,
                period_start=form.period_start.data,
                period_end=form.period_end.data,
                held_on=form.held_on.data,
                participants=form.participants.data,
                areas=[ImprovementArea(code) for code in form.areas.data],
                findings=form.findings.data,
                decisions=form.decisions.data,
                next_review_due_on=form.next_review_due_on.data,
                suggestion_ids=form.suggestion_ids,
                today=day,
                review=target,
                expected_version=version,
            )
            saved["id"] = made.id

        error = attempt(save)
        if error is None:
            flash(_("The process review is recorded."), "success")
            return redirect(url_for(".show", review_id=saved["id"]))
        messages = field_errors(form, error)
        db.session.expire_all()
        return self.render(
            "improvements/review_form.html", refusal_messages=messages, **context
        ), error.status_code

    @staticmethod
    def _initial(review: ProcessReview | None, day: date) -> dict:
        if review is not None:
            return {
                "period_start": review.period_start,
                "period_end": review.period_end,
                "held_on": review.held_on,
                "participants": review.participants,
                "areas": [area.value for area in review.areas_list],
                "findings": review.findings,
                "decisions": review.decisions,
                "next_review_due_on": review.next_review_due_on,
                "suggestions": [str(s.id) for s in review.suggestions],
            }
        start, end = services.default_period(day)
        start = _date_arg("start") or start
        end = _date_arg("end") or end
        return {
            "period_start": start,
            "period_end": end,
            "held_on": day,
            "next_review_due_on": day + timedelta(days=services.PROCESS_REVIEW_DEFAULT_DAYS),
        }

    @staticmethod
    def _period(form: ReviewForm, day: date) -> tuple[date, date]:
        """The period whose figures the page shows: the form's when it is a valid one."""
        start, end = form.period_start.data, form.period_end.data
        if isinstance(start, date) and isinstance(end, date) and start <= end and (end - start).days <= 366:
            return start, end
        return services.default_period(day)

    @staticmethod
    def _suggestion_choices(start: date, end: date, review: ProcessReview | None) -> list[tuple[str, str]]:
        """Suggestions to link: submitted or decided in the period, still open, or linked already."""
        S = ImprovementSuggestion
        first, after = services.day_start(start), services.day_start(end + timedelta(days=1))
        decided = sa.func.coalesce(S.decided_at, S.submitted_at)
        linked = {s.id for s in review.suggestions} if review is not None else set()
        statement = (
            sa.select(S)
            .where(
                sa.or_(
                    sa.and_(S.submitted_at >= first, S.submitted_at < after),
                    sa.and_(decided >= first, decided < after),
                    S.status.not_in(CLOSED),
                    S.id.in_(linked) if linked else sa.false(),
                )
            )
            .order_by(S.id.desc())
            .limit(LIST_LIMIT)
        )
        rows = db.session.execute(statement).scalars()
        return [(str(s.id), f"#{s.id} {s.title} · {s.status.label}") for s in rows]


def register_improvements_views(admin) -> None:
    """Add this domain's screens to the admin, under "Ch.5" (HB §5.2.3 continuous improvement)."""
    from repairqc.chapters import add_screens

    add_screens(
        admin,
        "ch5",
        (
            SuggestionsView,
            _l("Improvement suggestions"),
            "improvements_suggestions",
            "/admin/improvements/suggestions",
        ),
        (ReviewsView, _l("Process reviews"), "improvements_reviews", "/admin/improvements/reviews"),
    )
