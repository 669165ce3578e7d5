"""HQ supervision in a real browser (HB §8.2-§8.3): an inspection from the phone to the report.

The inspector conducts the demo tenant's "Downtown follow-up inspection" at FF-N01 on a
phone-sized screen and fails a critical item (with a photo), which raises a finding at once;
QA sets the corrective action and marks the inspection reviewed; the store manager does the
work and reports it done with evidence; QA verifies it, which closes the inspection; and the
cross-store report for this month counts the inspection and the action closed on time.

Four browser contexts, one per person, as four people at four screens. The report is read
before and after, so the test checks what this flow added, not what the demo seeded.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from .conftest import REPO_ROOT, LiveServer, choose_language, new_page, png, sign_in

pytestmark = pytest.mark.browser

INSPECTOR = "inspector@demo.example.com"
QA = "qa@demo.example.com"
MANAGER = "manager@demo.example.com"
STORE = "FF-N01"
PLAN = "Downtown follow-up inspection"
#: The critical item the inspector fails (standards v1: "Measuring instruments calibrated and in date").
FAILED_ITEM = "calibration-current"
SCORE = "4"  # of 5, for the items judged on a scale
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
SCREENSHOT = REPO_ROOT / "test-artifacts" / "browser-supervision-phone.png"
REPORT_SCREENSHOT = REPO_ROOT / "test-artifacts" / "browser-supervision-report.png"


# --- the people and their browsers ---------------------------------------------------------------


def assert_fits_the_screen(page: Page) -> None:
    """Nothing wider than the phone: the page never scrolls sideways (tables scroll in their own box)."""
    page.wait_for_load_state("load")
    widths = page.evaluate("() => ({page: document.documentElement.scrollWidth, screen: window.innerWidth})")
    # Without <meta name=viewport> a phone lays the page out 980 px wide and this would hold anyway.
    assert widths["screen"] == PHONE["viewport"]["width"], f"{page.url} is not laid out for a phone: {widths}"
    assert widths["page"] <= widths["screen"], f"{page.url} scrolls sideways: {widths}"


def flash(page: Page, text: str) -> Locator:
    """A flashed message. Flask-Admin's layout gives its alerts no ARIA role, so by their text."""
    return page.get_by_text(text)


def expect_inspection_status(page: Page, label: str) -> None:
    expect(page.get_by_test_id("inspection-summary").get_by_test_id("status")).to_have_text(label)


def tap_choice(item: Locator, label: str) -> None:
    """Tap an answer as a thumb does: Bootstrap's custom radio is drawn by its label."""
    choice = item.get_by_role("radio", name=label, exact=True)
    item.locator(f"label[for='{choice.get_attribute('id')}']").tap()
    expect(choice).to_be_checked()


# --- the report -----------------------------------------------------------------------------------


def report_row(page: Page, live_server: LiveServer) -> dict[str, float]:
    """This month's cross-store report over every store, chosen on the form; FF-N01's numbers."""
    page.goto(live_server.tenant_url("demo", "/admin/reports/"))
    form = page.get_by_test_id("report-form")
    form.get_by_label("Period").select_option("this_month")
    form.get_by_label("Stores", exact=True).select_option("all")
    form.get_by_role("button", name="Show the report").click()
    # The first page already shows a report (last month's): wait for the one asked for.
    expect(page).to_have_url(re.compile(r"[?&]preset=this_month\b"))
    expect(page.get_by_test_id("report-error")).to_have_count(0)
    first_day = datetime.now(UTC).date().replace(day=1)  # the report's days are UTC days
    expect(form.get_by_label("From")).to_have_value(first_day.isoformat())
    row = (
        page.get_by_test_id("report-table")
        .get_by_test_id("report-row")
        .filter(has=page.get_by_role("link", name=STORE, exact=True))
    )
    expect(row).to_have_count(1)
    values = {}
    for column in ("inspections", "actions_closed_on_time", "actions_open"):
        raw = row.locator(f"td[data-col='{column}']").get_attribute("data-value")
        values[column] = float(raw) if raw else 0.0  # an empty cell: nothing to count yet
    return values


# --- the flow ---------------------------------------------------------------------------------------


def test_inspection_on_a_phone_to_corrective_action_closed_and_reported(
    chromium_browser: Browser, contexts: list[BrowserContext], live_server: LiveServer, tmp_path: Path
):
    qa = new_page(contexts, chromium_browser)
    sign_in(qa, live_server, QA)
    # Accounts remember their language across browser tests: the texts asserted here are English.
    choose_language(qa, "en")
    before = report_row(qa, live_server)

    # 1. The inspector conducts the follow-up inspection on a phone (HB §8.3.1).
    inspector = new_page(contexts, chromium_browser, **PHONE)
    sign_in(inspector, live_server, INSPECTOR)
    choose_language(inspector, "en")
    inspector.goto(live_server.tenant_url("demo", "/admin/inspections/work/"))
    assert_fits_the_screen(inspector)
    expect(inspector.get_by_test_id("tab-mine")).to_have_class(re.compile(r"\bactive\b"))
    # The list names the store, not the plan: open the scheduled FF-N01 rows until the plan's one.
    candidates = (
        inspector.get_by_test_id("inspections")
        .locator("tbody tr")
        .filter(has_text=STORE)
        .filter(has_text="Scheduled")
    )
    links = [
        row.get_by_role("link").first.get_attribute("href")
        for row in candidates.all()  # read once: the hrefs outlive the page
    ]
    assert links, inspector.get_by_test_id("inspections").inner_text()
    for href in links:
        inspector.goto(live_server.tenant_url("demo", href))
        if PLAN in inspector.get_by_test_id("inspection-summary").inner_text():
            break
    else:
        pytest.fail(f"no scheduled inspection of the plan {PLAN!r} in the inspector's list")
    inspection_url = inspector.url
    expect(inspector).to_have_url(re.compile(r"/admin/inspections/work/\d+/$"))
    expect_inspection_status(inspector, "Scheduled")
    expect(inspector.get_by_test_id("inspector")).to_have_text("Ivy Inspector")
    assert_fits_the_screen(inspector)

    inspector.get_by_role("button", name="Start the inspection").tap()
    expect(flash(inspector, "The inspection has started")).to_be_visible()
    expect_inspection_status(inspector, "In progress")
    expect(inspector.get_by_test_id("standard-version")).not_to_have_text("–")
    form = inspector.get_by_test_id("answers-form")
    expect(form).to_be_visible()
    assert_fits_the_screen(inspector)

    items = form.locator("[data-testid^='item-']")
    expect(items.first).to_be_visible()
    failing = form.get_by_test_id(f"item-{FAILED_ITEM}")
    expect(failing.get_by_test_id("critical")).to_have_text("Critical")
    failing_text = failing.get_by_role("radiogroup").get_attribute("aria-label")
    assert failing_text, "the failed item's radio group has no accessible name"
    for item in items.all():
        group = item.get_by_role("radiogroup")
        if group.get_by_role("radio", name="Pass", exact=True).count():
            tap_choice(group, "Fail" if _code(item) == FAILED_ITEM else "Pass")
        else:
            tap_choice(group, SCORE)
    failing.get_by_label("Note").fill("Multimeter certificate expired last month")
    failing.get_by_label(f"Photos for {failing_text}").set_input_files(
        str(png(tmp_path / "meter.png", (200, 40, 40)))
    )
    form.get_by_role("button", name="Save", exact=True).tap()

    expect(flash(inspector, "The answers are saved.")).to_be_visible()
    raised = flash(inspector, f"A finding was raised at once: Critical item failed: {failing_text}")
    expect(raised).to_be_visible()
    form = inspector.get_by_test_id("answers-form")
    failing = form.get_by_test_id(f"item-{FAILED_ITEM}")
    expect(failing.get_by_role("radio", name="Fail", exact=True)).to_be_checked()  # kept after the save
    expect(failing.get_by_test_id(f"photos-{FAILED_ITEM}").get_by_role("img")).to_have_count(1)
    findings = inspector.locator("[data-testid^='finding-']").filter(
        has_text=f"Critical item failed: {failing_text}"
    )
    expect(findings).to_have_count(1)
    finding_id = int(findings.get_attribute("data-testid").removeprefix("finding-"))
    assert_fits_the_screen(inspector)

    form.get_by_label("Summary").fill("Store tidy; the multimeter is out of calibration again.")
    form.get_by_role("button", name="Submit for review").tap()
    expect(flash(inspector, "The inspection is submitted for review.")).to_be_visible()
    expect_inspection_status(inspector, "Submitted")
    expect(inspector.get_by_test_id("answers-form")).to_have_count(0)
    expect(inspector.get_by_test_id("summary")).to_contain_text("out of calibration again")
    expect(inspector.get_by_test_id(f"item-{FAILED_ITEM}")).to_contain_text("Fail")
    assert_fits_the_screen(inspector)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    inspector.screenshot(path=str(SCREENSHOT), full_page=True)

    # 2. QA reviews it and sets the corrective action (HB §8.2.2, §8.3.2).
    qa.goto(live_server.tenant_url("demo", "/admin/inspections/work/"))
    qa.get_by_role("link", name="To review").click()
    expect(qa.get_by_test_id("tab-review")).to_have_class(re.compile(r"\bactive\b"))
    inspection_id = int(inspection_url.rstrip("/").rsplit("/", 1)[1])
    qa.get_by_test_id(f"inspection-{inspection_id}").get_by_role("link").first.click()
    expect(qa).to_have_url(inspection_url)
    expect_inspection_status(qa, "Submitted")
    expect(qa.get_by_test_id(f"photos-{FAILED_ITEM}").get_by_role("img")).to_have_count(1)

    action_form = qa.get_by_test_id(f"action-form-{finding_id}")
    expect(action_form.get_by_label("Owner")).to_have_value(re.compile(r"\d+"))  # the store's manager
    expect(action_form.get_by_label("Owner").locator("option:checked")).to_have_text("Mia Manager")
    expect(action_form.get_by_label("Due on")).not_to_have_value("")  # the standard's target
    action_form.get_by_label("Measure").fill("Send the multimeter for calibration; file the certificate.")
    action_form.get_by_role("button", name="Set the corrective action").click()
    expect(flash(qa, "The corrective action is set.")).to_be_visible()
    finding = qa.get_by_test_id(f"finding-{finding_id}")
    action_link = finding.get_by_test_id("finding-actions").get_by_role("link")
    expect(action_link).to_have_count(1)
    expect(finding.get_by_test_id("finding-actions")).to_contain_text("Mia Manager")

    review = qa.get_by_test_id("review-form")
    review.get_by_label("Comment").fill("Good catch; follow up on the certificate.")
    review.get_by_role("button", name="Reviewed", exact=True).click()
    expect(flash(qa, "The inspection is reviewed.")).to_be_visible()
    expect_inspection_status(qa, "Reviewed")
    action_id = int(
        re.search(
            r"#(\d+)", qa.get_by_test_id(f"finding-{finding_id}").get_by_test_id("action-link").inner_text()
        ).group(1)
    )

    # 3. The store manager does the work and reports it done with evidence (HB §8.3.2).
    manager = new_page(contexts, chromium_browser)
    sign_in(manager, live_server, MANAGER)
    choose_language(manager, "en")
    manager.goto(live_server.tenant_url("demo", "/admin/inspections/actions/"))
    expect(manager.get_by_role("heading", name=re.compile("My actions"))).to_be_visible()
    mine = manager.get_by_test_id("actions").locator(
        f"[data-testid=action-row][data-action-id='{action_id}']"
    )
    expect(mine).to_contain_text(STORE)
    expect(mine.get_by_test_id("status")).to_have_text("Open")
    mine.get_by_role("link", name=str(action_id), exact=True).click()
    expect(manager).to_have_url(re.compile(rf"/admin/inspections/actions/{action_id}/$"))
    expect(manager.get_by_test_id("action-status")).to_have_text("Open")
    expect(manager.get_by_test_id("action-owner")).to_have_text("Mia Manager")
    expect(manager.get_by_test_id("finding-description")).to_contain_text(failing_text)
    manager.get_by_role("button", name="Start work on it").click()
    expect(flash(manager, "Work on the action has started.")).to_be_visible()
    expect(manager.get_by_test_id("action-status")).to_have_text("In progress")

    done = manager.get_by_test_id("complete-form")
    done.get_by_label("Evidence").fill(
        "Multimeter calibrated on site by MetroCal; certificate MC-2231 filed."
    )
    done.get_by_label("Photos").set_input_files(str(png(tmp_path / "certificate.png", (40, 160, 40))))
    done.get_by_role("button", name="Report done").click()
    expect(flash(manager, "The action is reported done")).to_be_visible()
    expect(manager.get_by_test_id("action-status")).to_have_text("Done")
    expect(manager.get_by_test_id("evidence-text")).to_contain_text("certificate MC-2231 filed")
    expect(manager.get_by_test_id("evidence").get_by_test_id("photo")).to_have_count(1)
    expect(manager.get_by_test_id("verify-form")).to_have_count(0)  # QA verifies, not the store

    # 4. QA verifies it; the last action verified closes the inspection.
    qa.goto(live_server.tenant_url("demo", f"/admin/inspections/actions/{action_id}/"))
    expect(qa.get_by_test_id("action-status")).to_have_text("Done")
    expect(qa.get_by_test_id("evidence-text")).to_contain_text("certificate MC-2231 filed")
    verify = qa.get_by_test_id("verify-form")
    verify.get_by_label("Comment").fill("Certificate seen.")
    verify.get_by_role("button", name="Verify: the problem is fixed").click()
    expect(flash(qa, "The action is verified.")).to_be_visible()
    expect(qa.get_by_test_id("action-status")).to_have_text("Verified")
    qa.get_by_test_id("inspection-link").click()
    expect(qa).to_have_url(inspection_url)
    expect_inspection_status(qa, "Closed")
    expect(qa.get_by_test_id("history")).to_contain_text("Reviewed → Closed")

    # 5. This month's cross-store report counts it (HB §5.2.2, ch.8).
    after = report_row(qa, live_server)
    assert after["inspections"] == before["inspections"] + 1, (before, after)
    assert after["actions_closed_on_time"] == before["actions_closed_on_time"] + 1, (before, after)
    assert after["inspections"] >= 1 and after["actions_closed_on_time"] >= 1, after
    assert after["actions_open"] == before["actions_open"], (before, after)  # opened and closed
    REPORT_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    qa.screenshot(path=str(REPORT_SCREENSHOT), full_page=True)


def _code(item: Locator) -> str:
    return (item.get_attribute("data-testid") or "").removeprefix("item-")
