"""Holes a review found in the supervision screens, each closed and kept closed: an unannounced
visit announced by its event row, a report scope that singles out another store, generated admin
forms that went around the services, spreadsheet formulas in store names, plans dated far back."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from repairqc.db import db
from repairqc.errors import DomainError
from repairqc.inspections import services as supervision
from repairqc.inspections.models import CorrectiveAction, InspectionPlan, Recurrence
from repairqc.inspections.models import InspectionKind as Kind
from repairqc.stores.models import Region, Store
from tests.conftest import csrf_token_from, in_tenant, sign_in, staff, store


def url(tenant, path: str) -> str:
    return f"http://{tenant.host}{path}"


def test_the_scheduled_event_of_an_unannounced_visit_is_hidden_from_the_store(app, client, alpha):
    due = date.today() + timedelta(days=9)
    with in_tenant(app, alpha):
        visit = supervision.schedule_unannounced(
            store(alpha, "S1"), staff(alpha, "inspector"), due, staff(alpha, "qa")
        )
        db.session.commit()
        marker = str(visit)
    sign_in(client, alpha, "manager")
    events = client.get(url(alpha, "/admin/inspection_events/?page_size=100"))
    assert events.status_code == 200
    assert marker not in events.text
    sign_in(client, alpha, "inspector")  # the visit's own inspector sees it coming
    assert marker in client.get(url(alpha, "/admin/inspection_events/?page_size=100")).text


def test_a_manager_cannot_narrow_the_report_to_a_region_of_other_stores(app, client, alpha):
    with in_tenant(app, alpha):
        other = store(alpha, "S2")
        region = Region(code="ONLY-S2", name="Only S2", chain_id=other.chain_id)
        db.session.add(region)
        db.session.flush()
        db.session.get(Store, other.id).region_id = region.id
        db.session.commit()
        region_id = region.id
    sign_in(client, alpha, "manager")
    query = f"?preset=last_month&scope=region&region={region_id}"
    page = client.get(url(alpha, "/admin/reports/" + query))
    assert page.status_code == 400 and "Choose from the list." in page.text
    assert 'data-testid="report-row"' not in page.text
    assert client.get(url(alpha, "/admin/reports/export/csv" + query)).status_code == 400


def test_generated_forms_cannot_go_around_the_supervision_rules(app, client, alpha):
    with in_tenant(app, alpha):
        action = db.session.execute(
            sa.select(CorrectiveAction).where(CorrectiveAction.store_id == store(alpha, "S1").id)
        ).scalar_one()
        action_id, inspection_id, finding_id = action.id, action.finding.inspection_id, action.finding_id
        owner_before, due_before = action.owner_id, action.due_on
        outsider = staff(alpha, "manager2").id
    sign_in(client, alpha, "qa")
    # The inspection record (who inspected, when, where) is not edited by a form at all.
    assert client.get(url(alpha, f"/admin/inspections/edit/?id={inspection_id}")).status_code in (302, 403)
    # An action's owner works at its store: escalations mail them the finding.
    form = client.get(url(alpha, f"/admin/corrective_actions/edit/?id={action_id}"))
    refused = client.post(
        url(alpha, f"/admin/corrective_actions/edit/?id={action_id}"),
        data={
            "csrf_token": csrf_token_from(form.text),
            "description": "Changed",
            "owner": str(outsider),
            "due_on": (date.today() - timedelta(days=30)).isoformat(),
        },
    )
    assert "does not work at this store" in refused.text
    with in_tenant(app, alpha):
        action = db.session.get(CorrectiveAction, action_id)
        assert (action.owner_id, action.due_on) == (owner_before, due_before)
        assert action.description != "Changed"
    # A plan made in the generated form has no stores: refused, nothing saved.
    form = client.get(url(alpha, "/admin/inspection_plans/new/"))
    client.post(
        url(alpha, "/admin/inspection_plans/new/"),
        data={
            "csrf_token": csrf_token_from(form.text),
            "name": "No stores",
            "kind": "periodic",
            "recurrence": "weekly",
            "starts_on": date.today().isoformat(),
        },
    )
    with in_tenant(app, alpha):
        assert (
            db.session.execute(sa.select(InspectionPlan).where(InspectionPlan.name == "No stores")).first()
            is None
        )
    # The inspector reads findings; severity and root cause are QA's and the store's to set.
    sign_in(client, alpha, "inspector")
    assert client.get(url(alpha, f"/admin/findings/edit/?id={finding_id}")).status_code in (302, 403)


def test_store_names_never_become_spreadsheet_formulas(app, client, alpha):
    with in_tenant(app, alpha):
        db.session.get(Store, store(alpha, "S1").id).name = '=HYPERLINK("http://evil.example/","x")'
        db.session.commit()
    sign_in(client, alpha, "qa")
    response = client.get(url(alpha, "/admin/reports/export/xlsx?preset=this_month"))
    assert response.status_code == 200
    cells = [c for row in load_workbook(io.BytesIO(response.get_data())).active.iter_rows() for c in row]
    named = [c for c in cells if isinstance(c.value, str) and "HYPERLINK" in c.value]
    assert named and all(c.data_type == "s" and c.value.startswith("'=") for c in named)
    csv_text = (
        client.get(url(alpha, "/admin/reports/export/csv?preset=this_month")).get_data().decode("utf-8-sig")
    )
    assert "'=HYPERLINK" in csv_text and ",=HYPERLINK" not in csv_text


def test_a_plan_dated_years_back_is_refused_instead_of_flooding_overdue_inspections(app, alpha):
    with in_tenant(app, alpha):
        plan = InspectionPlan(
            name="Typo",
            kind=Kind.PERIODIC,
            recurrence=Recurrence.WEEKLY,
            starts_on=date(202, 1, 1),
            inspector_id=staff(alpha, "inspector").id,
        )
        with pytest.raises(DomainError, match="more than a year ago"):
            supervision.save_plan(plan, [store(alpha, "S1")], today=date.today())


def test_a_report_period_out_of_range_is_a_message_not_a_bare_error(app, client, alpha):
    sign_in(client, alpha, "qa")
    page = client.get(url(alpha, "/admin/reports/?preset=custom&start=0001-01-01&end=0001-01-31"))
    assert page.status_code == 400 and "Choose a date between 1900 and 2999." in page.text
