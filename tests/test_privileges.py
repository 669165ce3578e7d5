"""Nobody manages a rank above their own; the provider can never lock its owner out.

Also: valid role assignments can be made through the admin, exports follow the export scope,
and values the database cannot hold are a clear answer rather than a 500.
"""

from __future__ import annotations

import sqlalchemy as sa

from repairqc.accounts.models import Role, RoleAssignment, StaffUser
from repairqc.db import db
from repairqc.repairs.models import Customer
from tests.conftest import in_tenant, sign_in


def url(tenant) -> str:
    return f"http://{tenant.host}"


def user(app, tenant, key: str) -> StaffUser:
    with in_tenant(app, tenant):
        found = db.session.execute(
            sa.select(StaffUser).where(StaffUser.email == tenant.users[key])
        ).scalar_one()
        db.session.expunge(found)
        return found


def roles_of(app, tenant, key: str) -> set[tuple[str, int | None]]:
    with in_tenant(app, tenant):
        rows = db.session.execute(
            sa.select(RoleAssignment.role, RoleAssignment.store_id)
            .join(StaffUser)
            .where(StaffUser.email == tenant.users[key])
        ).all()
        return {(Role(r).value, s) for r, s in rows}


def edit_user(client, tenant, target, **changes):
    data = {
        "email": target.email,
        "full_name": target.full_name,
        "phone": "",
        "locale": "",
        "is_active": "y" if target.is_active else "",
        "expected_version": str(target.version),
    }
    data.update(changes)
    if data["is_active"] == "":
        del data["is_active"]
    return client.post(f"/admin/staff_users/edit/?id={target.id}", base_url=url(tenant), data=data)


def test_trainer_cannot_take_over_the_owner_account(app, client, alpha):
    owner = user(app, alpha, "owner")
    sign_in(client, alpha, "trainer")
    edit_user(client, alpha, owner, email="attacker@evil.example.com")
    assert user(app, alpha, "owner").email == alpha.users["owner"]
    client.post("/admin/staff_users/delete/", base_url=url(alpha), data={"id": owner.id})
    assert user(app, alpha, "owner").is_active


def test_trainer_cannot_grant_or_revoke_provider_wide_roles(app, client, alpha):
    trainer = user(app, alpha, "trainer")
    sign_in(client, alpha, "trainer")
    client.post(
        "/admin/role_assignments/new/", base_url=url(alpha), data={"user": str(trainer.id), "role": "owner"}
    )
    assert ("owner", None) not in roles_of(app, alpha, "trainer")
    with in_tenant(app, alpha):
        qa_role = db.session.execute(
            sa.select(RoleAssignment.id).join(StaffUser).where(StaffUser.email == alpha.users["qa"])
        ).scalar_one()
    client.post("/admin/role_assignments/delete/", base_url=url(alpha), data={"id": qa_role})
    assert ("qa_manager", None) in roles_of(app, alpha, "qa")


def test_trainer_still_manages_store_staff(app, client, alpha):
    tech = user(app, alpha, "tech")
    sign_in(client, alpha, "trainer")
    edit_user(client, alpha, tech, full_name="Renamed Technician")
    assert user(app, alpha, "tech").full_name == "Renamed Technician"
    response = client.post(
        "/admin/role_assignments/new/",
        base_url=url(alpha),
        data={"user": str(tech.id), "role": "front_desk", "store": str(alpha.store_ids["S1"])},
    )
    assert response.status_code == 302
    assert ("front_desk", alpha.store_ids["S1"]) in roles_of(app, alpha, "tech")


def test_owner_creates_a_valid_role_assignment(app, client, alpha):
    frontdesk = user(app, alpha, "frontdesk")
    sign_in(client, alpha, "owner")
    response = client.post(
        "/admin/role_assignments/new/",
        base_url=url(alpha),
        data={"user": str(frontdesk.id), "role": "technician", "store": str(alpha.store_ids["S2"])},
    )
    assert response.status_code == 302
    assert ("technician", alpha.store_ids["S2"]) in roles_of(app, alpha, "frontdesk")


def test_the_last_owner_cannot_be_removed_or_deactivated(app, client, alpha):
    owner = user(app, alpha, "owner")
    sign_in(client, alpha, "owner")
    edit_user(client, alpha, owner, is_active="")
    assert user(app, alpha, "owner").is_active
    with in_tenant(app, alpha):
        owner_role = db.session.execute(
            sa.select(RoleAssignment.id).where(RoleAssignment.user_id == owner.id)
        ).scalar_one()
    client.post("/admin/role_assignments/delete/", base_url=url(alpha), data={"id": owner_role})
    assert ("owner", None) in roles_of(app, alpha, "owner")


def test_export_is_limited_to_the_stores_one_may_export(app, client, alpha):
    """tech2 is technician at S2 (view only) and here also front desk at S1 (may export)."""
    tech2 = user(app, alpha, "tech2")
    with in_tenant(app, alpha):
        db.session.add(RoleAssignment(user_id=tech2.id, role=Role.FRONT_DESK, store_id=alpha.store_ids["S1"]))
        db.session.commit()
    sign_in(client, alpha, "tech2")
    listing = client.get("/admin/customers/", base_url=url(alpha)).text
    assert alpha.store_sentinel("S2") in listing  # may view S2
    export = client.get("/admin/customers/export/csv/", base_url=url(alpha)).text
    assert alpha.store_sentinel("S1") in export
    assert alpha.store_sentinel("S2") not in export


def test_values_the_database_cannot_hold_are_not_errors(app, client, alpha):
    sign_in(client, alpha, "owner")
    huge = "99999999999999999999999"
    with in_tenant(app, alpha):
        customers = db.session.execute(sa.select(sa.func.count()).select_from(Customer)).scalar()
    for path in (
        f"/admin/customers/details/?id={huge}",
        "/admin/customers/details/?id=3000000000",
        f"/admin/customers/edit/?id={huge}",
        f"/admin/customers/?page={huge}",
        f"/admin/customers/?flt0_0={huge}",
    ):
        response = client.get(path, base_url=url(alpha))
        assert response.status_code in (200, 302), path
    for path, data in (
        ("/admin/customers/delete/", {"id": huge}),
        ("/admin/customers/action/", {"action": "delete", "rowid": "3000000000"}),
    ):
        assert client.post(path, base_url=url(alpha), data=data).status_code in (200, 302), path
    with in_tenant(app, alpha):
        assert db.session.execute(sa.select(sa.func.count()).select_from(Customer)).scalar() == customers
