"""The plan, calendar and inspection screens (HB §8.1-§8.3.1), driven over HTTP on both databases.

Records are set up with the services (inside `in_tenant`) where the screen under test is not
the one making them; the pages are then used as a browser would: GET the page, post what its
form holds plus the user's input.
"""

from __future__ import annotations

import io
from datetime import date, timedelta

import sqlalchemy as sa

from repairqc.accounts.models import StaffUser
from repairqc.db import db, utcnow
from repairqc.inspections import services
from repairqc.inspections.models import (
    CorrectiveAction,
    Finding,
    Inspection,
    InspectionItemResult,
    InspectionKind,
    InspectionPhoto,
    InspectionPlan,
    InspectionStatus,
    Recurrence,
)
from repairqc.stores.models import Store
from tests.conftest import PNG, in_tenant, sign_in
from tests.htmlforms import form_data

St = InspectionStatus
PLANS = "/admin/inspections/plans/"
CALENDAR = "/admin/inspections/calendar/"
WORK = "/admin/inspections/work/"


def today() -> date:
    return utcnow().date()


def url(tenant) -> str:
    return f"http://{tenant.host}"


def get(client, tenant, path: str):
    return client.get(path, base_url=url(tenant))


def post(client, tenant, path: str, data: dict, **kwargs):
    return client.post(path, base_url=url(tenant), data=data, **kwargs)


def person(tenant, key: str) -> StaffUser:
    return db.session.execute(sa.select(StaffUser).where(StaffUser.email == tenant.users[key])).scalar_one()


def user_id(app, tenant, key: str) -> int:
    with in_tenant(app, tenant):
        return person(tenant, key).id


def form_in(html: str, testid: str, containing: str) -> dict:
    """The fields of the form marked `data-testid=testid`."""
    marker = html.index(f'data-testid="{testid}"')
    return form_data(html[html.rindex("<form", 0, marker) :], containing)


def page_of(inspection_id: int, step: str = "") -> str:
    return f"{WORK}{inspection_id}/{step}"


def planned_inspection(app, tenant, inspector: str = "inspector", store: str = "S1") -> int:
    """One periodic inspection of `store` due today, assigned to `inspector`, not started."""
    with in_tenant(app, tenant):
        plan = InspectionPlan(
            name=f"Walk {store}",
            kind=InspectionKind.PERIODIC,
            recurrence=Recurrence.ONCE,
            starts_on=today(),
            inspector_id=person(tenant, inspector).id,
        )
        services.save_plan(plan, [db.session.get(Store, tenant.store_ids[store])], today=today())
        (inspection_id,) = db.session.execute(
            sa.select(Inspection.id).where(Inspection.plan_id == plan.id)
        ).scalars()
        db.session.commit()
    return inspection_id


def submitted_inspection(app, tenant) -> int:
    """An S1 inspection conducted by the S1 inspector with one failed critical item, submitted."""
    inspection_id = planned_inspection(app, tenant)
    with in_tenant(app, tenant):
        inspection = db.session.get(Inspection, inspection_id)
        inspector = person(tenant, "inspector")
        services.start_inspection(inspection, inspector)
        answers = {r.code: services.Answer("4" if r.kind == "score" else "pass") for r in inspection.results}
        critical = next(r for r in inspection.results if r.critical)
        answers[critical.code] = services.Answer("fail", "Broken seal")
        services.answer_items(inspection, answers, inspector)
        services.submit_inspection(inspection, inspector, "Done")
        db.session.commit()
    return inspection_id


def status_of(app, tenant, inspection_id: int) -> St:
    with in_tenant(app, tenant):
        return db.session.get(Inspection, inspection_id).status


# --- plans --------------------------------------------------------------------------------------------------


def plan_form(client, tenant, path: str = f"{PLANS}new") -> dict:
    page = get(client, tenant, path)
    assert page.status_code == 200, page.text
    return form_data(page.text, "name")


def test_plan_with_bad_input_saves_nothing_and_keeps_what_was_typed(app, client, alpha):
    sign_in(client, alpha, "qa")
    data = plan_form(client, alpha)
    data.update(
        name="Quarterly walk-through",
        kind="periodic",
        recurrence="quarterly",
        starts_on=today().isoformat(),
        inspector=str(user_id(app, alpha, "inspector")),
    )
    data.pop("stores", None)  # nothing ticked, no chain or region chosen
    data["store_group"] = ""

    response = post(client, alpha, f"{PLANS}new", data)
    assert response.status_code == 400
    assert "A plan needs at least one store." in response.text
    assert 'value="Quarterly walk-through"' in response.text

    data["stores"] = [str(alpha.store_ids["S1"])]
    data["ends_on"] = (today() - timedelta(days=1)).isoformat()
    response = post(client, alpha, f"{PLANS}new", data)
    assert response.status_code == 400
    assert "The last date is before the first one." in response.text

    data["ends_on"] = ""
    data["starts_on"] = "not a date"
    response = post(client, alpha, f"{PLANS}new", data)
    assert response.status_code == 400
    assert "Nothing was saved" in response.text

    # The S1 inspector may not inspect S2.
    data["starts_on"] = today().isoformat()
    data["stores"] = [str(alpha.store_ids["S1"]), str(alpha.store_ids["S2"])]
    response = post(client, alpha, f"{PLANS}new", data)
    assert response.status_code == 400
    assert "may not inspect" in response.text

    with in_tenant(app, alpha):
        names = db.session.execute(sa.select(InspectionPlan.name)).scalars().all()
        assert "Quarterly walk-through" not in names


def test_a_weekly_plan_makes_its_inspections_and_shows_its_counts(app, client, alpha):
    sign_in(client, alpha, "qa")
    data = plan_form(client, alpha)
    qa_id = user_id(app, alpha, "qa")
    data.update(
        name="Weekly round",
        kind="periodic",
        recurrence="weekly",
        starts_on=(today() - timedelta(days=7)).isoformat(),
        inspector=str(qa_id),
        stores=[],
        store_group=f"chain:{_chain_id(app, alpha)}",  # "every store of the chain": S1 and S2
    )
    response = post(client, alpha, f"{PLANS}new", data)
    assert response.status_code == 302, response.text

    with in_tenant(app, alpha):
        plan = db.session.execute(
            sa.select(InspectionPlan).where(InspectionPlan.name == "Weekly round")
        ).scalar_one()
        made = db.session.execute(sa.select(Inspection).where(Inspection.plan_id == plan.id)).scalars().all()
        # Last week's (overdue), this week's, and the next two within the 14 days ahead, per store.
        days = sorted({i.due_on for i in made})
        assert days == [today() + timedelta(days=7 * n) for n in range(-1, 3)]
        assert {i.store_id for i in made} == set(alpha.store_ids.values())
        assert all(i.inspector_id == qa_id and i.status is St.SCHEDULED for i in made)
        assert plan.next_occurrence_on == today() + timedelta(days=21)
        plan_id = plan.id

    page = client.get(response.headers["Location"], base_url=url(alpha), follow_redirects=True)
    assert "8 inspections are scheduled" in page.text

    listing = get(client, alpha, PLANS)
    assert listing.status_code == 200
    row = listing.text.split(f'data-testid="plan-{plan_id}"')[1].split("</tr>")[0]
    assert 'data-testid="open-count">8<' in row
    assert "badge-danger" in row and ">2</span>" in row  # last week's two are overdue
    assert 'data-testid="plans-behind"' in listing.text

    # Running the generation again makes nothing new (one per plan, store and date).
    with in_tenant(app, alpha):
        assert services.generate_due_inspections(today()) == 0


def _chain_id(app, tenant) -> int:
    with in_tenant(app, tenant):
        return db.session.get(Store, tenant.store_ids["S1"]).chain_id


def test_editing_a_plan_from_a_stale_page_is_a_conflict(app, client, alpha):
    sign_in(client, alpha, "qa")
    with in_tenant(app, alpha):
        plan_id = db.session.execute(
            sa.select(InspectionPlan.id).where(InspectionPlan.name == "Plan SENTINEL-A-S1")
        ).scalar_one()
    data = plan_form(client, alpha, f"{PLANS}{plan_id}/")
    assert data["name"] == "Plan SENTINEL-A-S1"
    data["stores"] = [str(alpha.store_ids["S1"])]
    first = dict(data, notes="First edit")
    assert post(client, alpha, f"{PLANS}{plan_id}/", first).status_code == 302
    stale = dict(data, notes="Second edit from the old page")
    response = post(client, alpha, f"{PLANS}{plan_id}/", stale)
    assert response.status_code == 409
    assert "Someone else changed this record" in response.text
    with in_tenant(app, alpha):
        assert db.session.get(InspectionPlan, plan_id).notes == "First edit"


def test_deactivating_a_plan_stops_it(app, client, alpha):
    sign_in(client, alpha, "qa")
    with in_tenant(app, alpha):
        plan = db.session.execute(
            sa.select(InspectionPlan).where(InspectionPlan.name == "Plan SENTINEL-A-S2")
        ).scalar_one()
        plan_id, version = plan.id, plan.version
    page = get(client, alpha, f"{PLANS}{plan_id}/")
    data = form_in(page.text, "deactivate-form", "version")
    assert data["version"] == str(version)
    assert post(client, alpha, f"{PLANS}{plan_id}/deactivate", data).status_code == 302
    with in_tenant(app, alpha):
        plan = db.session.get(InspectionPlan, plan_id)
        assert plan.is_active is False and plan.next_occurrence_on is None
    # The page posted again (stale version) is refused.
    assert post(client, alpha, f"{PLANS}{plan_id}/deactivate", data).status_code == 409


def test_plan_screens_follow_the_roles(app, client, alpha):
    with in_tenant(app, alpha):
        plan_id = db.session.execute(
            sa.select(InspectionPlan.id).where(InspectionPlan.name == "Plan SENTINEL-A-S1")
        ).scalar_one()
    sign_in(client, alpha, "inspector")  # reads the plans of S1, changes none
    listing = get(client, alpha, PLANS)
    assert listing.status_code == 200 and "Plan SENTINEL-A-S1" in listing.text
    assert "Plan SENTINEL-A-S2" not in listing.text
    page = get(client, alpha, f"{PLANS}{plan_id}/")
    assert page.status_code == 200 and "<fieldset disabled" in page.text
    assert get(client, alpha, f"{PLANS}new").status_code == 403
    data = form_data(page.text, "name")
    assert post(client, alpha, f"{PLANS}{plan_id}/", data).status_code == 404
    sign_in(client, alpha, "tech")
    assert get(client, alpha, PLANS).status_code == 403


# --- the calendar and unannounced inspections ---------------------------------------------------------------


def test_calendar_shows_inspections_and_planned_dates(app, client, alpha):
    inspection_id = planned_inspection(app, alpha)
    with in_tenant(app, alpha):
        plan = InspectionPlan(
            name="Monthly audit",
            kind=InspectionKind.PERIODIC,
            recurrence=Recurrence.MONTHLY,
            starts_on=today() + timedelta(days=40),
            inspector_id=person(alpha, "inspector").id,
        )
        services.save_plan(plan, [db.session.get(Store, alpha.store_ids["S1"])], today=today())
        plan_id = plan.id
        db.session.commit()
    sign_in(client, alpha, "inspector")
    page = get(client, alpha, CALENDAR)
    assert page.status_code == 200
    assert f'data-testid="calendar-inspection-{inspection_id}"' in page.text
    assert "Monthly audit" not in page.text  # nothing of it this month

    later = today() + timedelta(days=40)
    page = get(client, alpha, f"{CALENDAR}?month={later:%Y-%m}")
    assert page.status_code == 200
    assert f'data-testid="calendar-planned-{plan_id}"' in page.text
    assert f"?month={(later.replace(day=1) - timedelta(days=1)):%Y-%m}" in page.text  # previous month

    # Garbage in the month falls back to this month; no 500.
    garbage = get(client, alpha, f"{CALENDAR}?month=99999-99")
    assert garbage.status_code == 200
    assert f"?month={(today().replace(day=1) - timedelta(days=1)):%Y-%m}" in garbage.text  # previous month


def test_store_staff_do_not_see_an_unannounced_inspection_coming(app, client, alpha):
    sign_in(client, alpha, "qa")
    form = get(client, alpha, f"{PLANS}unannounced")
    assert form.status_code == 200
    data = form_data(form.text, "due_on")
    due = today() + timedelta(days=3)
    data.update(
        store=str(alpha.store_ids["S1"]),
        inspector=str(user_id(app, alpha, "inspector")),
        due_on=due.isoformat(),
    )
    response = post(client, alpha, f"{PLANS}unannounced", data)
    assert response.status_code == 302, response.text
    inspection_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    with in_tenant(app, alpha):
        inspection = db.session.get(Inspection, inspection_id)
        assert inspection.kind is InspectionKind.UNANNOUNCED and inspection.plan_id is None
        # An unannounced plan too: its projected dates must not leak either.
        plan = InspectionPlan(
            name="Surprise visits",
            kind=InspectionKind.UNANNOUNCED,
            recurrence=Recurrence.MONTHLY,
            starts_on=today() + timedelta(days=20),
            inspector_id=person(alpha, "qa").id,
        )
        services.save_plan(plan, [db.session.get(Store, alpha.store_ids["S1"])], today=today())
        plan_id = plan.id
        db.session.commit()

    sign_in(client, alpha, "manager")
    assert get(client, alpha, page_of(inspection_id)).status_code == 404
    for path in (f"{WORK}?tab=all", f"{WORK}?tab=due", CALENDAR, f"{CALENDAR}?month={due:%Y-%m}"):
        page = get(client, alpha, path)
        assert page.status_code == 200
        assert f"inspection-{inspection_id}" not in page.text
        assert "Surprise visits" not in page.text

    # The S1 inspector is assigned this one and sees it, but not QA's unannounced plan.
    sign_in(client, alpha, "inspector")
    assert get(client, alpha, page_of(inspection_id)).status_code == 200
    assert f"inspection-{inspection_id}" in get(client, alpha, WORK).text
    later = today() + timedelta(days=20)
    assert "Surprise visits" not in get(client, alpha, f"{CALENDAR}?month={later:%Y-%m}").text
    assert "Surprise visits" not in get(client, alpha, PLANS).text
    assert get(client, alpha, f"{PLANS}{plan_id}/").status_code == 404

    # QA sees both.
    sign_in(client, alpha, "qa")
    assert "Surprise visits" in get(client, alpha, f"{CALENDAR}?month={later:%Y-%m}").text
    assert f"inspection-{inspection_id}" in get(client, alpha, f"{WORK}?tab=all").text


def test_only_qa_schedules_unannounced_inspections(app, client, alpha):
    sign_in(client, alpha, "inspector")
    assert get(client, alpha, f"{PLANS}unannounced").status_code == 403
    sign_in(client, alpha, "qa")
    data = form_data(get(client, alpha, f"{PLANS}unannounced").text, "due_on")
    # The S1 inspector may not inspect S2: a message, nothing saved.
    data.update(store=str(alpha.store_ids["S2"]), inspector=str(user_id(app, alpha, "inspector")))
    with in_tenant(app, alpha):
        before = db.session.execute(sa.select(sa.func.count()).select_from(Inspection)).scalar_one()
    response = post(client, alpha, f"{PLANS}unannounced", data)
    assert response.status_code == 400 and "may not inspect" in response.text
    with in_tenant(app, alpha):
        assert db.session.execute(sa.select(sa.func.count()).select_from(Inspection)).scalar_one() == before


# --- conducting and reviewing -------------------------------------------------------------------------------


def answers_form(client, tenant, inspection_id: int) -> tuple[str, dict]:
    page = get(client, tenant, page_of(inspection_id))
    assert page.status_code == 200
    return page.text, form_data(page.text, "summary")


def item_ids(app, tenant, inspection_id: int) -> dict[str, tuple[int, str, bool, bool]]:
    with in_tenant(app, tenant):
        results = db.session.execute(
            sa.select(InspectionItemResult).where(InspectionItemResult.inspection_id == inspection_id)
        ).scalars()
        return {r.code: (r.id, r.kind, r.critical, r.required) for r in results}


def test_the_inspection_flow_over_http(app, client, alpha):
    inspection_id = planned_inspection(app, alpha)
    sign_in(client, alpha, "inspector")

    # Scheduled: the list has it under "mine", the page offers the start.
    assert f'data-testid="inspection-{inspection_id}"' in get(client, alpha, WORK).text
    page = get(client, alpha, page_of(inspection_id))
    assert 'data-testid="start-form"' in page.text
    start = form_data(page.text, "version")
    assert post(client, alpha, page_of(inspection_id, "start"), start).status_code == 302
    assert status_of(app, alpha, inspection_id) is St.IN_PROGRESS

    # In progress: the form built from the copied items, with the camera for photos.
    text, data = answers_form(client, alpha, inspection_id)
    assert 'capture="environment"' in text and 'accept="image/*"' in text
    assert 'data-testid="standard-version"' in text
    items = item_ids(app, alpha, inspection_id)
    critical = next(code for code, (_id, _k, crit, _r) in items.items() if crit)
    missing = next(code for code, (_id, _k, crit, req) in items.items() if not crit and req)
    for item_id, kind, _crit, _req in items.values():
        data[f"item-{item_id}-value"] = "4" if kind == "score" else "pass"
    critical_id = items[critical][0]
    data[f"item-{critical_id}-value"] = "fail"
    data[f"item-{critical_id}-note"] = "Seal broken at the bench"
    data[f"item-{items[missing][0]}-value"] = ""
    data[f"item-{critical_id}-photos"] = (io.BytesIO(PNG + b"flow"), "seal.png")
    data["action"] = "save"
    response = post(
        client, alpha, page_of(inspection_id, "answers"), data, content_type="multipart/form-data"
    )
    assert response.status_code == 302, response.text
    shown = get(client, alpha, page_of(inspection_id)).text
    assert "A finding was raised at once: Critical item failed:" in shown
    with in_tenant(app, alpha):
        finding = db.session.execute(
            sa.select(Finding).where(Finding.inspection_id == inspection_id)
        ).scalar_one()
        assert finding.item_result_id == critical_id
        assert db.session.execute(
            sa.select(InspectionPhoto).where(InspectionPhoto.item_result_id == critical_id)
        ).scalar_one()
    assert f'data-testid="photos-{critical}"' in shown and "/files/" in shown

    # Submitting with a required item unanswered: refused, nothing saved, the typed answers shown.
    text, data = answers_form(client, alpha, inspection_id)
    other = next(code for code in items if code not in (critical, missing))
    data[f"item-{items[other][0]}-note"] = "Typed but refused"
    data.update(action="submit", summary="All seen")
    response = post(client, alpha, page_of(inspection_id, "answers"), data)
    assert response.status_code == 400
    assert "Answer every required item before submitting" in response.text and missing in response.text
    assert 'value="Typed but refused"' in response.text and "All seen" in response.text
    with in_tenant(app, alpha):
        result = db.session.get(InspectionItemResult, items[other][0])
        assert result.note is None
        assert db.session.get(Inspection, inspection_id).status is St.IN_PROGRESS

    # Answered in full: submitted.
    data[f"item-{items[missing][0]}-value"] = "4" if items[missing][1] == "score" else "pass"
    response = post(client, alpha, page_of(inspection_id, "answers"), data)
    assert response.status_code == 302, response.text
    assert status_of(app, alpha, inspection_id) is St.SUBMITTED

    # The inspector cannot review.
    page = get(client, alpha, page_of(inspection_id))
    assert 'data-testid="review-form"' not in page.text
    with in_tenant(app, alpha):
        version = str(db.session.get(Inspection, inspection_id).version)
    refused = post(
        client,
        alpha,
        page_of(inspection_id, "reviewed"),
        {"csrf_token": _token(page.text), "version": version},
    )
    assert refused.status_code == 409 and "Only QA reviews inspections" in refused.text

    # QA returns it with a comment; the inspector sees it and resubmits.
    sign_in(client, alpha, "qa")
    page = get(client, alpha, page_of(inspection_id))
    assert 'data-testid="review-form"' in page.text and "Seal broken at the bench" in page.text
    empty = form_in(page.text, "return-form", "comment")
    response = post(client, alpha, page_of(inspection_id, "return"), empty)
    assert response.status_code == 400 and "Say what the inspector should correct." in response.text
    back = dict(empty, comment="Add the note on the fire exit")
    assert post(client, alpha, page_of(inspection_id, "return"), back).status_code == 302
    assert status_of(app, alpha, inspection_id) is St.IN_PROGRESS

    sign_in(client, alpha, "inspector")
    text, data = answers_form(client, alpha, inspection_id)
    assert 'data-testid="return-comment"' in text and "Add the note on the fire exit" in text
    data[f"item-{items[other][0]}-note"] = "Fire exit clear"
    data["action"] = "submit"
    assert post(client, alpha, page_of(inspection_id, "answers"), data).status_code == 302
    assert status_of(app, alpha, inspection_id) is St.SUBMITTED

    # QA: "reviewed" is refused while the finding has no corrective action.
    sign_in(client, alpha, "qa")
    page = get(client, alpha, page_of(inspection_id))
    review = form_in(page.text, "review-form", "comment")
    response = post(client, alpha, page_of(inspection_id, "reviewed"), review)
    assert response.status_code == 400 and "Give every finding a corrective action" in response.text
    assert status_of(app, alpha, inspection_id) is St.SUBMITTED

    # The action form proposes the store manager and the standard's due date.
    action = form_data(page.text, "finding")
    assert action["owner"] == str(user_id(app, alpha, "manager"))
    assert action["due_on"] == (today() + timedelta(days=14)).isoformat()
    response = post(client, alpha, page_of(inspection_id, "actions"), dict(action, description=""))
    assert response.status_code == 400 and "Say what the store must do." in response.text
    action["description"] = "Replace the seal and retrain the bench"
    assert post(client, alpha, page_of(inspection_id, "actions"), action).status_code == 302
    with in_tenant(app, alpha):
        (corrective,) = db.session.execute(
            sa.select(CorrectiveAction).where(CorrectiveAction.finding_id == finding.id)
        ).scalars()
        assert corrective.owner_id == user_id(app, alpha, "manager")
        action_id = corrective.id

    page = get(client, alpha, page_of(inspection_id))
    review = form_in(page.text, "review-form", "comment")
    review["comment"] = "Good record"
    assert post(client, alpha, page_of(inspection_id, "reviewed"), review).status_code == 302
    assert status_of(app, alpha, inspection_id) is St.REVIEWED

    # Reviewed: read-only, with the link to its corrective action and the whole history.
    page = get(client, alpha, page_of(inspection_id))
    assert 'data-testid="answers-form"' not in page.text and 'data-testid="review-form"' not in page.text
    assert (
        f"/admin/inspections/actions/{action_id}/" in page.text and 'data-testid="action-link"' in page.text
    )
    history = page.text.split('data-testid="history"')[1]
    assert "Add the note on the fire exit" in history and "Good record" in history


def _token(html: str) -> str:
    from tests.conftest import csrf_token_from

    return csrf_token_from(html)


def test_stale_inspection_page_is_a_conflict(app, client, alpha):
    inspection_id = planned_inspection(app, alpha)
    sign_in(client, alpha, "inspector")
    start = form_data(get(client, alpha, page_of(inspection_id)).text, "version")
    assert post(client, alpha, page_of(inspection_id, "start"), start).status_code == 302
    _text, data = answers_form(client, alpha, inspection_id)
    data["action"] = "save"
    assert post(client, alpha, page_of(inspection_id, "answers"), data).status_code == 302
    response = post(client, alpha, page_of(inspection_id, "answers"), data)  # the same old page again
    assert response.status_code == 409 and "Someone else changed this record" in response.text


def test_roles_that_may_not_act(app, client, alpha):
    inspection_id = planned_inspection(app, alpha)
    submitted_id = submitted_inspection(app, alpha)

    sign_in(client, alpha, "tech")  # technicians do not inspect
    assert get(client, alpha, WORK).status_code == 403
    assert get(client, alpha, page_of(inspection_id)).status_code == 403

    sign_in(client, alpha, "manager")  # sees S1's inspection, may not conduct it
    page = get(client, alpha, page_of(inspection_id))
    assert page.status_code == 200 and 'data-testid="start-form"' not in page.text
    response = post(
        client,
        alpha,
        page_of(inspection_id, "start"),
        {"csrf_token": _token(page.text), "version": "1"},
    )
    assert response.status_code == 409 and "assigned to someone else" in response.text
    assert status_of(app, alpha, inspection_id) is St.SCHEDULED

    sign_in(client, alpha, "manager2")  # another store's inspections do not exist for them
    assert get(client, alpha, page_of(inspection_id)).status_code == 404
    assert get(client, alpha, page_of(submitted_id)).status_code == 404
    page = get(client, alpha, WORK)
    token = _token(page.text)
    assert (
        post(
            client, alpha, page_of(inspection_id, "start"), {"csrf_token": token, "version": "1"}
        ).status_code
        == 404
    )
    assert f"inspection-{inspection_id}" not in get(client, alpha, f"{WORK}?tab=all").text


# --- two tenants --------------------------------------------------------------------------------------------


def test_another_tenants_plans_and_inspections_are_not_found(app, client, alpha, beta):
    beta_inspection = planned_inspection(app, beta)
    with in_tenant(app, beta):
        beta_plan = db.session.get(Inspection, beta_inspection).plan_id
    with in_tenant(app, alpha):
        alpha_max = db.session.execute(sa.select(sa.func.max(Inspection.id))).scalar_one()
        alpha_plan_max = db.session.execute(sa.select(sa.func.max(InspectionPlan.id))).scalar_one()
    assert beta_inspection > alpha_max and beta_plan > alpha_plan_max
    sign_in(client, alpha, "qa")
    assert get(client, alpha, page_of(beta_inspection)).status_code == 404
    assert get(client, alpha, f"{PLANS}{beta_plan}/").status_code == 404
    token = _token(get(client, alpha, WORK).text)
    for path in (
        page_of(beta_inspection, "start"),
        page_of(beta_inspection, "reviewed"),
        f"{PLANS}{beta_plan}/deactivate",
    ):
        assert post(client, alpha, path, {"csrf_token": token, "version": "1"}).status_code == 404
    for path in (WORK + "?tab=all", CALENDAR, PLANS, page_of(1), f"{PLANS}1/"):
        page = get(client, alpha, path)
        assert page.status_code == 200, path
        assert "SENTINEL-B" not in page.text
    assert "SENTINEL-A" in get(client, alpha, page_of(1)).text
    # Alpha's session is not valid on beta's host.
    assert get(client, beta, page_of(beta_inspection)).status_code in (302, 401, 403)


def test_qa_reassigns_a_scheduled_inspection_and_nobody_else_can(app, client, alpha):
    from tests.conftest import csrf_token_from, staff, store

    due = date.today() + timedelta(days=4)
    with in_tenant(app, alpha):
        visit = services.schedule_unannounced(
            store(alpha, "S1"), staff(alpha, "inspector"), due, staff(alpha, "qa")
        )
        db.session.commit()
        visit_id, version, owner_id = visit.id, visit.version, staff(alpha, "owner").id
    path = f"http://{alpha.host}/admin/inspections/work/{visit_id}/"
    sign_in(client, alpha, "inspector")
    page = client.get(path)
    assert 'data-testid="reassign-form"' not in page.text
    refused = client.post(
        path + "reassign",
        data={
            "csrf_token": csrf_token_from(page.text),
            "version": version,
            "inspector": owner_id,
            "due_on": due,
        },
    )
    assert refused.status_code == 409
    sign_in(client, alpha, "qa")
    page = client.get(path)
    assert 'data-testid="reassign-form"' in page.text
    token = csrf_token_from(page.text)
    past = client.post(
        path + "reassign",
        data={"csrf_token": token, "version": version, "inspector": owner_id, "due_on": date(2020, 1, 1)},
    )
    assert past.status_code == 400 and "The due date is in the past." in past.text
    later = due + timedelta(days=3)
    moved = client.post(
        path + "reassign",
        data={"csrf_token": token, "version": version, "inspector": owner_id, "due_on": later},
    )
    assert moved.status_code == 302
    with in_tenant(app, alpha):
        visit = db.session.get(Inspection, visit_id)
        assert (visit.inspector_id, visit.due_on) == (owner_id, later)
        assert "Assigned to" in visit.events[-1].comment
    stale = client.post(
        path + "reassign",
        data={"csrf_token": token, "version": version, "inspector": owner_id, "due_on": later},
    )
    assert stale.status_code == 409
