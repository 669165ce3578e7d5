"""Inspections with a checklist other than the standard's store template: the confidentiality check
(HB §7.3.2 (3)), on both databases.

A plan names its checklist; its inspections copy it and, when started, copy the items of that
checklist (`privacy.checklist`) instead of the store inspection template. Scoring, findings and
review then work as for a store inspection; the cross-store report keeps them out of the store's
inspection score; the seeded quarterly plan uses it; the other tenant never notices.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from repairqc.db import db, utcnow
from repairqc.errors import DomainError
from repairqc.inspections import services
from repairqc.inspections.models import (
    FindingCategory,
    Inspection,
    InspectionChecklist,
    InspectionKind,
    InspectionPlan,
    InspectionStatus,
    Recurrence,
    Severity,
)
from repairqc.inspections.reporting import InspectionsProvider
from repairqc.inspections.services import Answer
from repairqc.privacy import seed
from repairqc.privacy.checklist import CONFIDENTIALITY_TEMPLATE
from repairqc.standards.services import effective_for_store
from tests.conftest import SeededTenant, in_tenant, sign_in, staff, store
from tests.htmlforms import form_data

TODAY = date.today()
CONFIDENTIALITY = InspectionChecklist.CONFIDENTIALITY
#: code -> (section code, area, section title, text, weight, critical, required), as the template says.
EXPECTED = {
    item.code: (
        section.code,
        section.area,
        section.title,
        item.text,
        item.weight,
        item.critical,
        item.required,
    )
    for section in CONFIDENTIALITY_TEMPLATE.sections
    for item in section.items
}
PLANS = "/admin/inspections/plans/"
WORK = "/admin/inspections/work/"


def planned(
    tenant: SeededTenant,
    checklist: InspectionChecklist | None = CONFIDENTIALITY,
    *,
    inspector: str = "inspector",
    recurrence: Recurrence = Recurrence.ONCE,
    name: str = "Privacy walk",
) -> InspectionPlan:
    """A plan of S1 starting today; `checklist=None` leaves the model's default."""
    plan = InspectionPlan(
        name=name,
        kind=InspectionKind.PERIODIC,
        recurrence=recurrence,
        starts_on=TODAY,
        inspector_id=staff(tenant, inspector).id,
    )
    if checklist is not None:
        plan.checklist = checklist
    services.save_plan(plan, [store(tenant, "S1")], today=TODAY)
    return plan


def inspections_of(plan: InspectionPlan) -> list[Inspection]:
    return list(
        db.session.scalars(
            sa.select(Inspection).where(Inspection.plan_id == plan.id).order_by(Inspection.due_on)
        )
    )


def started(tenant: SeededTenant, inspector: str = "inspector") -> Inspection:
    (inspection,) = inspections_of(planned(tenant, inspector=inspector))
    services.start_inspection(inspection, staff(tenant, inspector))
    return inspection


def passing(inspection: Inspection) -> dict[str, Answer]:
    return {result.code: Answer("pass") for result in inspection.results}


def confidentiality_rows() -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(Inspection).where(Inspection.checklist == CONFIDENTIALITY)
    )


# --- the items --------------------------------------------------------------------------------------------


def test_the_template_is_valid_and_marks_what_cannot_be_made_good():
    assert sum(weight for *_, weight, _c, _r in EXPECTED.values()) == 100
    critical = {code for code, row in EXPECTED.items() if row[5]}
    assert critical == {"conf-agreements", "conf-device-data"}
    assert all(text.zh and text.en != text.zh for _s, _a, _t, text, *_rest in EXPECTED.values())


def test_a_confidentiality_plan_starts_inspections_with_exactly_its_items(app, alpha, beta):
    with in_tenant(app, beta):
        beta_before = (
            db.session.scalar(sa.select(sa.func.count()).select_from(Inspection)),
            confidentiality_rows(),
        )
    with in_tenant(app, alpha):
        plan = planned(alpha)
        (inspection,) = inspections_of(plan)
        assert (plan.checklist, inspection.checklist) == (CONFIDENTIALITY, CONFIDENTIALITY)
        assert inspection.results == []  # nothing is copied before the start
        services.start_inspection(inspection, staff(alpha, "inspector"))

        assert [r.code for r in inspection.results] == list(EXPECTED)
        assert [r.position for r in inspection.results] == list(range(1, len(EXPECTED) + 1))
        for r in inspection.results:
            section, area, title, text, weight, critical, required = EXPECTED[r.code]
            assert (r.section_code, r.area, r.section_title_en, r.section_title_zh) == (
                section,
                area,
                title.en,
                title.zh,
            )
            assert (r.text_en, r.text_zh) == (text.en, text.zh)
            assert (r.weight, r.critical, r.required, r.kind) == (weight, critical, required, "pass_fail")
            assert r.store_id == alpha.store_ids["S1"]
        store_codes = {
            item.code
            for section in effective_for_store(
                store(alpha, "S1"), TODAY
            ).document.inspection_template.sections
            for item in section.items
        }
        assert store_codes and not store_codes & {r.code for r in inspection.results}
        assert inspection.pass_mark == CONFIDENTIALITY_TEMPLATE.pass_mark == 90
        assert inspection.standard_version_id is not None  # still the version in force
        db.session.commit()
    with in_tenant(app, beta):
        beta_after = (
            db.session.scalar(sa.select(sa.func.count()).select_from(Inspection)),
            confidentiality_rows(),
        )
        assert beta_after == beta_before


def test_the_store_template_stays_the_default(app, alpha):
    with in_tenant(app, alpha):
        (inspection,) = inspections_of(planned(alpha, checklist=None, name="Walk"))
        unannounced = services.schedule_unannounced(
            store(alpha, "S1"), staff(alpha, "inspector"), TODAY + timedelta(days=1), staff(alpha, "qa")
        )
        expected = [
            item.code
            for section in effective_for_store(
                store(alpha, "S1"), TODAY
            ).document.inspection_template.sections
            for item in section.items
        ]
        for one in (inspection, unannounced):
            assert one.checklist is InspectionChecklist.STORE
            services.start_inspection(one, staff(alpha, "inspector"))
            assert [r.code for r in one.results] == expected


# --- conducting, scoring, findings, review ------------------------------------------------------------------


def test_conduct_score_findings_and_review_work_as_for_store_inspections(app, alpha):
    with in_tenant(app, alpha):
        inspector, qa = staff(alpha, "inspector"), staff(alpha, "qa")
        inspection = started(alpha)
        with pytest.raises(DomainError, match="cannot be “not applicable”") as refused:
            services.answer_items(inspection, {"conf-agreements": Answer("na")}, inspector)
        assert refused.value.field == "conf-agreements"

        answers = passing(inspection)
        answers["conf-backups"] = Answer("na")  # optional: backups kept by the provider
        answers["conf-device-data"] = Answer("fail", "Photos opened on a customer's phone")
        raised = services.answer_items(inspection, answers, inspector)
        (finding,) = raised
        assert (finding.severity, finding.category) == (Severity.CRITICAL, FindingCategory.SERVICE)
        assert "data was not accessed" in finding.description and "Photos opened" in finding.description
        # 75 of the 95 answered: the optional 5 left out, the critical 20 lost.
        assert inspection.score == pytest.approx(round(100 * 75 / 95, 2))
        assert inspection.passed is False

        services.submit_inspection(inspection, inspector, "One lapse")
        assert inspection.status is InspectionStatus.SUBMITTED
        db.session.flush()  # the finding's id
        with pytest.raises(DomainError, match=f"#{finding.id}"):
            services.review_inspection(inspection, qa)
        action = services.add_action(
            finding, qa, description="Retrain the technician", owner=None, due_on=None, today=TODAY
        )
        assert action.store_id == alpha.store_ids["S1"]
        services.review_inspection(inspection, qa, "Follow up")
        assert inspection.status is InspectionStatus.REVIEWED


def test_the_pass_mark_is_the_checklists(app, alpha):
    with in_tenant(app, alpha):
        inspector = staff(alpha, "inspector")
        inspection = started(alpha)
        answers = passing(inspection)
        answers["conf-screens-locked"] = Answer("fail")
        assert services.answer_items(inspection, answers, inspector) == []  # not critical: no finding
        assert (inspection.score, inspection.passed) == (90.0, True)
        answers["conf-passwords"] = Answer("fail")
        services.answer_items(inspection, answers, inspector)
        assert (inspection.score, inspection.passed) == (80.0, False)  # the store template would pass it


def test_changing_the_plans_checklist_moves_only_inspections_not_yet_started(app, alpha):
    with in_tenant(app, alpha):
        plan = planned(alpha, checklist=None, recurrence=Recurrence.WEEKLY, name="Weekly walk")
        first, *later = inspections_of(plan)
        assert later and all(i.checklist is InspectionChecklist.STORE for i in (first, *later))
        services.start_inspection(first, staff(alpha, "inspector"))
        plan.checklist = CONFIDENTIALITY
        services.save_plan(plan, list(plan.stores), today=TODAY)
        assert first.checklist is InspectionChecklist.STORE  # its items were copied already
        assert all(i.checklist is CONFIDENTIALITY for i in later)


# --- the cross-store report -------------------------------------------------------------------------------


def test_the_report_keeps_confidentiality_checks_out_of_the_inspection_score(app, alpha):
    s1 = alpha.store_ids["S1"]
    provider = InspectionsProvider()
    with in_tenant(app, alpha):
        day = utcnow().date()
        before = provider.collect(day, day, [s1]).get(s1, {})
        inspector = staff(alpha, "inspector")
        inspection = started(alpha)
        answers = passing(inspection)
        answers["conf-agreements"] = Answer("fail", "Two agreements missing")
        services.answer_items(inspection, answers, inspector)
        services.submit_inspection(inspection, inspector, "Missing agreements")
        db.session.flush()
        after = provider.collect(day, day, [s1])[s1]
    for key in ("inspections", "score_avg", "score_latest"):
        assert after.get(key) == before.get(key), key
    assert after.get("pass_rate") == before.get("pass_rate")
    # Its finding is a real problem of the store: counted with the others.
    assert after["findings"] == before.get("findings", 0) + 1
    assert after["findings_skills"] == before.get("findings_skills", 0) + 1


# --- the seeded quarterly plan ------------------------------------------------------------------------------


def test_the_seeded_quarterly_plan_uses_the_confidentiality_checklist(app, alpha, beta):
    with in_tenant(app, beta):
        beta_plans = set(db.session.scalars(sa.select(InspectionPlan.name)))
    with in_tenant(app, alpha):
        _programme, plan = seed.ensure_confidentiality_catalogue(TODAY)
        assert seed.ensure_check_plan(TODAY) is plan  # made once
        assert plan.name == seed.PLAN_NAME == "Confidentiality check · 保密检查"
        assert plan.checklist is CONFIDENTIALITY and plan.kind is InspectionKind.INTERNAL_AUDIT
        assert "data access log" not in plan.notes  # the items are the checklist, not notes
        services.schedule_plan(plan, plan.starts_on)  # the first quarter's inspections
        made = inspections_of(plan)
        assert {i.store_id for i in made} == set(alpha.store_ids.values())
        assert all(i.checklist is CONFIDENTIALITY and i.inspector_id is None for i in made)
        s1 = next(i for i in made if i.store_id == alpha.store_ids["S1"])
        services.start_inspection(s1, staff(alpha, "manager"))  # internal audit: the store's manager
        assert [r.code for r in s1.results] == list(EXPECTED)
        db.session.commit()
    with in_tenant(app, beta):
        assert set(db.session.scalars(sa.select(InspectionPlan.name))) == beta_plans
        assert confidentiality_rows() == 0


def test_the_seeded_texts_are_simplified_chinese():
    traditional = set("與數據協議員檢設備櫃臺機訊僅進資導審懷洩馬負責應預處訪帳號離鎖紙張記錄")
    texts = [seed.PROGRAMME_NAME, seed.PLAN_NAME, seed.PLAN_NOTES, seed.programme_topics()]
    texts += [t for row in EXPECTED.values() for t in (row[2].zh, row[3].zh)]
    assert not {c for text in texts for c in text} & traditional
    assert "保密与数据保护" in seed.PROGRAMME_NAME and "锁定屏幕" in seed.programme_topics()


# --- the screens --------------------------------------------------------------------------------------------


def test_qa_chooses_the_checklist_and_the_pages_show_it(app, client, alpha, beta):
    sign_in(client, alpha, "qa")
    base = f"http://{alpha.host}"
    page = client.get(f"{PLANS}new", base_url=base)
    assert 'name="checklist"' in page.text
    data = form_data(page.text, "name")
    assert data["checklist"] == "store"  # the default, as before
    data.update(
        name="Quarterly privacy check",
        kind="periodic",
        recurrence="once",
        checklist="bogus",
        starts_on=TODAY.isoformat(),
        inspector=str(user_id(app, alpha, "inspector")),
        stores=[str(alpha.store_ids["S1"])],
        store_group="",
    )
    refused = client.post(f"{PLANS}new", base_url=base, data=data)
    assert refused.status_code == 400 and "Nothing was saved" in refused.text
    data["checklist"] = "confidentiality"
    saved = client.post(f"{PLANS}new", base_url=base, data=data)
    assert saved.status_code == 302, saved.text
    with in_tenant(app, alpha):
        plan = db.session.scalars(
            sa.select(InspectionPlan).where(InspectionPlan.name == "Quarterly privacy check")
        ).one()
        assert plan.checklist is CONFIDENTIALITY
        (inspection,) = inspections_of(plan)
        plan_id, inspection_id = plan.id, inspection.id
        assert inspection.checklist is CONFIDENTIALITY

    shown = client.get(f"{PLANS}{plan_id}/", base_url=base).text
    assert form_data(shown, "name")["checklist"] == "confidentiality"
    listing = client.get(PLANS, base_url=base).text
    row = listing.split(f'data-testid="plan-{plan_id}"')[1].split("</tr>")[0]
    assert 'data-testid="checklist">Confidentiality check<' in row

    sign_in(client, alpha, "inspector")
    page = client.get(f"{WORK}{inspection_id}/", base_url=base).text
    assert 'data-testid="checklist">Confidentiality check<' in page
    start = form_data(page, "version")
    assert client.post(f"{WORK}{inspection_id}/start", base_url=base, data=start).status_code == 302
    page = client.get(f"{WORK}{inspection_id}/", base_url=base).text
    assert "Screens are locked when unattended" in page
    assert "Intake records complete" not in page  # no item of the store template

    # The other tenant's QA sees none of it.
    sign_in(client, beta, "qa")
    assert "Quarterly privacy check" not in client.get(PLANS, base_url=f"http://{beta.host}").text
    with in_tenant(app, beta):
        assert confidentiality_rows() == 0
        assert (
            db.session.scalars(
                sa.select(InspectionPlan).where(InspectionPlan.name == "Quarterly privacy check")
            ).first()
            is None
        )


def user_id(app, tenant: SeededTenant, key: str) -> int:
    with in_tenant(app, tenant):
        return staff(tenant, key).id
