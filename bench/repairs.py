"""Repair workflow benchmark: the order board, the admin order list and the order page at scale.

    .venv/bin/python bench/repairs.py [--orders 1000000] [--stores 200] [--requests 50] [--keep]

One tenant on PostgreSQL (a fresh ``repairqc_bench_repairs`` database, dropped at the end unless
``--keep``) with `--stores` stores, two technicians per store, and `--orders` repair orders spread
evenly over the stores and over the last three years. The rows are written with
``INSERT ... SELECT FROM generate_series`` inside the tenant schema, then the database is
``VACUUM (ANALYZE)``-d (this server runs with autovacuum off; a production server's autovacuum
would have done the same). Generated, per order:

* a device (one per order) and a customer (one customer per 1.5 orders: every third customer came
  back with a second device), in the order's store; phone numbers encrypted as the app does;
* the order: the newest 2 % of each store's orders (at least 7) are open, over the seven open states
  (newest received, oldest ready for pick-up; a quarter of those in repair are on hold); of the
  others 3 % declined, 2 % cancelled, the newest tenth delivered and the rest closed; a
  technician on every order past intake, diagnosis, amounts, warranty and dates to match;
* its status events: the first, the second and the last move (1 to 3 per order, 2.99 on
  average; the moves in between are left out); `--no-events` leaves them out.

Then the test client signs in as the owner (HQ, every store) and as the store manager of one store
(the middle one), and times `--requests` requests after `--warmup` warm-ups of each page below
(p50 / p95 / max, measured around the test client call: the app and the database, not a network
or a WSGI server; requests run outside any app context, each with its own, as in production):

* ``board``: the order board of the store, ``/admin/repairs/?store=<id>``;
* ``list_<status>``: the admin order list, first page, filtered on one status (the filter's
  argument name is read from the rendered list page), for an open state (``in_repair``), the
  most common state (``closed``) and a rare one spread over the years (``cancelled``);
  ``list_all``: the first page with no filter. Each list is also timed with Flask-Admin's
  COUNT(*) turned back on (``..._with_count``), to show what it costs (``--no-compare-count``
  skips that);
* ``order``: the order page ``/admin/repairs/orders/<id>/`` of an order in repair at the store;
* ``details``: the generated admin details page of the same order.

Every response must be a 200 showing an order number of the store (of any store for the owner's
lists); the bench stops otherwise. For each page the median number of SQL statements and the
median time inside them are printed too. ``--explain`` prints ``EXPLAIN (ANALYZE, BUFFERS)`` of
the slowest statement of one request of each page; ``--gc-freeze`` calls ``gc.freeze()`` before
timing (full collections of the app's long-lived objects are most of the p95, docs/benchmarks.md).
Target (issue #4): p95 <= 150 ms for the board, the filtered list and the order page.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.tenancy import load, note, out, percentile, print_machine  # noqa: E402
from repairqc import create_app  # noqa: E402
from repairqc.accounts.models import Role  # noqa: E402
from repairqc.accounts.services import create_staff_user  # noqa: E402
from repairqc.crypto import lookup_hash, normalise_phone  # noqa: E402
from repairqc.db import TenantRef, db, tenant_context, unit_of_work  # noqa: E402
from repairqc.repairs.models import Customer  # noqa: E402
from repairqc.stores.models import Chain, Store  # noqa: E402
from repairqc.tenants import ddl, migrations  # noqa: E402
from repairqc.tenants import services as tenants  # noqa: E402

TARGET_P95_MS = 150.0
PASSWORD = "bench-horse-battery-staple"
#: The states of an open order, newest first (repairs.models.RepairOrderStatus).
OPEN_STATES = ["received", "diagnosing", "quoted", "approved", "in_repair", "qc", "ready"]
#: The status filters timed on the admin list: open, most common, rare and old.
LIST_STATUSES = ("in_repair", "closed", "cancelled")
#: Distinct phone numbers the customers share (each encrypted once, as the app would).
PHONES = 200
YEARS = 3


# --- the app and the tenant -------------------------------------------------------------------------


def make_app(database_url: str, tenant_dir: Path) -> Flask:
    return create_app(
        {
            "REPAIRQC_ENV": "testing",
            "SECRET_KEY": "bench-secret-key",
            "DATABASE_URL": database_url,
            "TENANT_DATA_DIR": str(tenant_dir),
            "BASE_DOMAIN": "bench.localhost",
            "SESSION_COOKIE_SECURE": False,  # the test client talks plain http
            "PREFERRED_URL_SCHEME": "http",
            "MAIL_BACKEND": "console",
        }
    )


@dataclass
class Bench:
    ref: TenantRef
    host: str
    store_ids: list[int]
    store_codes: list[str]
    store: int  # the store the pages are timed for
    users: dict[str, str] = field(default_factory=dict)  # role key -> e-mail


def provision(stores: int) -> Bench:
    """The tenant with its chains, stores, the owner and one store manager (through the ORM)."""
    made: dict = {}

    def seed() -> None:
        chains = [Chain(code=f"C{n}", name=f"Chain {n}") for n in range(10)]
        rows = [Store(code=f"S{n:04d}", name=f"Store {n}", chain=chains[n % 10]) for n in range(stores)]
        db.session.add_all([*chains, *rows])
        db.session.flush()
        middle = rows[len(rows) // 2]
        create_staff_user("owner@bench.example", "Owner Bench", PASSWORD, roles=[(Role.OWNER, None)])
        create_staff_user(
            "manager@bench.example", "Manager Bench", PASSWORD, roles=[(Role.STORE_MANAGER, middle)]
        )
        made.update(ids=[s.id for s in rows], codes=[s.code for s in rows], store=middle.id)

    with unit_of_work():
        tenant = tenants.create_tenant("benchrepairs", "Bench repairs", seed=seed)
    return Bench(
        tenant.ref,
        tenants.tenant_host(tenant.slug),
        made["ids"],
        made["codes"],
        made["store"],
        {"owner": "owner@bench.example", "manager": "manager@bench.example"},
    )


# --- generating the orders ------------------------------------------------------------------------


def execute(label: str, sql: str, **params) -> float:
    begin = time.perf_counter()
    result = db.session.execute(sa.text(sql), params)
    seconds = time.perf_counter() - begin
    note(f"{label}: {result.rowcount} rows in {seconds:.1f} s")
    return seconds


def generate(bench: Bench, orders: int, events: bool) -> dict[str, float]:
    """Insert technicians, customers, devices, orders and status events with SQL; returns seconds.

    Runs in one transaction of the tenant session, whose `SET LOCAL search_path` (db.py) makes
    the plain table names below those of the tenant's schema. Ids are given explicitly (order i
    has device i) and the sequences are moved past them at the end.
    """
    n_stores = len(bench.store_ids)
    per_store = orders // n_stores  # a store has per_store or per_store + 1 orders
    customers = (per_store * 2 // 3 + 1) * n_stores
    step = YEARS * 365 * 86400 / max(1, orders)  # seconds between two orders of the tenant
    timings: dict[str, float] = {}
    with tenant_context(bench.ref), unit_of_work():
        first_tech = db.session.execute(sa.text("SELECT max(id) + 1 FROM staff_users")).scalar_one()
        phones = [f"+86 138 {n:04d} {n * 7 % 10000:04d}" for n in range(PHONES)]
        encrypted = [Customer.__table__.c.phone.type.process_bind_param(p, None) for p in phones]
        lookups = [lookup_hash("phone", normalise_phone(p)) for p in phones]
        sid, codes = bench.store_ids, bench.store_codes
        timings["technicians"] = execute(
            "technicians",
            f"""
            INSERT INTO staff_users (id, email, full_name, is_active, created_at, updated_at, version)
            SELECT {first_tech} + g, 'tech' || g || '@bench.example', 'Technician ' || g, true,
                   now(), now(), 1
            FROM generate_series(0, {2 * n_stores - 1}) AS g
            """,
        ) + execute(
            "technician roles",
            f"""
            INSERT INTO role_assignments (user_id, role, store_id, created_at, updated_at)
            SELECT {first_tech} + g, :role, (CAST(:sid AS integer[]))[g / 2 + 1], now(), now()
            FROM generate_series(0, {2 * n_stores - 1}) AS g
            """,
            role=Role.TECHNICIAN.value,
            sid=sid,
        )
        timings["customers"] = execute(
            "customers",
            f"""
            INSERT INTO customers (id, store_id, full_name, phone, phone_lookup, language,
                                   preferred_channel, created_at, updated_at, version)
            SELECT g + 1, (CAST(:sid AS integer[]))[g % {n_stores} + 1],
                   (ARRAY['Wang', 'Li', 'Zhang', 'Liu', 'Chen', 'Yang', 'Huang', 'Zhao', 'Smith',
                          'Jones', 'Brown', 'Taylor', 'Garcia', 'Martin', 'Muller', 'Rossi',
                          'Silva'])[g % 17 + 1]
                   || ' ' || (ARRAY['Wei', 'Fang', 'Min', 'Jing', 'Lei', 'Yan', 'Anna', 'Tom', 'Maria',
                                    'Lucas', 'Emma', 'Noah', 'Olivia', 'Chen', 'Hui'])[(g / 17) % 15 + 1]
                   || ' ' || (g / 255 + 1),
                   (CAST(:phones AS text[]))[g % {PHONES} + 1],
                   (CAST(:lookups AS text[]))[g % {PHONES} + 1],
                   CASE WHEN g % 3 = 0 THEN 'zh' ELSE 'en' END, 'phone',
                   now() - make_interval(secs => ({customers} - g) * {step * 1.5}),
                   now() - make_interval(secs => ({customers} - g) * {step * 1.5}), 1
            FROM generate_series(0, {customers - 1}) AS g
            """,
            sid=sid,
            phones=encrypted,
            lookups=lookups,
        )
        # Order i: store s = (i - 1) % stores, k-th order of its store, r-th newest of its store.
        numbered = f"""
            SELECT i, s, k, n_s - k AS r, greatest(7, n_s * 2 / 100) AS open_s, n_s,
                   now() - make_interval(secs => ({orders} - i) * {step}) AS rec,
                   (k * 37 + s * 11) % 100 AS h, (k * 2 / 3) * {n_stores} + s + 1 AS customer
            FROM (
                SELECT i, (i - 1) % {n_stores} AS s, (i - 1) / {n_stores} AS k,
                       {per_store} + CASE WHEN (i - 1) % {n_stores} < {orders % n_stores}
                                          THEN 1 ELSE 0 END AS n_s
                FROM generate_series(1, {orders}) AS i
            ) AS g
        """
        timings["devices"] = execute(
            "devices",
            f"""
            INSERT INTO devices (id, store_id, customer_id, category, brand, model, serial_number,
                                 condition_checks, accessories, created_at, updated_at, version)
            SELECT i, (CAST(:sid AS integer[]))[s + 1], customer,
                   (ARRAY['smartphone', 'smartphone', 'smartphone', 'smartphone', 'tablet',
                          'laptop'])[i % 6 + 1],
                   (ARRAY['Apple', 'Huawei', 'Xiaomi', 'Samsung', 'OPPO', 'Lenovo'])[i % 6 + 1],
                   'Model ' || (i % 37 + 1), 'SN' || lpad(i::text, 10, '0'), CAST('[]' AS json),
                   CASE WHEN i % 3 = 0 THEN 'Case, charger' END, rec, rec, 1
            FROM ({numbered}) AS o
            """,
            sid=sid,
        )
        status = """
            CASE WHEN r <= open_s THEN (CAST(:open_states AS text[]))[1 + ((r - 1) * 7) / open_s]
                 WHEN h < 3 THEN 'declined'
                 WHEN h < 5 THEN 'cancelled'
                 WHEN r <= open_s + n_s / 10 THEN 'delivered'
                 ELSE 'closed' END
        """
        timings["orders"] = execute(
            "orders",
            f"""
            INSERT INTO repair_orders (
                id, store_id, number, customer_id, device_id, status, status_changed_at, hold,
                hold_note, fault_symptoms, received_by_id, technician_id, received_at,
                diagnosis_due_at, promised_at, diagnosis, repair_plan, repair_type,
                diagnosis_minutes, diagnosed_at, customer_confirmed_fixed, amount_due_cents,
                delivered_at, warranty_days, warranty_until, closed_at, tracking_nonce,
                created_at, updated_at, version)
            SELECT i, (CAST(:sid AS integer[]))[s + 1],
                   (CAST(:codes AS text[]))[s + 1] || '-' || lpad((k + 1)::text, 6, '0'),
                   customer, i, st,
                   least(now(), CASE st WHEN 'closed' THEN rec + interval '10 days'
                                        WHEN 'delivered' THEN rec + interval '3 days'
                                        WHEN 'declined' THEN rec + interval '1 day'
                                        ELSE rec + interval '2 hours' END),
                   CASE WHEN st = 'in_repair' AND i % 4 = 0 THEN 'waiting_for_parts' END,
                   CASE WHEN st = 'in_repair' AND i % 4 = 0 THEN 'Screen ordered' END,
                   'Screen cracked after a drop; touch does not respond on the lower half (#'
                       || i || ')',
                   {first_tech} + 2 * s,
                   CASE WHEN st IN ('received', 'cancelled') THEN NULL ELSE {first_tech} + 2 * s + i % 2 END,
                   rec, rec + interval '1 day', rec + interval '3 days',
                   diagnosed, CASE WHEN diagnosed IS NOT NULL THEN 'Replace the screen assembly' END,
                   CASE WHEN diagnosed IS NOT NULL THEN 'parts-replacement' END,
                   CASE WHEN diagnosed IS NOT NULL THEN 20 END,
                   CASE WHEN diagnosed IS NOT NULL THEN rec + interval '2 hours' END,
                   st IN ('delivered', 'closed'),
                   CASE WHEN diagnosed IS NULL OR st = 'declined' THEN 0 ELSE 8000 + (i % 40) * 500 END,
                   CASE WHEN st IN ('delivered', 'closed') THEN least(now(), rec + interval '3 days') END,
                   CASE WHEN st IN ('delivered', 'closed') THEN 90 END,
                   CASE WHEN st IN ('delivered', 'closed') THEN (rec + interval '93 days')::date END,
                   CASE WHEN st = 'closed' THEN rec + interval '10 days' END,
                   md5(i::text), rec, rec,
                   CASE WHEN st = 'received' THEN 1 WHEN st IN ('diagnosing', 'cancelled') THEN 2 ELSE 3 END
            FROM (
                SELECT o.*, st,
                       CASE WHEN st IN ('received', 'diagnosing', 'cancelled') THEN NULL
                            ELSE 'Cracked digitiser' END AS diagnosed
                FROM ({numbered}) AS o CROSS JOIN LATERAL (SELECT {status} AS st) AS x
            ) AS t
            """,
            sid=sid,
            codes=codes,
            open_states=OPEN_STATES,
        )
        if events:
            timings["status_events"] = execute(
                "status events",
                """
                INSERT INTO repair_status_events (id, store_id, order_id, from_status, to_status,
                                                  actor_id, actor_name, at, reason)
                SELECT (o.id - 1) * 3 + e, o.store_id, o.id,
                       CASE e WHEN 1 THEN NULL WHEN 2 THEN 'received'
                              ELSE CASE o.status WHEN 'quoted' THEN 'diagnosing'
                                                 WHEN 'approved' THEN 'quoted'
                                                 WHEN 'in_repair' THEN 'approved'
                                                 WHEN 'qc' THEN 'in_repair'
                                                 WHEN 'ready' THEN 'qc'
                                                 WHEN 'delivered' THEN 'ready'
                                                 WHEN 'closed' THEN 'delivered'
                                                 WHEN 'declined' THEN 'quoted'
                                                 ELSE 'diagnosing' END END,
                       CASE e WHEN 1 THEN 'received' WHEN 2 THEN 'diagnosing' ELSE o.status END,
                       CASE e WHEN 1 THEN o.received_by_id ELSE o.technician_id END,
                       'Technician ' || coalesce(o.technician_id, o.received_by_id),
                       CASE e WHEN 1 THEN o.received_at WHEN 2 THEN o.received_at + interval '30 minutes'
                              ELSE o.status_changed_at END,
                       CASE WHEN e = 3 AND o.status = 'cancelled' THEN 'The customer took the device back' END
                FROM repair_orders AS o CROSS JOIN generate_series(1, 3) AS e
                WHERE e = 1 OR (e = 2 AND o.status <> 'received')
                      OR (e = 3 AND o.status NOT IN ('received', 'diagnosing'))
                """,
            )
        execute(
            "order counters",
            "UPDATE stores SET last_order_number = "
            "(SELECT count(*) FROM repair_orders WHERE repair_orders.store_id = stores.id)",
        )
        for table in ("staff_users", "customers", "devices", "repair_orders", "repair_status_events"):
            db.session.execute(
                sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
                )
            )
        begin = time.perf_counter()
    timings["commit"] = time.perf_counter() - begin
    db.session.remove()
    begin = time.perf_counter()
    with db.state.raw_control.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM (ANALYZE)")
    timings["vacuum_analyze"] = time.perf_counter() - begin
    note(f"VACUUM (ANALYZE) in {timings['vacuum_analyze']:.1f} s")
    return timings


def table_sizes(bench: Bench) -> dict[str, str]:
    with tenant_context(bench.ref):
        rows = db.session.execute(
            sa.text(
                "SELECT relname, reltuples::bigint, pg_size_pretty(pg_total_relation_size(c.oid)) "
                "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :schema AND c.relkind = 'r' AND relname IN "
                "('customers', 'devices', 'repair_orders', 'repair_status_events') ORDER BY relname"
            ),
            {"schema": bench.ref.schema},
        ).all()
        db.session.remove()
    return {name: f"{count} rows, {size} with indexes" for name, count, size in rows}


def pick_order(bench: Bench) -> tuple[int, str]:
    """An order in repair at the timed store, with a technician (the fullest order page)."""
    with tenant_context(bench.ref):
        row = db.session.execute(
            sa.text(
                "SELECT id, number FROM repair_orders WHERE store_id = :store AND status = 'in_repair' "
                "AND technician_id IS NOT NULL ORDER BY id LIMIT 1"
            ),
            {"store": bench.store},
        ).one()
        db.session.remove()
    return row.id, row.number


def store_counts(bench: Bench) -> dict[str, int]:
    with tenant_context(bench.ref):
        rows = db.session.execute(
            sa.text("SELECT status, count(*) FROM repair_orders WHERE store_id = :store GROUP BY status"),
            {"store": bench.store},
        ).all()
        db.session.remove()
    return dict(rows)


# --- requests -----------------------------------------------------------------------------------------


class Statements:
    """Every statement sent on the app's engine: count, time, and the slowest of the last request."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.count = 0
        self.seconds = 0.0
        self.slowest: tuple[float, str, object] | None = None
        self._started: list[float] = []

    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self._started.append(time.perf_counter())

    def _after(self, conn, cursor, statement, parameters, context, executemany) -> None:
        spent = time.perf_counter() - self._started.pop()
        self.count += 1
        self.seconds += spent
        if self.slowest is None or spent > self.slowest[0]:
            self.slowest = (spent, statement, parameters)

    def __enter__(self) -> Statements:
        sa.event.listen(self.engine, "before_cursor_execute", self._before)
        sa.event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *exc) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._before)
        sa.event.remove(self.engine, "after_cursor_execute", self._after)


def sign_in(client: FlaskClient, host: str, email: str) -> None:
    page = client.get("/login", base_url=f"http://{host}")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
    data = {"email": email, "password": PASSWORD, "csrf_token": token.group(1) if token else ""}
    response = client.post("/login", base_url=f"http://{host}", data=data)
    if response.status_code != 302:
        errors = re.findall(r'class="[^"]*(?:invalid-feedback|alert)[^"]*"[^>]*>(.*?)<', response.text, re.S)
        raise RuntimeError(f"signing in as {email} answered {response.status_code}: {errors}")


def status_filter_arg(client: FlaskClient, host: str) -> str:
    """The query argument of the order list's "Status equals" filter, read from the list page."""
    page = client.get("/admin/repair_orders/", base_url=f"http://{host}")
    found = re.search(r'<div id="filter-groups-data"[^>]*>(.*?)</div>', page.text, re.S)
    if page.status_code != 200 or not found:
        raise RuntimeError("the order list page has no filters")
    groups = json.loads(unescape(found.group(1)))
    for name, filters in groups.items():
        if name == "Status":
            for flt in filters:
                values = {str(option[0]) for option in flt.get("options") or []}
                if "in_repair" in values and str(flt["operation"]).lower() == "equals":
                    return f"flt0_{flt['arg']}"
    raise RuntimeError(f"no 'Status equals' filter among {list(groups)}")


@dataclass
class Timing:
    wall: list[float]
    statements: list[int]
    sql: list[float]


def time_page(
    client: FlaskClient, host: str, path: str, expect: str, args: argparse.Namespace, statements: Statements
) -> Timing:
    """Warm-ups, then timed requests; each must answer 200 with text matching the regex `expect`."""
    timing = Timing([], [], [])
    for n in range(args.warmup + args.requests):
        count, seconds = statements.count, statements.seconds
        statements.slowest = None
        begin = time.perf_counter()
        response = client.get(path, base_url=f"http://{host}")
        wall = time.perf_counter() - begin
        if response.status_code != 200 or not re.search(expect, response.text):
            raise RuntimeError(f"GET {path} answered {response.status_code} without /{expect}/")
        if n >= args.warmup:
            timing.wall.append(wall)
            timing.statements.append(statements.count - count)
            timing.sql.append(statements.seconds - seconds)
    return timing


def report(name: str, timing: Timing, target: bool) -> float:
    ms = [s * 1000 for s in timing.wall]
    p95 = percentile(ms, 95)
    out(f"{name}_p50_ms", statistics.median(ms))
    out(f"{name}_p95_ms", p95)
    out(f"{name}_max_ms", max(ms))
    out(f"{name}_statements", statistics.median(timing.statements))
    out(f"{name}_in_sql_p50_ms", statistics.median(timing.sql) * 1000)
    if target:
        out(f"{name}_target", f"<= {TARGET_P95_MS:g} ({'met' if p95 <= TARGET_P95_MS else 'MISSED'})")
    return p95


def explain(app: Flask, bench: Bench, statements: Statements, name: str) -> None:
    if statements.slowest is None:
        return
    spent, statement, parameters = statements.slowest
    with app.app_context(), tenant_context(bench.ref):
        plan = (
            db.session.connection()
            .exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            .scalars()
        )
        lines = list(plan)
        db.session.rollback()
        db.session.remove()
    print(f"explain_{name}: slowest statement {spent * 1000:.1f} ms", flush=True)
    for line in [*statement.strip().splitlines(), "--", *lines]:
        print(f"    {line}", flush=True)


def measure(app: Flask, bench: Bench, args: argparse.Namespace) -> list[str]:
    """Time every page for both roles; returns the names of the figures that missed the target."""
    with app.app_context():
        order_id, number = pick_order(bench)
    if args.gc_freeze:
        # What a server could do once after start-up: move the app's long-lived objects out of
        # the collector's reach, so a full collection no longer walks them (docs/benchmarks.md).
        gc.collect()
        gc.freeze()
    out("gc_frozen_objects", gc.get_freeze_count())
    out("order_timed", f"{number} (id {order_id}, in repair)")
    list_view = next(v for v in app.extensions["admin"][0]._views if v.endpoint == "repair_orders")
    out("repair_orders_list_simple_pager", list_view.simple_list_pager)
    missed = []
    with Statements(app.extensions["repairqc.db"].raw_control) as statements:
        for role in ("owner", "manager"):
            client = app.test_client()
            sign_in(client, bench.host, bench.users[role])
            flt = status_filter_arg(client, bench.host)
            out(f"{role}_status_filter_argument", flt)
            code = bench.store_codes[bench.store_ids.index(bench.store)]
            pages: list[tuple[str, str, str, bool]] = [
                ("board", f"/admin/repairs/?store={bench.store}", rf"{code}-\d{{6}}", True),
            ]
            for status in LIST_STATUSES:
                pages.append((f"list_{status}", f"/admin/repair_orders/?{flt}={status}", "", True))
            pages.append(("list_all", "/admin/repair_orders/", "", False))
            pages.append(("order", f"/admin/repairs/orders/{order_id}/", re.escape(number), True))
            pages.append(
                ("details", f"/admin/repair_orders/details/?id={order_id}", re.escape(number), False)
            )
            for name, path, expect, target in pages:
                if name.startswith("list_"):  # an order number: of the store, or of any store
                    expect = rf"{code if role == 'manager' else 'S[0-9]{4}'}-\d{{6}}"
                timing = time_page(client, bench.host, path, expect, args, statements)
                if report(f"{name}_{role}", timing, target) > TARGET_P95_MS and target:
                    missed.append(f"{name}_{role}")
                if args.explain:
                    explain(app, bench, statements, f"{name}_{role}")
                if args.compare_count and name.startswith("list_") and list_view.simple_list_pager:
                    list_view.simple_list_pager = False  # Flask-Admin's default: COUNT(*) every page
                    try:
                        timing = time_page(client, bench.host, path, expect, args, statements)
                    finally:
                        list_view.simple_list_pager = True
                    report(f"{name}_{role}_with_count", timing, False)
                    if args.explain:
                        explain(app, bench, statements, f"{name}_{role}_with_count")
    return missed


# --- main ------------------------------------------------------------------------------------------------


def add_database_arguments(parser: argparse.ArgumentParser, default_name: str) -> None:
    """The options every PostgreSQL benchmark takes: its database, the server, keeping it."""
    parser.add_argument("--database", default=default_name)
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")


def fresh_database(
    parser: argparse.ArgumentParser, args: argparse.Namespace, **figures
) -> tuple[sa.Engine, str]:
    """Print the machine and the run's figures, (re)create the benchmark database; return the
    server's engine and the database's URL."""
    if not args.database.replace("_", "").isalnum():
        parser.error("--database: letters, digits and underscores only")
    warnings.filterwarnings("ignore", message="Using the in-memory storage")
    admin = sa.create_engine(args.admin_url, isolation_level="AUTOCOMMIT")
    print_machine(admin)
    out("command", " ".join([Path(sys.executable).name, *sys.argv]))
    for name, value in figures.items():
        out(name, value)
    out("load_at_start", load())
    url = sa.make_url(args.admin_url).set(database=args.database).render_as_string(hide_password=False)
    with admin.connect() as conn:
        ddl.recreate_database(conn, args.database)
    return admin, url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--stores", type=int, default=200)
    parser.add_argument("--requests", type=int, default=50, help="timed requests per page and role")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests before them")
    parser.add_argument("--no-events", dest="events", action="store_false", help="no status events")
    parser.add_argument(
        "--compare-count",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time each list with Flask-Admin's COUNT(*) turned back on",
    )
    parser.add_argument(
        "--gc-freeze", action="store_true", help="gc.freeze() before timing (see docs/benchmarks.md)"
    )
    parser.add_argument(
        "--explain", action="store_true", help="EXPLAIN ANALYZE each page's slowest statement"
    )
    add_database_arguments(parser, "repairqc_bench_repairs")
    args = parser.parse_args(argv)
    if args.stores < 1 or args.orders < 100 * args.stores:
        parser.error("--orders must be at least 100 per store (each store needs orders in repair)")
    admin, url = fresh_database(parser, args, orders=args.orders, stores=args.stores)
    started = time.perf_counter()
    missed: list[str] = []
    try:
        with tempfile.TemporaryDirectory(prefix="repairqc-bench-") as tmp:
            app = make_app(url, Path(tmp))
            with app.app_context():
                migrations.upgrade_control(db.state.raw_control)
                begin = time.perf_counter()
                bench = provision(args.stores)
                out("provision_seconds", time.perf_counter() - begin)
                begin = time.perf_counter()
                timings = generate(bench, args.orders, args.events)
                out("generate_seconds", time.perf_counter() - begin)
                out("generate_parts_seconds", ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
                for table, size in table_sizes(bench).items():
                    out(f"table_{table}", size)
                out("store_timed", bench.store)
                counts = sorted(store_counts(bench).items())
                out("store_orders_by_status", ", ".join(f"{k} {v}" for k, v in counts))
            out("load_before_requests", load())
            # Requests run outside any app context, as in production: a request reuses an app
            # context it finds pushed, and would share `g` and the tenant session with the others.
            missed = measure(app, bench, args)
            with app.app_context():
                db.state.dispose()
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
