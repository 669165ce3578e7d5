"""Review findings of issue #7 on assessments (HB §3.3), on both databases: a colleague's KPI
trends are shown only for the stores the viewer manages, and a double submit of the "new
assessment" screen is a 409 naming the assessment that got in, never a 500.
"""

from __future__ import annotations

import sqlalchemy as sa

from repairqc.accounts.models import Role
from repairqc.accounts.services import create_staff_user
from repairqc.assessments import kpis, services
from repairqc.assessments.models import Assessment
from repairqc.db import db
from tests.conftest import PASSWORD, in_tenant, sign_in, staff, store
from tests.htmlforms import form_data
from tests.test_assessments_views import BASE, get, post, two_months_ago


def test_kpi_trends_of_a_colleague_cover_only_the_stores_the_viewer_manages(app, client, alpha, monkeypatch):
    """A manager of S1 who also repairs at S2 sees a colleague's KPIs of S1, never of S2."""
    with in_tenant(app, alpha):
        s1, s2 = store(alpha, "S1"), store(alpha, "S2")
        create_staff_user(
            "mixed-roles@example.com", "Mixed Roles", PASSWORD,
            roles=[(Role.STORE_MANAGER, s1), (Role.TECHNICIAN, s2)],
        )  # fmt: skip
        colleague = create_staff_user(
            "colleague@example.com",
            "Col League",
            PASSWORD,
            roles=[(Role.TECHNICIAN, s1), (Role.TECHNICIAN, s2)],
        )
        db.session.commit()
        colleague_id, s1_id = colleague.id, s1.id
    asked: list = []
    compute = kpis.compute

    def spy(staff_id, periods, store_ids=None):
        asked.append((staff_id, None if store_ids is None else set(store_ids)))
        return compute(staff_id, periods, store_ids)

    monkeypatch.setattr(kpis, "compute", spy)
    sign_in(client, alpha, "mixed-roles@example.com")
    page = get(client, alpha, f"{BASE}staff/{colleague_id}/")
    assert page.status_code == 200 and 'data-testid="chart-kpi-trend"' in page.text
    assert asked == [(colleague_id, {s1_id})]


def test_a_double_submit_of_a_new_assessment_is_a_409_naming_the_first(app, client, alpha, monkeypatch):
    sign_in(client, alpha, "manager")
    data = form_data(get(client, alpha, f"{BASE}new").text, "period")
    with in_tenant(app, alpha):
        key = f"{staff(alpha, 'tech').id}:{alpha.store_ids['S1']}"
    data.update(technician=key, kind="monthly", period=two_months_ago())
    first = post(client, alpha, f"{BASE}new", data)
    assert first.status_code == 302, first.text[:500]
    # the second request checked before the first committed: only the unique key stops it
    existing = services.existing_assessment
    checks: list[object] = []

    def not_yet_committed(*args):
        checks.append(args)
        return None if len(checks) == 1 else existing(*args)

    monkeypatch.setattr(services, "existing_assessment", not_yet_committed)
    second = post(client, alpha, f"{BASE}new", data)
    assert second.status_code == 409, second.text[:500]
    with in_tenant(app, alpha):
        opened = (
            db.session.execute(
                sa.select(Assessment)
                .where(Assessment.staff_id == staff(alpha, "tech").id)
                .order_by(Assessment.id)
            )
            .scalars()
            .all()
        )
    newest = opened[-1]
    assert f"(#{newest.id})" in second.text and "already has a monthly assessment" in second.text
    assert [a.period_start for a in opened].count(newest.period_start) == 1
    assert len(checks) == 2  # the race was simulated: the unique key refused, then it was named
