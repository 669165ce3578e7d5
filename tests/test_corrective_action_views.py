"""The corrective-action screens (HB §8.2.2, §8.3.2-§8.3.3) and rewards and penalties
(HB §8.3.4), on both databases.

Actions are made with the services (inside `in_tenant`): an inspection at the store, a finding,
an action owned by the store's manager. The pages are then driven as a browser would: GET the
page, post what its form holds plus the user's input.
"""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import sqlalchemy as sa

from repairqc.accounts.models import StaffUser
from repairqc.db import db, utcnow
from repairqc.files.models import StoredFile
from repairqc.inspections import services
from repairqc.inspections.models import (
    ActionStatus,
    CorrectiveAction,
    CorrectiveActionEvent,
    CorrectiveActionPhoto,
    Finding,
    FindingCategory,
    Inspection,
    RewardKind,
    RewardPenalty,
    Severity,
)
from repairqc.stores.models import Store
from tests.conftest import PNG, in_tenant, sign_in
from tests.htmlforms import _FormReader

LIST = "/admin/inspections/actions/"
REWARDS = "/admin/inspections/rewards/"
NEW_REWARD = "/admin/inspections/rewards/new"


def today() -> date:
    return utcnow().date()


def url(tenant) -> str:
    return f"http://{tenant.host}"


def get(client, tenant, path: str):
    return client.get(path, base_url=url(tenant))


def post(client, tenant, path: str, data: dict, **kwargs):
    return client.post(path, base_url=url(tenant), data=data, **kwargs)


def page(action_id: int) -> str:
    return f"{LIST}{action_id}/"


def step(action_id: int, name: str) -> str:
    return f"{LIST}{action_id}/{name}"


def person(tenant, key: str) -> StaffUser:
    return db.session.execute(sa.select(StaffUser).where(StaffUser.email == tenant.users[key])).scalar_one()


def sign_in_as(client, tenant, key: str) -> None:
    client.post("/logout", base_url=url(tenant))
    assert sign_in(client, tenant, key).status_code == 302


def form_fields(html: str, testid: str) -> dict[str, str]:
    """The fields of the form marked `data-testid=testid`, as the browser would send them."""
    match = re.search(rf'<form[^>]*data-testid="{testid}".*?</form>', html, re.S)
    assert match, f"no form {testid!r} on the page"
    reader = _FormReader()
    reader.feed(match.group(0))
    return dict(reader.forms[0])


def new_action(app, tenant, store_name: str = "S1", *, due_in_days: int | None = None) -> int:
    """An open action at the store: an inspection in progress, a finding, the manager as owner."""
    with in_tenant(app, tenant):
        store = db.session.get(Store, tenant.store_ids[store_name])
        inspector = person(tenant, "inspector" if store_name == "S1" else "qa")
        inspection = services.schedule_unannounced(store, inspector, today(), person(tenant, "qa"))
        services.start_inspection(inspection, inspector)
        finding = services.add_finding(
            inspection,
            inspector,
            category=FindingCategory.EQUIPMENT,
            severity=Severity.MAJOR,
            description=f"Soldering station not calibrated {tenant.store_sentinel(store_name)}",
        )
        action = services.add_action(
            finding, inspector, description="Calibrate the station", owner=None, due_on=None, today=today()
        )
        if due_in_days is not None:
            action.due_on = today() + timedelta(days=due_in_days)
        action_id = action.id
        db.session.commit()
    return action_id


def state(app, tenant, action_id: int) -> dict:
    with in_tenant(app, tenant):
        db.session.expire_all()
        action = db.session.get(CorrectiveAction, action_id)
        return {
            "status": action.status,
            "version": action.version,
            "evidence": action.evidence,
            "photos": len(action.photos),
            "events": [(e.from_status, e.to_status, e.comment) for e in action.events],
            "root_cause": action.finding.root_cause,
            "effective": action.effective,
            "files": db.session.scalar(sa.select(sa.func.count()).select_from(StoredFile)),
        }


def set_fields(app, tenant, action_id: int, **values) -> None:
    with in_tenant(app, tenant):
        action = db.session.get(CorrectiveAction, action_id)
        for name, value in values.items():
            setattr(action, name, value)
        db.session.commit()


# --- the whole life of an action over HTTP -----------------------------------------------------------------


def test_action_lifecycle_over_http(app, client, alpha):
    action_id = new_action(app, alpha)
    sign_in_as(client, alpha, "manager")

    shown = get(client, alpha, page(action_id))
    assert shown.status_code == 200
    assert "Soldering station not calibrated" in shown.text and "Calibrate the station" in shown.text
    with in_tenant(app, alpha):
        inspection_id = db.session.get(CorrectiveAction, action_id).finding.inspection_id
    (link,) = re.findall(r'<a href="([^"]+)" data-testid="inspection-link"', shown.text)
    assert link == f"/admin/inspections/work/{inspection_id}/"
    assert get(client, alpha, link).status_code == 200
    assert 'data-testid="verify-form"' not in shown.text  # QA's step, not the manager's
    response = post(client, alpha, step(action_id, "start"), form_fields(shown.text, "start-form"))
    assert response.status_code == 302
    assert state(app, alpha, action_id)["status"] is ActionStatus.IN_PROGRESS

    # Done without evidence: refused, nothing saved (not even the photo sent along).
    before = state(app, alpha, action_id)
    fields = form_fields(get(client, alpha, page(action_id)).text, "complete-form")
    refused = post(
        client,
        alpha,
        step(action_id, "complete"),
        {**fields, "complete-evidence": "   ", "complete-photos": (io.BytesIO(PNG + b"a"), "a.png")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 400
    assert "Describe the evidence that the problem is fixed." in refused.text
    assert state(app, alpha, action_id) == before

    # A file that is not a photo: refused, the evidence typed stays on the page, nothing saved.
    refused = post(
        client,
        alpha,
        step(action_id, "complete"),
        {
            **fields,
            "complete-evidence": "Recalibrated on 3 May, sticker attached",
            "complete-photos": (io.BytesIO(b"%PDF-1.4 not a photo"), "report.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert refused.status_code == 400
    assert "Recalibrated on 3 May, sticker attached" in refused.text
    assert state(app, alpha, action_id) == before

    done = post(
        client,
        alpha,
        step(action_id, "complete"),
        {
            **fields,
            "complete-evidence": "Recalibrated on 3 May, sticker attached",
            "complete-photos": (io.BytesIO(PNG + b"evidence-1"), "sticker.png"),
        },
        content_type="multipart/form-data",
    )
    assert done.status_code == 302
    after = state(app, alpha, action_id)
    assert after["status"] is ActionStatus.DONE and after["photos"] == 1
    assert after["evidence"] == "Recalibrated on 3 May, sticker attached"
    shown = get(client, alpha, page(action_id))
    (file_url,) = re.findall(r'<img src="(/files/\d+)"', shown.text)
    photo = get(client, alpha, file_url)
    assert photo.status_code == 200 and photo.mimetype == "image/png"
    assert 'data-testid="complete-form"' not in shown.text  # waiting for QA now

    # QA reopens: a comment is required; the owner sees it in the history.
    sign_in_as(client, alpha, "qa")
    shown = get(client, alpha, page(action_id))
    assert 'data-testid="verify-form"' in shown.text and 'data-testid="reopen-form"' in shown.text
    fields = form_fields(shown.text, "reopen-form")
    refused = post(client, alpha, step(action_id, "reopen"), {**fields, "reopen-comment": " "})
    assert refused.status_code == 400 and "Say why the action is reopened." in refused.text
    assert state(app, alpha, action_id)["status"] is ActionStatus.DONE
    response = post(
        client, alpha, step(action_id, "reopen"), {**fields, "reopen-comment": "Sticker photo is unreadable"}
    )
    assert response.status_code == 302
    assert state(app, alpha, action_id)["status"] is ActionStatus.REOPENED

    sign_in_as(client, alpha, "manager")
    shown = get(client, alpha, page(action_id))
    assert "Sticker photo is unreadable" in shown.text
    fields = form_fields(shown.text, "complete-form")
    response = post(
        client,
        alpha,
        step(action_id, "complete"),
        {
            **fields,
            "complete-evidence": "New photo of the sticker",
            "complete-photos": (io.BytesIO(PNG + b"evidence-2"), "sticker2.png"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert state(app, alpha, action_id)["photos"] == 2

    # The inspector cannot verify; QA can.
    sign_in_as(client, alpha, "inspector")
    shown = get(client, alpha, page(action_id))
    assert shown.status_code == 200 and 'data-testid="verify-form"' not in shown.text
    refused = post(
        client, alpha, step(action_id, "verify"), {"version": str(state(app, alpha, action_id)["version"])}
    )
    assert refused.status_code == 409 and "Only QA verifies corrective actions." in refused.text
    assert state(app, alpha, action_id)["status"] is ActionStatus.DONE

    sign_in_as(client, alpha, "qa")
    fields = form_fields(get(client, alpha, page(action_id)).text, "verify-form")
    response = post(
        client, alpha, step(action_id, "verify"), {**fields, "verify-comment": "Sticker readable"}
    )
    assert response.status_code == 302
    final = state(app, alpha, action_id)
    assert final["status"] is ActionStatus.VERIFIED
    assert [to for _from, to, _comment in final["events"]] == [
        ActionStatus.OPEN,
        ActionStatus.IN_PROGRESS,
        ActionStatus.DONE,
        ActionStatus.REOPENED,
        ActionStatus.DONE,
        ActionStatus.VERIFIED,
    ]
    history = get(client, alpha, page(action_id)).text
    assert history.count('data-testid="event"') == 6 and "Sticker readable" in history


def test_failed_effectiveness_check_reopens_the_action(app, client, alpha):
    action_id = new_action(app, alpha)
    with in_tenant(app, alpha):
        action = db.session.get(CorrectiveAction, action_id)
        manager, qa = person(alpha, "manager"), person(alpha, "qa")
        services.complete_action(action, manager, "Done")
        services.verify_action(action, qa, today=today())
        action.effectiveness_due_on = today()  # the policy's days have passed
        db.session.commit()

    sign_in_as(client, alpha, "qa")
    listing = get(client, alpha, LIST)
    due_section = listing.text.split('data-testid="checks-due"')[1].split("</table>")[0]
    assert f'data-action-id="{action_id}"' in due_section

    fields = form_fields(get(client, alpha, page(action_id)).text, "effectiveness-form")
    refused = post(client, alpha, step(action_id, "effectiveness"), {**fields, "effect-effective": "no"})
    assert refused.status_code == 400 and "Say what is still wrong." in refused.text
    assert state(app, alpha, action_id)["status"] is ActionStatus.VERIFIED
    response = post(
        client,
        alpha,
        step(action_id, "effectiveness"),
        {**fields, "effect-effective": "no", "effect-note": "Station drifted again"},
    )
    assert response.status_code == 302
    after = state(app, alpha, action_id)
    assert after["status"] is ActionStatus.REOPENED and after["effective"] is False
    assert after["events"][-1][2] == "Station drifted again"
    listing = get(client, alpha, LIST)
    assert 'data-testid="checks-due"' not in listing.text  # no longer due


def test_effective_check_leaves_the_action_verified(app, client, alpha):
    action_id = new_action(app, alpha)
    with in_tenant(app, alpha):
        action = db.session.get(CorrectiveAction, action_id)
        services.complete_action(action, person(alpha, "manager"), "Done")
        services.verify_action(action, person(alpha, "qa"), today=today())
        db.session.commit()
    sign_in_as(client, alpha, "qa")
    fields = form_fields(get(client, alpha, page(action_id)).text, "effectiveness-form")
    response = post(client, alpha, step(action_id, "effectiveness"), {**fields, "effect-effective": "yes"})
    assert response.status_code == 302
    after = state(app, alpha, action_id)
    assert after["status"] is ActionStatus.VERIFIED and after["effective"] is True
    assert 'data-testid="effectiveness-form"' not in get(client, alpha, page(action_id)).text


# --- roles and versions ------------------------------------------------------------------------------------


def test_roles(app, client, alpha):
    action_id = new_action(app, alpha)
    version = str(state(app, alpha, action_id)["version"])
    before = state(app, alpha, action_id)

    # Technicians have no corrective-action screens at all.
    sign_in_as(client, alpha, "tech")
    assert get(client, alpha, page(action_id)).status_code == 403
    assert get(client, alpha, LIST).status_code == 403
    assert post(client, alpha, step(action_id, "start"), {"version": version}).status_code == 403

    # Another store's manager: as if the action did not exist.
    sign_in_as(client, alpha, "manager2")
    response = get(client, alpha, page(action_id))
    assert response.status_code == 404 and "Soldering station" not in response.text
    for name in ("start", "complete", "verify", "reopen", "effectiveness", "root-cause"):
        response = post(client, alpha, step(action_id, name), {"version": version, "complete-evidence": "x"})
        assert response.status_code == 404, name
    assert f'data-action-id="{action_id}"' not in get(client, alpha, f"{LIST}?scope=all&status=any").text

    # The inspector reads it but neither works on it nor verifies it.
    sign_in_as(client, alpha, "inspector")
    shown = get(client, alpha, page(action_id))
    assert shown.status_code == 200
    assert 'data-testid="start-form"' not in shown.text and 'data-testid="root-cause-form"' not in shown.text
    assert post(client, alpha, step(action_id, "start"), {"version": version}).status_code == 409
    assert post(client, alpha, step(action_id, "verify"), {"version": version}).status_code == 409
    assert state(app, alpha, action_id) == before

    # An unknown step or a missing version changes nothing either.
    sign_in_as(client, alpha, "manager")
    assert post(client, alpha, step(action_id, "delete"), {"version": version}).status_code == 404
    assert post(client, alpha, step(action_id, "start"), {}).status_code == 400
    assert state(app, alpha, action_id) == before


def test_stale_version_is_409_and_keeps_the_input(app, client, alpha):
    action_id = new_action(app, alpha)
    sign_in_as(client, alpha, "manager")
    old_page = get(client, alpha, page(action_id)).text
    start = form_fields(old_page, "start-form")
    complete = form_fields(old_page, "complete-form")
    cause = form_fields(old_page, "root-cause-form")
    with in_tenant(app, alpha):  # someone else starts it meanwhile
        services.start_action(db.session.get(CorrectiveAction, action_id), person(alpha, "owner"))
        db.session.commit()
    before = state(app, alpha, action_id)

    assert post(client, alpha, step(action_id, "start"), start).status_code == 409
    refused = post(
        client,
        alpha,
        step(action_id, "complete"),
        {**complete, "complete-evidence": "Typed on the old page"},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 409
    assert "Someone else changed this record" in refused.text and "Typed on the old page" in refused.text
    assert state(app, alpha, action_id) == before

    # The root-cause form carries the finding's version.
    with in_tenant(app, alpha):
        db.session.get(CorrectiveAction, action_id).finding.root_cause = "Edited elsewhere"
        db.session.commit()
    refused = post(client, alpha, step(action_id, "root-cause"), {**cause, "cause-root_cause": "Mine"})
    assert refused.status_code == 409 and "Mine" in refused.text
    assert state(app, alpha, action_id)["root_cause"] == "Edited elsewhere"


def test_root_cause_by_store_manager_and_qa(app, client, alpha):
    action_id = new_action(app, alpha)
    sign_in_as(client, alpha, "manager")
    fields = form_fields(get(client, alpha, page(action_id)).text, "root-cause-form")
    response = post(
        client,
        alpha,
        step(action_id, "root-cause"),
        {**fields, "cause-root_cause": "  No calibration plan  "},
    )
    assert response.status_code == 302
    assert state(app, alpha, action_id)["root_cause"] == "No calibration plan"
    assert "No calibration plan" in get(client, alpha, page(action_id)).text

    sign_in_as(client, alpha, "qa")
    fields = form_fields(get(client, alpha, page(action_id)).text, "root-cause-form")
    assert fields["cause-root_cause"].strip() == "No calibration plan"  # browsers drop the first newline
    post(client, alpha, step(action_id, "root-cause"), {**fields, "cause-root_cause": "No plan; no tool"})
    assert state(app, alpha, action_id)["root_cause"] == "No plan; no tool"

    sign_in_as(client, alpha, "inspector")
    with in_tenant(app, alpha):
        version = str(db.session.get(CorrectiveAction, action_id).finding.version)
    refused = post(
        client, alpha, step(action_id, "root-cause"), {"version": version, "cause-root_cause": "X"}
    )
    assert refused.status_code == 409
    assert state(app, alpha, action_id)["root_cause"] == "No plan; no tool"


# --- the lists ---------------------------------------------------------------------------------------------


def row_ids(html: str, table: str = "actions") -> list[int]:
    if f'data-testid="{table}"' not in html:
        return []
    section = html.split(f'data-testid="{table}"')[1].split("</table>")[0]
    return [int(i) for i in re.findall(r'data-action-id="(\d+)"', section)]


def test_my_actions_put_overdue_first(app, client, alpha):
    later = new_action(app, alpha, due_in_days=10)
    overdue = new_action(app, alpha, due_in_days=-3)
    soon = new_action(app, alpha, due_in_days=2)
    other_store = new_action(app, alpha, "S2", due_in_days=-5)

    sign_in_as(client, alpha, "manager")
    listing = get(client, alpha, LIST)
    assert listing.status_code == 200
    assert row_ids(listing.text) == [overdue, soon, later]  # the seeded verified one is not pending
    assert "3 days overdue" in listing.text
    assert other_store not in row_ids(get(client, alpha, f"{LIST}?scope=all").text)
    assert 'data-testid="checks-due-section"' not in listing.text  # QA's

    # QA sees every store, filtered by store, status and overdue.
    sign_in_as(client, alpha, "qa")
    everything = row_ids(get(client, alpha, LIST).text)
    assert {later, overdue, soon, other_store} <= set(everything)
    assert everything[:2] == [other_store, overdue]  # overdue first, the most overdue on top
    s2 = alpha.store_ids["S2"]
    assert row_ids(get(client, alpha, f"{LIST}?store={s2}").text) == [other_store]
    assert row_ids(get(client, alpha, f"{LIST}?overdue=1").text) == [other_store, overdue]
    verified = row_ids(get(client, alpha, f"{LIST}?status=verified").text)
    assert verified and not {later, overdue, soon, other_store} & set(verified)
    assert get(client, alpha, f"{LIST}?status=bogus").status_code == 200  # falls back to "to do"

    # A store outside the user's: 404, not an empty list.
    sign_in_as(client, alpha, "manager")
    assert get(client, alpha, f"{LIST}?store={s2}").status_code == 404
    assert get(client, alpha, f"{LIST}?store=abc").status_code == 404


# --- rewards and penalties ---------------------------------------------------------------------------------


def rewards_count(app, tenant) -> int:
    with in_tenant(app, tenant):
        return db.session.scalar(sa.select(sa.func.count()).select_from(RewardPenalty))


def ids_of(app, tenant) -> dict:
    with in_tenant(app, tenant):
        inspections = {
            name: db.session.scalars(
                sa.select(Inspection.id).where(Inspection.store_id == tenant.store_ids[name])
            ).first()
            for name in ("S1", "S2")
        }
        return {
            "manager": person(tenant, "manager").id,
            "manager2": person(tenant, "manager2").id,
            "qa": person(tenant, "qa").id,
            "inspections": inspections,
        }


def test_reward_form_validation_and_recording(app, client, alpha):
    ids = ids_of(app, alpha)
    s1, s2 = alpha.store_ids["S1"], alpha.store_ids["S2"]
    sign_in_as(client, alpha, "qa")
    form = get(client, alpha, NEW_REWARD)
    assert form.status_code == 200
    base = {
        "kind": "penalty",
        "store": str(s1),
        "staff": "",
        "inspection": "",
        "decided_on": "",
        "reason": "Unlabelled parts on the bench",
        "measure": "Written warning",
        "amount": "",
    }
    count = rewards_count(app, alpha)

    refusals = [
        ({"reason": "  "}, "Give the reason."),
        ({"amount": "12.345"}, "Enter an amount such as 200.00"),
        ({"amount": "-5"}, "Enter an amount such as 200.00"),
        ({"store": ""}, "Choose the store."),
        ({"staff": str(ids["manager2"])}, "does not work at this store"),  # S2's manager, store S1
        ({"staff": str(ids["qa"])}, "Not a valid choice"),  # HQ staff are not a store's people
        ({"inspection": str(ids["inspections"]["S2"])}, "The inspection is of another store."),
        ({"kind": "bonus"}, "Not a valid choice"),
    ]
    for change, message in refusals:
        refused = post(client, alpha, NEW_REWARD, {**base, **change})
        assert refused.status_code == 400, change
        assert message in refused.text, change
        assert "Written warning" in refused.text  # what was typed stays
    assert rewards_count(app, alpha) == count

    saved = post(
        client,
        alpha,
        NEW_REWARD,
        {
            **base,
            "staff": str(ids["manager"]),
            "inspection": str(ids["inspections"]["S1"]),
            "amount": "200,5",
        },
    )
    assert saved.status_code == 302
    with in_tenant(app, alpha):
        record = db.session.scalars(sa.select(RewardPenalty).order_by(RewardPenalty.id.desc())).first()
        assert (record.kind, record.store_id, record.staff_id, record.inspection_id) == (
            RewardKind.PENALTY, s1, ids["manager"], ids["inspections"]["S1"],
        )  # fmt: skip
        assert record.amount_cents == 20050 and record.decided_on == today()
        assert record.decided_by_id == ids["qa"]

    listing = get(client, alpha, REWARDS)
    assert "Unlabelled parts on the bench" in listing.text and 'data-testid="record-reward"' in listing.text
    penalties = get(client, alpha, f"{REWARDS}?kind=penalty").text
    assert "Unlabelled parts on the bench" in penalties and 'data-kind="reward"' not in penalties
    rewards = get(client, alpha, f"{REWARDS}?kind=reward").text
    assert "Unlabelled parts on the bench" not in rewards and 'data-kind="reward"' in rewards
    only_s2 = get(client, alpha, f"{REWARDS}?store={s2}").text
    assert "Unlabelled parts on the bench" not in only_s2 and alpha.store_sentinel("S2") in only_s2


def test_store_managers_read_their_stores_rewards_only(app, client, alpha):
    sign_in_as(client, alpha, "manager")
    listing = get(client, alpha, REWARDS)
    assert listing.status_code == 200
    assert f"Reward {alpha.store_sentinel('S1')}" in listing.text
    assert f"Reward {alpha.store_sentinel('S2')}" not in listing.text
    assert 'data-testid="record-reward"' not in listing.text
    count = rewards_count(app, alpha)
    assert get(client, alpha, NEW_REWARD).status_code == 403
    response = post(
        client, alpha, NEW_REWARD, {"kind": "reward", "store": str(alpha.store_ids["S1"]), "reason": "Me"}
    )
    assert response.status_code == 403
    assert rewards_count(app, alpha) == count
    assert get(client, alpha, f"{REWARDS}?store={alpha.store_ids['S2']}").status_code == 404

    sign_in_as(client, alpha, "tech")
    assert get(client, alpha, REWARDS).status_code == 403


# --- isolation ---------------------------------------------------------------------------------------------


def test_tenants_are_isolated_on_every_route(app, client, alpha, beta):
    # A beta action whose id alpha does not have.
    alpha_max = max(alpha.ids["corrective_actions"])
    beta_id = 0
    while beta_id <= alpha_max:
        beta_id = new_action(app, beta)
    before_beta = state(app, beta, beta_id)
    beta_ids = ids_of(app, beta)
    alpha_rewards = rewards_count(app, alpha)

    for key in ("owner", "qa", "manager", "inspector"):
        sign_in_as(client, alpha, key)
        response = get(client, alpha, page(beta_id))
        assert response.status_code == 404 and beta.sentinel not in response.text
        for name in ("start", "complete", "verify", "reopen", "effectiveness", "root-cause"):
            response = post(
                client,
                alpha,
                step(beta_id, name),
                {"version": "1", "complete-evidence": "x", "reopen-comment": "x"},
            )
            assert response.status_code == 404 and beta.sentinel not in response.text, name
        for path in (LIST, f"{LIST}?scope=all&status=any", REWARDS):
            response = get(client, alpha, path)
            assert response.status_code == 200 and beta.sentinel not in response.text, path
        # Ids both tenants have show alpha's own rows, never beta's.
        for shared in alpha.ids["corrective_actions"]:
            assert beta.sentinel not in get(client, alpha, page(shared)).text
    assert state(app, beta, beta_id) == before_beta

    # QA's reward form offers and accepts only alpha's people and inspections.
    sign_in_as(client, alpha, "qa")
    form = get(client, alpha, NEW_REWARD)
    assert form.status_code == 200 and beta.sentinel not in form.text
    alpha_ids = ids_of(app, alpha)
    for change in (
        {"staff": str(max(beta_ids["manager"], alpha_ids["manager"]) + 1000)},
        {"inspection": str(max(beta_ids["inspections"].values()) + 1000)},
        {"store": str(max(beta.store_ids.values()) + 1000)},
    ):
        data = {"kind": "reward", "store": str(alpha.store_ids["S1"]), "reason": "Good work", **change}
        response = post(client, alpha, NEW_REWARD, data)
        assert response.status_code == 400 and beta.sentinel not in response.text, change
    assert rewards_count(app, alpha) == alpha_rewards

    # Beta's session does not open alpha's pages (cookies are per host).
    client.post("/logout", base_url=url(alpha))
    sign_in(client, beta, "owner")
    for path in (LIST, page(alpha.ids["corrective_actions"][0]), REWARDS, NEW_REWARD):
        assert get(client, alpha, path).status_code == 302, path


def test_signed_out_and_out_of_range_ids(app, client, alpha):
    response = get(client, alpha, LIST)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert get(client, alpha, REWARDS).status_code == 302
    sign_in_as(client, alpha, "qa")
    for raw in ("0", "2147483648", "99999999999999999999"):
        assert get(client, alpha, f"{LIST}{raw}/").status_code == 404
        assert post(client, alpha, f"{LIST}{raw}/start", {"version": "1"}).status_code == 404


def test_event_and_photo_rows_stay_in_the_actions_store(app, client, alpha):
    """Evidence photos are the store's files: the other store's manager cannot download them."""
    action_id = new_action(app, alpha)
    with in_tenant(app, alpha):
        action = db.session.get(CorrectiveAction, action_id)
        services.complete_action(action, person(alpha, "manager"), "Done", photos=[(PNG + b"s1", "s1.png")])
        db.session.commit()
        (photo,) = db.session.scalars(
            sa.select(CorrectiveActionPhoto).where(CorrectiveActionPhoto.action_id == action_id)
        ).all()
        file_id, store_id = photo.file_id, photo.store_id
        events = db.session.scalars(
            sa.select(CorrectiveActionEvent.store_id).where(CorrectiveActionEvent.action_id == action_id)
        ).all()
        assert set(events) == {store_id} == {alpha.store_ids["S1"]}
        assert db.session.get(Finding, action.finding_id).store_id == store_id
    sign_in_as(client, alpha, "manager2")
    assert get(client, alpha, f"/files/{file_id}").status_code == 404
    sign_in_as(client, alpha, "manager")
    assert get(client, alpha, f"/files/{file_id}").status_code == 200
