"""The emergency screens (HB §9.1-§9.2) on both databases, driven as a browser would: GET a page,
post what its form holds plus the user's input. Reporting by a technician, command, the action
log and the plan's checklist, updates, closing with a review; the plan and drill screens; bad
input refused with its message and nothing saved, 409 on a stale page; isolation of every screen
between stores and between tenants.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from repairqc.db import db, unit_of_work, utcnow
from repairqc.incidents import services
from repairqc.incidents.models import (
    EmergencyDrill,
    EmergencyPlan,
    Incident,
    IncidentStatus,
    PlanKind,
    PlanStatus,
    Severity,
)
from tests.conftest import in_tenant, sign_in, staff, store
from tests.seed_incidents import content
from tests.test_equipment_views import form_fields

INCIDENTS = "/admin/emergency/incidents/"
PLANS = "/admin/emergency/plans/"
DRILLS = "/admin/emergency/drills/"


def url(tenant) -> str:
    return f"http://{tenant.host}"


def get(client, tenant, path: str):
    return client.get(path, base_url=url(tenant))


def post(client, tenant, path: str, data: dict):
    return client.post(path, base_url=url(tenant), data=data)


def sign_in_as(client, tenant, key: str) -> None:
    client.post("/logout", base_url=url(tenant))
    assert sign_in(client, tenant, key).status_code == 302


def ids_of(app, tenant, model, **where) -> list[int]:
    with in_tenant(app, tenant):
        statement = sa.select(model.id).order_by(model.id)
        for name, value in where.items():
            statement = statement.where(getattr(model, name) == value)
        return list(db.session.scalars(statement))


def plan_id(app, tenant, code: str, status: PlanStatus = PlanStatus.ACTIVE) -> int:
    (found,) = ids_of(app, tenant, EmergencyPlan, code=code, status=status)
    return found


def new_incident(
    app, tenant, store_name: str = "S1", key: str = "tech", kind=PlanKind.NATURAL_DISASTER
) -> int:
    with in_tenant(app, tenant), unit_of_work():
        incident = services.report_incident(
            staff(tenant, key),
            store(tenant, store_name),
            kind=kind,
            severity=Severity.MEDIUM,
            description=f"Burst pipe {tenant.store_sentinel(store_name)}",
            occurred_at=utcnow(),
            notify_customers=False,
            now=utcnow(),
        )
        return incident.id


def test_a_technician_reports_and_the_manager_leads_the_response_to_the_review(app, client, alpha):
    sign_in_as(client, alpha, "tech")
    page = get(client, alpha, INCIDENTS + "report")
    assert page.status_code == 200
    fields = form_fields(page.text, "report-form")
    fields.update(
        store=str(alpha.store_ids["S1"]), kind="natural_disaster", severity="high",
        description="Water coming through the ceiling", occurred_at="",
    )  # fmt: skip
    fields.pop("notify_customers", None)
    done = post(client, alpha, INCIDENTS + "report", fields)
    assert done.status_code == 302, done.text
    incident_id = int(re.search(r"/incidents/(\d+)/", done.location).group(1))
    page = get(client, alpha, f"{INCIDENTS}{incident_id}/")
    assert "Water coming through the ceiling" in page.text and 'data-testid="no-plan"' not in page.text
    assert page.text.count('data-testid="checklist-step" data-done="no"') == 3
    assert 'data-testid="action-form"' in page.text and 'data-testid="command-form"' not in page.text
    assert 'data-testid="update-form"' not in page.text  # a technician is no command role

    sign_in_as(client, alpha, "manager")
    page = get(client, alpha, f"{INCIDENTS}{incident_id}/")
    command = form_fields(page.text, "command-form")
    assert post(client, alpha, f"{INCIDENTS}{incident_id}/command", command).status_code == 302
    stale = post(client, alpha, f"{INCIDENTS}{incident_id}/command", command)  # the page before the change
    assert stale.status_code == 409 and "Someone else changed this record" in stale.text
    page = get(client, alpha, f"{INCIDENTS}{incident_id}/")
    assert 'data-testid="commander"' in page.text
    action = form_fields(page.text, "action-form")
    action.update({"action-what": "Sandbags at the door", "action-step": "1"})
    assert post(client, alpha, f"{INCIDENTS}{incident_id}/action", action).status_code == 302
    page = get(client, alpha, f"{INCIDENTS}{incident_id}/")
    assert page.text.count('data-done="yes"') == 1 and "Sandbags at the door" in page.text
    update = form_fields(page.text, "update-form")
    update["update-note"] = "Closed until noon"
    assert post(client, alpha, f"{INCIDENTS}{incident_id}/update", update).status_code == 302
    assert post(client, alpha, f"{INCIDENTS}{incident_id}/update", update).status_code == 409  # double click
    page = get(client, alpha, f"{INCIDENTS}{incident_id}/")
    assert 'data-testid="update-row" data-round="1"' in page.text and "Closed until noon" in page.text
    assert 'data-testid="to-call"' in page.text  # the seeded customer has no e-mail
    close = form_fields(page.text, "close-form")
    refused = post(client, alpha, f"{INCIDENTS}{incident_id}/close", {**close, "close-review": ""})
    assert refused.status_code == 400 and "Write the review" in refused.text
    close.update({"close-review": "Gutters blocked", "close-revise_plan": "y"})
    assert post(client, alpha, f"{INCIDENTS}{incident_id}/close", close).status_code == 302
    page = get(client, alpha, f"{INCIDENTS}{incident_id}/")
    assert 'data-testid="closed"' in page.text and 'data-testid="revision-link"' in page.text
    with in_tenant(app, alpha):
        incident = db.session.get(Incident, incident_id)
        assert incident.status is IncidentStatus.CLOSED and incident.revision_plan.status is PlanStatus.DRAFT
    listing = get(client, alpha, INCIDENTS + "?status=closed")
    assert f'data-id="{incident_id}"' in listing.text


def test_reporting_without_a_plan_warns_and_bad_input_is_refused_on_its_field(app, client, alpha):
    sign_in_as(client, alpha, "frontdesk")
    fields = form_fields(get(client, alpha, INCIDENTS + "report").text, "report-form")
    before = ids_of(app, alpha, Incident)
    for bad, words in (
        ({"description": ""}, "Describe what happened."),
        ({"description": "x" * 5001}, "Field cannot be longer than 5000 characters."),
        ({"occurred_at": "yesterday-ish"}, "Not a valid datetime value."),
        ({"kind": "meteor"}, "Not a valid choice"),
        ({"store": str(alpha.store_ids["S2"])}, "Not a valid choice"),  # not their store
        ({"occurred_at": "2999-01-01T10:00"}, "An incident is reported once it has happened."),
    ):
        data = {**fields, "store": str(alpha.store_ids["S1"]), "kind": "injury", "severity": "low",
                "description": "A customer slipped", **bad}  # fmt: skip
        refused = post(client, alpha, INCIDENTS + "report", data)
        assert refused.status_code == 400, bad
        assert words in refused.text and 'data-testid="refusal"' in refused.text, bad
    assert ids_of(app, alpha, Incident) == before
    data = {**fields, "store": str(alpha.store_ids["S1"]), "kind": "injury", "severity": "low",
            "description": "A customer slipped"}  # fmt: skip
    done = client.post(INCIDENTS + "report", base_url=url(alpha), data=data, follow_redirects=True)
    assert done.status_code == 200 and 'data-testid="no-plan"' in done.text
    assert "No emergency plan of this kind is in force" in done.text
    sign_in_as(client, alpha, "auditor")  # reads, never reports
    assert get(client, alpha, INCIDENTS + "report").status_code == 403
    assert get(client, alpha, INCIDENTS).status_code == 200


def test_qa_writes_publishes_and_revises_a_plan_on_the_screens(app, client, alpha):
    sign_in_as(client, alpha, "qa")
    fields = form_fields(get(client, alpha, PLANS + "new").text, "plan-form")
    fields.update(
        code="gas", kind="other", title="Gas leak", store="", update_interval_hours="2",
        response_steps="Open windows\nCall the gas company", customer_template_en="Dear {customer_email}",
        customer_template_zh="{customer_name}您好",
    )  # fmt: skip
    data = {**fields, "command_roles": ["store_manager", "owner"]}
    refused = post(client, alpha, PLANS + "new", data)
    assert refused.status_code == 400 and "{customer_email} is not a placeholder" in refused.text
    assert ids_of(app, alpha, EmergencyPlan, code="GAS") == []
    for bad, words in (
        ({"update_interval_hours": "two"}, "Not a valid integer value."),
        ({"update_interval_hours": "0"}, "From 1 to 168 hours."),
        ({"command_roles": []}, "Choose the roles that are alerted"),
        ({"command_roles": ["store_manager", "emperor"]}, "“emperor” is not a role"),
        ({"kind": ""}, "Choose the kind of emergency."),
        ({"store": "99999999999"}, "Choose an active store, or every store."),
    ):
        refused = post(
            client, alpha, PLANS + "new", {**data, "customer_template_en": "Dear {customer_name}", **bad}
        )
        assert refused.status_code == 400 and words in refused.text, bad
    data["customer_template_en"] = "Dear {customer_name}, {store_name} is closed."
    done = post(client, alpha, PLANS + "new", data)
    assert done.status_code == 302
    (draft_id,) = ids_of(app, alpha, EmergencyPlan, code="GAS")
    page = get(client, alpha, f"{PLANS}{draft_id}/")
    assert 'data-testid="edit-plan"' in page.text and 'data-testid="publish"' in page.text
    edit = form_fields(get(client, alpha, f"{PLANS}{draft_id}/edit").text, "plan-form")
    edit["title"] = "Gas leak or smell"
    edit = {**edit, "command_roles": ["store_manager", "owner"]}
    assert post(client, alpha, f"{PLANS}{draft_id}/edit", edit).status_code == 302
    assert post(client, alpha, f"{PLANS}{draft_id}/edit", edit).status_code == 409  # a stale editor
    publish = form_fields(get(client, alpha, f"{PLANS}{draft_id}/").text, "publish-form")
    assert post(client, alpha, f"{PLANS}{draft_id}/publish", publish).status_code == 302
    page = get(client, alpha, f"{PLANS}{draft_id}/")
    assert "Gas leak or smell" in page.text and 'data-testid="new-draft"' in page.text
    assert post(client, alpha, f"{PLANS}{draft_id}/edit", edit).status_code == 409  # published: read-only
    new_draft = form_fields(page.text, "new-draft-form")
    done = post(client, alpha, f"{PLANS}{draft_id}/new-draft", new_draft)
    assert done.status_code == 302
    again = post(client, alpha, f"{PLANS}{draft_id}/new-draft", new_draft)
    assert again.status_code == 409 and "has a draft already" in again.text
    listing = get(client, alpha, PLANS)
    assert 'data-code="GAS"' in listing.text and 'data-code="FIRE"' in listing.text

    sign_in_as(client, alpha, "manager")  # reads plans, writes none
    assert get(client, alpha, PLANS + "new").status_code == 403
    assert get(client, alpha, f"{PLANS}{draft_id}/edit").status_code == 403
    assert post(client, alpha, f"{PLANS}{draft_id}/publish", publish).status_code == 409
    assert 'data-testid="publish"' not in get(client, alpha, f"{PLANS}{draft_id}/").text


def test_a_manager_records_a_drill_of_a_plan_covering_their_store(app, client, alpha):
    sign_in_as(client, alpha, "manager")
    page = get(client, alpha, DRILLS + "new")
    assert page.status_code == 200
    fields = form_fields(page.text, "drill-form")
    flood1, flood2 = plan_id(app, alpha, "FLOOD-S1"), plan_id(app, alpha, "FLOOD-S2")
    assert f'value="{flood1}"' in page.text and f'value="{flood2}"' not in page.text
    data = {**fields, "store": str(alpha.store_ids["S1"]), "plan": str(flood2), "participants": "All staff",
            "scenario": "Water in the basement"}  # fmt: skip
    assert post(client, alpha, DRILLS + "new", data).status_code == 400  # another store's plan
    refused = post(client, alpha, DRILLS + "new", {**data, "plan": str(flood1), "scenario": ""})
    assert refused.status_code == 400 and "Describe the scenario practised." in refused.text
    done = post(client, alpha, DRILLS + "new", {**data, "plan": str(flood1)})
    assert done.status_code == 302
    drill_id = int(re.search(r"/drills/(\d+)/", done.location).group(1))
    assert "Water in the basement" in get(client, alpha, f"{DRILLS}{drill_id}/").text
    assert "Water in the basement" in get(client, alpha, f"{PLANS}{flood1}/").text
    sign_in_as(client, alpha, "tech")
    assert get(client, alpha, DRILLS + "new").status_code == 403
    assert get(client, alpha, DRILLS).status_code == 200


def test_store_staff_reach_only_their_stores_incidents_drills_and_plans(app, client, alpha):
    other_incident = new_incident(app, alpha, "S2", "tech2")
    (other_drill,) = ids_of(app, alpha, EmergencyDrill, store_id=alpha.store_ids["S2"])
    other_plan = plan_id(app, alpha, "FLOOD-S2")
    for key in ("manager", "tech", "frontdesk"):
        sign_in_as(client, alpha, key)
        for path in (f"{INCIDENTS}{other_incident}/", f"{DRILLS}{other_drill}/", f"{PLANS}{other_plan}/"):
            assert get(client, alpha, path).status_code == 404, (key, path)
        for step in ("command", "action", "update", "close"):
            assert (
                post(client, alpha, f"{INCIDENTS}{other_incident}/{step}", {"version": "1"}).status_code
                == 404
            )
        assert post(client, alpha, f"{PLANS}{other_plan}/new-draft", {}).status_code == 404
        for listing in (INCIDENTS + "?status=any", DRILLS, PLANS):
            text = get(client, alpha, listing).text
            assert alpha.store_sentinel("S2") not in text and "FLOOD-S2" not in text, (key, listing)
        assert get(client, alpha, f"{INCIDENTS}?store={alpha.store_ids['S2']}").status_code == 404
        assert (
            get(client, alpha, f"{PLANS}{plan_id(app, alpha, 'FIRE')}/").status_code == 200
        )  # every store's
    sign_in_as(client, alpha, "qa")  # HQ sees every store
    assert get(client, alpha, f"{INCIDENTS}{other_incident}/").status_code == 200


def test_a_tenant_never_reaches_the_other_tenants_emergency_records(app, client, alpha, beta):
    # rows only beta has (its ids are higher than any of alpha's)
    beta_only = [new_incident(app, beta, "S1", "tech") for _ in range(3)][-1]
    assert beta_only not in ids_of(app, alpha, Incident)
    with in_tenant(app, beta), unit_of_work():
        qa = staff(beta, "qa")
        plans = [
            services.create_plan(qa, f"BETA{n}", content(beta.sentinel, PlanKind.OTHER, None))
            for n in range(6)
        ]
        beta_plan = plans[-1].id
    assert beta_plan not in ids_of(app, alpha, EmergencyPlan)
    sign_in_as(client, alpha, "owner")
    assert get(client, alpha, f"{INCIDENTS}{beta_only}/").status_code == 404
    assert post(client, alpha, f"{INCIDENTS}{beta_only}/action", {"action-what": "x"}).status_code == 404
    assert get(client, alpha, f"{PLANS}{beta_plan}/").status_code == 404
    assert post(client, alpha, f"{PLANS}{beta_plan}/publish", {"version": "1"}).status_code == 404
    for listing in (INCIDENTS + "?status=any", PLANS, DRILLS):
        text = get(client, alpha, listing).text
        assert alpha.sentinel in text
        assert beta.sentinel not in text, listing
    # overlapping ids show each tenant its own row
    shared = ids_of(app, alpha, Incident)[0]
    page = get(client, alpha, f"{INCIDENTS}{shared}/")
    assert alpha.sentinel in page.text and beta.sentinel not in page.text
    with in_tenant(app, beta):
        assert db.session.get(Incident, beta_only).actions == []
