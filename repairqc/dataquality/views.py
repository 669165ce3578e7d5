"""The data-quality screens (HB §7.1.2), under "Ch.7 Information and data".

`DuplicatesView` (/admin/data-quality/duplicates/):

* `/`: the candidate groups among the customers the user may see, each pair with why it
  matched, a "compare and merge" link and a "not a duplicate" button;
* `/merge?a=<id>&b=<id>`: the two customers side by side with their records; the user picks the
  customer kept and, per field, whose value it keeps; POST merges;
* POST `/dismiss?a=<id>&b=<id>`: "not a duplicate".

`AnomaliesView` (/admin/data-quality/anomalies/): the flags of the user's stores with filters
(kind, status, store), "scan now" and confirm/dismiss with a note (owner and QA).

Thin (aesthetics.md §7): each POST loads its rows within the user's scope (404 otherwise),
calls a service in one unit of work (`attempt`) and redirects; a refusal re-renders the page with
the message and its status, nothing saved.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from repairqc.accounts.permissions import Action, current_grants
from repairqc.accounts.scoping import scope_condition, scoped_select
from repairqc.admin.screens import (
    ScopedScreen,
    as_id,
    attempt,
    field_errors,
    load_scoped,
    required_version,
    staff,
    stores_for,
    validated,
)
from repairqc.admin.views import staff_signed_in
from repairqc.dataquality import anomalies, duplicates, services
from repairqc.dataquality.forms import DismissForm, MergeForm, ReviewForm
from repairqc.dataquality.models import AnomalyKind, AnomalyStatus, DataAnomaly
from repairqc.db import db
from repairqc.privacy.access import log_data_access
from repairqc.repairs.models import Customer

LIST_LIMIT = 300
#: The anomaly list's filters, the only query arguments carried over to the review form and back:
#: passing request.args on whole would hand url_for keywords such as "_scheme" or "flag_id" (500).
FILTER_ARGS = ("kind", "status", "store")


def _filter_args() -> dict[str, str]:
    valid = {
        "kind": {k.value for k in AnomalyKind},
        "status": {*(s.value for s in AnomalyStatus), "all"},
    }
    args = {}
    for name in FILTER_ARGS:
        value = request.args.get(name, "")
        if value in valid.get(name, ()) or (name == "store" and as_id(value) is not None):
            args[name] = value
    return args


def _pair_ids() -> tuple[int, int]:
    a, b = as_id(request.args.get("a")), as_id(request.args.get("b"))
    if a is None or b is None:
        abort(404)
    return a, b


def _customer_scope():
    return scope_condition(Customer, Action.VIEW)


class DuplicatesView(ScopedScreen):
    model_name = "Customer"

    def is_accessible(self) -> bool:
        return staff_signed_in() and services.may_open_duplicates(current_grants())

    @expose("/")
    def index(self):
        return self._render_index([])

    def _render_index(self, messages: list, status: int = 200):
        groups, placeholders = duplicates.find_duplicates(_customer_scope())
        grants = current_grants()
        shown = [c.id for g in groups for c in g.customers]
        log_data_access("view", "customer", detail=f"duplicate candidates: {len(shown)} customers")
        return self.render(
            "dataquality/duplicates.html",
            groups=groups,
            placeholders=[(duplicates.REASON_LABELS[reason], count) for reason, count in placeholders],
            limit=duplicates.GROUP_LIMIT,
            may_merge={
                (p.low, p.high): self._may(services.may_merge, g, p, grants) for g in groups for p in g.pairs
            },
            may_dismiss={
                (p.low, p.high): self._may(services.may_dismiss, g, p, grants)
                for g in groups
                for p in g.pairs
            },
            form=DismissForm(),
            refusal_messages=messages,
        ), status

    @staticmethod
    def _may(check, group, pair, grants) -> bool:
        by_id = {c.id: c for c in group.customers}
        return check(grants, by_id[pair.low], by_id[pair.high])

    @expose("/dismiss", methods=("POST",))
    def dismiss(self):
        a_id, b_id = _pair_ids()
        form = DismissForm(request.form)

        def step() -> None:
            validated(form)
            a, b = services.load_pair(a_id, b_id, _customer_scope())
            services.dismiss_pair(current_grants(), a, b, staff(), form.note.data)

        error = attempt(step)
        if error is None:
            flash(_("The two customers will no longer be proposed as duplicates."), "success")
            return redirect(url_for(".index"))
        return self._render_index(field_errors(form, error), error.status_code)

    @expose("/merge", methods=("GET", "POST"))
    def merge(self):
        a_id, b_id = _pair_ids()
        posting = request.method == "POST"
        form = MergeForm(request.form if posting else None)
        if not posting:
            a, b = self._pair(a_id, b_id)
            form.version_a.data, form.version_b.data = str(a.version), str(b.version)
            form.survivor.data = "a"
            for name in services.MERGE_FIELDS:  # keep a's value unless only b has one
                empty_a = getattr(a, name) in (None, "")
                form[f"keep_{name}"].data = "b" if empty_a and getattr(b, name) not in (None, "") else "a"
            return self._render_merge(a, b, form, [])
        done: dict = {}

        def step() -> None:
            validated(form)
            a, b = services.load_pair(a_id, b_id, _customer_scope())
            survivor, merged = (a, b) if form.survivor.data == "a" else (b, a)
            versions = {"a": as_id(form.version_a.data), "b": as_id(form.version_b.data)}
            side_of_survivor = form.survivor.data
            keep = {
                name: services.SURVIVOR if form[f"keep_{name}"].data == side_of_survivor else services.MERGED
                for name in services.MERGE_FIELDS
            }
            record = services.merge_customers(
                current_grants(),
                survivor,
                merged,
                keep=keep,
                survivor_version=versions[side_of_survivor],
                merged_version=versions["b" if side_of_survivor == "a" else "a"],
                actor=staff(),
            )
            done.update(survivor=record.survivor_id, merged=record.merged_id)

        error = attempt(step)
        if error is None:
            flash(
                _(
                    "Customer #%(merged)s was merged into customer #%(survivor)s; all their records moved.",
                    **done,
                ),
                "success",
            )
            return redirect(url_for(".index"))
        a, b = self._pair(a_id, b_id)  # as they are now (the attempt rolled back)
        return self._render_merge(a, b, form, field_errors(form, error), error.status_code)

    @staticmethod
    def _pair(a_id: int, b_id: int) -> tuple[Customer, Customer]:
        return services.load_pair(a_id, b_id, _customer_scope(), lock=False)  # only shown

    def _render_merge(self, a: Customer, b: Customer, form: MergeForm, messages: list, status: int = 200):
        for customer in (a, b):
            log_data_access("view", "customer", record_id=customer.id, detail="duplicate comparison")
        return self.render(
            "dataquality/merge.html",
            a=a,
            b=b,
            form=form,
            fields=services.MERGE_FIELDS,
            reasons=duplicates.pair_reasons(a, b).reason_labels(),
            counts={"a": services.merge_counts(a), "b": services.merge_counts(b)},
            reference_label=services.reference_label,
            may_merge=services.may_merge(current_grants(), a, b),
            refusal_messages=messages,
        ), status


class AnomaliesView(ScopedScreen):
    model_name = "DataAnomaly"

    @expose("/")
    def index(self):
        return self._render_index([])

    def _render_index(self, messages: list, status: int = 200, forms: dict | None = None):
        stores = stores_for("DataAnomaly")
        store_id = as_id(request.args.get("store"))
        if request.args.get("store") and store_id not in {s.id for s in stores}:
            abort(404)
        kind = request.args.get("kind", "")
        state = request.args.get("status", AnomalyStatus.OPEN.value)
        statement = scoped_select(DataAnomaly)
        if kind in {k.value for k in AnomalyKind}:
            statement = statement.where(DataAnomaly.kind == AnomalyKind(kind))
        else:
            kind = ""
        if state in {s.value for s in AnomalyStatus}:
            statement = statement.where(DataAnomaly.status == AnomalyStatus(state))
        else:
            state = "all"
        if store_id is not None:
            statement = statement.where(DataAnomaly.store_id == store_id)
        total = db.session.scalar(sa.select(sa.func.count()).select_from(statement.subquery()))
        flags = list(
            db.session.execute(
                statement.options(
                    joinedload(DataAnomaly.store),
                    joinedload(DataAnomaly.order),
                    joinedload(DataAnomaly.reviewed_by),
                )
                .order_by(DataAnomaly.detected_at.desc(), DataAnomaly.id.desc())
                .limit(LIST_LIMIT)
            ).scalars()
        )
        forms = forms or {}
        return self.render(
            "dataquality/anomalies.html",
            flags=flags,
            total=total,
            stores=stores,
            kinds=list(AnomalyKind),
            statuses=list(AnomalyStatus),
            filters={"store": store_id, "kind": kind, "status": state},
            filter_args=_filter_args(),
            may_review=anomalies.may_review(current_grants()),
            review_forms={f.id: forms.get(f.id) or ReviewForm(prefix=f"flag{f.id}") for f in flags},
            refusal_messages=messages,
        ), status

    @expose("/scan", methods=("POST",))
    def scan(self):
        if not anomalies.may_review(current_grants()):
            abort(403)
        outcome: dict = {}

        def step() -> None:
            result = anomalies.scan()
            outcome.update(flagged=result.flagged, resolved=result.resolved)

        error = attempt(step)
        if error is not None:
            return self._render_index([error.message], error.status_code)
        flash(_("The scan is done: %(flagged)s new flags.", flagged=outcome["flagged"]), "success")
        return redirect(url_for(".index"))

    @expose("/<int:flag_id>/review", methods=("POST",))
    def review(self, flag_id: int):
        form = ReviewForm(request.form, prefix=f"flag{flag_id}")

        def step() -> None:
            validated(form)
            flag = load_scoped(DataAnomaly, flag_id, for_update=True)
            anomalies.review(
                current_grants(),
                flag,
                staff(),
                decision=AnomalyStatus(form.decision.data),
                note=form.note.data,
                expected_version=required_version(),
            )

        load_scoped(DataAnomaly, flag_id)  # 404 before anything else for a flag out of reach
        error = attempt(step)
        if error is None:
            flash(_("The review is saved."), "success")
            return redirect(url_for(".index", **_filter_args()))
        messages = field_errors(form, error)
        return self._render_index(
            messages or [_("Nothing was saved: correct the review below.")],
            error.status_code,
            {flag_id: form},
        )


def register_dataquality_views(admin) -> None:
    from repairqc.chapters import add_screens

    add_screens(
        admin,
        "ch7",
        (
            DuplicatesView,
            _l("Duplicate customers"),
            "data_quality_duplicates",
            "/admin/data-quality/duplicates",
        ),
        (AnomaliesView, _l("Data anomalies"), "data_quality_anomalies", "/admin/data-quality/anomalies"),
    )
