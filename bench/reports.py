"""Cross-store report benchmark (issue #5): a quarter over all stores at a million orders.

    .venv/bin/python bench/reports.py [--orders 1000000] [--stores 200] [--inspections 20000]
                                      [--findings-per-inspection 3] [--repeat 15] [--keep]

One tenant on PostgreSQL (a fresh ``repairqc_bench_reports`` database, dropped at the end unless
``--keep``), seeded like ``bench/repairs.py`` (its `provision` and `generate`: `--orders` orders
spread evenly over `--stores` stores and three years; no status events) plus, in SQL:

* one QC check per delivered or closed order, 6 % of them failed (those orders also got a passed
  check), and a warranty rework on 2 % of the orders (each refers to the store's order before),
  both spread over all the stores;
* `--inspections` inspections spread over the stores and the three years (score 40-100, passed
  at 70), `--findings-per-inspection` findings each over the categories and severities, one
  corrective action per finding (verified, open or overdue), and a reward or penalty per tenth
  inspection.

Then it times `reports.services.build_report` for the last full quarter over all stores, as the
screen calls it (previous quarter and control limits included; HQ's view), `--repeat` times
after two warm-ups: p50 / p95, the peak of Python allocations during one build (tracemalloc) and
the process's peak RSS. In the same run the floor: ONE hand-written SQL statement computing the
same repair numbers (received, rework, delivered, first pass, on time, first-time fix, median
turnaround) per store for the quarter and the quarter before, the rows the report reads, written
two ways (periods joined with an `OR` of both date ranges; a UNION ALL of one range scan per date
and period), and the first for the quarter alone; the build is compared with the faster one.
The monthly trend (12 months, the charts) is timed too.

Last, to show the time does not grow with the order count beyond the rows read, it deletes three
orders in four of every store (keeping 250,000 of 1,000,000, spread as before; the reworks are
re-linked to the store's previous remaining order) and times the same again.

The QC failure and the warranty return are read from the order's `qc_failed_at` / `reworked_at`
(migration f5db04a3b771): the seeding stamps them in SQL from the rows it wrote, as the migration
backfills them, and checks them. The tenant schema, date indexes included, comes from the models.

Targets: build p95 <= 1.0 s, <= 2x the floor, peak memory <= 300 MB.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import date
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.repairs import (  # noqa: E402
    add_database_arguments,
    execute,
    fresh_database,
    generate,
    make_app,
    provision,
)
from bench.tenancy import load, note, out, percentile  # noqa: E402
from repairqc.db import db, tenant_context, unit_of_work  # noqa: E402
from repairqc.reports.providers import without_jit  # noqa: E402
from repairqc.reports.services import (  # noqa: E402
    HQ_VIEWER,
    Scope,
    build_report,
    monthly_trend,
    preset_period,
    scope_stores,
)
from repairqc.tenants import ddl, migrations  # noqa: E402

TARGET_SECONDS = 1.0
TARGET_FLOOR_RATIO = 2.0
TARGET_MEMORY_MB = 300.0
YEARS = 3


#: The orders that are warranty reworks of their store's previous order: 2 %, over all stores
#: (order ids run through the stores in turn, so `id % 50` alone would pick 4 stores of 200).
REWORK_SHARE = "id / 7 % 50 = 7"


def seed_supervision(bench, inspections: int, per_inspection: int) -> None:
    """QC checks, reworks, inspections, findings, actions, rewards: all INSERT ... SELECT."""
    n_stores = len(bench.store_ids)
    step = YEARS * 365 * 86400 / max(1, inspections)
    with tenant_context(bench.ref), unit_of_work():
        owner = db.session.execute(sa.text("SELECT min(id) FROM staff_users")).scalar_one()
        version = db.session.execute(sa.text("SELECT min(id) FROM standard_versions")).scalar_one()
        execute(
            "qc checks",
            """
            INSERT INTO qc_checks (store_id, repair_order_id, standard_version_id, category, inspector_id,
                                   status, started_at, finished_at, created_at, updated_at, version)
            SELECT o.store_id, o.id, :version, 'smartphone', :owner, s.status,
                   o.received_at + interval '1 day', o.received_at + interval '1 day 1 hour',
                   o.received_at, o.received_at, 1
            FROM repair_orders o
            CROSS JOIN LATERAL (VALUES ('passed'), ('failed')) AS s(status)
            WHERE o.status IN ('delivered', 'closed') AND (s.status = 'passed' OR o.id / 7 % 50 < 3)
            """,
            version=version,
            owner=owner,
        )
        execute(
            "warranty reworks",
            f"UPDATE repair_orders SET rework_of_id = id - {n_stores} "
            f"WHERE {REWORK_SHARE} AND id > {n_stores}",
        )
        stamp_quality_facts()
        execute(
            "inspections",
            f"""
            INSERT INTO inspections (id, store_id, kind, inspector_id, due_on, status, standard_version_id,
                                     started_at, submitted_at, reviewed_at, pass_mark, score, passed,
                                     created_at, updated_at, version)
            SELECT g, (CAST(:sid AS integer[]))[(g - 1) % {n_stores} + 1], 'periodic', :owner, at::date,
                   CASE WHEN g % 10 = 0 THEN 'submitted' ELSE 'closed' END, :version,
                   at - interval '2 hours', at, at + interval '1 day', 70,
                   40 + (g * 37 % 61), 40 + (g * 37 % 61) >= 70, at, at, 1
            FROM (SELECT g, now() - make_interval(secs => ({inspections} - g) * {step}) AS at
                  FROM generate_series(1, {inspections}) AS g) AS t
            """,
            sid=bench.store_ids,
            owner=owner,
            version=version,
        )
        execute(
            "findings",
            f"""
            INSERT INTO findings (id, store_id, inspection_id, category, severity, description, raised_by_id,
                                  raised_at, created_at, updated_at, version)
            SELECT (i.id - 1) * {per_inspection} + f, i.store_id, i.id,
                   (ARRAY['process', 'equipment', 'skills', 'service'])[(i.id + f) % 4 + 1],
                   (ARRAY['critical', 'major', 'minor', 'minor'])[(i.id * 7 + f) % 4 + 1],
                   'Finding ' || f || ' of inspection ' || i.id, :owner,
                   i.submitted_at, i.submitted_at, i.submitted_at, 1
            FROM inspections i CROSS JOIN generate_series(1, {per_inspection}) AS f
            """,
            owner=owner,
        )
        execute(
            "corrective actions",
            """
            INSERT INTO corrective_actions (store_id, finding_id, description, owner_id, due_on, status,
                                            done_at, verified_at, escalation_count, created_at, updated_at,
                                            version)
            SELECT f.store_id, f.id, 'Fix it', :owner, (f.raised_at + interval '14 days')::date,
                   CASE WHEN f.raised_at > now() - interval '30 days' THEN 'open'
                        WHEN f.id % 20 = 0 THEN 'in_progress' ELSE 'verified' END,
                   CASE WHEN f.raised_at <= now() - interval '30 days' AND f.id % 20 <> 0
                        THEN f.raised_at + make_interval(days => (f.id % 20)) END,
                   CASE WHEN f.raised_at <= now() - interval '30 days' AND f.id % 20 <> 0
                        THEN f.raised_at + interval '21 days' END,
                   0, f.raised_at, f.raised_at, 1
            FROM findings f
            """,
            owner=owner,
        )
        execute(
            "rewards and penalties",
            """
            INSERT INTO rewards_penalties (kind, store_id, inspection_id, decided_on, reason, decided_by_id,
                                           created_at, updated_at, version)
            SELECT CASE WHEN i.passed THEN 'reward' ELSE 'penalty' END, i.store_id, i.id,
                   i.submitted_at::date, 'Bench', :owner, i.submitted_at, i.submitted_at, 1
            FROM inspections i WHERE i.id % 10 = 0
            """,
            owner=owner,
        )
        for table in ("inspections", "findings"):
            db.session.execute(
                sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
                )
            )
    db.session.remove()
    vacuum()


def vacuum() -> None:
    begin = time.perf_counter()
    with db.state.raw_control.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM (ANALYZE)")
    note(f"VACUUM (ANALYZE) in {time.perf_counter() - begin:.1f} s")


def stamp_quality_facts() -> None:
    """Set `qc_failed_at` / `reworked_at` from the QC checks and rework orders, as migration
    f5db04a3b771 backfills them: raw SQL bypasses the ORM hook that keeps them
    (`repairs.models._keep_quality_facts`). Recomputed from scratch, so it also clears the
    stamps whose check or rework order was deleted (`thin_orders`)."""
    execute(
        "qc_failed_at stamped",
        """
        UPDATE repair_orders o SET qc_failed_at = q.first_failed
        FROM (SELECT repair_order_id, min(finished_at) AS first_failed FROM qc_checks
              WHERE status = 'failed' GROUP BY repair_order_id) AS q
        WHERE q.repair_order_id = o.id AND o.qc_failed_at IS DISTINCT FROM q.first_failed
        """,
    )
    execute(
        "qc_failed_at cleared",
        """
        UPDATE repair_orders o SET qc_failed_at = NULL WHERE o.qc_failed_at IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM qc_checks q WHERE q.repair_order_id = o.id AND q.status = 'failed')
        """,
    )
    execute(
        "reworked_at stamped",
        """
        UPDATE repair_orders o SET reworked_at = r.first_return
        FROM (SELECT rework_of_id, min(received_at) AS first_return FROM repair_orders
              WHERE rework_of_id IS NOT NULL GROUP BY rework_of_id) AS r
        WHERE r.rework_of_id = o.id AND o.reworked_at IS DISTINCT FROM r.first_return
        """,
    )
    execute(
        "reworked_at cleared",
        """
        UPDATE repair_orders o SET reworked_at = NULL WHERE o.reworked_at IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM repair_orders r WHERE r.rework_of_id = o.id)
        """,
    )
    # The report trusts the stamps: check them against the rows they summarise.
    wrong = db.session.execute(
        sa.text(
            """
            SELECT count(*) FROM repair_orders o
            WHERE (o.qc_failed_at IS NOT NULL) <> EXISTS (
                      SELECT 1 FROM qc_checks q WHERE q.repair_order_id = o.id AND q.status = 'failed')
               OR (o.reworked_at IS NOT NULL) <> EXISTS (
                      SELECT 1 FROM repair_orders r WHERE r.rework_of_id = o.id)
            """
        )
    ).scalar_one()
    if wrong:
        raise SystemExit(f"{wrong} orders with qc_failed_at / reworked_at out of step with their rows")


def order_indexes(bench) -> str:
    """The indexes the tenant schema has on repair_orders (from the models: none created here)."""
    with tenant_context(bench.ref):
        names = db.session.execute(
            sa.text(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'repair_orders' "
                "AND schemaname = current_schema() ORDER BY indexname"
            )
        ).scalars()
        listed = ", ".join(names)
    db.session.remove()
    return listed


def thin_orders(bench, keep_one_in: int) -> None:
    """Delete all orders but one in `keep_one_in` of each store (and what refers to them), spread
    as before; the reworks are re-linked to the store's previous remaining order."""
    n_stores = len(bench.store_ids)
    with tenant_context(bench.ref), unit_of_work():
        # Order id i is the ((i - 1) / stores)-th order of store (i - 1) % stores (bench/repairs.py).
        dropped = f"(id - 1) / {n_stores} % {keep_one_in} <> 0"
        gone = f"(SELECT id FROM repair_orders WHERE {dropped})"
        execute(
            "reworks unlinked", f"UPDATE repair_orders SET rework_of_id = NULL WHERE rework_of_id IN {gone}"
        )
        execute("qc checks deleted", f"DELETE FROM qc_checks WHERE repair_order_id IN {gone}")
        execute("orders deleted", f"DELETE FROM repair_orders WHERE {dropped}")
        step = keep_one_in * n_stores
        execute(
            "warranty reworks re-linked",
            f"UPDATE repair_orders SET rework_of_id = id - {step} WHERE {REWORK_SHARE} AND id > {step}",
        )
        stamp_quality_facts()
    db.session.remove()
    vacuum()


#: The floor: every repair number of the report, per store, in one statement.
FLOOR_SQL = """
SELECT o.store_id, p.prev,
       count(*) FILTER (WHERE o.received_at >= p.lo AND o.received_at < p.hi) AS received,
       count(*) FILTER (WHERE o.received_at >= p.lo AND o.received_at < p.hi AND o.rework_of_id IS NOT NULL),
       count(*) FILTER (WHERE o.delivered_at >= p.lo AND o.delivered_at < p.hi) AS delivered,
       count(*) FILTER (WHERE o.delivered_at >= p.lo AND o.delivered_at < p.hi AND o.qc_failed_at IS NULL),
       count(*) FILTER (WHERE o.delivered_at >= p.lo AND o.delivered_at < p.hi AND o.promised_at IS NOT NULL),
       count(*) FILTER (WHERE o.delivered_at >= p.lo AND o.delivered_at < p.hi
                        AND o.delivered_at <= o.promised_at),
       count(*) FILTER (WHERE o.delivered_at >= p.lo AND o.delivered_at < p.hi AND o.rework_of_id IS NULL),
       count(*) FILTER (WHERE o.delivered_at >= p.lo AND o.delivered_at < p.hi AND o.rework_of_id IS NULL
                        AND o.reworked_at IS NULL),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM o.delivered_at - o.received_at) / 86400)
           FILTER (WHERE o.delivered_at >= p.lo AND o.delivered_at < p.hi)
FROM repair_orders o
JOIN (VALUES {periods}) AS p(prev, lo, hi)
  ON (o.received_at >= p.lo AND o.received_at < p.hi) OR (o.delivered_at >= p.lo AND o.delivered_at < p.hi)
GROUP BY o.store_id, p.prev
"""


#: The same numbers written so each period is two index range scans (received, delivered) and
#: the `OR` join is gone: the floor for reading several periods at once.
FLOOR_UNION_SQL = """
SELECT prev, store_id, sum(received), sum(rework), sum(delivered), sum(first_pass), sum(promised),
       sum(on_time), sum(originals), sum(fixed), percentile_cont(0.5) WITHIN GROUP (ORDER BY turnaround)
FROM ({branches}) AS facts
GROUP BY prev, store_id
"""
FLOOR_BRANCHES = """
SELECT {prev} AS prev, store_id, 1 AS received, (rework_of_id IS NOT NULL)::int AS rework, 0 AS delivered,
       0 AS first_pass, 0 AS promised, 0 AS on_time, 0 AS originals, 0 AS fixed,
       NULL::float8 AS turnaround
FROM repair_orders WHERE received_at >= {lo} AND received_at < {hi}
UNION ALL
SELECT {prev}, store_id, 0, 0, 1, (qc_failed_at IS NULL)::int, (promised_at IS NOT NULL)::int,
       (delivered_at <= promised_at)::int, (rework_of_id IS NULL)::int,
       (rework_of_id IS NULL AND reworked_at IS NULL)::int,
       extract(epoch FROM delivered_at - received_at) / 86400
FROM repair_orders WHERE delivered_at >= {lo} AND delivered_at < {hi}
"""


def period_bounds(period) -> tuple[str, str]:
    end = date.fromordinal(period.end.toordinal() + 1)
    return f"TIMESTAMPTZ '{period.start} 00:00Z'", f"TIMESTAMPTZ '{end} 00:00Z'"


def floor_statement(quarter, with_previous: bool) -> str:
    periods = [(False, quarter)] + ([(True, quarter.previous())] if with_previous else [])
    rows = []
    for prev, period in periods:
        lo, hi = period_bounds(period)
        rows.append(f"({str(prev).lower()}, {lo}, {hi})")
    return FLOOR_SQL.format(periods=", ".join(rows))


def floor_union_statement(quarter) -> str:
    branches = []
    for prev, period in ((False, quarter), (True, quarter.previous())):
        lo, hi = period_bounds(period)
        branches.append(FLOOR_BRANCHES.format(prev=str(prev).lower(), lo=lo, hi=hi))
    return FLOOR_UNION_SQL.format(branches=" UNION ALL ".join(branches))


def timings(fn, repeat: int) -> list[float]:
    for _ in range(2):
        fn()
        db.session.remove()
    seconds = []
    for _ in range(repeat):
        begin = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - begin)
        db.session.remove()
    return seconds


def measure(bench, label: str, repeat: int, missed: list[str]) -> None:
    quarter = preset_period("last_quarter", date.today())
    with tenant_context(bench.ref):
        rows_read = db.session.execute(
            sa.text(
                "SELECT count(*) FROM repair_orders WHERE (received_at >= :lo AND received_at < :hi) "
                "OR (delivered_at >= :lo AND delivered_at < :hi)"
            ),
            {"lo": quarter.previous().start, "hi": date.fromordinal(quarter.end.toordinal() + 1)},
        ).scalar_one()
        total = db.session.execute(sa.text("SELECT count(*) FROM repair_orders")).scalar_one()
        db.session.remove()
        out(f"{label}_orders_total", total)
        out(f"{label}_quarter", f"{quarter.start} - {quarter.end} (previous {quarter.previous().start} - "
                                f"{quarter.previous().end})")  # fmt: skip
        out(f"{label}_orders_in_both_quarters", rows_read)

        def build():
            report = build_report(quarter, Scope("all"), HQ_VIEWER)
            assert len(report.rows) == len(bench.store_ids)
            return report

        built = timings(build, repeat)
        p50, p95 = statistics.median(built), percentile(built, 95)
        out(f"{label}_build_p50_s", p50)
        out(f"{label}_build_p95_s", p95)
        tracemalloc.start()
        build()
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        db.session.remove()
        out(f"{label}_build_peak_python_alloc_mb", peak / 2**20)
        floors = {}
        for name, sql in (
            ("floor_both_quarters_or_join", floor_statement(quarter, True)),
            ("floor_both_quarters_union", floor_union_statement(quarter)),
            ("floor_quarter_only", floor_statement(quarter, False)),
        ):
            statement = sa.text(sql)

            def run_floor(statement=statement):
                without_jit()  # as the report's statements run (reports.providers)
                return db.session.execute(statement).all()

            spent = timings(run_floor, repeat)
            floors[name] = statistics.median(spent)
            out(f"{label}_{name}_p50_s", floors[name])
        # Against the faster of the two hand-written statements over both quarters.
        floor = min(floors["floor_both_quarters_or_join"], floors["floor_both_quarters_union"])
        ratio = p50 / floor
        out(f"{label}_build_over_floor", f"{ratio:.2f}x (p50 over the best floor for both quarters)")
        begin = time.perf_counter()  # once: 12 months of providers' statements, for the charts
        monthly_trend(quarter.end, [s.id for s in scope_stores(Scope("all"))])
        out(f"{label}_monthly_trend_12_months_s", time.perf_counter() - begin)
        db.session.remove()
        if p95 > TARGET_SECONDS:
            missed.append(f"{label}_build_p95")
        if ratio > TARGET_FLOOR_RATIO:
            missed.append(f"{label}_build_over_floor")
        if peak / 2**20 > TARGET_MEMORY_MB:
            missed.append(f"{label}_memory")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--stores", type=int, default=200)
    parser.add_argument("--inspections", type=int, default=20_000)
    parser.add_argument("--findings-per-inspection", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=15, help="timed builds after two warm-ups")
    parser.add_argument("--no-thin", dest="thin", action="store_false", help="skip the 1-in-4 re-run")
    add_database_arguments(parser, "repairqc_bench_reports")
    args = parser.parse_args(argv)
    if args.stores < 1 or args.orders < 100 * args.stores:
        parser.error("--orders must be at least 100 per store")
    admin, url = fresh_database(
        parser,
        args,
        orders=args.orders,
        stores=args.stores,
        inspections=args.inspections,
        findings=args.inspections * args.findings_per_inspection,
    )
    started = time.perf_counter()
    missed: list[str] = []
    try:
        with tempfile.TemporaryDirectory(prefix="repairqc-bench-") as tmp:
            app = make_app(url, Path(tmp))
            with app.app_context():
                migrations.upgrade_control(db.state.raw_control)
                bench = provision(args.stores)
                begin = time.perf_counter()
                generate(bench, args.orders, events=False)
                seed_supervision(bench, args.inspections, args.findings_per_inspection)
                out("seed_seconds", time.perf_counter() - begin)
                out("repair_orders_indexes", order_indexes(bench))
                measure(bench, "full", args.repeat, missed)
                if args.thin:
                    thin_orders(bench, 4)
                    measure(bench, "quarter_of_the_orders", args.repeat, missed)
                db.state.dispose()
            out("peak_rss_mb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    finally:
        if not args.keep:
            with admin.connect() as conn:
                ddl.drop_database(conn, args.database)
        admin.dispose()
    out("load_at_end", load())
    out(
        "targets",
        f"build p95 <= {TARGET_SECONDS} s, <= {TARGET_FLOOR_RATIO}x floor, <= {TARGET_MEMORY_MB} MB",
    )
    out("targets_missed", ", ".join(missed) or "none")
    out("bench_total_seconds", time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
