"""The improvement screens (HB §2.3.1, §2.3.2, §5.2.3) on both databases, driven as a browser
would: GET a page, post what its form holds plus the user's input. Also isolation of every screen
between tenants and stores, the generated admin of this domain's models, and bad input (oversized
or missing fields, garbage dates and choices) answered with a message, never a 500.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import MultiDict

from repairqc.db import db, utcnow
from repairqc.improvements import services
from repairqc.improvements.models import (
    EffectRating,
    ImprovementArea,
    ImprovementReminder,
    ImprovementSuggestion,
    ProcessReview,
    SuggestionEvent,
    SuggestionStatus,
)
from tests.conftest import in_tenant, sign_in, staff, store
from tests.htmlforms import _FormReader

SUGGESTIONS = "/admin/improvements/suggestions/"
REVIEWS = "/admin/improvements/reviews/"
ROLES = ["owner", "qa", "trainer", "auditor", "inspector", "manager", "frontdesk", "tech"]


def today() -> date:
    return utcnow().date()


def url(tenant) -> str:
    return f"http://{tenant.host}"


def get(client, tenant, path: str):
    return client.get(path, base_url=url(tenant))


def post(client, tenant, path: str, data: dict | list):
    return client.post(path, base_url=url(tenant), data=MultiDict(data))


def follow(client, tenant, answer):
    """The page a redirect leads to, on the tenant's host."""
    assert answer.status_code == 302, answer.text
    return get(client, tenant, answer.headers["Location"])


def table(html: str) -> str:
    """The list's table only (the filters name every store the user may choose)."""
    match = re.search(r"<table.*?</table>", html, re.S)
    return match.group(0) if match else ""


def sign_in_as(client, tenant, key: str) -> None:
    client.post("/logout", base_url=url(tenant))
    assert sign_in(client, tenant, key).status_code == 302


def form_fields(html: str, testid: str) -> dict[str, str]:
    match = re.search(rf'<form[^>]*data-testid="{testid}".*?</form>', html, re.S)
    assert match, f"no form {testid!r} on the page"
    reader = _FormReader()
    reader.feed(match.group(0))
    return dict(reader.forms[0])


def new_suggestion(app, tenant, key: str = "tech", store_name: str | None = "S1", **kw) -> int:
    with in_tenant(app, tenant):
        made = services.submit_suggestion(
            staff(tenant, key),
            area=ImprovementArea.REPAIR_PROCESS,
            title=kw.pop(
                "title", f"Idea {tenant.store_sentinel(store_name) if store_name else tenant.sentinel}"
            ),
            problem="Screens crack after the repair",
            proposal="Align the frame first",
            store=store(tenant, store_name) if store_name else None,
        )
        for step in kw.pop("steps", ()):
            step(tenant, made)
        suggestion_id = made.id
        db.session.commit()
    return suggestion_id


def adopted(tenant, suggestion) -> None:
    services.adopt_suggestion(
        suggestion,
        staff(tenant, "qa"),
        responsible=staff(tenant, "manager" if suggestion.store_id == store(tenant, "S1").id else "manager2"),
        due_on=today() + timedelta(days=20),
        plan="Plan",
        today=today(),
    )


def implemented(tenant, suggestion) -> None:
    services.record_implementation(
        suggestion, staff(tenant, "qa"), implemented_on=today(), what_was_done="Done", today=today()
    )


def state(app, tenant, suggestion_id: int) -> dict:
    with in_tenant(app, tenant):
        db.session.expire_all()
        row = db.session.get(ImprovementSuggestion, suggestion_id)
        return {"status": row.status, "version": row.version, "responsible_id": row.responsible_id}


# --- submitting ------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ROLES)
def test_every_role_submits_from_the_form(app, client, alpha, key):
    sign_in_as(client, alpha, key)
    listing = get(client, alpha, SUGGESTIONS)
    assert listing.status_code == 200 and 'data-testid="new-suggestion"' in listing.text
    page = get(client, alpha, f"{SUGGESTIONS}new")
    assert page.status_code == 200
    data = form_fields(page.text, "suggestion-form")
    hq = key in ("owner", "qa", "trainer", "auditor")
    # store staff default to their store; HQ to the whole provider
    assert data["store"] == ("" if hq else str(alpha.store_ids["S1"]))
    data.update(title=f"Idea of {key}", problem="Long queue at the desk", proposal="A ticket machine")
    data["area"] = ImprovementArea.CUSTOMER_SERVICE.value
    answer = post(client, alpha, f"{SUGGESTIONS}new", data)
    assert answer.status_code == 302, answer.text
    shown = follow(client, alpha, answer)
    assert shown.status_code == 200 and f"Idea of {key}" in shown.text
    assert "Submitted, awaiting decision" in shown.text
    with in_tenant(app, alpha):
        row = db.session.execute(
            sa.select(ImprovementSuggestion).where(ImprovementSuggestion.title == f"Idea of {key}")
        ).scalar_one()
        assert row.store_id == (None if hq else alpha.store_ids["S1"])
        assert row.submitted_by_id == staff(alpha, key).id


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"title": "x" * 201}, "At most 200 characters."),
        ({"problem": "p" * 5001}, "At most 5000 characters."),
        ({"title": "", "problem": "", "proposal": ""}, "Give the suggestion a short title."),
        ({"proposal": ""}, "Describe what you propose."),
        ({"store": str(10**9)}, "Choose one of the stores offered."),
        ({"store": "abc"}, "Choose one of the stores offered."),
        ({"area": "nonsense"}, "Choose the area of improvement."),
        ({"source": "effect_review"}, "Choose where the idea came from."),
    ],
)
def test_bad_input_is_refused_with_a_message_and_nothing_saved(app, client, alpha, changes, message):
    sign_in_as(client, alpha, "tech")
    data = form_fields(get(client, alpha, f"{SUGGESTIONS}new").text, "suggestion-form")
    data.update(title="T", problem="P", proposal="Q")
    data.update(changes)
    with in_tenant(app, alpha):
        before = db.session.execute(sa.select(sa.func.count(ImprovementSuggestion.id))).scalar_one()
    answer = post(client, alpha, f"{SUGGESTIONS}new", data)
    assert answer.status_code == 400
    assert message in answer.text and 'data-testid="refusal"' in answer.text
    with in_tenant(app, alpha):
        assert db.session.execute(sa.select(sa.func.count(ImprovementSuggestion.id))).scalar_one() == before


def test_a_store_user_cannot_file_for_another_store(app, client, alpha):
    sign_in_as(client, alpha, "manager")
    page = get(client, alpha, f"{SUGGESTIONS}new").text
    data = form_fields(page, "suggestion-form")
    options = re.search(r'<select[^>]*name="store".*?</select>', page, re.S).group(0)
    assert f'value="{alpha.store_ids["S2"]}"' not in options and data["store"] == str(alpha.store_ids["S1"])
    data.update(title="T", problem="P", proposal="Q", store=str(alpha.store_ids["S2"]))
    answer = post(client, alpha, f"{SUGGESTIONS}new", data)
    assert answer.status_code == 400 and "Choose one of the stores offered." in answer.text


# --- deciding and tracking --------------------------------------------------------------------------


def test_qa_adopts_and_the_responsible_person_tracks_it_to_implemented(app, client, alpha):
    suggestion_id = new_suggestion(app, alpha)
    page = f"{SUGGESTIONS}{suggestion_id}/"
    for key in ("tech", "manager", "trainer", "auditor"):  # no decision form for them
        sign_in_as(client, alpha, key)
        shown = get(client, alpha, page)
        assert shown.status_code == 200 and 'data-testid="adopt-form"' not in shown.text
    sign_in_as(client, alpha, "manager")  # posting anyway is refused by the service (403)
    answer = post(client, alpha, f"{page}adopt", {"version": "1", "adopt-responsible": "1", "adopt-plan": "x",
                                                  "adopt-due_on": today().isoformat()})  # fmt: skip
    assert answer.status_code == 403 and "Only a QA manager or the owner" in answer.text
    assert state(app, alpha, suggestion_id)["status"] is SuggestionStatus.SUBMITTED

    sign_in_as(client, alpha, "qa")
    shown = get(client, alpha, page)
    data = form_fields(shown.text, "adopt-form")
    with in_tenant(app, alpha):
        manager_id = staff(alpha, "manager").id
        tech2_id = staff(alpha, "tech2").id
    assert f'value="{tech2_id}"' not in shown.text.split('data-testid="adopt-form"')[1].split("</form>")[0]
    data.update({"adopt-responsible": str(manager_id), "adopt-plan": "Buy a heat mat and train"})
    data["adopt-due_on"] = "31/12/2026"  # garbage
    refused = post(client, alpha, f"{page}adopt", data)
    assert refused.status_code == 400 and "Enter a date such as 2026-12-31." in refused.text
    assert "Buy a heat mat and train" in refused.text  # the input is kept
    data["adopt-due_on"] = (today() + timedelta(days=10)).isoformat()
    assert post(client, alpha, f"{page}adopt", data).status_code == 302
    after = get(client, alpha, page)
    assert 'data-testid="responsible"' in after.text and "Buy a heat mat and train" in after.text
    assert state(app, alpha, suggestion_id)["responsible_id"] == manager_id

    sign_in_as(client, alpha, "tech")  # the submitter follows it, without the steps
    shown = get(client, alpha, page)
    assert "Adopted" in shown.text and 'data-testid="start-form"' not in shown.text

    sign_in_as(client, alpha, "manager")  # the responsible person
    shown = get(client, alpha, page)
    assert post(client, alpha, f"{page}start", form_fields(shown.text, "start-form")).status_code == 302
    data = form_fields(get(client, alpha, page).text, "implement-form")
    data["implement-what_was_done"] = "Heat mat in use at both benches"
    assert post(client, alpha, f"{page}implement", data).status_code == 302
    shown = get(client, alpha, page)
    assert 'data-testid="implemented"' in shown.text and 'data-testid="effect-form"' not in shown.text
    due = today() + timedelta(days=services.EFFECT_REVIEW_DEFAULT_DAYS)
    with in_tenant(app, alpha):
        assert db.session.get(ImprovementSuggestion, suggestion_id).effect_review_due_on == due
        timeline = [e.to_status for e in db.session.get(ImprovementSuggestion, suggestion_id).events]
    assert timeline == [
        SuggestionStatus.SUBMITTED,
        SuggestionStatus.ADOPTED,
        SuggestionStatus.IN_PROGRESS,
        SuggestionStatus.IMPLEMENTED,
    ]
    assert shown.text.count('data-testid="event"') == 4


def test_rejection_needs_a_reason_which_the_submitter_sees(app, client, alpha):
    suggestion_id = new_suggestion(app, alpha)
    page = f"{SUGGESTIONS}{suggestion_id}/"
    sign_in_as(client, alpha, "owner")
    data = form_fields(get(client, alpha, page).text, "reject-form")
    refused = post(client, alpha, f"{page}reject", data)
    assert refused.status_code == 400 and "Give the reason for not adopting it." in refused.text
    data["reject-reason"] = "Already covered by SOP step 4"
    assert post(client, alpha, f"{page}reject", data).status_code == 302
    sign_in_as(client, alpha, "tech")
    shown = get(client, alpha, page)
    assert "Not adopted" in shown.text and "Already covered by SOP step 4" in shown.text


def test_effect_review_may_reopen_the_problem(app, client, alpha):
    suggestion_id = new_suggestion(app, alpha, steps=(adopted, implemented))
    page = f"{SUGGESTIONS}{suggestion_id}/"
    sign_in_as(client, alpha, "manager")
    assert 'data-testid="effect-form"' not in get(client, alpha, page).text
    sign_in_as(client, alpha, "qa")
    data = form_fields(get(client, alpha, page).text, "effect-form")
    data.update({"effect-notes": "Still cracking", "effect-reopen": "y"})
    refused = post(client, alpha, f"{page}effect", data)
    assert refused.status_code == 400 and "Choose how effective it was." in refused.text
    data["effect-rating"] = EffectRating.NOT_EFFECTIVE.value
    answer = post(client, alpha, f"{page}effect", data)
    assert answer.status_code == 302
    shown = get(client, alpha, page)
    assert "Not effective" in shown.text and 'data-testid="follow-up"' in shown.text
    follow_up = re.search(r'href="([^"]+)" data-testid="follow-up"', shown.text).group(1)
    reopened = get(client, alpha, follow_up)
    assert reopened.status_code == 200 and f"#{suggestion_id}" in reopened.text
    assert 'data-testid="original"' in reopened.text
    # QA reopened it, so another decider takes it up (four eyes)
    assert 'data-testid="own-suggestion"' in reopened.text and 'data-testid="adopt-form"' not in reopened.text
    sign_in_as(client, alpha, "owner")
    assert 'data-testid="adopt-form"' in get(client, alpha, follow_up).text


def test_a_stale_page_is_answered_409_and_changes_nothing(app, client, alpha):
    suggestion_id = new_suggestion(app, alpha)
    page = f"{SUGGESTIONS}{suggestion_id}/"
    sign_in_as(client, alpha, "qa")
    data = form_fields(get(client, alpha, page).text, "reject-form")
    data["reject-reason"] = "No"
    new_suggestion(app, alpha, title="other")  # unrelated; then the suggestion itself changes
    with in_tenant(app, alpha):
        row = db.session.get(ImprovementSuggestion, suggestion_id)
        adopted(alpha, row)
        db.session.commit()
    answer = post(client, alpha, f"{page}reject", data)
    assert answer.status_code == 409 and "Someone else changed" in answer.text
    assert state(app, alpha, suggestion_id)["status"] is SuggestionStatus.ADOPTED
    missing = {k: v for k, v in data.items() if k != "version"}
    assert post(client, alpha, f"{page}reject", missing).status_code == 400


def test_a_step_in_the_wrong_state_is_refused_with_409(app, client, alpha):
    suggestion_id = new_suggestion(app, alpha)
    sign_in_as(client, alpha, "qa")
    data = {"version": str(state(app, alpha, suggestion_id)["version"]), "effect-rating": "effective",
            "effect-notes": "Works"}  # fmt: skip
    answer = post(client, alpha, f"{SUGGESTIONS}{suggestion_id}/effect", data)
    assert answer.status_code == 409 and "Only an implemented suggestion" in answer.text
    assert post(client, alpha, f"{SUGGESTIONS}{suggestion_id}/nonsense", data).status_code == 404


# --- the list ----------------------------------------------------------------------------------------


def test_the_list_filters_by_status_area_store_and_mine(app, client, alpha):
    mine = new_suggestion(app, alpha, "tech", title="Mine to filter")
    sign_in_as(client, alpha, "qa")
    everything = table(get(client, alpha, SUGGESTIONS).text)
    assert alpha.store_sentinel("S1") in everything and alpha.store_sentinel("S2") in everything
    s2 = table(get(client, alpha, f"{SUGGESTIONS}?store={alpha.store_ids['S2']}").text)
    assert alpha.store_sentinel("S1") not in s2 and f"Adopted suggestion {alpha.store_sentinel('S2')}" in s2
    wide = get(client, alpha, f"{SUGGESTIONS}?store=provider").text
    assert f"Provider idea {alpha.sentinel}" in wide and "Mine to filter" not in wide
    adopted_only = get(client, alpha, f"{SUGGESTIONS}?status=adopted").text
    assert "Adopted suggestion" in adopted_only and "Mine to filter" not in adopted_only
    equipment = get(client, alpha, f"{SUGGESTIONS}?area=equipment").text
    assert "Adopted suggestion" in equipment and "Mine to filter" not in equipment
    assert get(client, alpha, f"{SUGGESTIONS}?status=bogus&area=bogus").status_code == 200
    sign_in_as(client, alpha, "tech")
    own = get(client, alpha, f"{SUGGESTIONS}?mine=1").text
    assert "Mine to filter" in own and f"Provider idea {alpha.sentinel}" not in own
    assert f"{SUGGESTIONS}{mine}/" in own


# --- isolation -------------------------------------------------------------------------------------


def test_store_users_see_their_own_their_stores_and_provider_wide_suggestions(app, client, alpha):
    by_frontdesk = new_suggestion(app, alpha, "frontdesk", title="Desk idea S1")
    s2_id = new_suggestion(app, alpha, "tech2", "S2", title=f"Idea {alpha.store_sentinel('S2')}")
    sign_in_as(client, alpha, "tech")
    listing = get(client, alpha, SUGGESTIONS).text
    assert f"Suggestion {alpha.store_sentinel('S1')}" in listing  # their own (seeded)
    assert f"Provider idea {alpha.sentinel}" in listing  # provider-wide: every member of staff
    assert "Desk idea S1" not in listing  # a colleague's suggestion: only the store's managers
    assert alpha.store_sentinel("S2") not in listing
    assert get(client, alpha, f"{SUGGESTIONS}{by_frontdesk}/").status_code == 404
    assert get(client, alpha, f"{SUGGESTIONS}{s2_id}/").status_code == 404
    sign_in_as(client, alpha, "manager")
    listing = get(client, alpha, SUGGESTIONS).text
    assert "Desk idea S1" in listing and alpha.store_sentinel("S2") not in listing
    assert get(client, alpha, f"{SUGGESTIONS}{s2_id}/").status_code == 404
    version = state(app, alpha, s2_id)["version"]
    for step in ("adopt", "reject", "start", "implement", "effect"):
        assert (
            post(client, alpha, f"{SUGGESTIONS}{s2_id}/{step}", {"version": str(version)}).status_code == 404
        )
    assert get(client, alpha, f"{SUGGESTIONS}?store={alpha.store_ids['S2']}").status_code == 404
    assert state(app, alpha, s2_id)["version"] == version


def test_a_responsible_person_sees_the_suggestion_they_carry(app, client, alpha):
    def to_tech(tenant, suggestion):
        services.adopt_suggestion(
            suggestion,
            staff(tenant, "qa"),
            responsible=staff(tenant, "tech"),
            due_on=today(),
            plan="P",
            today=today(),
        )

    suggestion_id = new_suggestion(app, alpha, "frontdesk", title="Carried by the tech", steps=(to_tech,))
    sign_in_as(client, alpha, "tech")
    shown = get(client, alpha, f"{SUGGESTIONS}{suggestion_id}/")
    assert shown.status_code == 200 and 'data-testid="implement-form"' in shown.text


def test_another_tenants_suggestions_and_reviews_do_not_exist(app, client, alpha, beta):
    with in_tenant(app, alpha):
        highest = db.session.execute(sa.select(sa.func.max(ImprovementSuggestion.id))).scalar_one()
        highest_review = db.session.execute(sa.select(sa.func.max(ProcessReview.id))).scalar_one()
    beta_id = 0
    while beta_id <= highest:  # an id alpha does not have
        beta_id = new_suggestion(app, beta, "tech", title=f"Beta idea {beta.sentinel}")
    with in_tenant(app, beta):
        review = None
        while review is None or review.id <= highest_review:
            review = services.save_process_review(
                staff(beta, "qa"), period_start=today(), period_end=today(), held_on=today(),
                participants=f"People {beta.sentinel}", areas=[ImprovementArea.OTHER], findings="F",
                decisions="D", next_review_due_on=today() + timedelta(days=9), today=today(),
            )  # fmt: skip
        review_id = review.id
        db.session.commit()
    before = state(app, beta, beta_id)
    for key in ("owner", "qa"):
        sign_in_as(client, alpha, key)
        assert get(client, alpha, f"{SUGGESTIONS}{beta_id}/").status_code == 404
        for step in ("adopt", "reject", "effect"):
            answer = post(
                client, alpha, f"{SUGGESTIONS}{beta_id}/{step}", {"version": str(before["version"])}
            )
            assert answer.status_code == 404
        assert get(client, alpha, f"{REVIEWS}{review_id}/").status_code == 404
        assert get(client, alpha, f"{REVIEWS}{review_id}/edit").status_code == 404
        assert post(client, alpha, f"{REVIEWS}{review_id}/edit", {"version": "1"}).status_code == 404
        for page in (SUGGESTIONS, f"{SUGGESTIONS}?status=submitted", REVIEWS, f"{REVIEWS}new"):
            answer = get(client, alpha, page)
            assert answer.status_code == 200 and beta.sentinel not in answer.text
    assert state(app, beta, beta_id) == before


def _probe_domain(app, client, tenant, key: str, own: str, other: str) -> None:
    """The generated admin of this domain's models, as in tests/test_isolation.py (limited to
    them, so another domain's gaps do not hide this one's)."""
    from tests.test_isolation import Probe, row_reader

    sign_in_as(client, tenant, key)
    probe = Probe(
        app, client, tenant, own_text=tenant.store_sentinel(own), forbidden=tenant.store_sentinel(other)
    )
    read = row_reader(app, tenant)
    from repairqc.accounts.permissions import MATRIX

    role = {"manager": "store_manager", "manager2": "store_manager", "tech": "technician",
            "frontdesk": "front_desk", "inspector": "inspector"}[key]  # fmt: skip
    for model in (ImprovementSuggestion, SuggestionEvent, ProcessReview, ImprovementReminder):
        grants = {r.value: a for r, a in MATRIX[model.__name__].items()}
        if "v" not in grants.get(role, ""):
            assert get(client, tenant, f"/admin/{model.__tablename__}/").status_code in (302, 403)
            continue
        probe.check_pages(model.__tablename__)
        if model in (ImprovementSuggestion, SuggestionEvent):
            with in_tenant(app, tenant):
                other_rows = list(
                    db.session.execute(
                        sa.select(model.id)
                        .where(model.store_scope({tenant.store_ids[other]}))
                        .where(sa.not_(model.store_scope({tenant.store_ids[own]})))
                    ).scalars()
                )
            assert other_rows
            probe.check_cannot_reach(model.__tablename__, model, other_rows[0], read)


@pytest.mark.parametrize("key", ["manager", "frontdesk", "tech", "inspector"])
def test_the_generated_admin_keeps_store_users_to_their_store(app, client, alpha, key):
    _probe_domain(app, client, alpha, key, "S1", "S2")


def test_the_generated_admin_keeps_the_other_stores_manager_to_theirs(app, client, beta):
    _probe_domain(app, client, beta, "manager2", "S2", "S1")


def test_the_generated_admin_never_shows_another_tenants_rows(app, client, alpha, beta):
    from tests.test_isolation import Probe

    sign_in_as(client, alpha, "owner")
    probe = Probe(app, client, alpha, own_text=alpha.sentinel, forbidden=beta.sentinel)
    for model in (ImprovementSuggestion, SuggestionEvent, ProcessReview, ImprovementReminder):
        probe.check_pages(model.__tablename__)
        assert (
            alpha.sentinel in get(client, alpha, f"/admin/{model.__tablename__}/").text
            or model is SuggestionEvent
        )


# --- process reviews --------------------------------------------------------------------------------


def test_qa_records_a_process_review_with_the_figures_of_the_period(app, client, alpha):
    linked = new_suggestion(app, alpha, title="Discuss me")
    sign_in_as(client, alpha, "qa")
    listing = get(client, alpha, REVIEWS)
    assert listing.status_code == 200 and 'data-testid="new-review"' in listing.text
    assert f"Participants {alpha.sentinel}" in listing.text
    start = today() - timedelta(days=30)
    page = get(client, alpha, f"{REVIEWS}new?start={start.isoformat()}&end={today().isoformat()}")
    assert page.status_code == 200 and 'data-testid="figures"' in page.text
    submitted = int(re.search(r'data-testid="fig-submitted">(\d+)<', page.text).group(1))
    assert submitted >= 6  # the seed's five and "Discuss me"
    assert "Discuss me" in page.text
    data = [
        ("period_start", start.isoformat()),
        ("period_end", today().isoformat()),
        ("held_on", today().isoformat()),
        ("participants", "QA manager, both store managers"),
        ("areas", "repair_process"),
        ("areas", "equipment"),
        ("findings", "Cracked screens after repair at S1"),
        ("decisions", "Adopt the heat mat"),
        ("next_review_due_on", (today() + timedelta(days=91)).isoformat()),
        ("suggestions", str(linked)),
    ]
    refused = post(client, alpha, f"{REVIEWS}new", [d for d in data if d[0] != "areas"])
    assert refused.status_code == 400 and "Tick at least one area reviewed." in refused.text
    refused = post(client, alpha, f"{REVIEWS}new", [*data[:2], ("held_on", "yesterday"), *data[3:]])
    assert refused.status_code == 400 and "Enter a date such as 2026-12-31." in refused.text
    refused = post(client, alpha, f"{REVIEWS}new", [*data, ("suggestions", "999999")])
    assert refused.status_code == 400 and "Choose among the suggestions offered." in refused.text
    answer = post(client, alpha, f"{REVIEWS}new", data)
    assert answer.status_code == 302
    shown = follow(client, alpha, answer)
    assert (
        "Cracked screens after repair at S1" in shown.text and 'data-testid="linked-suggestion"' in shown.text
    )
    assert 'data-testid="figures"' in shown.text
    next_due = today() + timedelta(days=91)
    with in_tenant(app, alpha):
        assert services.process_review_due_on() == next_due
    suggestion_page = get(client, alpha, f"{SUGGESTIONS}{linked}/")
    assert 'data-testid="linked-review"' in suggestion_page.text

    review_id = int(answer.headers["Location"].rstrip("/").split("/")[-1])
    edit = get(client, alpha, f"{REVIEWS}{review_id}/edit")
    assert edit.status_code == 200 and "QA manager, both store managers" in edit.text
    stale = post(client, alpha, f"{REVIEWS}{review_id}/edit", [*data, ("version", "99")])
    assert stale.status_code == 409
    fixed = [(k, "Fixed findings" if k == "findings" else v) for k, v in data]
    assert post(client, alpha, f"{REVIEWS}{review_id}/edit", [*fixed, ("version", "1")]).status_code == 302
    assert "Fixed findings" in get(client, alpha, f"{REVIEWS}{review_id}/").text


def test_store_managers_read_reviews_without_other_stores_suggestions(app, client, alpha):
    sign_in_as(client, alpha, "manager")
    listing = get(client, alpha, REVIEWS)
    assert listing.status_code == 200 and 'data-testid="new-review"' not in listing.text
    assert get(client, alpha, f"{REVIEWS}new").status_code == 403
    with in_tenant(app, alpha):
        review_id = db.session.execute(sa.select(sa.func.min(ProcessReview.id))).scalar_one()
    assert get(client, alpha, f"{REVIEWS}{review_id}/edit").status_code == 403
    shown = get(client, alpha, f"{REVIEWS}{review_id}/")
    assert shown.status_code == 200 and f"Findings {alpha.sentinel}" in shown.text
    assert f"Adopted suggestion {alpha.store_sentinel('S1')}" in shown.text
    assert f"Provider idea {alpha.sentinel}" in shown.text
    assert alpha.store_sentinel("S2") not in shown.text
    assert 'data-testid="figures"' not in shown.text  # provider-wide counts are HQ's
    for key in ("tech", "frontdesk", "inspector"):
        sign_in_as(client, alpha, key)
        assert get(client, alpha, REVIEWS).status_code in (302, 403)
        assert get(client, alpha, f"{REVIEWS}{review_id}/").status_code in (302, 403)
