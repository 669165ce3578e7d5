"""The import screens (/admin/imports/): upload → preview → confirm, templates, refusals,
permissions and tenant isolation, on both backends."""

from __future__ import annotations

import io
import re
from datetime import date

import sqlalchemy as sa

from repairqc.db import db, unit_of_work
from repairqc.equipment.models import EquipmentItem
from repairqc.equipment.services import register_item
from repairqc.imports import reading
from repairqc.imports.kinds import KINDS
from repairqc.imports.models import ImportKind, ImportRun, ImportStatus
from repairqc.repairs.models import Customer
from tests.conftest import in_tenant, sign_in, staff, store
from tests.test_imports_services import CUSTOMER_HEADER, csv_bytes, customers, xlsx_bytes


def post_file(
    client, tenant, data: bytes, *, kind="customers", store="S1", filename="file.csv", encoding="auto"
):
    return client.post(
        "/admin/imports/new",
        base_url=f"http://{tenant.host}",
        data={
            "kind": kind,
            "store": str(tenant.store_ids[store]) if store else "",
            "encoding": encoding,
            "file": (io.BytesIO(data), filename),
        },
        content_type="multipart/form-data",
    )


def run_id(response) -> int:
    assert response.status_code == 302, response.text
    return int(re.search(r"/admin/imports/(\d+)/", response.headers["Location"]).group(1))


def version(app, tenant, run: int) -> int:
    with in_tenant(app, tenant):
        return db.session.get(ImportRun, run).version


def act(client, app, tenant, run: int, step: str, version_seen: int | None = None):
    seen = version(app, tenant, run) if version_seen is None else version_seen
    return client.post(
        f"/admin/imports/{run}/{step}", base_url=f"http://{tenant.host}", data={"version": seen}
    )


def customer_count(app, tenant) -> int:
    with in_tenant(app, tenant):
        return db.session.execute(sa.select(sa.func.count()).select_from(Customer)).scalar_one()


def test_upload_preview_confirm_and_history(app, client, alpha, beta):
    sign_in(client, alpha, "frontdesk")
    host = f"http://{alpha.host}"
    before, beta_before = customer_count(app, alpha), customer_count(app, beta)
    new = client.get("/admin/imports/new", base_url=host)
    assert new.status_code == 200 and 'data-testid="help-customers"' in new.text
    assert 'data-testid="help-staff"' not in new.text  # front desk imports no staff
    workbook = xlsx_bytes([CUSTOMER_HEADER, *customers(3)])
    run = run_id(post_file(client, alpha, workbook, filename="c.xlsx"))
    page = client.get(f"/admin/imports/{run}/", base_url=host)
    assert "will create 3, update 0 and leave 0 unchanged" in page.text
    assert page.text.count('data-testid="preview-row" data-action="create"') == 3
    assert customer_count(app, alpha) == before  # nothing imported before confirmation
    done = act(client, app, alpha, run, "confirm")
    assert done.status_code == 302
    assert customer_count(app, alpha) == before + 3 and customer_count(app, beta) == beta_before
    page = client.get(f"/admin/imports/{run}/", base_url=host)
    assert "3 created, 0 updated, 0 unchanged" in page.text
    assert act(client, app, alpha, run, "confirm").status_code == 409  # already imported
    # The same bytes again: the user is told when and by whom, and nothing is duplicated.
    again = run_id(post_file(client, alpha, workbook, filename="c.xlsx"))
    page = client.get(f"/admin/imports/{again}/", base_url=host)
    assert 'data-testid="imported-before"' in page.text
    assert "leave 3 unchanged" in page.text
    history = client.get("/admin/imports/", base_url=host)
    assert f'data-id="{run}"' in history.text and alpha.store_sentinel("S2") not in history.text


def test_same_csv_file_twice_is_named_as_imported_before(app, client, alpha):
    sign_in(client, alpha, "owner")
    data = csv_bytes([CUSTOMER_HEADER, *customers(2, start=100)])
    first = run_id(post_file(client, alpha, data))
    assert act(client, app, alpha, first, "confirm").status_code == 302
    second = run_id(post_file(client, alpha, data))
    page = client.get(f"/admin/imports/{second}/", base_url=f"http://{alpha.host}")
    assert 'data-testid="imported-before"' in page.text and "Owner SENTINEL-A" in page.text
    assert "leave 2 unchanged" in page.text


def test_bad_files_are_refused_on_the_form_and_nothing_is_kept(app, client, alpha):
    sign_in(client, alpha, "owner")
    with in_tenant(app, alpha):
        runs = db.session.execute(sa.select(sa.func.count()).select_from(ImportRun)).scalar_one()
    wrong = post_file(client, alpha, csv_bytes([["Name of pet"], ["Rex"]]))
    assert wrong.status_code == 400 and "Unknown columns: Name of pet" in wrong.text
    assert "Full name* (姓名)" in wrong.text
    latin = post_file(client, alpha, "Full name\nJosé\n".encode("latin-1"))
    assert latin.status_code == 400 and "UTF-8 / GB18030" in latin.text
    empty = client.post("/admin/imports/new", base_url=f"http://{alpha.host}",
                        data={"kind": "customers", "store": str(alpha.store_ids["S1"]), "encoding": "auto"},
                        content_type="multipart/form-data")  # fmt: skip
    assert empty.status_code == 400 and "Choose the file to import." in empty.text
    bad_kind = post_file(client, alpha, csv_bytes([CUSTOMER_HEADER]), kind="spaceships")
    assert bad_kind.status_code == 400
    no_store = post_file(client, alpha, csv_bytes([CUSTOMER_HEADER, *customers(1)]), store=None)
    assert no_store.status_code == 400 and "Choose the store" in no_store.text
    with in_tenant(app, alpha):
        assert db.session.execute(sa.select(sa.func.count()).select_from(ImportRun)).scalar_one() == runs


def test_rows_with_problems_are_reported_and_cannot_be_confirmed(app, client, alpha):
    sign_in(client, alpha, "owner")
    before = customer_count(app, alpha)
    run = run_id(
        post_file(client, alpha, csv_bytes([CUSTOMER_HEADER, *customers(2), ["No contact", "", "", ""]]))
    )
    page = client.get(f"/admin/imports/{run}/", base_url=f"http://{alpha.host}")
    assert 'data-row="4" data-column="Phone"' in page.text and 'data-testid="confirm"' not in page.text
    refused = act(client, app, alpha, run, "confirm")
    assert refused.status_code == 422 and customer_count(app, alpha) == before
    with in_tenant(app, alpha):
        assert db.session.get(ImportRun, run).status is ImportStatus.FAILED


def test_stale_preview_is_checked_again_at_confirmation(app, client, alpha):
    sign_in(client, alpha, "manager")
    data = csv_bytes([["Asset tag", "Type", "Name"], ["EQ-STALE-1", "multimeter", "Meter"],
                      ["EQ-STALE-2", "esd-mat", "Mat"]])  # fmt: skip
    run = run_id(post_file(client, alpha, data, kind="equipment"))
    page = client.get(f"/admin/imports/{run}/", base_url=f"http://{alpha.host}")
    assert "will create 2" in page.text
    with in_tenant(app, alpha), unit_of_work():  # meanwhile S2 registers one of the tags
        register_item(store(alpha, "S2"), staff(alpha, "owner"), asset_tag="eq-stale-2",
                      equipment_type="esd-mat", name="Mat", today=date.today())  # fmt: skip
    stale_version = version(app, alpha, run)
    refused = act(client, app, alpha, run, "confirm", stale_version)
    assert refused.status_code == 422 and "another store" in refused.text
    with in_tenant(app, alpha):
        assert (
            db.session.execute(
                sa.select(EquipmentItem).where(EquipmentItem.asset_tag_key == "eq-stale-1")
            ).first()
            is None
        )  # all or nothing
        failed = db.session.get(ImportRun, run)
        assert failed.status is ImportStatus.FAILED and failed.content is None


def test_stale_page_version_other_uploader_and_cancel(app, client, alpha):
    sign_in(client, alpha, "manager")
    run = run_id(post_file(client, alpha, csv_bytes([CUSTOMER_HEADER, *customers(1, start=300)])))
    assert act(client, app, alpha, run, "confirm", version_seen=99).status_code == 409
    sign_in(client, alpha, "frontdesk")  # same store, not the uploader
    page = client.get(f"/admin/imports/{run}/", base_url=f"http://{alpha.host}")
    assert page.status_code == 200 and 'data-testid="confirm"' not in page.text
    assert act(client, app, alpha, run, "confirm").status_code == 409
    sign_in(client, alpha, "manager")
    assert act(client, app, alpha, run, "cancel").status_code == 302
    with in_tenant(app, alpha):
        cancelled = db.session.get(ImportRun, run)
        assert cancelled.status is ImportStatus.CANCELLED and cancelled.content is None
    assert act(client, app, alpha, run, "confirm").status_code == 409


def test_templates_download_and_read_back_cleanly(app, client, alpha):
    sign_in(client, alpha, "owner")
    host = f"http://{alpha.host}"
    for kind in ("customers", "equipment"):
        for fmt in ("csv", "xlsx"):
            response = client.get(f"/admin/imports/template/{kind}.{fmt}", base_url=host)
            assert response.status_code == 200
            assert f"import-{kind}.{fmt}" in response.headers["Content-Disposition"]
            data = response.data
            with in_tenant(app, alpha):
                table = reading.read_table(data, f"t.{fmt}")
                assert len(table.rows) == 1
                reading.map_headers(KINDS[ImportKind(kind)], table.headers)
            if kind == "customers" or fmt == "xlsx":
                preview = client.get(f"/admin/imports/{run_id(post_file(client, alpha, data, kind=kind))}/",
                                     base_url=host)  # fmt: skip
                assert "no problems" in preview.text, (kind, fmt)
    chinese = client.get(
        "/admin/imports/template/staff.csv", base_url=host, headers={"Accept-Language": "zh-CN"}
    )
    assert chinese.data.decode("utf-8-sig").startswith("邮箱,姓名")
    assert client.get("/admin/imports/template/nothing.csv", base_url=host).status_code == 404


def test_who_may_import_what(app, client, alpha):
    host = f"http://{alpha.host}"
    sign_in(client, alpha, "tech")
    for path in ("/admin/imports/", "/admin/imports/new", "/admin/imports/template/customers.csv"):
        assert client.get(path, base_url=host).status_code == 403
    sign_in(client, alpha, "auditor")
    assert client.get("/admin/imports/", base_url=host).status_code == 200
    assert client.get("/admin/imports/new", base_url=host).status_code == 403
    sign_in(client, alpha, "manager")
    assert (
        post_file(client, alpha, csv_bytes([CUSTOMER_HEADER, *customers(1)]), store="S2").status_code == 400
    )
    staff_import = post_file(
        client, alpha, csv_bytes([["Email", "Full name", "Role"]]), kind="staff", store=None
    )
    assert staff_import.status_code == 400  # not one of the manager's choices
    with in_tenant(app, alpha):
        other_store_run = (
            db.session.execute(sa.select(ImportRun.id).where(ImportRun.store_id == alpha.store_ids["S2"]))
            .scalars()
            .first()
        )
    assert client.get(f"/admin/imports/{other_store_run}/", base_url=host).status_code == 404
    assert "Import SENTINEL-A-S2" not in client.get("/admin/imports/", base_url=host).text
    sign_in(client, alpha, "trainer")
    assert client.get("/admin/imports/template/staff.xlsx", base_url=host).status_code == 200
    assert client.get("/admin/imports/template/customers.csv", base_url=host).status_code == 403


def test_another_tenants_runs_are_not_found(app, client, alpha, beta):
    sign_in(client, beta, "owner")
    beta_run = run_id(post_file(client, beta, csv_bytes([CUSTOMER_HEADER, *customers(1, start=500)])))
    sign_in(client, alpha, "owner")
    host = f"http://{alpha.host}"
    with in_tenant(app, alpha):
        alpha_ids = set(db.session.execute(sa.select(ImportRun.id)).scalars())
    only_beta = beta_run if beta_run not in alpha_ids else max(beta.ids["import_runs"]) + 1000
    assert client.get(f"/admin/imports/{only_beta}/", base_url=host).status_code == 404
    assert (
        client.post(f"/admin/imports/{only_beta}/confirm", base_url=host, data={"version": 1}).status_code
        == 404
    )
    assert beta.sentinel not in client.get("/admin/imports/", base_url=host).text
    with in_tenant(app, beta):
        assert db.session.get(ImportRun, beta_run).status is ImportStatus.PREVIEWED
