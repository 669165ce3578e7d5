"""Review findings 1-2 of issue #7 (HB §5.1.3(1)), through the generated admin on both databases:
the order's technician is set only by the workflow (`assign_technician`, certificate checked),
and a device's category, which decides the certificate its technician needs, cannot be changed
once an order refers to the device.
"""

from __future__ import annotations

from repairqc.db import db
from repairqc.repairs.models import Device, RepairOrder
from repairqc.repairs.models import RepairOrderStatus as S
from tests.conftest import in_tenant, staff
from tests.test_admin import alerts, edit_page, form_fields, signed_in, url
from tests.test_repair_order_views import make_order


def test_the_admin_edit_form_cannot_change_an_orders_technician(app, alpha):
    order_id = make_order(app, alpha, S.DIAGNOSING)
    with in_tenant(app, alpha):
        before = db.session.get(RepairOrder, order_id).technician_id
        other = staff(alpha, "manager").id
    assert other != before
    for who in ("owner", "manager", "frontdesk"):
        browser = signed_in(app, alpha, who)
        fields = form_fields(edit_page(browser, alpha, "repair_orders", order_id))
        assert "technician" not in fields and "technician_id" not in fields
        fields.update(technician=str(other), technician_id=str(other), customer_requirements=f"By {who}")
        response = browser.post(f"/admin/repair_orders/edit/?id={order_id}", base_url=url(alpha), data=fields)
        assert response.status_code == 302, alerts(response.text)
        with in_tenant(app, alpha):
            saved = db.session.get(RepairOrder, order_id)
            assert saved.technician_id == before
            assert saved.customer_requirements == f"By {who}"  # the form still saves the rest


def test_a_devices_category_is_fixed_once_an_order_refers_to_it(app, alpha):
    order_id = make_order(app, alpha, S.DIAGNOSING)
    with in_tenant(app, alpha):
        device_id = db.session.get(RepairOrder, order_id).device_id
        category = db.session.get(Device, device_id).category
    assert category == "smartphone"
    tech = signed_in(app, alpha, "tech")
    fields = form_fields(edit_page(tech, alpha, "devices", device_id))
    fields.update(category="laptop", accessories="Charger")
    refused = tech.post(f"/admin/devices/edit/?id={device_id}", base_url=url(alpha), data=fields)
    assert refused.status_code == 200
    assert any("category cannot change once the device has a repair order" in a for a in alerts(refused.text))
    with in_tenant(app, alpha):
        device = db.session.get(Device, device_id)
        assert (device.category, device.accessories) == ("smartphone", None)
    # the same form with the category unchanged saves
    fields.update(category="smartphone")
    saved = tech.post(f"/admin/devices/edit/?id={device_id}", base_url=url(alpha), data=fields)
    assert saved.status_code == 302, alerts(saved.text)
    with in_tenant(app, alpha):
        assert db.session.get(Device, device_id).accessories == "Charger"
