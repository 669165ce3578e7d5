"""The cross-store report: numbers against a hand-computed fixture, control limits, change
against the previous period, period rules and the providers' SQL on both backends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from repairqc.db import db
from repairqc.errors import DomainError
from repairqc.inspections.models import (
    ActionStatus,
    CorrectiveAction,
    Finding,
    FindingCategory,
    Inspection,
    InspectionKind,
    InspectionStatus,
    RewardKind,
    RewardPenalty,
    Severity,
)
from repairqc.repairs.models import Customer, Device, QCCheck, QCCheckStatus, RepairOrder, RepairOrderStatus
from repairqc.reports.providers import ControlChart, Ratio
from repairqc.reports.services import (
    Period,
    Scope,
    build_report,
    check_period,
    control_limits,
    monthly_trend,
    parse_period,
    preset_period,
)
from repairqc.standards.models import ServiceTargetOverride
from repairqc.standards.services import version_on
from repairqc.stores.models import Chain, Region, Store
from tests.conftest import in_tenant, staff

#: The report's period in the fixture: March 2025 (31 days); the previous one is 29 Jan to 28 Feb.
MARCH = Period(date(2025, 3, 1), date(2025, 3, 31))


def at(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=UTC)


class Fixture:
    """Three stores of a new chain RPT with known orders, QC checks, inspections, findings,
    corrective actions, rewards and penalties (see `build_fixture` for every row)."""

    def __init__(self, tenant) -> None:
        self.tenant = tenant
        self.chain = Chain(code="RPT", name="Report chain")
        self.region = Region(code="RPT-R", name="Report region", chain=self.chain)
        self.stores = {
            code: Store(code=code, name=f"Store {code}", chain=self.chain, region=self.region)
            for code in ("X1", "X2", "X3")
        }
        db.session.add_all([self.chain, self.region, *self.stores.values()])
        db.session.flush()
        self.qa = staff(tenant, "qa")
        self.version_id = version_on(date.today()).id
        self.numbers = 0
        self.customers = {}

    def order(self, store, received, delivered=None, promised=None, rework_of=None, qc=()) -> RepairOrder:
        shop = self.stores[store]
        if store not in self.customers:
            customer = Customer(store=shop, full_name=f"Report customer {store}")
            device = Device(store=shop, customer=customer, category="smartphone", brand="B", model="M")
            db.session.add_all([customer, device])
            self.customers[store] = (customer, device)
        customer, device = self.customers[store]
        self.numbers += 1
        order = RepairOrder(
            store=shop,
            number=f"{store}-{self.numbers:06d}",
            customer=customer,
            device=device,
            fault_symptoms="Report fault",
            status=RepairOrderStatus.DELIVERED if delivered else RepairOrderStatus.RECEIVED,
            received_at=received,
            delivered_at=delivered,
            promised_at=promised,
            rework_of=rework_of,
        )
        db.session.add(order)
        for status in qc:
            db.session.add(
                QCCheck(
                    store=shop,
                    repair_order=order,
                    standard_version_id=self.version_id,
                    category="smartphone",
                    inspector_id=self.qa.id,
                    status=status,
                    started_at=received,
                    finished_at=received + timedelta(hours=1),
                )
            )
        return order

    def inspection(self, store, submitted, score, passed, status=InspectionStatus.REVIEWED) -> Inspection:
        inspection = Inspection(
            store=self.stores[store],
            kind=InspectionKind.PERIODIC,
            due_on=submitted.date(),
            status=status,
            submitted_at=submitted,
            score=score,
            passed=passed,
        )
        db.session.add(inspection)
        return inspection

    def finding(self, inspection, raised, severity, category) -> Finding:
        finding = Finding(
            store=inspection.store,
            inspection=inspection,
            category=category,
            severity=severity,
            description="Report finding",
            raised_at=raised,
        )
        db.session.add(finding)
        return finding

    def action(self, finding, due_on, status, done_at=None) -> CorrectiveAction:
        action = CorrectiveAction(
            store=finding.store,
            finding=finding,
            description="Report measure",
            owner_id=self.qa.id,
            due_on=due_on,
            status=status,
            done_at=done_at,
        )
        db.session.add(action)
        return action

    def reward(self, store, kind, decided_on) -> None:
        db.session.add(
            RewardPenalty(kind=kind, store=self.stores[store], reason="Report reason", decided_on=decided_on)
        )

    @property
    def scope(self) -> Scope:
        return Scope("chain", (self.chain.id,))


def build_fixture(tenant) -> Fixture:
    f = Fixture(tenant)
    P, F = QCCheckStatus.PASSED, QCCheckStatus.FAILED
    # --- X1 ---------------------------------------------------------------------------------------
    # o1: 2.0 days, promised 5 Mar (on time), QC passed first time.
    f.order("X1", at(3, 2, 10), at(3, 4, 10), at(3, 5), qc=[P])
    # o2: 4.5 days, promised 6 Mar (late), QC failed once then passed; came back under warranty (o4).
    o2 = f.order("X1", at(3, 3), at(3, 7, 12), at(3, 6), qc=[F, P])
    # o3: 1.0 day, no promised date (not in the on-time denominator), QC passed.
    f.order("X1", at(3, 10), at(3, 11), None, qc=[P])
    # o4: warranty rework of o2, received 20 Mar, still open.
    f.order("X1", at(3, 20), rework_of=o2)
    # o5: received 20 Feb (previous period), delivered 1 Mar after 9.0 days, promised 25 Feb: late.
    f.order("X1", at(2, 20, 6), at(3, 1, 6), at(2, 25), qc=[P])
    # o6: received on the last day of the period, 23:00 (inside: the end is inclusive).
    f.order("X1", at(3, 31, 23))
    # o7: received 1 Apr 00:00, the first instant after the period.
    f.order("X1", at(4, 1))
    # --- X2 ---------------------------------------------------------------------------------------
    # p1: 1 day, promised 6 Mar 12:00: on time; its only QC check failed.
    f.order("X2", at(3, 5), at(3, 6), at(3, 6, 12), qc=[F])
    # p2: 3 days, promised 9 Mar: on time; QC failed then passed; came back (p3).
    p2 = f.order("X2", at(3, 5), at(3, 8), at(3, 9), qc=[F, P])
    f.order("X2", at(3, 12), rework_of=p2)
    # --- X3: twenty clean orders, 2.0 days each, on time, QC passed ------------------------------------
    for k in range(20):
        f.order("X3", at(3, k + 1, 8), at(3, k + 3, 8), at(3, k + 4), qc=[P])

    # --- inspections ------------------------------------------------------------------------------
    i0 = f.inspection("X1", at(2, 10), 50.0, False)  # previous period
    i1 = f.inspection("X1", at(3, 5), 80.0, True)
    i2 = f.inspection("X1", at(3, 25), 60.0, False)
    # Returned to the inspector: has a submitted_at but is back in progress, so it does not count.
    f.inspection("X1", at(3, 15), 10.0, False, status=InspectionStatus.IN_PROGRESS)
    i4 = f.inspection("X2", at(3, 10), 90.0, True, status=InspectionStatus.CLOSED)
    db.session.flush()
    # --- findings and corrective actions ------------------------------------------------------------
    f0 = f.finding(i0, at(2, 10), Severity.MAJOR, FindingCategory.SKILLS)  # previous period
    f.action(f0, date(2025, 2, 20), ActionStatus.OPEN)
    f1 = f.finding(i1, at(3, 5), Severity.CRITICAL, FindingCategory.PROCESS)
    f.action(f1, date(2025, 3, 20), ActionStatus.VERIFIED, at(3, 19, 15))  # closed on time
    f.action(f1, date(2025, 3, 10), ActionStatus.VERIFIED, at(3, 11))  # closed, but late
    f2 = f.finding(i2, at(3, 25), Severity.MINOR, FindingCategory.EQUIPMENT)
    f.action(f2, date(2025, 4, 10), ActionStatus.OPEN)  # open and overdue (today is later)
    f.action(f2, date(2099, 1, 1), ActionStatus.DONE, at(3, 28))  # open (awaiting QA), not overdue
    f3 = f.finding(i4, at(3, 10), Severity.MAJOR, FindingCategory.SERVICE)
    f.action(f3, date(2025, 3, 15), ActionStatus.IN_PROGRESS)  # open and overdue
    # --- rewards and penalties --------------------------------------------------------------------------
    f.reward("X1", RewardKind.REWARD, date(2025, 3, 31))
    f.reward("X1", RewardKind.PENALTY, date(2025, 4, 1))  # after the period
    f.reward("X2", RewardKind.PENALTY, date(2025, 3, 1))
    db.session.flush()
    return f


def rows_by_code(report) -> dict[str, object]:
    return {row.code: row for row in report.rows}


def value(row, key):
    return row.cells[key].value


def test_report_numbers_match_the_hand_computed_fixture(app, alpha):
    with in_tenant(app, alpha):
        fixture = build_fixture(alpha)
        report = build_report(MARCH, fixture.scope)
        rows = rows_by_code(report)
        x1, x2, x3 = rows["X1"], rows["X2"], rows["X3"]

        # Orders received in March: X1 o1 o2 o3 o4 o6 (o5 in Feb, o7 in Apr); X2 three; X3 twenty.
        assert [value(r, "orders") for r in (x1, x2, x3)] == [5, 3, 20]
        # Turnaround of the orders delivered in March: X1 {2.0, 4.5, 1.0, 9.0} -> (2.0 + 4.5) / 2;
        # X2 {1, 3} -> 2; X3 twenty times 2.
        assert value(x1, "turnaround_days") == pytest.approx(3.25)
        assert value(x2, "turnaround_days") == pytest.approx(2.0)
        assert value(x3, "turnaround_days") == pytest.approx(2.0)
        # On time: X1 o1 yes, o2 no, o5 no (o3 had no promise) -> 1/3; X2 2/2; X3 20/20.
        assert x1.cells["on_time"].ratio == Ratio(1, 3)
        assert x2.cells["on_time"].ratio == Ratio(2, 2)
        # QC first pass of the delivered: X1 o1 o3 o5 of four (o2 failed) -> 75 %; X2 0 of 2.
        assert x1.cells["qc_first_pass"].ratio == Ratio(3, 4)
        assert x2.cells["qc_first_pass"].ratio == Ratio(0, 2)
        assert value(x3, "qc_first_pass") == 100.0
        # Rework: X1 o4 of 5 -> 20 %; X2 1 of 3; X3 0 of 20.
        assert x1.cells["rework_rate"].ratio == Ratio(1, 5)
        assert value(x1, "rework_rate") == pytest.approx(20.0)
        assert x2.cells["rework_rate"].ratio == Ratio(1, 3)
        assert x3.cells["rework_rate"].ratio == Ratio(0, 20)
        # First-time fix: X1 delivered originals o1 o2 o3 o5, o2 came back -> 3/4; X2 p1 p2, p2 back -> 1/2.
        assert x1.cells["first_time_fix"].ratio == Ratio(3, 4)
        assert x2.cells["first_time_fix"].ratio == Ratio(1, 2)

        # Inspections: X1 i1 (80, passed) and i2 (60, failed); the returned one and i0 do not count.
        assert value(x1, "inspections") == 2
        assert value(x1, "score_latest") == 60.0  # i2, 25 Mar
        assert value(x1, "score_avg") == pytest.approx(70.0)
        assert x1.cells["pass_rate"].ratio == Ratio(1, 2)
        assert (value(x2, "inspections"), value(x2, "score_latest"), value(x2, "score_avg")) == (
            1,
            90.0,
            90.0,
        )
        assert value(x3, "inspections") == 0 and value(x3, "score_avg") is None
        # Findings raised in March: X1 f1 (critical, process), f2 (minor, equipment); X2 f3.
        severities = ("findings", "findings_critical", "findings_major", "findings_minor")
        assert [value(x1, k) for k in severities] == [2, 1, 0, 1]
        assert [value(x1, f"findings_{c}") for c in ("process", "equipment", "skills", "service")] == [
            1,
            1,
            0,
            0,
        ]
        assert [value(x2, k) for k in ("findings", "findings_major", "findings_service")] == [1, 1, 1]
        # Actions of those findings: X1 open = the open one and the done one awaiting QA, overdue = the
        # open one due 10 Apr, closed on time = the one done 19 Mar for the 20th (not the late one).
        assert [value(x1, k) for k in ("actions_open", "actions_overdue", "actions_closed_on_time")] == [
            2,
            1,
            1,
        ]
        assert [value(x2, k) for k in ("actions_open", "actions_overdue", "actions_closed_on_time")] == [
            1,
            1,
            0,
        ]
        # Rewards and penalties decided in March.
        assert (value(x1, "rewards"), value(x1, "penalties")) == (1, 0)
        assert (value(x2, "rewards"), value(x2, "penalties")) == (0, 1)

        # Average row: rates pooled, the rest the mean of the stores.
        average = report.average
        assert value(average, "orders") == pytest.approx(28 / 3)
        assert average.cells["rework_rate"].ratio == Ratio(2, 28)
        assert average.cells["qc_first_pass"].ratio == Ratio(23, 26)
        assert value(average, "score_avg") == pytest.approx(80.0)  # (70 + 90) / 2, X3 has none
        assert value(average, "turnaround_days") == pytest.approx((3.25 + 2.0 + 2.0) / 3)

        # Ranking: average score first (X2 90 > X1 70), X3 without inspections last.
        assert [(r.rank, r.code) for r in report.rows] == [(1, "X2"), (2, "X1"), (3, "X3")]
        # Targets of the handbook's defaults: rework at most 3 %, first-time fix at least 95 %.
        assert "miss" in x1.cells["rework_rate"].flags and "miss" not in x3.cells["rework_rate"].flags
        assert "miss" in x1.cells["first_time_fix"].flags and "miss" not in x3.cells["first_time_fix"].flags


def test_a_miss_is_judged_against_the_stores_own_target(app, alpha):
    """X1's rework rate (20 %) misses the handbook's 3 %; a chain override of 25 % forgives it, a
    store override of 10 % at X1 wins over the chain's again, and X2 (33 %) misses the chain's."""
    with in_tenant(app, alpha):
        fixture = build_fixture(alpha)
        db.session.add(ServiceTargetOverride(chain=fixture.chain, target="max_rework_rate_pct", value=25))
        db.session.flush()
        report = build_report(MARCH, fixture.scope)
        rows = rows_by_code(report)
        assert "miss" not in rows["X1"].cells["rework_rate"].flags
        assert "miss" in rows["X2"].cells["rework_rate"].flags
        # The column still states the standard's target; only the flag follows the store's.
        assert next(c for c in report.columns if c.key == "rework_rate").target == 3

        x1 = fixture.stores["X1"]
        db.session.add(ServiceTargetOverride(store=x1, target="max_rework_rate_pct", value=10))
        db.session.flush()
        rows = rows_by_code(build_report(MARCH, fixture.scope))
        assert "miss" in rows["X1"].cells["rework_rate"].flags
        assert "miss" not in rows["X3"].cells["rework_rate"].flags


def test_change_against_the_previous_period(app, alpha):
    with in_tenant(app, alpha):
        fixture = build_fixture(alpha)
        report = build_report(MARCH, fixture.scope)
        assert report.previous == Period(date(2025, 1, 29), date(2025, 2, 28))  # 31 days before March
        x1 = rows_by_code(report)["X1"]
        # February: X1 received o5 only, no rework -> 0 %; March 20 % -> +20 points.
        assert x1.cells["rework_rate"].change == pytest.approx(20.0)
        # Orders received 1 -> 5.
        assert x1.cells["orders"].change == 4
        # Average score 50 (i0) -> 70.
        assert x1.cells["score_avg"].change == pytest.approx(20.0)
        # Nothing delivered in February: no change to show.
        assert x1.cells["qc_first_pass"].change is None
        assert x1.cells["turnaround_days"].change is None


def test_control_limits_of_the_fixture(app, alpha):
    with in_tenant(app, alpha):
        report = build_report(MARCH, build_fixture(alpha).scope)
        rows = rows_by_code(report)
        charts = {limits.chart.key: limits for limits in report.limits}
        # Rework: p̄ = (1 + 1 + 0) / (5 + 3 + 20) = 2/28; nobody outside.
        assert charts["rework"].p_bar == pytest.approx(2 / 28)
        assert charts["rework"].outside == 0
        # X1: UCL = 2/28 + 3·√((2/28)(26/28)/5) = 0.416954.
        assert rows["X1"].limits["rework"].ucl == pytest.approx(0.416954, abs=1e-6)
        assert rows["X1"].limits["rework"].lcl == 0.0  # floored
        # QC failure (complement of first pass): X1 1/4, X2 2/2, X3 0/20 -> p̄ = 3/26.
        assert charts["qc_failure"].p_bar == pytest.approx(3 / 26)
        # X2: UCL = 3/26 + 3·√((3/26)(23/26)/2) = 0.793115 < 1.0: above, flagged on its first-pass cell.
        assert rows["X2"].limits["qc_failure"].ucl == pytest.approx(0.793115, abs=1e-6)
        assert rows["X2"].limits["qc_failure"].outside == "above"
        assert "above" in rows["X2"].cells["qc_first_pass"].flags
        # X3: UCL 0.329702, LCL floored at 0, p = 0: inside.
        assert rows["X3"].limits["qc_failure"].ucl == pytest.approx(0.329702, abs=1e-6)
        assert rows["X3"].limits["qc_failure"].outside is None
        assert charts["qc_failure"].outside == 1


def test_control_limits_by_hand():
    chart = ControlChart("c", "c", "col")
    # p̄ = (10 + 2 + 0) / (50 + 100 + 50) = 0.06; store A: sigma = √(0.06·0.94/50) = 0.033586,
    # UCL = 0.06 + 0.100758 = 0.160758, p = 0.2 -> above; B: sigma = 0.023749, limits 0.131247 /
    # 0 (0.06 - 0.071247 < 0), p = 0.02 inside; C: p = 0 inside.
    limits = control_limits(chart, {1: Ratio(10, 50), 2: Ratio(2, 100), 3: Ratio(0, 50), 4: Ratio(0, 0)})
    assert limits.p_bar == pytest.approx(0.06)
    assert limits.stores[1].ucl == pytest.approx(0.160758, abs=1e-6) and limits.stores[1].outside == "above"
    assert limits.stores[2].ucl == pytest.approx(0.131247, abs=1e-6) and limits.stores[2].lcl == 0.0
    assert limits.stores[2].outside is None and limits.stores[3].outside is None
    assert 4 not in limits.stores  # no cases, no point
    # A store far below: p̄ = 0.5 over n = 100 each -> LCL = 0.5 - 0.15 = 0.35; 0.1 is below.
    low = control_limits(chart, {1: Ratio(10, 100), 2: Ratio(90, 100)})
    assert low.stores[1].lcl == pytest.approx(0.35) and low.stores[1].outside == "below"
    assert low.stores[2].outside == "above"
    complement = control_limits(ControlChart("c", "c", "col", complement=True), {1: Ratio(40, 50)})
    assert complement.p_bar == pytest.approx(0.2)  # 10 failures of 50
    assert control_limits(chart, {1: Ratio(0, 0)}).p_bar is None


def test_monthly_trend_pools_the_stores_by_month(app, alpha):
    with in_tenant(app, alpha):
        fixture = build_fixture(alpha)
        points = monthly_trend(date(2025, 3, 31), [s.id for s in fixture.stores.values()])
        assert [p.month for p in points][-3:] == [date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1)]
        assert len(points) == 12 and points[0].month == date(2024, 4, 1)
        march, february = points[-1].values, points[-2].values
        assert march["rework_rate"] == pytest.approx(100 * 2 / 28)
        assert march["qc_first_pass"] == pytest.approx(100 * 23 / 26)
        assert march["score_avg"] == pytest.approx(80.0)
        assert february["score_avg"] == pytest.approx(50.0) and february["qc_first_pass"] is None


def test_the_period_end_may_not_come_before_its_start():
    with pytest.raises(DomainError) as error:
        check_period(date(2025, 3, 31), date(2025, 3, 1))
    assert error.value.field == "end" and "before it starts" in error.value.message
    with pytest.raises(DomainError, match="at most 366 days"):
        check_period(date(2024, 1, 1), date(2025, 1, 1))  # 367 days
    assert check_period(date(2024, 1, 1), date(2024, 12, 31)).days == 366
    assert check_period(date(2025, 3, 1), date(2025, 3, 1)).days == 1


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [("", "2025-03-01", "start"), ("2025-02-30", "2025-03-01", "start"), ("2025-03-01", "x", "end")],
)
def test_a_period_that_is_not_dates_names_the_field(app, start, end, field):
    with app.test_request_context(), pytest.raises(DomainError) as error:
        parse_period(start, end)
    assert error.value.field == field


def test_presets():
    today = date(2025, 5, 14)
    assert preset_period("this_month", today) == Period(date(2025, 5, 1), today)
    assert preset_period("last_month", today) == Period(date(2025, 4, 1), date(2025, 4, 30))
    assert preset_period("this_quarter", today) == Period(date(2025, 4, 1), today)
    assert preset_period("last_quarter", today) == Period(date(2025, 1, 1), date(2025, 3, 31))
    assert preset_period("last_month", date(2025, 1, 3)) == Period(date(2024, 12, 1), date(2024, 12, 31))
    assert preset_period("last_quarter", date(2025, 2, 3)) == Period(date(2024, 10, 1), date(2024, 12, 31))


def test_scopes_chain_region_and_chosen_stores(app, alpha):
    with in_tenant(app, alpha):
        fixture = build_fixture(alpha)
        by_region = build_report(MARCH, Scope("region", (fixture.region.id,)))
        assert sorted(r.code for r in by_region.rows) == ["X1", "X2", "X3"]
        chosen = build_report(MARCH, Scope("stores", (fixture.stores["X1"].id, fixture.stores["X3"].id)))
        assert [r.code for r in chosen.rows] == ["X1", "X3"]
        everything = build_report(MARCH, Scope("all"))
        codes = {r.code for r in everything.rows}
        assert {"X1", "X2", "X3", alpha.store_sentinel("S1"), alpha.store_sentinel("S2")} <= codes


def test_the_report_runs_a_fixed_number_of_queries_whatever_the_orders(app, alpha):
    """Aggregation is in SQL: 10 more orders in a store add no query."""
    from sqlalchemy import event

    with in_tenant(app, alpha):
        fixture = build_fixture(alpha)

        def count_queries() -> int:
            statements = []
            engine = db.session.get_bind()
            listener = lambda *args: statements.append(1)  # noqa: E731
            target = engine if isinstance(engine, sa.Engine) else engine.engine
            event.listen(target, "before_cursor_execute", listener)
            try:
                build_report(MARCH, fixture.scope)
            finally:
                event.remove(target, "before_cursor_execute", listener)
            return len(statements)

        before = count_queries()
        for k in range(10):
            fixture.order("X1", at(3, 5, k), at(3, 6, k), qc=[QCCheckStatus.PASSED])
        db.session.flush()
        assert count_queries() == before
        assert before < 40
