"""The training screens (HB ch.3, §5.1.3(1)) under "Staff and training": /admin/training/.

* `/` HR's and managers' overview: the waiting list, planned sessions, evaluations due, open
  retraining, people (within the user's stores); technicians and front desk go to their page.
* `/me`, `/staff/<id>`: a person's training page (`training/technician.html`): certificates
  (HR records them here, with the scan), training history, exams and their results, evaluations.
* `/exams/<id>/start`, `/attempts/<id>`: a theory exam taken in the browser, with its time limit.
* `/exams/<id>/practical/<user id>`: an assessor scores a practical exam's rubric.
* `/sessions/new`, `/sessions/<id>`: schedule a session, place the waiting list, attendance, completion.
* `/evaluations/<id>`: the assessor's evaluation, with the trainee's satisfaction results.

Thin: each POST calls one service in one unit of work (`attempt`); a refusal re-renders with
what the user typed and the message, nothing saved. People outside the user's reach are 404.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import abort, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import CombinedMultiDict

from repairqc.accounts.models import StaffUser
from repairqc.accounts.permissions import Action, current_grants
from repairqc.accounts.scoping import scoped_select
from repairqc.admin.screens import as_id, attempt, field_errors, required_version, staff, today, validated
from repairqc.admin.views import INT32_MAX, deny_access, staff_signed_in
from repairqc.db import db, unit_of_work, utcnow
from repairqc.stores.models import Store
from repairqc.training import services
from repairqc.training.forms import CertificateForm, EvaluationForm, SessionForm
from repairqc.training.models import (
    Attendance,
    CertificateKind,
    Enrolment,
    EnrolmentStatus,
    Evaluation,
    EvaluationStatus,
    Exam,
    ExamAttempt,
    ExamKind,
    Retraining,
    RetrainingStatus,
    SessionStatus,
    TrainingProgramme,
    TrainingSession,
)


def register_training_views(admin) -> None:
    from repairqc.chapters import add_screens

    add_screens(admin, "ch3", (TrainingView, _l("Training"), "training", "/admin/training"))


def _get(model, row_id: int):
    if not 0 < row_id <= INT32_MAX:
        abort(404)
    row = db.session.get(model, row_id)
    if row is None:
        abort(404)
    return row


def _person(user_id: int) -> StaffUser:
    """A person the user may see the training records of (404 otherwise: no probing)."""
    person = _get(StaffUser, user_id)
    if not services.may_see_person(staff(), person) or person.is_platform_support:
        abort(404)
    return person


def _runs_training() -> bool:
    return current_grants().can("TrainingSession", Action.CREATE)


def _sees_overview() -> bool:
    return current_grants().can("Enrolment", Action.VIEW)


class TrainingView(BaseView):
    def is_accessible(self) -> bool:
        return staff_signed_in()

    def inaccessible_callback(self, name, **kwargs):
        return deny_access(name, **kwargs)

    # --- overview -------------------------------------------------------------------------------

    @expose("/")
    def index(self):
        if not _sees_overview():
            return redirect(url_for(".me"))
        waiting = db.session.scalars(
            scoped_select(Enrolment).where(Enrolment.status == EnrolmentStatus.WAITING)
            .order_by(Enrolment.enrolled_on, Enrolment.id)
        ).all()  # fmt: skip
        sessions = db.session.scalars(
            scoped_select(TrainingSession)
            .where(TrainingSession.status == SessionStatus.PLANNED)
            .order_by(TrainingSession.starts_on, TrainingSession.id)
        ).all()
        evaluations = db.session.scalars(
            scoped_select(Evaluation)
            .where(Evaluation.status == EvaluationStatus.DUE)
            .order_by(Evaluation.due_on)
        ).all()
        retrainings = db.session.scalars(
            scoped_select(Retraining)
            .where(Retraining.status.in_((RetrainingStatus.OPEN, RetrainingStatus.ENROLLED)))
            .order_by(Retraining.opened_at)
        ).all()
        people = db.session.scalars(
            scoped_select(StaffUser)
            .where(StaffUser.is_active, ~StaffUser.is_platform_support)
            .order_by(StaffUser.full_name)
        ).all()
        return self.render(
            "training/index.html",
            waiting=waiting,
            sessions=sessions,
            evaluations=evaluations,
            retrainings=retrainings,
            people=people,
            runs_training=_runs_training(),
            session_form=self._session_form(),
            today=today(),
        )

    # --- a person's training page ------------------------------------------------------------------

    @expose("/me")
    def me(self):
        return self._person_page(staff())

    @expose("/staff/<int:user_id>", methods=("GET", "POST"))
    def person(self, user_id: int):
        person = _person(user_id)
        if request.method == "POST":
            if not current_grants().can("Certificate", Action.CREATE) or person.id == staff().id:
                abort(403)
            form = self._certificate_form(CombinedMultiDict((request.files, request.form)))

            def record():
                validated(form)
                upload = request.files.get(form.scan.name)
                scan = (upload.read(), upload.filename or "") if upload and upload.filename else None
                services.record_certificate(
                    person,
                    kind=CertificateKind(form.kind.data),
                    device_category=form.device_category.data,
                    number=form.number.data,
                    issuer=form.issuer.data,
                    issued_on=form.issued_on.data,
                    expires_on=form.expires_on.data,
                    scan=scan,
                    notes=form.notes.data,
                )

            error = attempt(record)
            if error is None:
                flash(_("The certificate was recorded."), "success")
                return redirect(url_for(".person", user_id=person.id))
            messages = field_errors(form, error, {"file": "scan", "attachments": "scan"})
            return self._person_page(person, form=form, messages=messages, status=error.status_code)
        return self._person_page(person)

    def _certificate_form(self, formdata=None) -> CertificateForm:
        form = CertificateForm(formdata, prefix="cert")
        names = services.category_names(today())
        form.device_category.choices = sorted(names.items())
        return form

    def _person_page(self, person: StaffUser, *, form=None, messages=(), status: int = 200):
        day = today()
        record = services.training_record(person, day)
        may_record = current_grants().can("Certificate", Action.CREATE) and person.id != staff().id
        assessable = [
            exam for exam, _standing in record["exams"] if exam.kind == ExamKind.PRACTICAL
        ] if services.may_assess_practical(staff(), person) else []  # fmt: skip
        body = self.render(
            "training/technician.html",
            person=person,
            is_me=person.id == staff().id,
            record=record,
            day=day,
            expires_soon=day + timedelta(days=services.CERTIFICATE_REMINDER_DAYS),
            certificate_form=(form or self._certificate_form()) if may_record else None,
            # The download (/files/<id>) asks the same rule (services.may_read_file).
            shows_scans=services.may_see_person(staff(), person)
            and current_grants().can("StoredFile", Action.VIEW),
            messages=messages,
            assessable=assessable,
        )
        return body, status

    # --- theory exams ------------------------------------------------------------------------------

    @expose("/exams/<int:exam_id>/start", methods=("POST",))
    def start_exam(self, exam_id: int):
        exam = _get(Exam, exam_id)
        result = {}

        def start():
            result["attempt"] = services.start_theory(exam, staff())

        error = attempt(start)
        if error is not None:
            flash(str(error.message), "error")
            return redirect(url_for(".me"))
        return redirect(url_for(".take", attempt_id=result["attempt"].id))

    @expose("/attempts/<int:attempt_id>", methods=("GET", "POST"))
    def take(self, attempt_id: int):
        exam_attempt = _get(ExamAttempt, attempt_id)
        if exam_attempt.user_id != staff().id:
            # Others see results through the person's page; only the candidate sits the exam.
            _person(exam_attempt.user_id)
            return self.render("training/attempt.html", attempt=exam_attempt, taking=False, chosen={})
        if request.method == "POST":
            chosen, bad = {}, False
            for answer in exam_attempt.answers:
                raw = request.form.get(f"q{answer.position}")
                if raw:
                    value = as_id(raw)
                    bad = bad or value is None
                    chosen[answer.position] = value if value is not None else -1
            now = utcnow()
            error = attempt(lambda: services.submit_theory(exam_attempt, staff(), chosen, now=now))
            if isinstance(error, services.ExamTimeUp):
                with unit_of_work():
                    services.expire_attempt(db.session.get(ExamAttempt, attempt_id), now=now)
                flash(str(error.message), "error")
                return redirect(url_for(".take", attempt_id=attempt_id))
            if error is not None:
                db.session.expire_all()
                exam_attempt = _get(ExamAttempt, attempt_id)
                return self.render(
                    "training/attempt.html",
                    attempt=exam_attempt,
                    taking=exam_attempt.is_open,
                    chosen=chosen,
                    messages=[error.message],
                ), error.status_code
            return redirect(url_for(".take", attempt_id=attempt_id))
        now = utcnow()
        if exam_attempt.is_open and services.is_late(exam_attempt, now):
            with unit_of_work():
                services.expire_attempt(exam_attempt, now=now)
        seconds_left = (
            max(int((exam_attempt.deadline_at - now).total_seconds()), 0)
            if exam_attempt.deadline_at
            else None
        )
        return self.render(
            "training/attempt.html",
            attempt=exam_attempt,
            taking=exam_attempt.is_open,
            chosen={},
            seconds_left=seconds_left,
        )

    # --- practical exams -------------------------------------------------------------------------

    @expose("/exams/<int:exam_id>/practical/<int:user_id>", methods=("GET", "POST"))
    def practical(self, exam_id: int, user_id: int):
        exam = _get(Exam, exam_id)
        candidate = _person(user_id)
        if exam.kind != ExamKind.PRACTICAL or not services.may_assess_practical(staff(), candidate):
            abort(404)
        typed, problems, messages, status = {}, {}, [], 200
        if request.method == "POST":
            points = {}
            for criterion in exam.criteria:
                raw = (request.form.get(f"c{criterion.id}") or "").strip()
                typed[criterion.id] = raw
                if raw:
                    try:
                        points[criterion.id] = int(raw)
                    except ValueError:
                        points[criterion.id] = -1
            comment = request.form.get("comment", "")
            error = attempt(
                lambda: services.record_practical(exam, candidate, staff(), points, comment=comment)
            )
            if error is None:
                flash(_("The practical exam was scored."), "success")
                return redirect(url_for(".person", user_id=candidate.id))
            problems = getattr(error, "problems", {})
            messages, status = [error.message], error.status_code
        return self.render(
            "training/practical.html",
            exam=exam,
            candidate=candidate,
            typed=typed,
            problems=problems,
            messages=messages,
            standing=services.exam_standing(exam, candidate, today()),
        ), status

    # --- sessions ----------------------------------------------------------------------------------

    def _session_form(self, formdata=None) -> SessionForm:
        form = SessionForm(formdata, prefix="session")
        form.programme.choices = [
            (p.id, p.name)
            for p in db.session.scalars(
                sa.select(TrainingProgramme)
                .where(TrainingProgramme.is_active)
                .order_by(TrainingProgramme.name)
            )
        ]
        form.trainer.choices = [(0, _("—"))] + [(u.id, u.full_name) for u in services.trainers()]
        form.store.choices = [(0, _("Head office"))] + [
            (s.id, f"{s.code} {s.name}") for s in db.session.scalars(sa.select(Store).order_by(Store.code))
        ]
        return form

    @expose("/sessions/new", methods=("POST",))
    def new_session(self):
        if not _runs_training():
            abort(403)
        form = self._session_form(request.form)
        result = {}

        def schedule():
            validated(form)
            result["session"] = services.schedule_session(
                _get(TrainingProgramme, form.programme.data),
                title=form.title.data,
                starts_on=form.starts_on.data,
                ends_on=form.ends_on.data,
                place=form.place.data,
                trainer=db.session.get(StaffUser, form.trainer.data) if form.trainer.data else None,
                store=db.session.get(Store, form.store.data) if form.store.data else None,
            )

        error = attempt(schedule)
        if error is None:
            flash(_("The session was scheduled. Enrol the people waiting for it below."), "success")
            return redirect(url_for(".session", session_id=result["session"].id))
        messages = field_errors(form, error)
        flash(
            " ".join(str(m) for m in messages) or _("Nothing was saved: correct the fields marked below."),
            "error",
        )
        return redirect(url_for(".index"))

    @expose("/programmes/ensure", methods=("POST",))
    def ensure_programmes(self):
        """Make the policy's programmes (new-hire, in-service) if they do not exist yet."""
        if not _runs_training():
            abort(403)
        with unit_of_work():
            for kind in (services.ProgrammeKind.NEW_HIRE, services.ProgrammeKind.IN_SERVICE):
                services.programme_for(kind, today())
        return redirect(url_for(".index"))

    @expose("/sessions/<int:session_id>", methods=("GET", "POST"))
    def session(self, session_id: int):
        if not 0 < session_id <= INT32_MAX:
            abort(404)  # PostgreSQL refuses an integer out of range (a 500 otherwise)
        row = db.session.scalars(
            scoped_select(TrainingSession).where(TrainingSession.id == session_id)
        ).first()
        if row is None:
            abort(404)
        messages, status = [], 200
        if request.method == "POST":
            if not _runs_training():
                abort(403)
            step = request.form.get("step")
            # Every step names the version its page showed (required: never a change made blind).
            if step == "place":
                ids = {as_id(v) for v in request.form.getlist("enrolment")}
                chosen = [e for e in services.waiting_list(row.programme) if e.id in ids]
                error = attempt(
                    lambda: services.place_in_session(row, chosen, expected_version=required_version())
                )
            elif step == "attendance":
                enrolment = _get(Enrolment, as_id(request.form.get("enrolment")) or 0)
                if enrolment.session_id != row.id:
                    abort(404)
                try:
                    value = Attendance(request.form.get("attendance", ""))
                except ValueError:
                    abort(400)
                error = attempt(
                    lambda: services.record_attendance(enrolment, value, expected_version=required_version())
                )
            elif step == "enrol":
                person = _get(StaffUser, as_id(request.form.get("user")) or 0)
                error = attempt(
                    lambda: services.enrol_in_session(row, person, expected_version=required_version())
                )
            elif step == "complete":
                error = attempt(lambda: services.complete_session(row, expected_version=required_version()))
            elif step == "cancel":
                error = attempt(lambda: services.cancel_session(row, expected_version=required_version()))
            else:
                abort(400)
            if error is None:
                return redirect(url_for(".session", session_id=row.id))
            db.session.expire_all()
            messages, status = [error.message], error.status_code
        return self.render(
            "training/session.html",
            session=row,
            waiting=services.waiting_list(row.programme) if row.status == SessionStatus.PLANNED else [],
            runs_training=_runs_training(),
            Attendance=Attendance,
            messages=messages,
            people=services.trainees() if _runs_training() else [],
        ), status

    # --- evaluations -------------------------------------------------------------------------------

    @expose("/evaluations/<int:evaluation_id>", methods=("GET", "POST"))
    def evaluation(self, evaluation_id: int):
        if not 0 < evaluation_id <= INT32_MAX:
            abort(404)
        row = db.session.scalars(scoped_select(Evaluation).where(Evaluation.id == evaluation_id)).first()
        if row is None:
            abort(404)
        form = EvaluationForm(request.form if request.method == "POST" else None, prefix="evaluation")
        messages, status = [], 200
        if request.method == "POST":
            error = attempt(
                lambda: services.record_evaluation(
                    row, staff(), score=validated(form).score.data, remarks=form.remarks.data,
                    expected_version=required_version(),
                )
            )  # fmt: skip
            if error is None:
                flash(_("The evaluation was recorded."), "success")
                return redirect(url_for(".evaluation", evaluation_id=row.id))
            db.session.expire_all()
            messages, status = field_errors(form, error), error.status_code
        enrolment = row.enrolment
        start = enrolment.completed_on or row.due_on
        return self.render(
            "training/evaluation.html",
            evaluation=row,
            form=form,
            messages=messages,
            may_evaluate=services.may_evaluate(staff(), row) and row.status == EvaluationStatus.DUE,
            satisfaction=services.satisfaction_for(row.user, start, row.due_on),
            period_start=start,
        ), status
