"""Duplicate customers (HB §7.1.2): detection, "not a duplicate", the merge and its screens.

The merge tests take alpha's two seeded customers (one per store), which between them have
devices, orders, messages, complaints, follow-ups and satisfaction surveys, and merge the S2
customer into the S1 customer.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from repairqc.accounts.permissions import Grants
from repairqc.audit.models import AuditAction, AuditLog
from repairqc.dataquality import duplicates, services
from repairqc.dataquality.models import CustomerMerge, DuplicateDismissal
from repairqc.db import db, utcnow
from repairqc.errors import Conflict, DomainError
from repairqc.repairs.models import Customer, RepairOrder
from tests.conftest import in_tenant, sign_in, staff, store

#: Every table the merge must move, as the models declare them today.
EXPECTED_REFERENCES = {
    "complaints.customer_id",
    "customer_messages.customer_id",
    "devices.customer_id",
    "follow_ups.customer_id",
    "repair_orders.customer_id",
    "satisfaction_surveys.customer_id",
}
DUPLICATES = "/admin/data-quality/duplicates/"


def url(tenant) -> str:
    return f"http://{tenant.host}"


def seeded_customers(tenant) -> tuple[Customer, Customer]:
    """The first customer of S1 and of S2."""
    return tuple(
        db.session.execute(
            sa.select(Customer).where(Customer.store_id == tenant.store_ids[name]).order_by(Customer.id)
        )
        .scalars()
        .first()
        for name in ("S1", "S2")
    )


def give_a_survey_and_follow_up(customer: Customer) -> None:
    """The seed gives these to some customers only; the merge test needs them on the merged one."""
    from repairqc.feedback.models import FollowUp, SatisfactionSurvey

    order = (
        db.session.execute(sa.select(RepairOrder).where(RepairOrder.customer_id == customer.id))
        .scalars()
        .first()
    )
    db.session.add_all(
        (
            SatisfactionSurvey(
                store_id=order.store_id,
                order_id=order.id,
                customer_id=customer.id,
                send_after=utcnow(),
                nonce=uuid.uuid4().hex,
            ),
            FollowUp(
                store_id=order.store_id,
                order_id=order.id,
                customer_id=customer.id,
                sequence=9,
                days_after=3,
                due_on=utcnow().date(),
            ),
        )
    )
    db.session.flush()


def counts(customer_id: int) -> dict[str, int]:
    result = {}
    for ref in services.customer_references():
        result[ref.name] = db.session.scalar(
            sa.select(sa.func.count()).select_from(ref.model).where(ref.column == customer_id)
        )
    return result


def add_customers(tenant, *specs: dict, name: str = "S1") -> list[int]:
    customers = [Customer(store=store(tenant, name), **spec) for spec in specs]
    db.session.add_all(customers)
    db.session.flush()
    return [c.id for c in customers]


def pairs_found() -> dict[tuple[int, int], duplicates.Pair]:
    return {(p.low, p.high): p for g in duplicates.find_duplicate_groups(None) for p in g.pairs}


# --- detection ---------------------------------------------------------------------------------------


def test_name_keys_fold_case_width_accents_punctuation_and_chinese_spacing():
    assert duplicates.name_key("LI, Wei") == duplicates.name_key("wei  li") == "li wei"
    assert duplicates.name_key("ＬＩ　Ｗｅｉ") == "li wei"  # full-width letters and space
    assert duplicates.name_key("José Pérez") == duplicates.name_key("jose perez")
    assert (
        duplicates.name_key("张 伟") == duplicates.name_key("张·伟") == duplicates.name_key("张伟") == "张伟"
    )
    assert duplicates.name_key("张伟") != duplicates.name_key("张玮")


def test_same_phone_same_email_and_similar_names_are_found_with_their_reasons(app, alpha):
    with in_tenant(app, alpha):
        ids = add_customers(
            alpha,
            {"full_name": "Wang Fang", "phone": "+86 138-0013 8000"},
            {"full_name": "Zhou Min", "phone": "008613800138000"},
            {"full_name": "Chen Jie", "email": " Chen.Jie@Example.COM "},
            {"full_name": "Liu Yang", "email": "chen.jie@example.com"},
            {"full_name": "张 伟"},
            {"full_name": "张伟"},
            {"full_name": "Katherine Johnson"},
            {"full_name": "JOHNSON, Katharine"},
            {"full_name": "Unrelated Somebody", "phone": "+86 139 0000 0001", "email": "x@example.com"},
        )
        phone_a, phone_b, mail_a, mail_b, zh_a, zh_b, en_a, en_b, lone = ids
        found = pairs_found()
        assert found[(phone_a, phone_b)].reasons == {duplicates.SAME_PHONE}
        assert found[(mail_a, mail_b)].reasons == {duplicates.SAME_EMAIL}
        assert found[(zh_a, zh_b)].reasons == {duplicates.SIMILAR_NAME}
        assert found[(zh_a, zh_b)].name_score == 1.0
        assert found[(en_a, en_b)].reasons == {duplicates.SIMILAR_NAME}
        assert 0.85 <= found[(en_a, en_b)].name_score < 1.0
        assert not any(lone in key for key in found)
        labels = found[(en_a, en_b)].reason_labels()
        assert labels[0].startswith("Similar name (")


def test_hashes_under_an_older_lookup_key_still_match_during_a_rotation(app, alpha, monkeypatch):
    with in_tenant(app, alpha):
        monkeypatch.setitem(app.config, "LOOKUP_KEY", "old-key")
        (old,) = add_customers(alpha, {"full_name": "Old Key", "phone": "+86 138 0013 8123"})
        monkeypatch.setitem(app.config, "LOOKUP_KEY", "new-key,old-key")
        (new,) = add_customers(alpha, {"full_name": "Other Name", "phone": "0086 138 0013 8123"})
        assert db.session.get(Customer, old).phone_lookup != db.session.get(Customer, new).phone_lookup
        assert pairs_found()[(old, new)].reasons == {duplicates.SAME_PHONE}


def test_similar_names_are_found_among_many_without_comparing_every_pair(app, alpha):
    """Sorted neighbourhood: 3,000 distinct names, one near-duplicate pair, quickly."""
    with in_tenant(app, alpha):
        people = [
            duplicates.Person(i, 1, f"Person {i:05d} Q{i * 7919 % 10007}", None, None) for i in range(3000)
        ]
        people.append(duplicates.Person(5000, 1, "Person 01234 Q2446X", None, None))
        found = duplicates.candidate_pairs(people)
        assert (1234, 5000) in found
        assert len(found) < 3000  # not every neighbour is "similar"


def test_not_a_duplicate_is_remembered(app, alpha):
    with in_tenant(app, alpha):
        a, b = add_customers(
            alpha, {"full_name": "Ma Lin", "phone": "+86 137 1111 2222"}, {"full_name": "Ma Lin"}
        )
        assert (a, b) in pairs_found()
        grants = Grants.of(staff(alpha, "qa"))
        first = services.dismiss_pair(
            grants, db.session.get(Customer, b), db.session.get(Customer, a), staff(alpha, "qa"), "Twins"
        )
        again = services.dismiss_pair(
            grants, db.session.get(Customer, a), db.session.get(Customer, b), staff(alpha, "qa")
        )
        assert first.id == again.id and (first.customer_id, first.other_customer_id) == (a, b)
        assert (a, b) not in pairs_found()


# --- the merge ---------------------------------------------------------------------------------------


def test_references_are_found_from_the_models():
    found = {ref.name for ref in services.customer_references()}
    assert found >= EXPECTED_REFERENCES
    assert "duplicate_dismissals.customer_id" not in found  # the merge handles those itself


def test_merge_keeps_every_record_takes_the_chosen_values_and_is_audited(app, alpha):
    with in_tenant(app, alpha):
        survivor, merged = seeded_customers(alpha)
        merged.email = "merged@example.com"
        merged.notes = "Prefers afternoons"
        give_a_survey_and_follow_up(merged)
        before_survivor, before_merged = counts(survivor.id), counts(merged.id)
        for table in EXPECTED_REFERENCES:  # the seed gives the merged customer one of each
            assert before_merged[table] >= 1, table
        survivor_id, merged_id, merged_name = survivor.id, merged.id, merged.full_name
        owner = staff(alpha, "owner")
        record = services.merge_customers(
            Grants.of(owner),
            survivor,
            merged,
            keep={"email": services.MERGED, "notes": services.MERGED, "full_name": services.SURVIVOR},
            survivor_version=survivor.version,
            merged_version=merged.version,
            actor=owner,
        )
        db.session.expire_all()
        after = counts(survivor_id)
        assert after == {t: before_survivor[t] + before_merged[t] for t in after}
        assert set(counts(merged_id).values()) == {0}
        assert db.session.get(Customer, merged_id) is None
        kept = db.session.get(Customer, survivor_id)
        assert (kept.email, kept.notes) == ("merged@example.com", "Prefers afternoons")
        assert kept.full_name != merged_name and kept.phone is not None
        # The merged customer's e-mail now finds the survivor through its search key.
        assert [
            c.id
            for c in db.session.execute(
                sa.select(Customer).where(Customer.email_lookup == kept.email_lookup)
            ).scalars()
        ] == [survivor_id]

        record = db.session.get(CustomerMerge, record.id)
        assert (record.survivor_id, record.merged_id, record.merged_by_id) == (
            survivor_id,
            merged_id,
            owner.id,
        )
        assert record.merged_snapshot["full_name"] == merged_name
        assert "phone" not in record.merged_snapshot and "email" not in record.merged_snapshot
        assert record.moved_counts == {t: n for t, n in before_merged.items() if n}
        assert record.field_choices["email"] == "merged" and record.field_choices["phone"] == "survivor"

        log = db.session.execute(sa.select(AuditLog).order_by(AuditLog.id.desc()).limit(200)).scalars().all()
        entries = {(e.table_name, e.row_id, e.action) for e in log}
        assert ("customer_merges", str(record.id), AuditAction.INSERT) in entries
        assert ("customers", str(merged_id), AuditAction.DELETE) in entries
        assert ("customers", str(survivor_id), AuditAction.UPDATE) in entries
        moved = [
            e
            for e in log
            if e.table_name == "repair_orders"
            and e.action is AuditAction.UPDATE
            and (e.after or {}).get("customer_id") == survivor_id
        ]
        assert len(moved) == before_merged["repair_orders.customer_id"]
        deleted = next(e for e in log if e.table_name == "customers" and e.action is AuditAction.DELETE)
        assert deleted.before["email"] == "***"  # encrypted values never reach the log


def test_a_stale_version_or_an_already_merged_customer_is_a_conflict_and_nothing_changes(app, alpha):
    with in_tenant(app, alpha):
        survivor, merged = seeded_customers(alpha)
        owner = staff(alpha, "owner")
        before = counts(merged.id)
        try:
            services.merge_customers(
                Grants.of(owner),
                survivor,
                merged,
                keep={},
                survivor_version=survivor.version,
                merged_version=merged.version - 1 or 99,
                actor=owner,
            )
            raise AssertionError("a stale version was accepted")
        except Conflict as conflict:
            assert "changed since the comparison" in conflict.message
        assert counts(merged.id) == before
        services.merge_customers(
            Grants.of(owner),
            survivor,
            merged,
            keep={},
            survivor_version=survivor.version,
            merged_version=merged.version,
            actor=owner,
        )
        try:
            services.load_for_merge(merged.id, None)
            raise AssertionError("a merged customer was loaded")
        except Conflict as conflict:
            assert conflict.status_code == 409 and f"#{survivor.id}" in conflict.message


def test_bad_merge_requests_are_refused_with_a_message(app, alpha):
    with in_tenant(app, alpha):
        survivor, merged = seeded_customers(alpha)
        owner = staff(alpha, "owner")
        before = (counts(survivor.id), counts(merged.id))
        cases = [
            (survivor, survivor, {}, "cannot be merged into itself"),
            (survivor, merged, {"passcode": "merged"}, "Unknown field"),
            (survivor, merged, {"phone": "both"}, "Choose which customer's"),
        ]
        for a, b, keep, message in cases:
            try:
                services.merge_customers(
                    Grants.of(owner),
                    a,
                    b,
                    keep=keep,
                    survivor_version=a.version,
                    merged_version=b.version,
                    actor=owner,
                )
                raise AssertionError(f"{keep} was accepted")
            except DomainError as refusal:
                assert message in refusal.message and refusal.status_code == 400
        assert (counts(survivor.id), counts(merged.id)) == before
        try:
            services.load_for_merge(2_000_000, None)
            raise AssertionError("an unknown customer was loaded")
        except DomainError as refusal:
            assert refusal.status_code == 404


def test_who_may_merge_and_dismiss_follows_the_matrix(app, alpha):
    with in_tenant(app, alpha):
        s1, s2 = seeded_customers(alpha)
        (other_s1,) = add_customers(alpha, {"full_name": "Second S1"})
        other_s1 = db.session.get(Customer, other_s1)
        grants = {
            key: Grants.of(staff(alpha, key)) for key in ("owner", "qa", "manager", "frontdesk", "auditor")
        }
        assert services.may_merge(grants["owner"], s1, s2)
        assert services.may_merge(grants["manager"], s1, other_s1)
        assert not services.may_merge(grants["manager"], s1, s2)  # S2 is not the manager's
        assert not services.may_merge(grants["qa"], s1, s2)  # QA may not delete customers
        assert not services.may_merge(grants["frontdesk"], s1, other_s1)
        assert services.may_dismiss(grants["qa"], s1, s2)
        assert services.may_dismiss(grants["manager"], s1, other_s1)
        assert not services.may_dismiss(grants["manager"], s1, s2)
        assert not services.may_dismiss(grants["auditor"], s1, s2)
        try:
            services.merge_customers(
                grants["manager"],
                s1,
                s2,
                keep={},
                survivor_version=s1.version,
                merged_version=s2.version,
                actor=staff(alpha, "manager"),
            )
            raise AssertionError("a manager merged across stores")
        except DomainError as refusal:
            assert refusal.status_code == 403


# --- the screens ---------------------------------------------------------------------------------------


def merge_form(a: Customer, b: Customer, survivor: str = "a", **keep: str) -> dict:
    data = {"survivor": survivor, "version_a": str(a.version), "version_b": str(b.version)}
    data.update({f"keep_{name}": keep.get(name, survivor) for name in services.MERGE_FIELDS})
    return data


def test_the_list_compare_and_merge_screens(app, client, alpha, monkeypatch):
    logged = []
    monkeypatch.setattr("repairqc.dataquality.views.log_data_access", lambda *a, **k: logged.append((a, k)))
    with in_tenant(app, alpha):
        a, b = add_customers(
            alpha,
            {"full_name": "Sun Li", "phone": "+86 136 5555 0000"},
            {"full_name": "Sun  Li", "email": "sun@example.com"},
        )
        db.session.commit()
    sign_in(client, alpha, "owner")
    page = client.get(DUPLICATES, base_url=url(alpha))
    assert page.status_code == 200 and f'data-pair="{a}-{b}"' in page.text and "Similar name" in page.text
    assert logged and logged[0][0] == ("view", "customer")
    compare = client.get(f"{DUPLICATES}merge?a={a}&b={b}", base_url=url(alpha))
    assert compare.status_code == 200 and 'data-testid="merge-submit"' in compare.text
    assert {k["record_id"] for _, k in logged[1:]} == {a, b}
    with in_tenant(app, alpha):
        ca, cb = db.session.get(Customer, a), db.session.get(Customer, b)
        form = merge_form(ca, cb, survivor="b", phone="a")
    done = client.post(f"{DUPLICATES}merge?a={a}&b={b}", base_url=url(alpha), data=form)
    assert done.status_code == 302
    with in_tenant(app, alpha):
        assert db.session.get(Customer, a) is None
        kept = db.session.get(Customer, b)
        assert (kept.full_name, kept.phone, kept.email) == ("Sun  Li", "+86 136 5555 0000", "sun@example.com")
    # The same form again: a was merged meanwhile.
    again = client.post(f"{DUPLICATES}merge?a={a}&b={b}", base_url=url(alpha), data=form)
    assert again.status_code == 409 and "was merged into customer" in again.text


def test_the_merge_screen_refuses_stale_pages_and_bad_input_with_nothing_changed(app, client, alpha):
    with in_tenant(app, alpha):
        s1, s2 = seeded_customers(alpha)
        a, b = s1.id, s2.id
        form = merge_form(s1, s2)
        before = (counts(a), counts(b))
    sign_in(client, alpha, "owner")
    stale = dict(form, version_b=str(int(form["version_b"]) + 5))
    assert client.post(f"{DUPLICATES}merge?a={a}&b={b}", base_url=url(alpha), data=stale).status_code == 409
    bad = client.post(f"{DUPLICATES}merge?a={a}&b={b}", base_url=url(alpha), data=dict(form, keep_phone="c"))
    assert bad.status_code == 400 and "Not a valid choice" in bad.text
    itself = client.post(f"{DUPLICATES}merge?a={a}&b={a}", base_url=url(alpha), data=form)
    assert itself.status_code == 400 and "cannot be merged into itself" in itself.text
    assert client.get(f"{DUPLICATES}merge?a={a}&b=999999", base_url=url(alpha)).status_code == 404
    assert client.get(f"{DUPLICATES}merge?a={a}&b=abc", base_url=url(alpha)).status_code == 404
    with in_tenant(app, alpha):
        assert (counts(a), counts(b)) == before


def test_store_managers_see_and_merge_only_within_their_stores(app, client, alpha):
    with in_tenant(app, alpha):
        s1, s2 = seeded_customers(alpha)
        form = merge_form(s1, s2)
        ids = (s1.id, s2.id)
    sign_in(client, alpha, "manager")
    page = client.get(DUPLICATES, base_url=url(alpha))
    assert page.status_code == 200 and f'data-pair="{ids[0]}-{ids[1]}"' not in page.text
    # The S2 customer is outside the manager's stores: 404, as if it did not exist.
    assert client.get(f"{DUPLICATES}merge?a={ids[0]}&b={ids[1]}", base_url=url(alpha)).status_code == 404
    assert (
        client.post(f"{DUPLICATES}merge?a={ids[0]}&b={ids[1]}", base_url=url(alpha), data=form).status_code
        == 404
    )
    sign_in(client, alpha, "qa")
    compare = client.get(f"{DUPLICATES}merge?a={ids[0]}&b={ids[1]}", base_url=url(alpha))
    assert compare.status_code == 200 and 'data-testid="merge-not-allowed"' in compare.text
    assert (
        client.post(f"{DUPLICATES}merge?a={ids[0]}&b={ids[1]}", base_url=url(alpha), data=form).status_code
        == 403
    )
    sign_in(client, alpha, "tech")
    assert client.get(DUPLICATES, base_url=url(alpha)).status_code in (302, 403)
    with in_tenant(app, alpha):
        assert db.session.get(Customer, ids[1]) is not None


def test_dismissing_on_the_screen(app, client, alpha):
    with in_tenant(app, alpha):
        s1, s2 = seeded_customers(alpha)
        a, b = s1.id, s2.id
    sign_in(client, alpha, "qa")
    assert f'data-pair="{a}-{b}"' in client.get(DUPLICATES, base_url=url(alpha)).text
    done = client.post(
        f"{DUPLICATES}dismiss?a={a}&b={b}", base_url=url(alpha), data={"note": "Different people"}
    )
    assert done.status_code == 302
    assert f'data-pair="{a}-{b}"' not in client.get(DUPLICATES, base_url=url(alpha)).text
    too_long = client.post(f"{DUPLICATES}dismiss?a={a}&b={b}", base_url=url(alpha), data={"note": "x" * 3000})
    assert too_long.status_code == 400
    with in_tenant(app, alpha):
        rows = (
            db.session.execute(
                sa.select(DuplicateDismissal).where(
                    DuplicateDismissal.customer_id.in_([a, b]),
                    DuplicateDismissal.other_customer_id.in_([a, b]),
                )
            )
            .scalars()
            .all()
        )
        assert [(r.customer_id, r.other_customer_id, r.note) for r in rows] == [(a, b, "Different people")]


def test_one_tenant_cannot_see_or_merge_the_others_customers(app, client, alpha, beta):
    with in_tenant(app, beta):
        b1, b2 = seeded_customers(beta)
        beta_ids = (b1.id, b2.id)
        extra = max(beta.ids["customers"])  # an id alpha does not have
        form = merge_form(b1, b2)
        before = (counts(b1.id), counts(b2.id))
        dismissals = db.session.scalar(sa.select(sa.func.count()).select_from(DuplicateDismissal))
    assert extra not in alpha.ids["customers"]
    sign_in(client, alpha, "owner")
    page = client.get(DUPLICATES, base_url=url(alpha))
    assert beta.sentinel not in page.text and alpha.sentinel in page.text
    low = min(alpha.ids["customers"])
    assert client.get(f"{DUPLICATES}merge?a={low}&b={extra}", base_url=url(alpha)).status_code == 404
    assert (
        client.post(f"{DUPLICATES}merge?a={low}&b={extra}", base_url=url(alpha), data=form).status_code == 404
    )
    assert client.post(f"{DUPLICATES}dismiss?a={low}&b={extra}", base_url=url(alpha)).status_code == 404
    with in_tenant(app, beta):
        assert (counts(beta_ids[0]), counts(beta_ids[1])) == before
        assert db.session.scalar(sa.select(sa.func.count()).select_from(DuplicateDismissal)) == dismissals


def test_the_generated_lists_of_the_data_quality_records_open_for_hq_only(app, client, alpha):
    """The decisions, merges and flags in the generated admin: HQ reads them, details included."""
    sign_in(client, alpha, "owner")
    for table in ("duplicate_dismissals", "customer_merges", "data_anomalies"):
        assert client.get(f"/admin/{table}/", base_url=url(alpha)).status_code == 200, table
        first = alpha.ids[table][0]
        details = client.get(f"/admin/{table}/details/?id={first}", base_url=url(alpha))
        assert details.status_code == 200 and alpha.sentinel in details.text, table
        assert client.get(f"/admin/{table}/new/", base_url=url(alpha)).status_code in (302, 403), table
    sign_in(client, alpha, "manager")
    for table in ("duplicate_dismissals", "customer_merges"):
        assert client.get(f"/admin/{table}/", base_url=url(alpha)).status_code in (302, 403), table


# --- scale and odd data ------------------------------------------------------------------------------


def test_name_score_is_the_common_subsequence_ratio_and_finds_whatever_difflib_found():
    """name_score is 2·LCS / (|a| + |b|), cut off below NAME_SIMILARITY; difflib's ratio (the
    finder's measure before rapidfuzz) is never above it, so no pair it found is lost."""
    import difflib
    import random

    def lcs(a: str, b: str) -> int:
        row = [0] * (len(b) + 1)
        for x in a:
            diagonal, row[0] = 0, 0
            for j, y in enumerate(b, start=1):
                diagonal, row[j] = row[j], diagonal + 1 if x == y else max(row[j], row[j - 1])
        return row[-1]

    rng = random.Random(7)
    alphabet = "abcdeij 张伟王丽"
    similar = 0
    for _ in range(20_000):
        a = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
        b = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
        if rng.random() < 0.5:  # a typo of a: one character changed, added or dropped
            at = rng.randrange(len(a))
            b = a[:at] + rng.choice(["", rng.choice(alphabet), a[at] + rng.choice(alphabet)]) + a[at + 1 :]
        expected = 1.0 if a == b else 2 * lcs(a, b) / (len(a) + len(b))
        score = duplicates.name_score(a, b)
        if expected >= duplicates.NAME_SIMILARITY:
            similar += 1
            assert abs(score - expected) < 1e-9, (a, b)
        else:
            assert score == 0.0, (a, b)
        if difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() >= duplicates.NAME_SIMILARITY:
            assert score >= duplicates.NAME_SIMILARITY, (a, b)
    assert similar > 100  # the sample holds similar pairs, not only different ones


def test_a_placeholder_shared_by_many_customers_is_reported_not_paired():
    """30 "walk-in" customers with the shop's number would be 435 pairs each way: none are
    proposed, the shared values are reported, and real pairs among them are still found."""
    people = [duplicates.Person(i, 1, "Walk-in", "shop-phone", None) for i in range(30)]
    people += [
        duplicates.Person(100, 1, "Gao Yuan", "p-1", None),
        duplicates.Person(101, 1, "Zhao Lei", "p-1", None),
    ]
    found = duplicates.find_candidates(people)
    assert set(found.pairs) == {(100, 101)}
    assert sorted(found.placeholders) == sorted([(duplicates.SAME_PHONE, 30), (duplicates.SIMILAR_NAME, 30)])


def test_the_list_shows_a_large_group_in_part_and_survives_odd_names(app, client, alpha):
    with in_tenant(app, alpha):
        ids = add_customers(
            alpha, *({"full_name": f"Guo Jing {n}", "email": "guo@example.com"} for n in range(8))
        )
        add_customers(
            alpha, {"full_name": ""}, {"full_name": "   "}, {"full_name": "!!!"}, {"full_name": "𠀀𠀁"}
        )
        db.session.commit()
    sign_in(client, alpha, "owner")
    page = client.get(DUPLICATES, base_url=url(alpha))
    assert page.status_code == 200
    shown = [f'data-pair="{a}-{b}"' in page.text for i, a in enumerate(ids) for b in ids[i + 1 :]]
    assert (len(shown), sum(shown)) == (28, 25)
    assert "Showing the 25 strongest of 28 pairs in this group." in page.text


def test_pair_loading_keeps_the_asked_order(app, alpha):
    with in_tenant(app, alpha):
        s1, s2 = seeded_customers(alpha)
        assert services.load_pair(s2.id, s1.id, None) == (s2, s1)
        assert services.load_pair(s1.id, s1.id, None, lock=False) == (s1, s1)


def test_a_record_the_merge_could_not_move_is_a_conflict_not_an_error(app, client, alpha, monkeypatch):
    """If a record of the merged customer is left behind (SQLite has no row lock to hold back a new
    order; a table the finder missed), deleting the customer fails: 409, nothing merged."""
    with in_tenant(app, alpha):
        s1, s2 = seeded_customers(alpha)
        form = merge_form(s1, s2)
        ids, before = (s1.id, s2.id), (counts(s1.id), counts(s2.id))
    monkeypatch.setattr(services, "customer_references", lambda: [])  # moves nothing
    sign_in(client, alpha, "owner")
    refused = client.post(f"{DUPLICATES}merge?a={ids[0]}&b={ids[1]}", base_url=url(alpha), data=form)
    assert refused.status_code == 409 and "were saved while merging" in refused.text
    monkeypatch.undo()
    with in_tenant(app, alpha):
        assert (counts(ids[0]), counts(ids[1])) == before
        assert db.session.scalar(sa.select(sa.func.count()).where(CustomerMerge.merged_id == ids[1])) == 0
