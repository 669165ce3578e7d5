"""Garbage at every screen of issue #8's staff domains (complaints, improvements, incidents) is a
message or a 404, never a 500: every POST of every step with each field (and the page version)
empty, non-numeric, negative, beyond 32 bits, a non-ASCII digit, an unknown choice or 70,000
characters long, as the owner (who may do everything), the front desk and a technician; and list
filters and ids that cannot exist.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from repairqc.complaints import views as cviews
from repairqc.complaints.models import Complaint
from repairqc.improvements import views as iviews
from repairqc.improvements.models import ImprovementSuggestion, ProcessReview
from repairqc.incidents import views as eviews
from repairqc.incidents.models import EmergencyPlan, Incident
from tests.conftest import in_tenant, sign_in, store

GARBAGE = ["", "abc", "99999999999999999999", "2147483648", "-1", "²", "x" * 70000, "0", "phone", "yes"]


def ids(app, tenant):
    with in_tenant(app, tenant):
        s1 = store(tenant, "S1").id
        from repairqc.db import db

        c = db.session.execute(sa.select(Complaint.id).where(Complaint.store_id == s1)).scalars().all()
        i = db.session.execute(sa.select(Incident.id).where(Incident.store_id == s1)).scalars().all()
        g = db.session.execute(sa.select(ImprovementSuggestion.id)).scalars().all()
        p = db.session.execute(sa.select(EmergencyPlan.id)).scalars().all()
        r = db.session.execute(sa.select(ProcessReview.id)).scalars().all()
        return c, i, g, p, r, s1


def names(form_cls, prefix=None):
    form = form_cls(prefix=prefix) if prefix else form_cls()
    return [f.name for f in form]


@pytest.mark.parametrize("user", ["owner", "frontdesk", "tech"])
def test_bad_input_is_never_a_server_error(app, client, alpha, user):
    c, i, g, p, r, _s1 = ids(app, alpha)
    sign_in(client, alpha, user)
    base = f"http://{alpha.host}"
    targets = []
    for cid in c:
        for step, form in cviews.FORMS.items():
            targets.append((f"/admin/customer-complaints/{cid}/{step}", names(form, step)))
    from repairqc.complaints.forms import RegisterForm

    targets.append(("/admin/customer-complaints/new", [*names(RegisterForm), "customer"]))
    for iid in i:
        for step, form in eviews.INCIDENT_FORMS.items():
            targets.append((f"/admin/emergency/incidents/{iid}/{step}", names(form, step)))
    from repairqc.incidents.forms import DrillForm, PlanForm, ReportForm

    targets.append(("/admin/emergency/incidents/report", names(ReportForm)))
    targets.append(("/admin/emergency/drills/new", names(DrillForm)))
    targets.append(("/admin/emergency/plans/new", names(PlanForm)))
    for pid in p:
        targets += [
            (f"/admin/emergency/plans/{pid}/edit", names(PlanForm)),
            (f"/admin/emergency/plans/{pid}/publish", []),
            (f"/admin/emergency/plans/{pid}/new-draft", []),
        ]
    for gid in g:
        for step, form in iviews.STEP_FORMS.items():
            targets.append((f"/admin/improvements/suggestions/{gid}/{step}", names(form, step)))
    from repairqc.improvements.forms import ReviewForm, SuggestionForm

    targets.append(("/admin/improvements/suggestions/new", names(SuggestionForm)))
    targets.append(("/admin/improvements/reviews/new", names(ReviewForm)))
    for rid in r:
        targets.append((f"/admin/improvements/reviews/{rid}/edit", names(ReviewForm)))
    failures = []
    for path, fields in targets:
        for value in GARBAGE:
            data = {name: value for name in fields}
            data["version"] = value
            try:
                response = client.post(path, base_url=base, data=data)
                status = response.status_code
            except Exception as exc:  # the test client re-raises a 500's cause
                status = f"{type(exc).__name__}: {str(exc)[:200]}"
            if not isinstance(status, int) or status >= 500:
                failures.append((path, value[:20], status))
    gets = [
        "/admin/customer-complaints/?store=abc&category=99999999999&state=zz",
        "/admin/customer-complaints/?store=2147483648",
        "/admin/customer-complaints/new?q=" + "x" * 5000 + "&store=zz",
        "/admin/emergency/incidents/?store=99999999999&status=zz",
        "/admin/emergency/drills/?store=abc",
        "/admin/emergency/drills/new?store=abc&plan=zz",
        "/admin/emergency/incidents/report?store=zz",
        "/admin/improvements/suggestions/?store=abc&status=zz&area=zz&mine=1",
        "/admin/improvements/suggestions/new?source=zz",
        "/admin/improvements/reviews/new?start=zz&end=2020-13-40",
        "/admin/improvements/reviews/new?start=2020-01-01&end=2010-01-01",
        "/admin/customer-complaints/99999999999/",
        "/admin/emergency/incidents/99999999999/",
        "/admin/emergency/plans/99999999999/",
        "/admin/improvements/suggestions/99999999999/",
    ]
    for path in gets:
        try:
            status = client.get(path, base_url=base).status_code
        except Exception as exc:  # the test client re-raises a 500's cause
            status = f"{type(exc).__name__}: {str(exc)[:200]}"
        if not isinstance(status, int) or status >= 500:
            failures.append((path[:80], "GET", status))
    assert not failures, "\n".join(map(str, failures))
