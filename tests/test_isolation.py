"""Tenant isolation and store scoping, probed through every generated admin view.

Two tenants share overlapping primary keys (both start at 1; beta has extra rows alpha lacks).
For every tenant model the probe lists, exports, opens, edits, deletes and bulk-deletes, and
asserts that no text, and no change, crosses the boundary. The `*_probe_fails_*` tests break the
boundary on purpose and show the probe notices.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from flask import Flask

from repairqc.accounts.models import StaffUser
from repairqc.accounts.permissions import MATRIX, Action
from repairqc.accounts.scoping import is_store_scoped
from repairqc.admin.views import tenant_models
from repairqc.db import db
from tests.conftest import PASSWORD, SeededTenant, in_tenant, sign_in


@dataclass
class Probe:
    """Reads every admin page of `viewer` and checks `forbidden` text never shows up."""

    app: Flask
    client: object
    viewer: SeededTenant
    own_text: str  # must appear, so we know the probe is looking at real data
    forbidden: str  # must never appear

    def get(self, path: str):
        return self.client.get(path, base_url=f"http://{self.viewer.host}")

    def post(self, path: str, data: dict):
        return self.client.post(path, base_url=f"http://{self.viewer.host}", data=data)

    def check_pages(self, endpoint: str) -> None:
        listing = self.get(f"/admin/{endpoint}/?page_size=100")
        assert listing.status_code == 200, endpoint
        assert self.forbidden not in listing.text, f"{endpoint}: list shows {self.forbidden}"
        export = self.get(f"/admin/{endpoint}/export/csv/")
        if export.status_code == 200:
            assert self.forbidden not in export.text, f"{endpoint}: export shows {self.forbidden}"
        new_form = self.get(f"/admin/{endpoint}/new/")
        if new_form.status_code == 200:  # relationship dropdowns
            assert self.forbidden not in new_form.text, f"{endpoint}: form options show {self.forbidden}"

    def check_cannot_reach(self, endpoint: str, model, row_id: int, read_row) -> None:
        """`row_id` is a row the viewer must not reach; `read_row` reads it from its owner."""
        before = read_row(model, row_id)
        assert before is not None
        details = self.get(f"/admin/{endpoint}/details/?id={row_id}")
        assert self.forbidden not in details.text, f"{endpoint}: details of {row_id} leak"
        edit_form = self.get(f"/admin/{endpoint}/edit/?id={row_id}")
        assert edit_form.status_code in (302, 403), f"{endpoint}: edit form of {row_id} opened"
        self.post(f"/admin/{endpoint}/edit/?id={row_id}", {"name": "changed", "full_name": "changed"})
        self.post(f"/admin/{endpoint}/delete/", {"id": row_id})
        self.post(f"/admin/{endpoint}/action/", {"action": "delete", "rowid": row_id})
        assert read_row(model, row_id) == before, f"{endpoint}: row {row_id} was changed or deleted"


def row_reader(app: Flask, tenant: SeededTenant):
    def read(model, row_id):
        with in_tenant(app, tenant):
            obj = db.session.get(model, row_id)
            if obj is None:
                return None
            return {c.key: getattr(obj, c.key) for c in sa.inspect(model).column_attrs}

    return read


def visible_models(action: Action, roles) -> list:
    return [m for m in tenant_models() if any(action in MATRIX[m.__name__].get(r, "") for r in roles)]


def run_tenant_probe(
    app, client, viewer: SeededTenant, other: SeededTenant, sign_in_first: bool = True
) -> None:
    if sign_in_first:
        assert sign_in(client, viewer, "owner").status_code == 302
    probe = Probe(app, client, viewer, own_text=viewer.sentinel, forbidden=other.sentinel)
    own_seen = False
    read_other = row_reader(app, other)
    for model in tenant_models():
        endpoint = model.__tablename__
        probe.check_pages(endpoint)
        own_seen = own_seen or viewer.sentinel in probe.get(f"/admin/{endpoint}/").text
        # Rows that exist only in the other tenant (beta has more rows than alpha).
        only_other = sorted(set(other.ids[endpoint]) - set(viewer.ids[endpoint]))
        for row_id in only_other[:1]:
            probe.check_cannot_reach(endpoint, model, row_id, read_other)
    assert own_seen, "the probe never saw the viewer's own data"


def test_alpha_cannot_see_or_change_beta(app, client, alpha, beta):
    run_tenant_probe(app, client, alpha, beta)


def test_beta_cannot_see_or_change_alpha(app, client, alpha, beta):
    run_tenant_probe(app, client, beta, alpha)


def test_overlapping_ids_show_each_tenants_own_row(app, client, alpha, beta):
    """Customer 1 exists in both tenants; each host shows its own."""
    for viewer, other in ((alpha, beta), (beta, alpha)):
        sign_in(client, viewer, "owner")
        page = client.get("/admin/customers/details/?id=1", base_url=f"http://{viewer.host}")
        assert viewer.sentinel in page.text
        assert other.sentinel not in page.text


def test_tenant_probe_fails_when_binding_is_broken_on_purpose(app, client, alpha, beta, monkeypatch):
    """Route alpha's sessions to beta's schema: the probe must catch it."""
    real_bind = type(db).tenant_bind

    def crossed_bind(self, schema):
        swapped = {alpha.ref.schema: beta.ref.schema, beta.ref.schema: alpha.ref.schema}
        return real_bind(self, swapped.get(schema, schema))

    assert sign_in(client, alpha, "owner").status_code == 302
    # The session carries a credential fingerprint that would refuse beta's user of the same id
    # (defence in depth); neutralise it so the crossed binding reaches the pages.
    monkeypatch.setattr(StaffUser, "credential_fingerprint", lambda self: "same")
    client.post(
        "/login", base_url=f"http://{alpha.host}", data={"email": alpha.users["owner"], "password": PASSWORD}
    )
    monkeypatch.setattr(type(db), "tenant_bind", crossed_bind)
    with pytest.raises(AssertionError, match="shows SENTINEL-B"):
        run_tenant_probe(app, client, alpha, beta, sign_in_first=False)


# --- store scoping inside one tenant ----------------------------------------------------------------


def run_store_probe(app, client, tenant: SeededTenant, user: str, own: str, other: str) -> None:
    assert sign_in(client, tenant, user).status_code == 302
    probe = Probe(
        app, client, tenant, own_text=tenant.store_sentinel(own), forbidden=tenant.store_sentinel(other)
    )
    read = row_reader(app, tenant)
    with in_tenant(app, tenant):
        from repairqc.accounts.models import StaffUser

        viewer = db.session.execute(
            sa.select(StaffUser).where(StaffUser.email == tenant.users[user])
        ).scalar_one()
        roles = {a.role for a in viewer.roles}
    own_seen = False
    for model in visible_models(Action.VIEW, roles):
        endpoint = model.__tablename__
        probe.check_pages(endpoint)
        own_seen = own_seen or probe.own_text in probe.get(f"/admin/{endpoint}/").text
        if not is_store_scoped(model):
            continue
        with in_tenant(app, tenant):
            other_store = tenant.store_ids[other]
            other_rows = (
                db.session.execute(
                    sa.select(sa.inspect(model).primary_key[0])
                    .where(model.store_scope({other_store}))
                    .where(sa.not_(model.store_scope({tenant.store_ids[own]})))
                )
                .scalars()
                .all()
            )
        assert other_rows, f"seed has no {endpoint} rows only in {other}"
        probe.check_cannot_reach(endpoint, model, other_rows[0], read)
    assert own_seen, "the probe never saw the viewer's own store"


@pytest.mark.parametrize("user", ["manager", "frontdesk", "tech", "inspector"])
def test_store_user_sees_only_their_store(app, client, alpha, user):
    run_store_probe(app, client, alpha, user, own="S1", other="S2")


def test_other_store_manager_sees_only_theirs(app, client, beta):
    run_store_probe(app, client, beta, "manager2", own="S2", other="S1")


def test_store_probe_fails_when_scoping_is_broken_on_purpose(app, client, alpha, monkeypatch):
    import repairqc.accounts.scoping as scoping
    import repairqc.admin.views as admin_views

    monkeypatch.setattr(scoping, "scope_condition", lambda model, action: None)
    monkeypatch.setattr(admin_views, "scope_condition", lambda model, action: None)
    with pytest.raises(AssertionError, match="shows SENTINEL-A-S2"):
        run_store_probe(app, client, alpha, "manager", own="S1", other="S2")


def test_hq_roles_see_every_store(app, client, alpha):
    sign_in(client, alpha, "qa")
    page = client.get("/admin/repair_orders/?page_size=100", base_url=f"http://{alpha.host}")
    assert alpha.store_sentinel("S1") in page.text
    assert alpha.store_sentinel("S2") in page.text
