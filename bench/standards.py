"""Standards benchmark: the read API every record will call, and saving a draft from an editor.

    .venv/bin/python bench/standards.py [--stores 200] [--calls 2000]

One tenant with `--stores` stores in 10 chains, a chain override and a store override per store,
and 5 published versions; on PostgreSQL (a fresh ``repairqc_bench_standards`` database, dropped at
the end) and on SQLite (a temporary folder). Prints ``name: value`` lines:

* ``effective_for_store`` for a random store and day (warm: versions and overrides are read per
  call, the parsed document comes from the in-process cache), p50 / p95 / max;
* the same with the parse cache cleared before every call (what the first call per worker pays);
* ``save_draft`` of a whole document (validation + one UPDATE), as each editor save does.
"""

from __future__ import annotations

import argparse
import copy
import os
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.tenancy import make_app, out, percentile  # noqa: E402
from repairqc.db import db, tenant_context, unit_of_work, utcnow  # noqa: E402
from repairqc.standards import services  # noqa: E402
from repairqc.standards.models import ServiceTargetOverride  # noqa: E402
from repairqc.stores.models import Chain, Store  # noqa: E402
from repairqc.tenants import ddl, migrations  # noqa: E402
from repairqc.tenants import services as tenants  # noqa: E402


def seed(stores: int) -> None:
    chains = [Chain(code=f"C{n}", name=f"Chain {n}") for n in range(10)]
    db.session.add_all(chains)
    for n in range(stores):
        store = Store(code=f"S{n:04d}", name=f"Store {n}", chain=chains[n % 10])
        db.session.add(store)
        db.session.add(ServiceTargetOverride(store=store, target="diagnosis_hours", value=12))
    for chain in chains:
        db.session.add(ServiceTargetOverride(chain=chain, target="follow_up_days", value=5))
    today = utcnow().date()
    for n in range(4):  # versions 2..5, effective on successive days
        draft = services.start_draft()
        document = copy.deepcopy(draft.document)
        document["service_targets"]["quote_validity_days"] = 7 + n
        services.save_draft(draft, document)
        services.publish(draft, today + timedelta(days=n), today=today, publisher_id=None)


def report(prefix: str, seconds: list[float]) -> None:
    ms = sorted(s * 1000 for s in seconds)
    out(f"{prefix}_p50_ms", ms[len(ms) // 2])
    out(f"{prefix}_p95_ms", percentile(ms, 95))
    out(f"{prefix}_max_ms", ms[-1])


def measure(label: str, database_url: str, tenant_dir: Path, args: argparse.Namespace) -> None:
    app = make_app(database_url, tenant_dir)
    with app.app_context():
        migrations.upgrade_control(db.state.raw_control)
        with unit_of_work():
            tenant = tenants.create_tenant(f"bench{label}", "Bench", seed=lambda: seed(args.stores))
        ref = tenant.ref
        rng = random.Random(7)
        today = utcnow().date()
        with tenant_context(ref):
            store_ids = db.session.execute(sa.select(Store.id)).scalars().all()
            for cold in (False, True):
                timings = []
                for _ in range(args.calls):
                    store = db.session.get(Store, rng.choice(store_ids))
                    day = today + timedelta(days=rng.randint(0, 6))
                    if cold:
                        app.extensions.pop("repairqc.standard_documents", None)
                    start = time.perf_counter()
                    standard = services.effective_for_store(store, day)
                    timings.append(time.perf_counter() - start)
                    assert standard.target("diagnosis_hours") == 12
                db.session.rollback()
                report(f"{label}_effective_for_store{'_uncached' if cold else ''}", timings)
            timings = []
            for n in range(args.saves):
                with unit_of_work():
                    draft = services.current_draft() or services.start_draft()
                    document = copy.deepcopy(draft.document)
                    document["service_targets"]["follow_up_days"] = 3 + n % 5
                    start = time.perf_counter()
                    services.save_draft(
                        draft, document, expected_digest=services.document_digest(draft.document)
                    )
                    timings.append(time.perf_counter() - start)
            report(f"{label}_save_draft", timings)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", type=int, default=200)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--saves", type=int, default=200)
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
    )
    args = parser.parse_args()
    out("command", " ".join([Path(sys.executable).name, *sys.argv]))
    name = "repairqc_bench_standards"
    admin = sa.create_engine(args.admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        ddl.recreate_database(conn, name)
    url = sa.make_url(args.admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        with tempfile.TemporaryDirectory(prefix="repairqc-bench-") as tmp:
            measure("postgresql", url, Path(tmp) / "pg", args)
            measure("sqlite", f"sqlite:///{Path(tmp) / 'control.db'}", Path(tmp) / "tenants", args)
    finally:
        with admin.connect() as conn:
            ddl.drop_database(conn, name)
        admin.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
