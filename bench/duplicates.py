"""Duplicate customers page (issue #9, HB §7.1.2) at 100,000 customers.

    .venv/bin/python bench/duplicates.py [--customers 100000] [--requests 5] [--keep]

One tenant on PostgreSQL (a fresh ``repairqc_bench_duplicates`` database) with `--customers`
customers over 20 stores: half with Latin names ("Anna Lucas Smith417"), half with two- or
three-character Chinese names, each with its own phone number; 2 % of them registered twice
(the same phone, the name with one letter changed or the words swapped). Printed:

* ``finder_p50_seconds``: `duplicates.find_candidates` over the tenant's customers (the CPU
  part: name keys, the sorted-neighbourhood comparisons, the pairs), p50 of `--requests`;
* ``page_p50_seconds`` / ``page_max_seconds``: the owner's ``/admin/data-quality/duplicates/``
  through the test client (reading the customers, the finder, the 200 strongest groups
  rendered), p50 and max of `--requests` after one warm-up;
* ``pairs``: the candidate pairs found (the twins, plus names alike by chance).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.repairs import add_database_arguments, fresh_database, make_app, provision, sign_in  # noqa: E402
from bench.tenancy import load, out  # noqa: E402
from repairqc.crypto import lookup_hash, normalise_phone  # noqa: E402
from repairqc.dataquality import duplicates  # noqa: E402
from repairqc.db import db, tenant_context, unit_of_work  # noqa: E402
from repairqc.repairs.models import Customer  # noqa: E402
from repairqc.tenants import ddl, migrations  # noqa: E402

STORES = 20
TWIN_SHARE = 0.02
FIRST = ["Wei", "Li", "Ming", "Anna", "John", "Maria", "Chen", "Yang", "Peter", "Laura", "Sarah", "Lucas"]
LAST = ["Smith", "Wang", "Zhou", "Garcia", "Mueller", "Johnson", "Lee", "Brown", "Huang", "Rossi", "Kim"]
HAN = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚"
)


def names(rng: random.Random, count: int) -> list[str]:
    made = []
    for i in range(count):
        if i % 2:
            made.append("".join(rng.choice(HAN) for _ in range(rng.choice((2, 3)))))
        else:
            made.append(f"{rng.choice(FIRST)} {rng.choice(FIRST)} {rng.choice(LAST)}{rng.randint(0, 999)}")
    return made


def twin_name(rng: random.Random, name: str) -> str:
    """The same person typed differently: words swapped, or one letter changed."""
    if " " in name and rng.random() < 0.5:
        return " ".join(reversed(name.split()))
    at = rng.randrange(len(name))
    return name[:at] + rng.choice("aeiou" if name.isascii() else HAN) + name[at + 1 :]


def seed_customers(store_ids: list[int], count: int) -> int:
    """Core inserts of `count` customers (the phone encrypted by the column type, its search hash
    set here as the ORM would); returns how many are twins."""
    rng = random.Random(20261125)
    rows = []
    for i, name in enumerate(names(rng, count)):
        phone = f"+86 139 {i // 10000:04d} {i % 10000:04d}"
        rows.append({"store_id": store_ids[i % len(store_ids)], "full_name": name, "phone": phone})
    twins = rng.sample(range(count), int(count * TWIN_SHARE))
    for i in twins:
        original = rows[i]
        rows.append({**original, "full_name": twin_name(rng, original["full_name"])})
    for row in rows:
        row["phone_lookup"] = lookup_hash("phone", normalise_phone(row["phone"]))
    for start in range(0, len(rows), 5000):
        db.session.execute(sa.insert(Customer), rows[start : start + 5000])
    return len(twins)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=5)
    add_database_arguments(parser, "repairqc_bench_duplicates")
    args = parser.parse_args(argv)
    admin, url = fresh_database(parser, args, customers=args.customers)
    try:
        with tempfile.TemporaryDirectory(prefix="repairqc-bench-duplicates-") as tmp:
            app = make_app(url, Path(tmp))
            with app.app_context():
                migrations.upgrade_control(db.state.raw_control)
                bench = provision(STORES)
                begin = time.perf_counter()
                with tenant_context(bench.ref), unit_of_work():
                    out("twins", seed_customers(bench.store_ids, args.customers))
                with db.state.raw_control.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.exec_driver_sql("VACUUM (ANALYZE)")
                out("seed_seconds", round(time.perf_counter() - begin, 1))
                with tenant_context(bench.ref):
                    people = duplicates._people(None)
                    seconds = []
                    for _ in range(args.requests):
                        begin = time.perf_counter()
                        found = duplicates.find_candidates(people)
                        seconds.append(time.perf_counter() - begin)
                    out("customers_read", len(people))
                    out("pairs", len(found.pairs))
                    out("finder_p50_seconds", round(statistics.median(seconds), 3))
                db.session.remove()
            client = app.test_client()
            sign_in(client, bench.host, bench.users["owner"])
            seconds = []
            for attempt in range(args.requests + 1):
                begin = time.perf_counter()
                response = client.get("/admin/data-quality/duplicates/", base_url=f"http://{bench.host}")
                elapsed = time.perf_counter() - begin
                if response.status_code != 200:
                    raise SystemExit(f"duplicates page answered {response.status_code}")
                if attempt:  # the first one warms the connection and the templates up
                    seconds.append(elapsed)
            out("page_p50_seconds", round(statistics.median(seconds), 3))
            out("page_max_seconds", round(max(seconds), 3))
            out("load_at_end", load())
            with app.app_context():
                db.state.dispose()
    finally:
        if not args.keep:
            with admin.connect() as conn:
                ddl.drop_database(conn, args.database)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
