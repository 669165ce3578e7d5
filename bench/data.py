"""Data management benchmark (issue #9): backups, restores and the analytics page.

    .venv/bin/python bench/data.py [--orders 100000] [--analytics-orders 1000000] [--stores 50]
                                   [--analytics-stores 200] [--requests 5] [--skip-analytics] [--keep]

Part 1, backups (targets: export <= 30 s, restore <= 60 s, on PostgreSQL and SQLite). One tenant
on PostgreSQL (a fresh ``repairqc_bench_data`` database) seeded like ``bench/repairs.py``
(`--orders` orders over `--stores` stores and three years, three status events per order) plus
``bench/reports.py``'s QC checks, warranty reworks, inspections, findings and actions, and two
parts used on every delivered order. Then, one app at a time as in production:

1. PostgreSQL: `write_backup` of that tenant to a file (``pg_export``);
2. SQLite (a fresh control database and tenant folder): `restore_backup` of that file into a new
   tenant (``sqlite_restore``, checksums of every table verified by the restore), then
   `write_backup` of the restored tenant (``sqlite_export``);
3. PostgreSQL again: `restore_backup` of the SQLite backup into a new tenant
   (``pg_restore``) — the SQLite → PostgreSQL move of the issue, verified the same way.

Each prints seconds, the archive's size and the rows. The two archives must hold the same rows
per table (the bench stops otherwise): the round trip through SQLite lost nothing.

Part 2, analytics (target: page <= 2 s). A second database with `--analytics-orders` orders
(no status events) over `--analytics-stores` stores, reworks and parts as above; the owner's
``/admin/analytics/`` page over the last 365 days and every store, grouped by store (the widest
grouping) and by device category, fetched `--requests` times after one warm-up through the
test client (HTML, inline SVG charts, the forecast of the total): p50 and max. The page's
service, `analytics.services.build_analytics`, is timed alone too, per section.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.repairs import (  # noqa: E402
    Bench,
    add_database_arguments,
    execute,
    fresh_database,
    generate,
    make_app,
    provision,
    sign_in,
)
from bench.reports import seed_supervision  # noqa: E402
from bench.tenancy import load, note, out, print_machine  # noqa: E402
from repairqc.analytics.services import (  # noqa: E402
    SECTIONS,
    Params,
    build_analytics,
    forget_weekly_series,
    tune_planner,
)
from repairqc.backups.format import write_backup  # noqa: E402
from repairqc.backups.restore import restore_backup  # noqa: E402
from repairqc.db import TenantRef, db, tenant_context, unit_of_work, utcnow  # noqa: E402
from repairqc.reports.services import Period  # noqa: E402
from repairqc.stores.models import Store  # noqa: E402
from repairqc.tenants import ddl, migrations  # noqa: E402
from repairqc.tenants import services as tenants  # noqa: E402
from repairqc.tenants.models import Tenant  # noqa: E402

EXPORT_TARGET_SECONDS = 30.0
RESTORE_TARGET_SECONDS = 60.0
PAGE_TARGET_SECONDS = 2.0
PARTS = 40


def seed_parts(bench) -> None:
    """A catalogue of parts and two parts used on every delivered or closed order (stock
    movements of reason "consumption"), each order's parts facts (`parts_units`,
    `parts_cost_cents`: what the analytics reads) stamped from them as the migration does, and
    its device facts (`device_category`, `device_brand`, `device_model`) copied likewise."""
    with tenant_context(bench.ref), unit_of_work():
        execute(
            "parts",
            f"""
            INSERT INTO parts
                (sku, name, category, unit_price_cents, is_active, created_at, updated_at, version)
            SELECT 'P' || lpad(g::text, 4, '0'), 'Part ' || g, 'screen', 1500 + g * 250, true, now(), now(), 1
            FROM generate_series(1, {PARTS}) AS g
            """,
        )
        first = db.session.execute(sa.text("SELECT min(id) FROM parts")).scalar_one()
        execute(
            "stock movements",
            f"""
            INSERT INTO stock_movements (store_id, part_id, order_id, change, reason, actor_id, at)
            SELECT o.store_id, {first} + (o.id * 7 + p) % {PARTS}, o.id, -1 - (o.id % 3) * (p - 1),
                   'consumption', o.technician_id, o.received_at + interval '1 day'
            FROM repair_orders o CROSS JOIN generate_series(1, 2) AS p
            WHERE o.status IN ('delivered', 'closed')
            """,
        )
        # The orders' parts facts, as the migration b4d2f6a8c913 backfills them (Core inserts
        # bypass the ORM hook that keeps them).
        execute(
            "orders' parts facts",
            """
            UPDATE repair_orders SET parts_units = used.units, parts_cost_cents = used.cents
            FROM (SELECT m.order_id, sum(-m.change) AS units, sum(-m.change * p.unit_price_cents) AS cents
                  FROM stock_movements m JOIN parts p ON p.id = m.part_id
                  WHERE m.order_id IS NOT NULL AND m.reason IN ('consumption', 'return')
                  GROUP BY m.order_id) AS used
            WHERE used.order_id = repair_orders.id
            """,
        )
        # The device's category, brand and model on each order, as the migration 0016ace039c0
        # backfills them (`_copy_device_facts` sets them on orders the ORM writes).
        execute(
            "orders' device facts",
            """
            UPDATE repair_orders SET device_category = d.category, device_brand = d.brand,
                   device_model = d.model
            FROM devices AS d WHERE d.id = repair_orders.device_id
            """,
        )
    db.session.remove()


def tenant_ref(slug: str) -> TenantRef:
    tenant = db.control.execute(sa.select(Tenant).where(Tenant.slug == slug)).scalar_one()
    return tenant.ref


def timed_backup(ref: TenantRef, path: Path, label: str, missed: list[str]) -> dict[str, int]:
    begin = time.perf_counter()
    with path.open("wb") as out_file:
        summary = write_backup(ref, out_file)
    seconds = time.perf_counter() - begin
    out(f"{label}_seconds", seconds)
    out(f"{label}_bytes", path.stat().st_size)
    out(f"{label}_rows", summary.rows)
    if seconds > EXPORT_TARGET_SECONDS:
        missed.append(label)
    return summary.row_counts


def timed_restore(path: Path, slug: str, label: str, missed: list[str]) -> None:
    begin = time.perf_counter()
    summary = restore_backup(path, slug, new=True, name=f"Restored {slug}")
    seconds = time.perf_counter() - begin
    out(f"{label}_seconds", seconds)
    out(f"{label}_rows", summary.rows)
    if seconds > RESTORE_TARGET_SECONDS:
        missed.append(label)


def bench_backups(args: argparse.Namespace, url: str, work: Path, missed: list[str]) -> None:
    pg_file, sqlite_file = work / "pg.zip", work / "sqlite.zip"
    app = make_app(url, work / "pg-tenants")
    with app.app_context():
        migrations.upgrade_control(db.state.raw_control)
        bench = provision(args.stores)
        begin = time.perf_counter()
        generate(bench, args.orders, events=True)
        seed_supervision(bench, inspections=max(1, args.orders // 50), per_inspection=3)
        seed_parts(bench)
        out("backup_seed_seconds", time.perf_counter() - begin)
        pg_counts = timed_backup(bench.ref, pg_file, "pg_export", missed)
        out("tables", len(pg_counts))
        db.state.dispose()

    folder = work / "sqlite"
    app = make_app(f"sqlite:///{folder / 'control.db'}", folder / "tenants")
    with app.app_context():
        migrations.upgrade_control(db.state.raw_control)
        timed_restore(pg_file, "fromserver", "sqlite_restore", missed)
        sqlite_counts = timed_backup(tenant_ref("fromserver"), sqlite_file, "sqlite_export", missed)
        db.state.dispose()
    if sqlite_counts != pg_counts:
        differ = sorted(t for t in pg_counts if pg_counts[t] != sqlite_counts.get(t))
        raise SystemExit(f"rows differ after the round trip through SQLite: {differ}")

    app = make_app(url, work / "pg-tenants")
    with app.app_context():
        timed_restore(sqlite_file, "fromsqlite", "pg_restore", missed)
        db.state.dispose()


ANALYTICS_SLUG = "benchrepairs"  # bench.repairs.provision's tenant


def seeded_bench() -> Bench | None:
    """The analytics tenant a previous `--keep` run left in this database, if any (`--reuse`)."""
    tenant = db.control.execute(sa.select(Tenant).where(Tenant.slug == ANALYTICS_SLUG)).scalar_one_or_none()
    if tenant is None:
        return None
    with tenant_context(tenant.ref):
        stores = db.session.execute(sa.select(Store.id, Store.code).order_by(Store.id)).all()
        orders = db.session.execute(sa.text("SELECT count(*) FROM repair_orders")).scalar_one()
    db.session.remove()
    out("analytics_reused_orders", orders)
    out("analytics_reused_stores", len(stores))
    ids = [row.id for row in stores]
    return Bench(
        tenant.ref,
        tenants.tenant_host(tenant.slug),
        ids,
        [row.code for row in stores],
        ids[len(ids) // 2],
        {"owner": "owner@bench.example", "manager": "manager@bench.example"},
    )


def explain_analytics(params: Params) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of every statement of one cold `build_analytics` (the page's
    service) that took over 20 ms, under the same planner settings (`tune_planner`)."""
    seen: list[tuple[float, str, object]] = []
    started: list[float] = []

    def before(*_args) -> None:
        started.append(time.perf_counter())

    def after(_conn, _cursor, statement, parameters, _context, _many) -> None:
        seen.append((time.perf_counter() - started.pop(), statement, parameters))

    forget_weekly_series()
    engine = db.state.raw_control
    sa.event.listen(engine, "before_cursor_execute", before)
    sa.event.listen(engine, "after_cursor_execute", after)
    try:
        build_analytics(params)
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)
        sa.event.remove(engine, "after_cursor_execute", after)
    db.session.rollback()
    for n, (seconds, statement, parameters) in enumerate(seen):
        if seconds < 0.02:
            continue
        tune_planner()
        plan = (
            db.session.connection()
            .exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            .scalars()
        )
        print(f"explain_statement_{n}: {seconds * 1000:.0f} ms in the service, load {load()}", flush=True)
        for line in [*statement.strip().splitlines(), "--", *plan]:
            print(f"    {line}", flush=True)
        db.session.rollback()


def time_service(params: Params, requests: int) -> None:
    """The page's service cold (no kept weekly series, first fit and render caches are the
    process's) and warm, then each section alone."""
    forget_weekly_series()
    begin = time.perf_counter()
    build_analytics(params)
    out("service_all_cold_seconds", time.perf_counter() - begin)
    out("load_now", load())
    seconds = []
    for _ in range(requests):
        begin = time.perf_counter()
        build_analytics(params)
        seconds.append(time.perf_counter() - begin)
    out("service_all_warm_p50_seconds", statistics.median(seconds))
    for section in SECTIONS:
        seconds = []
        for _ in range(requests):
            forget_weekly_series()  # the forecast's SQL is timed, not the kept series
            begin = time.perf_counter()
            build_analytics(params, sections=(section,))
            seconds.append(time.perf_counter() - begin)
        out(f"service_{section}_p50_seconds", statistics.median(seconds))
    out("load_now", load())


def bench_analytics(args: argparse.Namespace, url: str, work: Path, missed: list[str]) -> None:
    app = make_app(url, work / "analytics-tenants")
    with app.app_context():
        migrations.upgrade_control(db.state.raw_control)
        bench = seeded_bench() if args.reuse else None
        if bench is None:
            bench = provision(args.analytics_stores)
            begin = time.perf_counter()
            generate(bench, args.analytics_orders, events=False)
            seed_supervision(bench, inspections=1000, per_inspection=1)
            seed_parts(bench)
            with db.state.raw_control.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM (ANALYZE)")
            out("analytics_seed_seconds", time.perf_counter() - begin)
        end = utcnow().date()
        period = Period(end - timedelta(days=364), end)
        params = Params(period, tuple(bench.store_ids), group_by="store")
        with tenant_context(bench.ref):
            build_analytics(params)  # warm-up: connection, plans, imports
            time_service(params, args.requests)
            if args.explain:
                for group_by in ("store", "category"):
                    print(f"# explain: grouped by {group_by}", flush=True)
                    explain_analytics(dataclasses.replace(params, group_by=group_by))
        db.session.remove()
        host = bench.host

    client = app.test_client()
    sign_in(client, host, bench.users["owner"])
    for group_by in ("store", "category"):
        query = {
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "scope": "all",
            "group_by": group_by,
        }
        seconds = []
        for attempt in range(args.requests + 1):
            if attempt and args.cold:  # time the forecast's SQL too, not the kept series
                forget_weekly_series()
            begin = time.perf_counter()
            response = client.get("/admin/analytics/", base_url=f"http://{host}", query_string=query)
            elapsed = time.perf_counter() - begin
            if response.status_code != 200 or "image/svg" not in response.text:
                raise SystemExit(f"analytics page answered {response.status_code}")
            if attempt:  # the first one warms the caches up
                seconds.append(elapsed)
        out(f"page_by_{group_by}_p50_seconds", statistics.median(seconds))
        out(f"page_by_{group_by}_max_seconds", max(seconds))
        out("load_now", load())
        if max(seconds) > PAGE_TARGET_SECONDS:
            missed.append(f"page_by_{group_by}")
    with app.app_context():
        db.state.dispose()


def kept_database(parser: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[sa.Engine, str]:
    """`fresh_database` without recreating: the machine lines, then the kept database's URL
    (created empty when missing, and then seeded as usual)."""
    if not args.database.replace("_", "").isalnum():
        parser.error("--database: letters, digits and underscores only")
    admin = sa.create_engine(args.admin_url, isolation_level="AUTOCOMMIT")
    print_machine(admin)
    out("command", " ".join([Path(sys.executable).name, *sys.argv]))
    out("load_at_start", load())
    with admin.connect() as conn:
        exists = conn.execute(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": args.database}
        ).scalar()
        if not exists:
            ddl.recreate_database(conn, args.database)
    url = sa.make_url(args.admin_url).set(database=args.database).render_as_string(hide_password=False)
    return admin, url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100_000, help="orders of the backed-up tenant")
    parser.add_argument("--stores", type=int, default=50)
    parser.add_argument("--analytics-orders", type=int, default=1_000_000)
    parser.add_argument("--analytics-stores", type=int, default=200)
    parser.add_argument("--requests", type=int, default=5, help="timed analytics pages per grouping")
    parser.add_argument("--skip-analytics", action="store_true")
    parser.add_argument("--skip-backups", action="store_true")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="analytics only: time the tenant a previous --keep run seeded in --database (implies --keep)",
    )
    parser.add_argument(
        "--cold", action="store_true", help="analytics: drop the kept weekly series before every page"
    )
    parser.add_argument(
        "--explain", action="store_true", help="analytics: EXPLAIN (ANALYZE, BUFFERS) of the statements"
    )
    add_database_arguments(parser, "repairqc_bench_data")
    args = parser.parse_args(argv)
    if args.orders < 100 * args.stores or args.analytics_orders < 100 * args.analytics_stores:
        parser.error("at least 100 orders per store (bench/repairs.py's generator needs them)")
    if args.reuse:
        if not args.skip_backups:
            parser.error("--reuse times the analytics part only: add --skip-backups")
        args.keep = True
        admin, url = kept_database(parser, args)
    else:
        admin, url = fresh_database(parser, args, orders=args.orders, analytics_orders=args.analytics_orders)
    started = time.perf_counter()
    missed: list[str] = []
    try:
        with tempfile.TemporaryDirectory(prefix="repairqc-bench-data-") as tmp:
            work = Path(tmp)
            if not args.skip_backups:
                bench_backups(args, url, work, missed)
            if not args.skip_analytics:
                # A database of its own: the million orders would otherwise sit beside the first tenant.
                if not args.reuse:
                    with admin.connect() as conn:
                        ddl.recreate_database(conn, args.database)
                    note("analytics: seeding")
                bench_analytics(args, url, work, missed)
    finally:
        if not args.keep:
            with admin.connect() as conn:
                ddl.drop_database(conn, args.database)
        admin.dispose()
    out("load_at_end", load())
    out("targets_missed", ", ".join(missed) or "none")
    out("bench_total_seconds", time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
