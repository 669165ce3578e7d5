"""A new technician's first theory exam, in a real browser (HB §3.2.1, issue #7).

HR creates the account (which enrols the new hire in new-hire training automatically); the
technician signs in, finds the training page in the "Staff and training" menu, starts the demo's
closed-book theory exam, answers the questions within the time limit and passes.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from .conftest import DEMO_PASSWORD, LiveServer, server_app, sign_in

pytestmark = pytest.mark.browser

NEW_TECH = "new.tech@demo.example.com"


def test_a_new_technician_takes_and_passes_the_theory_exam(page: Page, live_server: LiveServer):
    from repairqc.accounts.models import Role
    from repairqc.accounts.services import create_staff_user
    from repairqc.db import db, tenant_context, unit_of_work
    from repairqc.stores.models import Store
    from repairqc.tenants.models import Tenant
    from repairqc.training.models import Enrolment

    with server_app(live_server) as app, app.app_context():
        tenant = db.control.execute(sa.select(Tenant).where(Tenant.slug == "demo")).scalar_one().ref
    with server_app(live_server) as app, app.test_request_context(), tenant_context(tenant), unit_of_work():
        shop = db.session.execute(sa.select(Store).where(Store.code == "FF-N01")).scalar_one()
        user = create_staff_user(NEW_TECH, "Nina Newhire", DEMO_PASSWORD, roles=[(Role.TECHNICIAN, shop)])
        assert db.session.scalars(sa.select(Enrolment).where(Enrolment.user_id == user.id)).one()

    sign_in(page, live_server, NEW_TECH)
    page.wait_for_load_state("load")
    navbar = page.locator("nav.navbar")
    navbar.get_by_role("link", name="Ch.3 Staff and training").click()
    navbar.get_by_role("link", name="Training", exact=True).click()
    expect(page).to_have_url(re.compile(r"/admin/training/me$"))
    expect(page.get_by_test_id("person-name")).to_have_text("Nina Newhire")
    expect(page.get_by_test_id("history")).to_contain_text("New-hire training")

    row = page.get_by_test_id("exam-row").filter(has_text="Repair basics (theory)")
    row.get_by_test_id("start-exam").click()
    expect(page).to_have_url(re.compile(r"/admin/training/attempts/\d+$"))
    expect(page.get_by_test_id("time-limit")).to_contain_text("Closed book")
    questions = page.get_by_test_id("question")
    expect(questions).to_have_count(5)
    for n in range(questions.count()):
        # The demo's bank lists the right answer first (training/demo.py).
        questions.nth(n).locator("input[type=radio]").first.check()
    page.get_by_test_id("submit-exam").click()
    expect(page.get_by_test_id("attempt-status")).to_contain_text("Passed")
    expect(page.get_by_test_id("attempt-status")).to_contain_text("100%")
