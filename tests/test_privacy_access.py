"""The data access log (HB §7.3.1): an entry for every view of a customer record and every export,
written in its own transaction (or the request's, when that has written), never silently dropped;
each tenant's log holds only its own entries.

The pages run against the scratch tenants `east` and `west`, which commit for real: the session
tenants are pinned to one connection whose request savepoint would roll the entry's own
transaction back at teardown, which is not what happens in production.
"""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from repairqc.audit.services import Actor, acting_as
from repairqc.db import db, unit_of_work
from repairqc.privacy import access
from repairqc.privacy.access import log_data_access
from repairqc.privacy.models import AccessKind, DataAccess
from repairqc.repairs.models import Customer, RepairOrder
from repairqc.reports.models import ReportRun, ReportRunStatus
from tests.conftest import in_tenant, sign_in, staff


def entries(app, tenant, after: int = 0) -> list[DataAccess]:
    with in_tenant(app, tenant):
        rows = list(
            db.session.scalars(sa.select(DataAccess).where(DataAccess.id > after).order_by(DataAccess.id))
        )
        db.session.expunge_all()
        return rows


def last_id(app, tenant) -> int:
    with in_tenant(app, tenant):
        return db.session.scalar(sa.select(sa.func.max(DataAccess.id))) or 0


def first_id(app, tenant, model, store: str = "S1") -> int:
    with in_tenant(app, tenant):
        return db.session.scalar(
            sa.select(model.id).where(model.store_id == tenant.store_ids[store]).order_by(model.id).limit(1)
        )


def get(client, tenant, path: str, **kwargs):
    return client.get(path, base_url=f"http://{tenant.host}", **kwargs)


# --- the function itself --------------------------------------------------------------------------


def test_a_direct_call_commits_an_entry_of_the_acting_user_in_its_own_transaction(app, east, west):
    before, before_west = last_id(app, east), last_id(app, west)
    with in_tenant(app, east):
        owner = staff(east, "owner")
        owner_id, owner_email = owner.id, owner.email
        with acting_as(Actor("staff", owner.id, owner.email)):
            log_data_access("export", "backup", record_id=7, detail="x" * 900)
        # Not part of the caller's session: its rollback keeps the entry.
        db.session.rollback()
    [entry] = entries(app, east, before)
    assert (entry.kind, entry.subject, entry.record_id) == (AccessKind.EXPORT, "backup", "7")
    # Outside a request the actor is what is known (a job, the command line).
    assert (entry.staff_user_id, entry.staff_name) == (owner_id, owner_email)
    assert len(entry.detail) == 500 and entry.detail.endswith("…")
    assert entries(app, west, before_west) == []


def test_inside_a_unit_of_work_that_wrote_the_entry_joins_it_and_goes_with_its_rollback(app, east):
    before = last_id(app, east)
    customer_id = first_id(app, east, Customer)
    with in_tenant(app, east):
        with pytest.raises(RuntimeError), unit_of_work():
            db.session.get(Customer, customer_id).notes = "changed"
            db.session.flush()
            log_data_access("view", "customer", record_id=customer_id, detail="rolled back")
            raise RuntimeError("the action failed")
        with unit_of_work():
            db.session.get(Customer, customer_id).notes = "changed again"
            db.session.flush()
            log_data_access("view", "customer", record_id=customer_id, detail="committed")
    assert [e.detail for e in entries(app, east, before)] == ["committed"]


def test_an_unknown_kind_is_refused(app, east):
    with in_tenant(app, east), pytest.raises(ValueError):
        log_data_access("peek", "customer")


def test_an_entry_that_cannot_be_written_withholds_the_data(app, client, east, monkeypatch):
    def broken(values):
        raise sa.exc.OperationalError("INSERT", {}, Exception("disk full"))

    monkeypatch.setattr(access, "_write_apart", broken)
    sign_in(client, east, "owner")
    response = get(client, east, f"/admin/customer-profile/{first_id(app, east, Customer)}/")
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert "could not be recorded" in page and "SENTINEL-E" not in page


# --- the pages that log -----------------------------------------------------------------------------


def test_the_customer_profile_logs_a_view_with_who_and_where(app, client, east, west):
    before, before_west = last_id(app, east), last_id(app, west)
    customer_id = first_id(app, east, Customer)
    sign_in(client, east, "frontdesk")
    assert get(client, east, f"/admin/customer-profile/{customer_id}/").status_code == 200
    [entry] = entries(app, east, before)
    with in_tenant(app, east):
        frontdesk = staff(east, "frontdesk")
        assert (entry.staff_user_id, entry.staff_name) == (frontdesk.id, frontdesk.full_name)

    assert (entry.kind, entry.subject, entry.record_id) == (
        AccessKind.VIEW,
        "customer_profile",
        str(customer_id),
    )
    assert entry.ip_address == "127.0.0.1" and entry.operator is None
    assert entries(app, west, before_west) == []


def test_a_profile_out_of_reach_logs_nothing(app, client, east, west):
    before = last_id(app, east)
    sign_in(client, east, "frontdesk")  # front desk of S1 only
    assert (
        get(client, east, f"/admin/customer-profile/{first_id(app, east, Customer, 'S2')}/").status_code
        == 404
    )
    # west's customer id, asked at east's host: east's customer of that id or nothing, never west's
    assert entries(app, east, before) == []


def test_the_order_page_logs_a_view_when_it_shows_the_customers_contact_data(app, client, east):
    before = last_id(app, east)
    order_id = first_id(app, east, RepairOrder)
    sign_in(client, east, "manager")
    assert get(client, east, f"/admin/repairs/orders/{order_id}/").status_code == 200
    [entry] = entries(app, east, before)
    assert (entry.subject, entry.record_id) == ("order", str(order_id))
    assert entry.detail.startswith("customer ")


def test_admin_details_and_edit_of_a_customer_are_logged_other_models_not(app, client, east):
    before = last_id(app, east)
    customer_id = first_id(app, east, Customer)
    order_id = first_id(app, east, RepairOrder)
    sign_in(client, east, "owner")
    assert get(client, east, f"/admin/customers/details/?id={customer_id}").status_code == 200
    assert get(client, east, f"/admin/customers/edit/?id={customer_id}").status_code == 200
    assert get(client, east, f"/admin/repair_orders/details/?id={order_id}").status_code == 200
    assert [(e.subject, e.record_id, e.detail) for e in entries(app, east, before)] == [
        ("customer", str(customer_id), "admin details_view"),
        ("customer", str(customer_id), "admin edit_view"),
    ]


def test_the_admin_customer_list_is_logged_once_per_page_its_export_only_as_an_export(app, client, east):
    before = last_id(app, east)
    sign_in(client, east, "owner")
    assert get(client, east, "/admin/customers/?search=SENTINEL").status_code == 200
    assert get(client, east, "/admin/repair_orders/").status_code == 200  # no contact columns
    assert get(client, east, "/admin/customers/export/csv/").status_code == 200
    logged = entries(app, east, before)
    assert [(e.kind, e.subject) for e in logged] == [
        (AccessKind.VIEW, "customer_list"),
        (AccessKind.EXPORT, "admin_export"),
    ]
    assert logged[0].detail.startswith("admin list, ") and "search=SENTINEL" in logged[0].detail


def test_admin_details_of_a_complaint_or_a_customer_message_are_logged_as_contact_data(app, east):
    from repairqc.complaints.models import Complaint
    from repairqc.notifications.models import CustomerMessage
    from repairqc.stores.models import Store

    before = last_id(app, east)
    with in_tenant(app, east), app.test_request_context("/admin/complaints/details/"):
        owner = staff(east, "owner")
        with acting_as(Actor("staff", owner.id, owner.email)):
            access.log_admin_record_view(Complaint, 3)
            access.log_admin_record_view(CustomerMessage, 4)
            access.log_admin_record_view(Store, 5)  # no customer data: not logged
    assert [(e.subject, e.record_id) for e in entries(app, east, before)] == [
        ("complaint", "3"),
        ("customer_message", "4"),
    ]


def test_every_admin_export_is_one_entry_naming_model_format_and_rows(app, client, east, west):
    before, before_west = last_id(app, east), last_id(app, west)
    sign_in(client, east, "owner")
    response = get(client, east, "/admin/customers/export/csv/")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "SENTINEL-E" in body and "SENTINEL-W" not in body
    assert get(client, east, "/admin/stores/export/xlsx/").status_code == 200
    exported = entries(app, east, before)
    with in_tenant(app, east):
        customers = db.session.scalar(sa.select(sa.func.count()).select_from(Customer))
    assert [(e.kind, e.subject) for e in exported] == [(AccessKind.EXPORT, "admin_export")] * 2
    assert exported[0].detail == f"Customer csv, {customers} rows"
    assert exported[1].detail.startswith("Store xlsx, ")
    assert entries(app, west, before_west) == []


def test_report_downloads_are_logged(app, client, east):
    before = last_id(app, east)
    sign_in(client, east, "qa")
    response = get(client, east, "/admin/reports/export/csv?preset=last_month")
    assert response.status_code == 200
    with in_tenant(app, east), unit_of_work():
        run = ReportRun(
            period_start=date(2026, 1, 1),
            period_end=date(2026, 1, 31),
            scope={"kind": "all", "ids": []},
            status=ReportRunStatus.DONE,
            pdf=b"%PDF-1.4 test",
            requested_by_id=staff(east, "qa").id,
        )
        db.session.add(run)
        db.session.flush()
        run_id = run.id
    assert get(client, east, f"/admin/reports/runs/{run_id}/pdf").status_code == 200
    logged = entries(app, east, before)
    assert [(e.subject, e.kind) for e in logged] == [("report", AccessKind.EXPORT)] * 2
    assert logged[0].detail.startswith("csv ")
    assert (logged[1].record_id, logged[1].detail) == (str(run_id), "pdf")


def test_the_complaint_page_and_a_stores_file_are_logged(app, client, east):
    from repairqc.complaints.models import Complaint
    from repairqc.files.models import StoredFile

    before = last_id(app, east)
    complaint_id = first_id(app, east, Complaint)
    with in_tenant(app, east):  # a store's file: a photo of one of its orders
        file_id = db.session.scalar(
            sa.select(StoredFile.id)
            .where(StoredFile.store_id == east.store_ids["S1"])
            .order_by(StoredFile.id)
            .limit(1)
        )
    assert file_id is not None
    sign_in(client, east, "manager")
    assert get(client, east, f"/admin/customer-complaints/{complaint_id}/").status_code == 200
    assert get(client, east, f"/files/{file_id}").status_code == 200
    logged = [(e.kind, e.subject, e.record_id) for e in entries(app, east, before)]
    assert logged == [
        (AccessKind.VIEW, "complaint", str(complaint_id)),
        (AccessKind.VIEW, "file", str(file_id)),
    ]
