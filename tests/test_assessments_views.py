"""The assessment screens (HB §3.3) over HTTP on both databases: the store manager's monthly
assessment from opening to finalising, bad input refused with nothing saved, a stale page 409,
who sees which assessment (technician: their own; manager: their stores'; HQ: all), the
technician's KPI trends page, and isolation between stores and tenants.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from repairqc.assessments import services
from repairqc.assessments.models import Assessment, AssessmentKind, AssessmentStatus
from repairqc.db import db, utcnow
from tests.conftest import in_tenant, sign_in, staff, store
from tests.htmlforms import form_data

BASE = "/admin/staff-assessments/"
M = AssessmentKind.MONTHLY


def today() -> date:
    return utcnow().date()


def get(client, tenant, path: str):
    return client.get(path, base_url=f"http://{tenant.host}")


def post(client, tenant, path: str, data: dict):
    return client.post(path, base_url=f"http://{tenant.host}", data=data)


def form_in(html: str, testid: str, containing: str) -> dict:
    marker = html.index(f'data-testid="{testid}"')
    return form_data(html[html.rindex("<form", 0, marker) :], containing)


def seeded_id(app, tenant, store_name: str = "S1") -> int:
    """The seeded monthly assessment of last month at `store_name` (tests/seed_assessments.py)."""
    with in_tenant(app, tenant):
        return db.session.execute(
            sa.select(Assessment.id).where(
                Assessment.store_id == tenant.store_ids[store_name], Assessment.kind == M
            )
        ).scalar_one()


def two_months_ago() -> str:
    last = services.previous_period(M, today())
    return services.period_label(M, services.previous_period(M, last[0])[0])


def test_store_manager_opens_scores_and_finalises_a_monthly_assessment(app, client, alpha):
    sign_in(client, alpha, "manager")
    page = get(client, alpha, f"{BASE}new")
    assert page.status_code == 200
    data = form_data(page.text, "period")
    with in_tenant(app, alpha):
        key = f"{staff(alpha, 'tech').id}:{alpha.store_ids['S1']}"
    # only the technicians of the manager's own store are offered
    assert key in page.text and f':{alpha.store_ids["S2"]}"' not in page.text
    data.update(technician=key, kind="monthly", period=two_months_ago())
    opened = post(client, alpha, f"{BASE}new", data)
    assert opened.status_code == 302, opened.text
    page = get(client, alpha, opened.headers["Location"])
    assert page.status_code == 200
    assert 'data-kpi="customer_satisfaction"' in page.text and "no data" in page.text

    # out of range: a clear message on the field, nothing saved, what was typed kept
    data = form_in(page.text, "scores-form", "scores-safety")
    data.update({"scores-safety": "120", "scores-comment": "Good bench discipline"})
    action = opened.headers["Location"].replace(f"http://{alpha.host}", "")
    refused = post(client, alpha, f"{action}scores", data)
    assert refused.status_code == 400
    assert "Safety must be a score from 0 to 100." in refused.text
    assert "Good bench discipline" in refused.text and 'value="120' in refused.text
    assessment_id = int(action.rstrip("/").rsplit("/", 1)[1])
    with in_tenant(app, alpha):
        assert db.session.get(Assessment, assessment_id).safety is None
    garbage = post(client, alpha, f"{action}scores", {**data, "scores-safety": "lots"})
    assert garbage.status_code == 400 and "Nothing was saved" in garbage.text

    data["scores-safety"] = "85"
    saved = post(client, alpha, f"{action}scores", data)
    assert saved.status_code == 302, saved.text
    page = get(client, alpha, action)
    stale = form_in(page.text, "finalise-form", "finalise-follow_up")
    # someone saves again meanwhile: the finalise form's version is out of date -> 409
    again = form_in(page.text, "scores-form", "scores-safety")
    assert post(client, alpha, f"{action}scores", {**again, "scores-safety": "90"}).status_code == 302
    conflict = post(client, alpha, f"{action}finalise", stale)
    assert conflict.status_code == 409 and "Someone else changed this record" in conflict.text
    page = get(client, alpha, action)
    done = post(client, alpha, f"{action}finalise", form_in(page.text, "finalise-form", "finalise-follow_up"))
    assert done.status_code == 302, done.text
    page = get(client, alpha, action)
    assert "scores-form" not in page.text and "finalise-form" not in page.text  # read-only now
    with in_tenant(app, alpha):
        assessment = db.session.get(Assessment, assessment_id)
        assert (assessment.status, assessment.safety) == (AssessmentStatus.FINALISED, 90)
    # a POST at a finalised assessment is refused with the reason, nothing changes
    refused = post(client, alpha, f"{action}scores", {**again, "scores-safety": "10", "version": "999"})
    assert refused.status_code == 409


def test_a_manager_cannot_open_quarterly_ones_nor_assess_another_stores_technician(app, client, alpha):
    sign_in(client, alpha, "manager")
    data = form_data(get(client, alpha, f"{BASE}new").text, "period")
    with in_tenant(app, alpha):
        other = f"{staff(alpha, 'tech2').id}:{alpha.store_ids['S2']}"
    for change in ({"technician": other, "kind": "monthly"}, {"kind": "quarterly"}):
        refused = post(client, alpha, f"{BASE}new", {**data, "period": two_months_ago(), **change})
        assert refused.status_code == 400 and "Not a valid choice" in refused.text
    with in_tenant(app, alpha):
        assert (
            db.session.execute(sa.select(sa.func.count(Assessment.id))).scalar_one() == 2
        )  # the seeded ones


def test_each_role_sees_the_assessments_it_should(app, client, alpha):
    s1, s2 = seeded_id(app, alpha, "S1"), seeded_id(app, alpha, "S2")
    expected = {"tech": {s1}, "tech2": {s2}, "manager": {s1}, "manager2": {s2}, "trainer": {s1, s2},
                "owner": {s1, s2}, "qa": {s1, s2}, "auditor": {s1, s2}}  # fmt: skip
    for user, visible in expected.items():
        client.get("/logout", base_url=f"http://{alpha.host}")
        sign_in(client, alpha, user)
        listing = get(client, alpha, BASE)
        assert listing.status_code == 200, user
        for assessment_id in (s1, s2):
            shown = f'data-id="{assessment_id}"' in listing.text
            page = get(client, alpha, f"{BASE}{assessment_id}/")
            assert shown == (assessment_id in visible), (user, assessment_id)
            assert page.status_code == (200 if assessment_id in visible else 404), (user, assessment_id)
    client.get("/logout", base_url=f"http://{alpha.host}")
    sign_in(client, alpha, "frontdesk")
    assert get(client, alpha, BASE).status_code in (302, 403)


def test_the_technician_cannot_assess_and_hq_readers_only_read(app, client, alpha):
    s1 = seeded_id(app, alpha, "S1")
    for user in ("tech", "owner", "auditor", "manager2"):
        client.get("/logout", base_url=f"http://{alpha.host}")
        sign_in(client, alpha, user)
        page = get(client, alpha, f"{BASE}{s1}/")
        assert "scores-form" not in page.text
        refused = post(client, alpha, f"{BASE}{s1}/scores", {"scores-safety": "100", "version": "1"})
        assert refused.status_code in (404, 409), user  # 404 outside their scope, 409 not theirs to assess
    with in_tenant(app, alpha):
        assert db.session.get(Assessment, s1).safety == 90


def test_technician_page_charts_the_kpi_trends_and_lists_the_history(app, client, alpha):
    with in_tenant(app, alpha):
        tech_id, tech2_id = staff(alpha, "tech").id, staff(alpha, "tech2").id
    sign_in(client, alpha, "tech")
    page = get(client, alpha, f"{BASE}staff/{tech_id}/")
    assert page.status_code == 200
    assert 'data-testid="chart-kpi-trend"' in page.text and "<svg" in page.text
    assert page.text.count('data-testid="trend-row"') == 12
    this_month = services.period_label(M, today())
    # the seeded workflow order delivered today is the technician's repair: this month has data
    assert f'data-month="{this_month}"' in page.text
    assert f'data-id="{seeded_id(app, alpha, "S1")}"' in page.text
    # another technician's page: 404 for a technician, open to their manager and to HR
    assert get(client, alpha, f"{BASE}staff/{tech2_id}/").status_code == 404
    client.get("/logout", base_url=f"http://{alpha.host}")
    sign_in(client, alpha, "manager")
    assert get(client, alpha, f"{BASE}staff/{tech2_id}/").status_code == 404
    assert get(client, alpha, f"{BASE}staff/{tech_id}/").status_code == 200
    client.get("/logout", base_url=f"http://{alpha.host}")
    sign_in(client, alpha, "trainer")
    assert get(client, alpha, f"{BASE}staff/{tech2_id}/").status_code == 200


def test_screens_never_show_or_change_another_tenants_assessments(app, client, alpha, beta):
    """Beta has ids alpha lacks and both start at 1: every screen answers alpha's user with
    alpha's rows or 404, never beta's text."""
    beta_ids = [seeded_id(app, beta, "S1"), seeded_id(app, beta, "S2")]
    with in_tenant(app, beta):
        beta_tech = staff(beta, "tech").id
        before = {a.id: (a.safety, a.version) for a in db.session.execute(sa.select(Assessment)).scalars()}
    sign_in(client, alpha, "owner")
    for path in (BASE, f"{BASE}?status=draft", f"{BASE}new"):
        page = get(client, alpha, path)
        assert "SENTINEL-B" not in page.text, path
    assert "SENTINEL-A" in get(client, alpha, BASE).text
    client.get("/logout", base_url=f"http://{alpha.host}")
    sign_in(client, alpha, "manager")
    for assessment_id in beta_ids:
        page = get(client, alpha, f"{BASE}{assessment_id}/")
        assert "SENTINEL-B" not in page.text
        for step in ("scores", "finalise", "refresh"):
            post(client, alpha, f"{BASE}{assessment_id}/{step}", {"scores-safety": "1", "version": "1"})
    trend = get(client, alpha, f"{BASE}staff/{beta_tech}/")
    assert "SENTINEL-B" not in trend.text
    with in_tenant(app, beta):
        after = {a.id: (a.safety, a.version) for a in db.session.execute(sa.select(Assessment)).scalars()}
    assert after == before


def test_store_manager_cannot_reach_the_other_stores_assessment(app, client, alpha):
    s2 = seeded_id(app, alpha, "S2")
    with in_tenant(app, alpha):
        before = db.session.get(Assessment, s2).version
    sign_in(client, alpha, "manager")
    page = get(client, alpha, f"{BASE}{s2}/")
    assert page.status_code == 404 and "SENTINEL-A-S2" not in page.text
    for step in ("scores", "finalise", "refresh"):
        assert post(client, alpha, f"{BASE}{s2}/{step}", {"version": str(before)}).status_code == 404
    assert get(client, alpha, f"{BASE}?store={alpha.store_ids['S2']}").status_code == 404
    with in_tenant(app, alpha):
        assert db.session.get(Assessment, s2).version == before
        assert store(alpha, "S2") is not None


def test_the_training_page_of_a_technician_shows_their_kpi_trends(app, client, alpha):
    """HB ch.3 in one place: the person's training page (certificates, training, exams) carries the
    KPI trends of their repairs; a front-desk clerk's page has none (they repair nothing)."""
    with in_tenant(app, alpha):
        tech_id, desk_id = staff(alpha, "tech").id, staff(alpha, "frontdesk").id
    sign_in(client, alpha, "trainer")
    page = get(client, alpha, f"/admin/training/staff/{tech_id}")
    assert page.status_code == 200
    assert 'data-testid="kpi-trends"' in page.text and "<svg" in page.text
    assert page.text.count('data-testid="trend-row"') == 12
    desk = get(client, alpha, f"/admin/training/staff/{desk_id}")
    assert desk.status_code == 200 and 'data-testid="kpi-trends"' not in desk.text
