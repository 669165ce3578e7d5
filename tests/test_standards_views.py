"""The standards screens: read by everyone, written by the owner and the QA manager."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import sqlalchemy as sa

from repairqc.db import db
from repairqc.standards.models import StandardStatus, StandardVersion
from tests.conftest import in_tenant, sign_in

TODAY = date.today()


def url(tenant) -> str:
    return f"http://{tenant.host}"


def digest_of(page: str) -> str:
    return re.search(r'name="digest" type="hidden" value="([0-9a-f]+)"', page).group(1)


def versions(app, tenant) -> dict[int, StandardVersion]:
    with in_tenant(app, tenant):
        rows = db.session.execute(sa.select(StandardVersion)).scalars().all()
        return {v.number: (v.status, v.effective_from, v.document["service_targets"]) for v in rows}


def test_everyone_reads_only_hq_quality_writes(app, client, alpha):
    sign_in(client, alpha, "tech")
    page = client.get("/admin/standards/", base_url=url(alpha))
    assert page.status_code == 200 and "v1" in page.text
    assert 'data-testid="start-draft"' not in page.text
    assert client.post("/admin/standards/draft/", base_url=url(alpha)).status_code == 403
    version = client.get("/admin/standards/1/", base_url=url(alpha))
    assert version.status_code == 200
    assert "Follow-up after delivery (days)" in version.text and "Measured value" in version.text
    assert "follow_up_days" not in version.text  # labels, not field names
    assert set(versions(app, alpha)) == {1}


def test_qa_manager_edits_and_publishes_tomorrow(app, client, alpha):
    sign_in(client, alpha, "qa")
    started = client.post("/admin/standards/draft/", base_url=url(alpha))
    assert started.status_code == 302 and started.location.endswith("/admin/standards/2/")
    form = client.get("/admin/standards/2/edit/targets/", base_url=url(alpha))
    assert form.status_code == 200 and 'name="follow_up_days"' in form.text

    values = {"complaint_first_contact_hours": "24", "diagnosis_hours": "0", "quote_validity_days": "7",
              "follow_up_days": "5", "corrective_action_due_days": "14", "satisfaction_target_pct": "100",
              "first_time_fix_target_pct": "95", "max_rework_rate_pct": "3", "turnaround__smartphone": "2",
              "turnaround__laptop": "5", "turnaround__tablet": "3", "turnaround__other": "7"}  # fmt: skip
    values["digest"] = digest_of(form.text)
    refused = client.post("/admin/standards/2/edit/targets/", base_url=url(alpha), data=values)
    assert refused.status_code == 400
    assert versions(app, alpha)[2][2]["follow_up_days"] == 3  # nothing saved

    values["diagnosis_hours"] = "12"
    saved = client.post("/admin/standards/2/edit/targets/", base_url=url(alpha), data=values)
    assert saved.status_code == 302
    assert versions(app, alpha)[2][2]["follow_up_days"] == 5

    past = client.post(
        "/admin/standards/2/publish/",
        base_url=url(alpha),
        data={"effective_from": (TODAY - timedelta(days=1)).isoformat()},
        follow_redirects=True,
    )
    assert "cannot take effect in the past" in past.text
    assert versions(app, alpha)[2][0] is StandardStatus.DRAFT

    tomorrow = TODAY + timedelta(days=1)
    client.post(
        "/admin/standards/2/publish/", base_url=url(alpha), data={"effective_from": tomorrow.isoformat()}
    )
    assert versions(app, alpha)[2][:2] == (StandardStatus.PUBLISHED, tomorrow)
    index = client.get("/admin/standards/", base_url=url(alpha)).text
    assert "In force today: version 1" in index
    compare = client.get("/admin/standards/2/compare/", base_url=url(alpha)).text
    assert "service_targets.follow_up_days" in compare and "service_targets.diagnosis_hours" in compare


def test_export_then_import_through_the_screens(app, client, alpha, beta):
    sign_in(client, alpha, "owner")
    exported = client.get("/admin/standards/1/export.yaml", base_url=url(alpha))
    assert exported.status_code == 200 and b"repairqc_standard: 1" in exported.data
    sign_in(client, beta, "owner")
    imported = client.post("/admin/standards/import/", base_url=url(beta),
                           data={"file": (io.BytesIO(exported.data), "standards.yaml")},
                           content_type="multipart/form-data")  # fmt: skip
    assert imported.status_code == 302
    assert versions(app, beta)[2][0] is StandardStatus.DRAFT
    bad = client.post("/admin/standards/import/", base_url=url(beta),
                      data={"file": (io.BytesIO(b"repairqc_standard: 1\ndocument: {}\n"), "x.yaml")},
                      content_type="multipart/form-data", follow_redirects=True)  # fmt: skip
    assert "is required" in bad.text
    assert set(versions(app, beta)) == {1, 2}


def test_a_tenant_never_sees_another_tenants_versions(app, client, alpha, beta):
    sign_in(client, alpha, "qa")
    client.post("/admin/standards/draft/", base_url=url(alpha))
    assert 2 in versions(app, alpha)
    sign_in(client, beta, "qa")
    assert client.get("/admin/standards/2/", base_url=url(beta)).status_code == 404
    assert client.get("/admin/standards/2/export.json", base_url=url(beta)).status_code == 404


def target_row(page: str, name: str) -> str:
    return re.search(rf'data-testid="target-{name}">(.*?)</tr>', page, re.S).group(1)


def test_the_effective_targets_of_a_store_say_where_each_value_comes_from(app, client, alpha, beta):
    sign_in(client, beta, "qa")
    page = client.get(f"/admin/standards/effective/?store={beta.store_ids['S2']}", base_url=url(beta)).text
    assert "Standards version 1 applies on" in page
    diagnosis = target_row(page, "diagnosis_hours")
    assert ">12<" in diagnosis and "this store (SENTINEL-B-S2)" in diagnosis
    follow_up = target_row(page, "follow_up_days")
    assert ">5<" in follow_up and "the chain (CB)" in follow_up
    complaint = target_row(page, "complaint_first_contact_hours")
    assert ">24<" in complaint and "the standards, version 1" in complaint

    # A store technician sees only their own store, whatever id they ask for.
    sign_in(client, alpha, "tech")
    page = client.get(f"/admin/standards/effective/?store={alpha.store_ids['S2']}", base_url=url(alpha))
    assert page.status_code == 200
    assert "SENTINEL-A-S1" in page.text and "SENTINEL-A-S2" not in page.text
    assert "SENTINEL-B" not in page.text
    bad_day = client.get("/admin/standards/effective/?day=31-12-2026", base_url=url(alpha))
    assert bad_day.status_code == 200 and "Enter the date as YYYY-MM-DD." in bad_day.text
    before = client.get("/admin/standards/effective/?day=1999-01-01", base_url=url(alpha))
    assert before.status_code == 200 and "No standard is in force on 1999-01-01." in before.text
