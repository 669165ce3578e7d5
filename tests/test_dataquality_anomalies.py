"""Data anomalies (HB §7.1.2): unusual costs, prices and durations within a device category,
stuck orders, the nightly "data-anomalies" job, and the review screen.

Crafted orders use a device category of their own ("drone"), so the seeded orders (smartphones)
neither add to its distribution nor get flagged; the stuck-order tests use the "quoted" state,
in which no seeded order is.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from repairqc.accounts.permissions import Grants
from repairqc.dataquality import anomalies
from repairqc.dataquality.models import AnomalyKind, AnomalyMetric, AnomalyStatus, DataAnomaly
from repairqc.dataquality.tasks import scan_data_anomalies
from repairqc.db import db
from repairqc.errors import DomainError
from repairqc.jobs import enqueue
from repairqc.jobs.periodic import periodic_job
from repairqc.repairs.models import (
    Customer,
    Device,
    Part,
    RepairOrder,
    RepairOrderStatus,
    RepairStatusEvent,
    StockMovement,
    StockReason,
)
from tests.conftest import in_tenant, sign_in, staff, store
from tests.seed_dataquality import SEED_BASIS

NOW = datetime.now(UTC).replace(microsecond=0)
ANOMALIES = "/admin/data-quality/anomalies/"
#: Durations (hours) of 24 ordinary drone repairs: Q1 ≈ 46, Q3 ≈ 53.
USUAL_HOURS = [44 + (i % 12) for i in range(24)]


def url(tenant) -> str:
    return f"http://{tenant.host}"


def add_orders(
    tenant,
    hours: list[float],
    *,
    prices: list[int] | None = None,
    parts: list[int] | None = None,
    category: str = "drone",
    store_name: str = "S1",
) -> list[int]:
    """Delivered orders of `category`, one per duration, with the amount charged and parts used."""
    shop = store(tenant, store_name)
    customer = Customer(store=shop, full_name="Anomaly Test")
    part = Part(sku=f"P-{category}-{store_name}-{len(hours)}", name="Rotor", unit_price_cents=1)
    db.session.add_all([customer, part])
    ids = []
    for n, duration in enumerate(hours):
        received = NOW - timedelta(days=10 + n % 30, hours=duration)
        device = Device(store=shop, customer=customer, category=category, brand="B", model="M")
        order = RepairOrder(
            store=shop,
            number=f"DQ-{category}-{store_name}-{n}-{len(hours)}",
            customer=customer,
            device=device,
            fault_symptoms="x",
            status=RepairOrderStatus.DELIVERED,
            amount_due_cents=prices[n] if prices is not None else 0,
            received_at=received,
            delivered_at=received + timedelta(hours=duration),
            status_changed_at=received + timedelta(hours=duration),
        )
        db.session.add_all([device, order])
        db.session.flush()
        if parts is not None:
            db.session.add(
                StockMovement(
                    store=shop, part=part, order_id=order.id, change=-parts[n], reason=StockReason.CONSUMPTION
                )
            )
        ids.append(order.id)
    db.session.flush()
    return ids


def flags(**where) -> list[DataAnomaly]:
    # The seeded (reviewed) flags of tests/seed_dataquality.py are not the scan's.
    statement = (
        sa.select(DataAnomaly).where(DataAnomaly.basis.not_like(f"{SEED_BASIS}%")).order_by(DataAnomaly.id)
    )
    for key, value in where.items():
        statement = statement.where(getattr(DataAnomaly, key) == value)
    return list(db.session.execute(statement).scalars())


def add_stays(tenant, state: RepairOrderStatus, hours: list[float]) -> None:
    """Finished stays in `state` of past orders: an event into it and one out of it."""
    shop = store(tenant)
    customer = Customer(store=shop, full_name="Stay Test")
    device = Device(store=shop, customer=customer, category="smartphone", brand="B", model="M")
    db.session.add_all([customer, device])
    for n, duration in enumerate(hours):
        entered = NOW - timedelta(days=5 + n % 20, hours=duration)
        order = RepairOrder(
            store=shop,
            number=f"ST-{state.value}-{n}",
            customer=customer,
            device=device,
            fault_symptoms="x",
            status=RepairOrderStatus.CLOSED,
        )
        db.session.add(order)
        db.session.flush()
        for at, to in ((entered, state), (entered + timedelta(hours=duration), RepairOrderStatus.APPROVED)):
            db.session.add(
                RepairStatusEvent(store=shop, order_id=order.id, to_status=to, actor_name="x", at=at)
            )
    db.session.flush()


def open_order_in(tenant, state: RepairOrderStatus, since: datetime, store_name: str = "S1") -> int:
    shop = store(tenant, store_name)
    customer = Customer(store=shop, full_name="Waiting")
    device = Device(store=shop, customer=customer, category="smartphone", brand="B", model="M")
    order = RepairOrder(
        store=shop,
        number=f"W-{since.timestamp()}-{store_name}",
        customer=customer,
        device=device,
        fault_symptoms="x",
        status=state,
        status_changed_at=since,
    )
    db.session.add_all([customer, device, order])
    db.session.flush()
    return order.id


# --- detection ---------------------------------------------------------------------------------------


def test_an_outlier_is_flagged_and_usual_values_are_not(app, alpha):
    with in_tenant(app, alpha):
        hours = [*USUAL_HOURS, 400]
        prices = [10_000 + 100 * (i % 7) for i in range(24)] + [95_000]
        parts = [30 + i % 5 for i in range(24)] + [33]
        ids = add_orders(alpha, hours, prices=prices, parts=parts)
        result = anomalies.scan(NOW)
        found = flags(kind=AnomalyKind.OUTLIER)
        assert {(f.order_id, f.metric) for f in found} == {
            (ids[-1], AnomalyMetric.DURATION),
            (ids[-1], AnomalyMetric.PRICE),
        }
        assert result.flagged == 2
        duration = next(f for f in found if f.metric is AnomalyMetric.DURATION)
        assert duration.value == 400 and duration.category == "drone" and duration.sample_size == 25
        assert 53 < duration.expected_high < 100 and duration.expected_low >= 0
        assert duration.store_id == alpha.store_ids["S1"] and duration.status is AnomalyStatus.OPEN


def test_a_cheap_outlier_is_flagged_below_the_range(app, alpha):
    with in_tenant(app, alpha):
        ids = add_orders(alpha, USUAL_HOURS[:21], parts=[100 + i % 9 for i in range(20)] + [1])
        anomalies.scan(NOW)
        found = flags(metric=AnomalyMetric.PARTS_COST)
        assert [(f.order_id, f.value) for f in found] == [(ids[-1], 1.0)]
        assert found[0].value < found[0].expected_low


def test_too_small_a_sample_is_not_judged(app, alpha):
    with in_tenant(app, alpha):
        add_orders(alpha, [*USUAL_HOURS[:10], 900])  # 11 orders: fewer than DATAQUALITY_MIN_SAMPLE
        assert anomalies.scan(NOW).flagged == 0
        assert flags() == []


def test_a_rescan_flags_nothing_twice_and_a_reviewed_flag_is_not_raised_again(app, alpha):
    with in_tenant(app, alpha):
        add_orders(alpha, [*USUAL_HOURS, 400])
        assert anomalies.scan(NOW).flagged == 1
        assert anomalies.scan(NOW + timedelta(hours=1)).flagged == 0
        (flag,) = flags()
        anomalies.review(
            Grants.of(staff(alpha, "qa")),
            flag,
            staff(alpha, "qa"),
            decision=AnomalyStatus.DISMISSED,
            note="A rare model",
            expected_version=flag.version,
        )
        assert anomalies.scan(NOW + timedelta(hours=2)).flagged == 0
        assert [f.status for f in flags()] == [AnomalyStatus.DISMISSED]


def test_a_flag_inserted_by_a_concurrent_scan_is_skipped(app, alpha, monkeypatch):
    """The other scan's row appears after our look for existing flags: our insert gives way."""
    with in_tenant(app, alpha):
        order_id = add_orders(alpha, [*USUAL_HOURS, 400])[-1]
        real_existing = anomalies._existing_keys

        def other_scan_inserts_meanwhile(order_ids):
            seen = real_existing(order_ids)
            db.session.execute(
                sa.insert(DataAnomaly).values(
                    store_id=alpha.store_ids["S1"],
                    order_id=order_id,
                    kind=AnomalyKind.OUTLIER,
                    metric=AnomalyMetric.DURATION,
                    basis="",
                    value=400.0,
                    expected_high=99.0,
                    sample_size=25,
                    detected_at=NOW,
                    status=AnomalyStatus.OPEN,
                    version=1,
                )
            )
            return seen

        monkeypatch.setattr(anomalies, "_existing_keys", other_scan_inserts_meanwhile)
        assert anomalies.scan(NOW).flagged == 0
        assert [(f.order_id, f.expected_high) for f in flags()] == [(order_id, 99.0)]


def test_a_stuck_order_is_flagged_once_per_stay_and_resolved_when_it_moves_on(app, alpha):
    with in_tenant(app, alpha):
        add_stays(alpha, RepairOrderStatus.QUOTED, [20 + i % 10 for i in range(25)])  # p95 ≈ 29 h
        stuck = open_order_in(alpha, RepairOrderStatus.QUOTED, NOW - timedelta(hours=90))
        recent = open_order_in(alpha, RepairOrderStatus.QUOTED, NOW - timedelta(hours=30))
        assert anomalies.scan(NOW).flagged == 1
        (flag,) = flags(kind=AnomalyKind.STUCK)
        assert (flag.order_id, flag.order_status, flag.metric) == (
            stuck,
            RepairOrderStatus.QUOTED,
            AnomalyMetric.TIME_IN_STATE,
        )
        assert 89 < flag.value < 91 and 48 <= flag.expected_high < 90  # max(2 x p95, 48 h floor)
        assert recent != stuck and anomalies.scan(NOW).flagged == 0
        order = db.session.get(RepairOrder, stuck)
        order.status, order.status_changed_at = RepairOrderStatus.APPROVED, NOW
        db.session.flush()
        result = anomalies.scan(NOW)
        assert (result.flagged, result.resolved) == (0, 1)
        assert flags(kind=AnomalyKind.STUCK)[0].status is AnomalyStatus.RESOLVED


def test_states_with_few_past_stays_are_not_judged(app, alpha):
    with in_tenant(app, alpha):
        add_stays(alpha, RepairOrderStatus.QUOTED, [20] * 5)
        open_order_in(alpha, RepairOrderStatus.QUOTED, NOW - timedelta(days=30))
        anomalies.scan(NOW)
        assert flags(kind=AnomalyKind.STUCK) == []


def test_review_rules(app, alpha):
    with in_tenant(app, alpha):
        add_orders(alpha, [*USUAL_HOURS, 400])
        anomalies.scan(NOW)
        (flag,) = flags()
        qa, manager = staff(alpha, "qa"), staff(alpha, "manager")
        cases = [
            (Grants.of(manager), AnomalyStatus.CONFIRMED, "x", flag.version, 403),
            (Grants.of(qa), AnomalyStatus.DISMISSED, "", flag.version, 400),  # a dismissal says why
            (Grants.of(qa), AnomalyStatus.CONFIRMED, "x", flag.version + 1, 409),
            (Grants.of(qa), AnomalyStatus.OPEN, "x", flag.version, 400),
        ]
        for grants, decision, note, version, status in cases:
            try:
                anomalies.review(grants, flag, qa, decision=decision, note=note, expected_version=version)
                raise AssertionError(f"{decision} by {grants.roles} was accepted")
            except DomainError as refusal:
                assert refusal.status_code == status
        assert flag.status is AnomalyStatus.OPEN
        anomalies.review(
            Grants.of(qa),
            flag,
            qa,
            decision=AnomalyStatus.CONFIRMED,
            note="Overcharged",
            expected_version=flag.version,
        )
        assert (flag.status, flag.reviewed_by_id, flag.note) == (
            AnomalyStatus.CONFIRMED,
            qa.id,
            "Overcharged",
        )
        try:
            anomalies.review(
                Grants.of(qa),
                flag,
                qa,
                decision=AnomalyStatus.DISMISSED,
                note="x",
                expected_version=flag.version,
            )
            raise AssertionError("a reviewed flag was reviewed again")
        except DomainError as refusal:
            assert refusal.status_code == 409


# --- the nightly job -----------------------------------------------------------------------------------


def test_the_entry_runs_nightly_and_names_the_job():
    entry = periodic_job("data-anomalies")
    assert entry.tenant_job() is scan_data_anomalies and not entry.platform


def test_the_periodic_job_scans_each_tenant_in_its_own_data(app, alpha, beta, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "")
    with in_tenant(app, alpha):
        alpha_order = add_orders(alpha, [*USUAL_HOURS, 400])[-1]
        db.session.commit()
    with in_tenant(app, beta):
        beta_order = add_orders(beta, [*USUAL_HOURS, 40, 800])[-1]  # its own outlier, its own range
        db.session.commit()
    for _ in range(2):  # a second run the same day flags nothing new
        result = app.test_cli_runner().invoke(
            args=["periodic", "run", "data-anomalies", "--today", NOW.date().isoformat()]
        )
        assert result.exit_code == 0, result.output
    with in_tenant(app, alpha):
        assert [(f.order_id, f.value) for f in flags()] == [(alpha_order, 400.0)]
    with in_tenant(app, beta):
        assert [(f.order_id, f.value, f.sample_size) for f in flags()] == [(beta_order, 800.0, 26)]


def test_the_job_in_process_returns_its_counts(app, alpha, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "")
    with in_tenant(app, alpha):
        add_orders(alpha, [*USUAL_HOURS, 400])
        db.session.commit()
        enqueue(scan_data_anomalies, NOW.date().isoformat(), NOW.isoformat())
    with in_tenant(app, alpha):
        assert len(flags()) == 1


# --- the screen ----------------------------------------------------------------------------------------


def test_the_review_screen_filters_confirms_and_dismisses(app, client, alpha):
    with in_tenant(app, alpha):
        add_orders(alpha, [*USUAL_HOURS, 400], prices=[10_000] * 24 + [90_000])
        add_orders(alpha, [*USUAL_HOURS, 300], category="tablet", store_name="S2")
        anomalies.scan(NOW)
        db.session.commit()
        by_metric = {(f.store_id, f.metric): (f.id, f.version) for f in flags()}
    assert len(by_metric) == 3
    sign_in(client, alpha, "qa")
    page = client.get(ANOMALIES, base_url=url(alpha))
    assert page.status_code == 200 and page.text.count('data-testid="anomaly-row"') == 3
    assert 'data-testid="scan-now"' in page.text
    s2 = client.get(f"{ANOMALIES}?store={alpha.store_ids['S2']}&kind=outlier", base_url=url(alpha))
    assert s2.text.count('data-testid="anomaly-row"') == 1
    flag_id, version = by_metric[(alpha.store_ids["S1"], AnomalyMetric.PRICE)]
    no_note = client.post(
        f"{ANOMALIES}{flag_id}/review",
        base_url=url(alpha),
        data={f"flag{flag_id}-decision": "dismissed", "version": version},
    )
    assert no_note.status_code == 400 and "Say why" in no_note.text
    bad = client.post(
        f"{ANOMALIES}{flag_id}/review",
        base_url=url(alpha),
        data={f"flag{flag_id}-decision": "maybe", "version": version},
    )
    assert bad.status_code == 400
    done = client.post(
        f"{ANOMALIES}{flag_id}/review",
        base_url=url(alpha),
        data={
            f"flag{flag_id}-decision": "dismissed",
            f"flag{flag_id}-note": "Premium model",
            "version": version,
        },
    )
    assert done.status_code == 302
    stale = client.post(
        f"{ANOMALIES}{flag_id}/review",
        base_url=url(alpha),
        data={f"flag{flag_id}-decision": "confirmed", "version": version},
    )
    assert stale.status_code == 409
    with in_tenant(app, alpha):
        flag = db.session.get(DataAnomaly, flag_id)
        assert (flag.status, flag.note) == (AnomalyStatus.DISMISSED, "Premium model")
    assert (
        client.get(f"{ANOMALIES}?status=open", base_url=url(alpha)).text.count('data-testid="anomaly-row"')
        == 2
    )
    assert client.get(f"{ANOMALIES}?store=999999", base_url=url(alpha)).status_code == 404


def test_scan_now_and_who_may_use_the_screen(app, client, alpha):
    with in_tenant(app, alpha):
        add_orders(alpha, [*USUAL_HOURS, 400], store_name="S2")
        db.session.commit()
    sign_in(client, alpha, "manager")  # S1's manager: sees S1's flags, may not scan or review
    assert client.post(f"{ANOMALIES}scan", base_url=url(alpha)).status_code == 403
    sign_in(client, alpha, "owner")
    assert client.post(f"{ANOMALIES}scan", base_url=url(alpha)).status_code == 302
    with in_tenant(app, alpha):
        ((flag_id, version),) = [(f.id, f.version) for f in flags()]
    sign_in(client, alpha, "manager")
    page = client.get(ANOMALIES, base_url=url(alpha))
    assert page.status_code == 200 and 'data-testid="anomaly-row"' not in page.text
    assert 'data-testid="scan-now"' not in page.text
    review = {f"flag{flag_id}-decision": "confirmed", f"flag{flag_id}-note": "x", "version": version}
    assert client.post(f"{ANOMALIES}{flag_id}/review", base_url=url(alpha), data=review).status_code == 404
    sign_in(client, alpha, "manager2")  # S2's manager sees it, but reviewing is HQ's
    page = client.get(ANOMALIES, base_url=url(alpha))
    assert page.text.count('data-testid="anomaly-row"') == 1 and 'data-testid="review-form"' not in page.text
    assert client.post(f"{ANOMALIES}{flag_id}/review", base_url=url(alpha), data=review).status_code == 403
    sign_in(client, alpha, "frontdesk")
    assert client.get(ANOMALIES, base_url=url(alpha)).status_code in (302, 403)


def test_one_tenant_cannot_see_or_review_the_others_flags(app, client, alpha, beta):
    with in_tenant(app, beta):
        add_orders(beta, [*USUAL_HOURS, 400])
        anomalies.scan(NOW)
        db.session.commit()
        ((beta_flag, version),) = [(f.id, f.version) for f in flags()]
    sign_in(client, alpha, "owner")
    page = client.get(f"{ANOMALIES}?status=all", base_url=url(alpha))
    assert alpha.sentinel in page.text and beta.sentinel not in page.text  # the seeded flags' categories
    review = {f"flag{beta_flag}-decision": "confirmed", f"flag{beta_flag}-note": "x", "version": version}
    assert client.post(f"{ANOMALIES}{beta_flag}/review", base_url=url(alpha), data=review).status_code == 404
    assert client.post(f"{ANOMALIES}scan", base_url=url(alpha)).status_code == 302
    with in_tenant(app, beta):
        assert [f.status for f in flags()] == [AnomalyStatus.OPEN]
    with in_tenant(app, alpha):
        assert flags() == []


def test_the_parts_cost_is_the_orders_parts_facts_shared_with_analytics(app, alpha):
    """No stock movements here: the scan reads RepairOrder.parts_cost_cents, as analytics does."""
    with in_tenant(app, alpha):
        ids = add_orders(alpha, USUAL_HOURS[:24])
        table = RepairOrder.__table__
        for n, order_id in enumerate(ids):
            cost = 90_000 if n == 5 else 4_000 + 10 * n
            db.session.execute(table.update().where(table.c.id == order_id).values(parts_cost_cents=cost))
        anomalies.scan(NOW)
        assert [(f.order_id, f.value) for f in flags(metric=AnomalyMetric.PARTS_COST)] == [(ids[5], 90_000.0)]


def test_odd_query_arguments_do_not_break_the_screen(app, client, alpha):
    """Only the filters are carried into the review form's address and back."""
    with in_tenant(app, alpha):
        add_orders(alpha, [*USUAL_HOURS, 400])
        anomalies.scan(NOW)
        db.session.commit()
        ((flag_id, version),) = [(f.id, f.version) for f in flags()]
    sign_in(client, alpha, "qa")
    odd = "?status=open&kind=stuckish&store=&flag_id=1&_scheme=javascript&_external=1&_anchor=x"
    page = client.get(f"{ANOMALIES}{odd}", base_url=url(alpha))
    assert page.status_code == 200
    actions = re.findall(r'action="([^"]*/review[^"]*)"', page.text)
    assert actions == [f"{ANOMALIES}{flag_id}/review?status=open"]
    assert client.get(f"{ANOMALIES}?store=abc", base_url=url(alpha)).status_code == 404
    review = {f"flag{flag_id}-decision": "confirmed", f"flag{flag_id}-note": "x", "version": version}
    done = client.post(f"{ANOMALIES}{flag_id}/review{odd}", base_url=url(alpha), data=review)
    assert done.status_code == 302 and done.location.endswith(f"{ANOMALIES}?status=open")
