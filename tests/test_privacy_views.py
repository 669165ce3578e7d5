"""The owner's review of the data access log (HB §7.3.1) and the confidentiality agreement screen
(HB §7.3.2): who may open them, filters, pages, the CSV export (itself logged), recording an
agreement and the list of staff without one; each tenant sees only its own rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from repairqc.db import db
from repairqc.privacy import services as privacy_services
from repairqc.privacy.models import AccessKind, ConfidentialityAgreement, DataAccess
from tests.conftest import csrf_token_from, in_tenant, sign_in, staff

TODAY = date.today()


def get(client, tenant, path: str, **kwargs):
    return client.get(path, base_url=f"http://{tenant.host}", **kwargs)


def post(client, tenant, path: str, data: dict, **kwargs):
    return client.post(path, base_url=f"http://{tenant.host}", data=data, **kwargs)


def add_entries(app, tenant, rows: list[tuple[str, str, datetime]]) -> None:
    """(user key, subject, at) rows, inserted in one statement."""
    with in_tenant(app, tenant):
        users = {key: staff(tenant, key) for key, _, _ in rows}
        db.session.execute(
            sa.insert(DataAccess),
            [
                {
                    "at": at,
                    "staff_user_id": users[key].id,
                    "staff_name": users[key].full_name,
                    "kind": AccessKind.VIEW,
                    "subject": subject,
                    "record_id": str(n),
                }
                for n, (key, subject, at) in enumerate(rows, start=1)
            ],
        )
        db.session.commit()


def shown_ids(response) -> list[str]:
    import re

    return re.findall(r'data-testid="access-entry" data-id="(\d+)"', response.get_data(as_text=True))


# --- the review screen ------------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["qa", "trainer", "manager", "frontdesk", "tech", "inspector"])
def test_only_the_owner_and_the_auditor_open_the_review(app, client, alpha, user):
    sign_in(client, alpha, user)
    assert get(client, alpha, "/admin/data-access/").status_code == 403
    assert get(client, alpha, "/admin/data-access/export.csv").status_code == 403


def test_nobody_edits_or_deletes_an_entry_in_the_generated_admin(app, client, alpha):
    add_entries(app, alpha, [("frontdesk", "customer", datetime.now(UTC))])
    sign_in(client, alpha, "owner")
    page = get(client, alpha, "/admin/data_access_log/").get_data(as_text=True)
    assert "/admin/data_access_log/edit/" not in page and "/admin/data_access_log/delete/" not in page
    assert get(client, alpha, "/admin/data_access_log/new/").status_code in (302, 403)


def test_filters_by_person_and_period_newest_first(app, client, alpha):
    now = datetime.now(UTC)
    with in_tenant(app, alpha):
        seeded = {str(i) for i in db.session.scalars(sa.select(DataAccess.id))}  # tests/seed_privacy.py
    add_entries(
        app,
        alpha,
        [
            ("frontdesk", "customer", now - timedelta(days=10)),
            ("frontdesk", "order", now - timedelta(days=1)),
            ("manager", "customer", now - timedelta(days=1)),
            ("frontdesk", "customer_profile", now),
        ],
    )
    with in_tenant(app, alpha):
        frontdesk_id = staff(alpha, "frontdesk").id
        ids = [
            i
            for i in db.session.scalars(sa.select(DataAccess.id).order_by(DataAccess.id))
            if str(i) not in seeded
        ]
    sign_in(client, alpha, "auditor")
    everything = get(client, alpha, "/admin/data-access/")
    assert everything.status_code == 200

    def ours(response) -> list[str]:
        return [i for i in shown_ids(response) if i not in seeded]

    assert set(shown_ids(everything)) == seeded | {str(i) for i in ids}
    assert ours(everything) == [str(i) for i in (ids[3], ids[2], ids[1], ids[0])]
    start = (now - timedelta(days=2)).date().isoformat()
    theirs = get(client, alpha, f"/admin/data-access/?person={frontdesk_id}&start={start}")
    assert shown_ids(theirs) == [str(ids[3]), str(ids[1])]
    by_subject = get(client, alpha, "/admin/data-access/?subject=customer&kind=view")
    assert ours(by_subject) == [str(ids[2]), str(ids[0])]
    assert set(shown_ids(by_subject)) - set(ours(by_subject)) == seeded  # the seeded views of customers


def test_bad_filters_show_the_form_with_a_message_not_an_error(app, client, alpha):
    sign_in(client, alpha, "owner")
    for query in ("start=2026-13-45", "person=999999", "kind=peek", "start=2026-05-02&end=2026-05-01"):
        response = get(client, alpha, f"/admin/data-access/?{query}")
        assert response.status_code == 400, query
        assert 'data-testid="refusal"' in response.get_data(as_text=True)
    for query in ("start=0001-01-01&end=9999-12-31", "page=99999999999999999999", "page=-3"):
        assert get(client, alpha, f"/admin/data-access/?{query}").status_code == 200, query
        assert get(client, alpha, f"/admin/data-access/export.csv?{query}").status_code == 200, query


def test_pages_of_fifty(app, client, alpha):
    now = datetime.now(UTC)
    add_entries(app, alpha, [("tech", "order", now - timedelta(minutes=n)) for n in range(55)])
    with in_tenant(app, alpha):
        tech_id = staff(alpha, "tech").id
    sign_in(client, alpha, "owner")
    first = get(client, alpha, f"/admin/data-access/?person={tech_id}")  # not the seeded owner's entries
    second = get(client, alpha, f"/admin/data-access/?person={tech_id}&page=2")
    assert len(shown_ids(first)) == 50 and len(shown_ids(second)) == 5
    assert not set(shown_ids(first)) & set(shown_ids(second))
    assert 'data-testid="older"' in first.get_data(as_text=True)
    assert 'data-testid="older"' not in second.get_data(as_text=True)


def test_a_tenant_sees_only_its_own_log_even_with_the_other_tenants_user_id(app, client, alpha, beta):
    now = datetime.now(UTC)
    add_entries(app, alpha, [("frontdesk", "customer", now)])
    add_entries(app, beta, [("manager", "customer", now), ("manager2", "customer", now)])
    with in_tenant(app, beta):
        beta_only_id = max(db.session.scalars(sa.select(DataAccess.staff_user_id)))
    sign_in(client, alpha, "owner")
    page = get(client, alpha, "/admin/data-access/").get_data(as_text=True)
    assert "SENTINEL-A" in page and "SENTINEL-B" not in page
    # beta's person id is not a choice in alpha: refused, never beta's rows
    response = get(client, alpha, f"/admin/data-access/?person={beta_only_id + 1000}")
    assert response.status_code == 400 and shown_ids(response) == []


# --- the CSV export is itself logged (east/west: they commit for real, see test_privacy_access) -------


def test_the_csv_export_holds_the_filtered_rows_and_is_logged(app, client, east, west):
    with in_tenant(app, east):
        before = db.session.scalar(sa.select(sa.func.max(DataAccess.id))) or 0
    add_entries(
        app, east, [("frontdesk", "customer", datetime.now(UTC)), ("tech", "order", datetime.now(UTC))]
    )
    with in_tenant(app, west):
        west_before = db.session.scalar(sa.select(sa.func.count()).select_from(DataAccess))
    sign_in(client, east, "owner")
    response = get(client, east, "/admin/data-access/export.csv?subject=order")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    lines = response.get_data(as_text=True).strip().splitlines()
    assert len(lines) == 2 and "SENTINEL-E" in lines[1] and "Tech" in lines[1]
    with in_tenant(app, east):
        [logged] = db.session.scalars(
            sa.select(DataAccess).where(DataAccess.id > before, DataAccess.subject == "data_access_log")
        ).all()
        assert logged.kind is AccessKind.EXPORT and logged.detail == "csv subject=order"
        assert logged.staff_user_id == staff(east, "owner").id
    with in_tenant(app, west):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(DataAccess)) == west_before


# --- confidentiality agreements -----------------------------------------------------------------------


def test_recording_an_agreement_takes_the_member_of_staff_off_the_missing_list(app, client, alpha, beta):
    with in_tenant(app, alpha):
        tech_id = staff(alpha, "tech").id
    sign_in(client, alpha, "trainer")
    page = get(client, alpha, "/admin/confidentiality/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'data-testid="missing" data-user="{tech_id}"' in html
    response = post(
        client,
        alpha,
        "/admin/confidentiality/agreements",
        {
            "csrf_token": csrf_token_from(html),
            "staff_user": str(tech_id),
            "signed_on": TODAY.isoformat(),
            "valid_until": (TODAY + timedelta(days=365)).isoformat(),
            "title": "Staff NDA",
            "agreement_version": "2026",
        },
    )
    assert response.status_code == 302
    after = get(client, alpha, "/admin/confidentiality/").get_data(as_text=True)
    assert f'data-testid="missing" data-user="{tech_id}"' not in after and "Staff NDA" in after
    with in_tenant(app, alpha):
        [agreement] = db.session.scalars(
            sa.select(ConfidentialityAgreement).where(ConfidentialityAgreement.staff_user_id == tech_id)
        ).all()
        assert (agreement.staff_user_id, agreement.recorded_by_id) == (tech_id, staff(alpha, "trainer").id)
    with in_tenant(app, beta):
        assert not db.session.scalars(
            sa.select(ConfidentialityAgreement).where(ConfidentialityAgreement.title == "Staff NDA")
        ).all()


def test_an_expired_agreement_counts_as_missing(app, client, alpha):
    with in_tenant(app, alpha):
        tech = staff(alpha, "tech")
        tech_id = tech.id
        db.session.add(
            ConfidentialityAgreement(
                staff_user=tech,
                signed_on=TODAY - timedelta(days=400),
                valid_until=TODAY - timedelta(days=1),
                title="Old NDA",
            )
        )
        db.session.commit()
    sign_in(client, alpha, "owner")
    html = get(client, alpha, "/admin/confidentiality/").get_data(as_text=True)
    assert f'data-testid="missing" data-user="{tech_id}"' in html and "Expired on" in html


@pytest.mark.parametrize(
    ("values", "field_message"),
    [
        ({"staff_user": "", "signed_on": TODAY.isoformat()}, "Choose the member of staff who signed."),
        ({"signed_on": "2026-02-30"}, "Not a valid date value."),
        ({"signed_on": (TODAY + timedelta(days=3)).isoformat()}, "cannot be signed in the future"),
        ({"valid_until": (TODAY - timedelta(days=3)).isoformat()}, "cannot expire before it was signed"),
        ({"title": "x" * 201}, "Field cannot be longer than 200 characters."),
    ],
)
def test_bad_input_saves_nothing_and_says_why(app, client, alpha, values, field_message):
    with in_tenant(app, alpha):
        tech_id = staff(alpha, "tech").id
    sign_in(client, alpha, "owner")
    html = get(client, alpha, "/admin/confidentiality/").get_data(as_text=True)
    data = {
        "csrf_token": csrf_token_from(html),
        "staff_user": str(tech_id),
        "signed_on": TODAY.isoformat(),
        "title": "Staff NDA",
        **values,
    }
    response = post(client, alpha, "/admin/confidentiality/agreements", data)
    assert response.status_code == 400
    assert field_message in response.get_data(as_text=True)
    with in_tenant(app, alpha):
        assert not db.session.scalars(
            sa.select(ConfidentialityAgreement).where(ConfidentialityAgreement.staff_user_id == tech_id)
        ).all()


def test_another_tenants_staff_member_cannot_be_named(app, client, alpha, beta):
    with in_tenant(app, beta):
        beta_ids = set(db.session.scalars(sa.select(ConfidentialityAgreement.staff_user_id)))
        beta_user = max(staff(beta, key).id for key in beta.users) + 1000
    sign_in(client, alpha, "owner")
    html = get(client, alpha, "/admin/confidentiality/").get_data(as_text=True)
    response = post(
        client,
        alpha,
        "/admin/confidentiality/agreements",
        {
            "csrf_token": csrf_token_from(html),
            "staff_user": str(beta_user),
            "signed_on": TODAY.isoformat(),
            "title": "NDA",
        },
    )
    assert response.status_code == 400
    with in_tenant(app, beta):
        assert set(db.session.scalars(sa.select(ConfidentialityAgreement.staff_user_id))) == beta_ids


@pytest.mark.parametrize("user", ["qa", "manager", "frontdesk", "tech"])
def test_only_the_owner_hr_and_the_auditor_open_the_agreements(app, client, alpha, user):
    sign_in(client, alpha, user)
    assert get(client, alpha, "/admin/confidentiality/").status_code == 403


def test_the_auditor_reads_but_does_not_record(app, client, alpha):
    sign_in(client, alpha, "auditor")
    html = get(client, alpha, "/admin/confidentiality/").get_data(as_text=True)
    assert 'data-testid="agreement-form"' not in html
    response = post(
        client,
        alpha,
        "/admin/confidentiality/agreements",
        {"csrf_token": csrf_token_from(html), "signed_on": TODAY.isoformat()},
    )
    assert response.status_code == 403


# --- the signed agreement's scan (files.views.download + privacy.services.may_read_file) ------------

SCAN = b"%PDF-1.4\n%signed confidentiality agreement\n"


def agreement_scan(app, tenant, signer: str) -> int:
    """An agreement of `signer` with its signed scan (a provider file: no store); the file's id."""
    from repairqc.files.services import store_bytes

    with in_tenant(app, tenant):
        agreement = ConfidentialityAgreement(
            staff_user=staff(tenant, signer),
            signed_on=TODAY,
            title="Staff NDA",
            document=store_bytes(SCAN + signer.encode(), "nda.pdf"),
            recorded_by=staff(tenant, "owner"),
        )
        db.session.add(agreement)
        db.session.commit()
        assert agreement.document.store_id is None
        return agreement.document_id


@pytest.mark.parametrize("user", ["qa", "manager", "frontdesk", "inspector"])
def test_a_colleagues_signed_agreement_is_not_found_by_other_staff(app, client, alpha, user):
    file_id = agreement_scan(app, alpha, "tech")
    sign_in(client, alpha, user)
    assert get(client, alpha, f"/files/{file_id}").status_code == 404


@pytest.mark.parametrize("user", ["tech", "owner", "trainer", "auditor"])
def test_the_signer_owner_hr_and_auditor_download_the_signed_agreement(app, client, alpha, user):
    file_id = agreement_scan(app, alpha, "tech")
    sign_in(client, alpha, user)
    response = get(client, alpha, f"/files/{file_id}")
    assert response.status_code == 200
    assert response.data == SCAN + b"tech"


def test_a_signed_agreement_is_not_found_from_another_tenant(app, client, alpha, beta):
    file_id = agreement_scan(app, alpha, "tech")
    sign_in(client, beta, "owner")
    response = get(client, beta, f"/files/{file_id}")
    # beta may hold a file with the same id (ids are per schema); never alpha's scan.
    assert SCAN not in response.data


def test_the_csv_opens_in_excel_as_text_never_as_a_formula(app, alpha):
    with in_tenant(app, alpha):
        tech = staff(alpha, "tech")
        db.session.add(
            DataAccess(
                at=datetime.now(UTC), staff_user_id=tech.id, staff_name=tech.full_name,
                kind=AccessKind.EXPORT, subject="customer", detail='=HYPERLINK("http://x","y")',
            )
        )  # fmt: skip
        db.session.flush()
        text = "".join(privacy_services.access_csv(privacy_services.AccessFilters(subject="customer")))
    assert text.startswith("\ufeff")  # Excel reads it as UTF-8
    assert "'=HYPERLINK(" in text and ',"=HYPERLINK(' not in text
