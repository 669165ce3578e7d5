"""Tenancy benchmark: provisioning, the `tenants status` gate and tenant upgrades at 1,000 tenants.

    .venv/bin/python bench/tenancy.py [--tenants 1000] [--provision-sample 200] [--keep]

Runs against a fresh PostgreSQL database (``repairqc_bench`` by default; dropped and recreated at
the start, dropped at the end unless ``--keep``), then measures SQLite provisioning in a temporary
folder. Prints ``name: value`` lines on stdout (progress goes to stderr), with the issue's targets:

* provisioning p95 <= 200 ms (``create_tenant``, one tenant per unit of work, as the console does);
* ``flask tenants status`` <= 1 s with 1,000 tenants;
* one additive revision applied to 1,000 tenants <= 60 s.

The additive revisions are written into a *copy* of ``migrations/`` in a temporary folder; the
repository's migrations are never modified. ``repairqc.tenants.migrations.MIGRATIONS_DIR`` is
pointed at the copy (and restored afterwards); ``--jobs 2`` workers are forked, so they inherit it.

Diagnostics (see docs/benchmarks.md for what they showed):

* ``--profile DIR`` writes cProfile statistics of the provisioning sample, one status run and the
  additive upgrade (jobs=1) to DIR (``*.prof``, read with ``python -m pstats``). Profiling slows
  everything down: do not quote figures from a profiled run.
* ``--latencies FILE`` writes one CSV row per tenant of the provisioning sample (start time, wall,
  Python CPU, time inside SQL statements), to line outliers up with PostgreSQL's log.
* ``--analyze-every N`` runs ANALYZE (untimed) every N tenants, standing in for autovacuum on a
  server that has it off: without catalog statistics PostgreSQL plans Alembic's per-tenant
  ``alembic_version`` lookup badly, and upgrades slow down as tenants are added.

The machine may be shared: the run prints the load average, other client sessions on the server and
the checkpoints that happened during the provisioning sample (other databases being dropped force
checkpoints, which sync every dirty file of the 1,000 tenant schemas too).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import math
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from repairqc import create_app  # noqa: E402
from repairqc.db import db, unit_of_work  # noqa: E402
from repairqc.tenants import ddl, migrations, services  # noqa: E402
from repairqc.tenants.models import Tenant  # noqa: E402

TARGETS = {
    "provision_p95_ms": 200.0,
    "status_seconds": 1.0,
    "upgrade_additive_seconds_jobs1": 60.0,
    "upgrade_additive_seconds_jobs2": 60.0,
    "sqlite_provision_p95_ms": 200.0,
}


# --- output ------------------------------------------------------------------------------------------


def out(name: str, value: object) -> None:
    if isinstance(value, float):
        value = f"{value:.3f}" if value < 100 else f"{value:.1f}"
    print(f"{name}: {value}", flush=True)


def note(message: str) -> None:
    print(f"# {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def report_latencies(prefix: str, seconds: list[float], first: bool = True) -> None:
    ms = [s * 1000 for s in seconds]
    out(f"{prefix}_n", len(ms))
    out(f"{prefix}_p50_ms", statistics.median(ms))
    out(f"{prefix}_p95_ms", percentile(ms, 95))
    out(f"{prefix}_max_ms", max(ms))
    if first:
        out(f"{prefix}_first_ms", ms[0])


def target_line(name: str, value: float) -> None:
    limit = TARGETS.get(name)
    if limit is not None:
        out(f"{name}_target", f"<= {limit:g} ({'met' if value <= limit else 'MISSED'})")


@contextlib.contextmanager
def profiled(directory: Path | None, name: str) -> Iterator[None]:
    if directory is None:
        yield
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        directory.mkdir(parents=True, exist_ok=True)
        profiler.dump_stats(directory / f"{name}.prof")
        note(f"profile written to {directory / f'{name}.prof'}")


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    # A full collection first: after 1,000 provisionings this process's heap is large, and a
    # collection landing inside a sub-second measurement adds ~0.1 s that a fresh CLI process
    # would not pay.
    gc.collect()
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


# --- machine -----------------------------------------------------------------------------------------


def memory_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def print_machine(admin: sa.Engine) -> None:
    import alembic
    import psycopg

    with admin.connect() as conn:
        version = conn.exec_driver_sql("SHOW server_version").scalar()
        settings = dict(
            conn.exec_driver_sql(
                "SELECT name, setting FROM pg_settings WHERE name IN "
                "('fsync', 'synchronous_commit', 'shared_buffers', 'max_locks_per_transaction', "
                "'autovacuum', 'full_page_writes', 'max_wal_size', 'checkpoint_timeout')"
            ).all()
        )
    out("machine_nproc", os.cpu_count())
    out("machine_memory", memory_gib())
    out("machine_cpu", _cpu_model())
    out("machine_os", platform.platform())
    out("python", platform.python_version())
    out("postgresql", version)
    out("postgresql_settings", ", ".join(f"{k}={v}" for k, v in sorted(settings.items())))
    out("sqlalchemy", sa.__version__)
    out("alembic", alembic.__version__)
    out("psycopg", psycopg.__version__)
    out("sqlite", __import__("sqlite3").sqlite_version)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


# --- helpers -----------------------------------------------------------------------------------------


def make_app(database_url: str, tenant_dir: Path):
    return create_app(
        {
            "REPAIRQC_ENV": "testing",
            "SECRET_KEY": "bench-secret-key",
            "DATABASE_URL": database_url,
            "TENANT_DATA_DIR": str(tenant_dir),
            "BASE_DOMAIN": "bench.localhost",
            "MAIL_BACKEND": "console",
        }
    )


class StatementTimer:
    """Wall time and number of statements sent on an engine (cursor executes only, not COMMIT)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.seconds = 0.0
        self.count = 0
        self._started: list[float] = []

    def _before(self, *args) -> None:
        self._started.append(time.perf_counter())

    def _after(self, *args) -> None:
        self.seconds += time.perf_counter() - self._started.pop()
        self.count += 1

    def __enter__(self) -> StatementTimer:
        sa.event.listen(self.engine, "before_cursor_execute", self._before)
        sa.event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *exc) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._before)
        sa.event.remove(self.engine, "after_cursor_execute", self._after)


class Provisioning:
    """Per-tenant wall time, process CPU time, time in SQL statements and statement count."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.sql: list[float] = []
        self.statements: list[int] = []
        self.started: list[float] = []  # Unix time, to line outliers up with the server log
        self.analyze_seconds = 0.0


def analyze() -> float:
    """ANALYZE the whole database, catalogs included, as autovacuum would; returns the seconds taken."""
    begin = time.perf_counter()
    with db.state.raw_control.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")
    return time.perf_counter() - begin


def provision(
    count: int, start: int, label: str, profile: Path | None = None, analyze_every: int = 0
) -> Provisioning:
    """Provision `count` tenants, each in its own unit of work and control session (like a request).

    With `analyze_every`, ANALYZE runs (untimed) after that many tenants, standing in for autovacuum.
    """
    result = Provisioning()
    with profiled(profile, label), StatementTimer(db.state.raw_control) as timer:
        for i in range(start, start + count):
            sql_before, statements_before = timer.seconds, timer.count
            cpu_before = time.process_time()
            result.started.append(time.time())
            begin = time.perf_counter()
            with unit_of_work():
                services.create_tenant(f"bench-{i:05d}", f"Bench provider {i}")
            result.wall.append(time.perf_counter() - begin)
            result.cpu.append(time.process_time() - cpu_before)
            result.sql.append(timer.seconds - sql_before)
            result.statements.append(timer.count - statements_before)
            db.control.remove()  # each request/command has its own session
            if (i + 1) % 100 == 0:
                note(f"{label}: {i + 1} tenants provisioned")
            if analyze_every and (i + 1) % analyze_every == 0:
                result.analyze_seconds += analyze()
    return result


def report_provisioning(
    prefix: str, result: Provisioning, latencies_file: Path | None = None, first: bool = True
) -> None:
    report_latencies(prefix, result.wall, first)
    out(f"{prefix}_p50_python_cpu_ms", statistics.median(result.cpu) * 1000)
    out(f"{prefix}_p50_in_sql_statements_ms", statistics.median(result.sql) * 1000)
    out(f"{prefix}_statements_per_tenant", statistics.median(result.statements))
    slow = [i for i, wall in enumerate(result.wall) if wall > 0.2]
    out(f"{prefix}_over_200ms", len(slow))
    if latencies_file is not None:
        with latencies_file.open("w") as f:
            f.write("index,started_utc,wall_ms,python_cpu_ms,in_sql_ms,statements\n")
            rows = zip(result.started, result.wall, result.cpu, result.sql, result.statements, strict=True)
            for i, (started, wall, cpu, sql, statements) in enumerate(rows):
                stamp = datetime.fromtimestamp(started, UTC).strftime("%H:%M:%S.%f")[:-3]
                f.write(f"{i},{stamp},{wall * 1000:.2f},{cpu * 1000:.2f},{sql * 1000:.2f},{statements}\n")


def server_activity(admin: sa.Engine, own_database: str) -> dict[str, int]:
    """Checkpoints so far and client sessions in other databases (the machine may be shared)."""
    with admin.connect() as conn:
        checkpoints = conn.exec_driver_sql(
            "SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter"
        ).scalar()
        others = conn.execute(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                "AND datname IS DISTINCT FROM :db AND pid <> pg_backend_pid()"
            ),
            {"db": own_database},
        ).scalar()
    return {"checkpoints": checkpoints, "other_sessions": others}


class CpuMeter:
    """CPU seconds of this process, of its finished children (the --jobs workers) and the machine."""

    def __init__(self) -> None:
        self.own = time.process_time()
        self.children = self._children()
        self.machine = self._machine()

    @staticmethod
    def _children() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    @staticmethod
    def _machine() -> tuple[int, int]:
        try:
            fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        except OSError:
            return 0, 0
        return sum(fields), fields[3] + fields[4]  # total, idle + iowait

    def summary(self) -> str:
        total, idle = self._machine()
        busy = 1 - (idle - self.machine[1]) / max(1, total - self.machine[0])
        return (
            f"this process {time.process_time() - self.own:.2f} s, "
            f"workers {self._children() - self.children:.2f} s, "
            f"all cores busy {busy * 100:.0f}% (PostgreSQL and other processes included)"
        )


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def tenant_pairs() -> list[tuple[str, str]]:
    rows = db.control.execute(sa.select(Tenant).order_by(Tenant.id)).scalars().all()
    pairs = [(t.slug, t.schema) for t in rows]
    db.control.remove()
    return pairs


ADDITIVE_TEMPLATE = '''"""bench: {message}

Revision ID: {revision}
Revises: {down_revision}
Create Date: benchmark (written by bench/tenancy.py into a temporary copy of migrations/)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = {revision!r}
down_revision: str | Sequence[str] | None = {down_revision!r}
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column({column!r}, sa.String(length=40), nullable=True))
        batch_op.create_index({index!r}, [{column!r}], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index({index!r})
        batch_op.drop_column({column!r})
'''


def write_additive_revision(migrations_copy: Path, column: str) -> str:
    """Write an additive tenant revision (nullable column + index on customers) on top of head."""
    down = migrations.head("tenant")
    revision = uuid.uuid4().hex[:12]
    index = f"ix_customers_{column}"
    path = migrations_copy / "tenant" / "versions" / f"29990101_{revision}_bench_{column}.py"
    path.write_text(
        ADDITIVE_TEMPLATE.format(
            message=f"add customers.{column} and its index",
            revision=revision,
            down_revision=down,
            column=column,
            index=index,
        )
    )
    migrations.script_directory.cache_clear()
    new_head = migrations.head("tenant")
    if new_head != revision:
        raise RuntimeError(f"head is {new_head}, expected the new revision {revision}")
    return revision


def count_at(migrator: migrations.TenantMigrator, pairs: list[tuple[str, str]], revision: str) -> int:
    revisions = migrator.revisions([schema for _, schema in pairs])
    return sum(1 for _, schema in pairs if revisions.get(schema) == revision)


def count_schemas_with_column(engine: sa.Engine, column: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT count(DISTINCT table_schema) FROM information_schema.columns "
                "WHERE table_name = 'customers' AND column_name = :c AND table_schema LIKE 't\\_%'"
            ),
            {"c": column},
        ).scalar()


# --- PostgreSQL ----------------------------------------------------------------------------------------


def bench_postgresql(args: argparse.Namespace, admin: sa.Engine, url: str, work: Path) -> None:
    app = make_app(url, work / "pg-tenants")
    with app.app_context():
        migrations.upgrade_control(db.state.raw_control)
        out("tenant_head", migrations.head("tenant"))

        # 1. provisioning latency over the first N tenants
        sample = min(args.provision_sample, args.tenants)
        note(f"provisioning the first {sample} tenants (timed one by one)")
        total_start = time.perf_counter()
        before = server_activity(admin, args.database)
        out("provision_load_before", load())
        first = provision(sample, 0, "provision_sample", args.profile, args.analyze_every)
        after = server_activity(admin, args.database)
        report_provisioning("provision", first, args.latencies)
        target_line("provision_p95_ms", percentile([s * 1000 for s in first.wall], 95))
        out("provision_load_after", load())
        out("provision_checkpoints_during", after["checkpoints"] - before["checkpoints"])
        out("provision_other_sessions_before_after", f"{before['other_sessions']} {after['other_sessions']}")

        # 2. the rest, up to --tenants
        rest = args.tenants - sample
        note(f"provisioning {rest} more tenants")
        later = provision(rest, sample, "provision_rest", analyze_every=args.analyze_every) if rest else None
        # ANALYZE (--analyze-every) is not part of provisioning
        analyzing = first.analyze_seconds + (later.analyze_seconds if later else 0)
        total = time.perf_counter() - total_start - analyzing
        out("provision_total_tenants", args.tenants)
        out("provision_total_seconds", total)
        if later is not None:
            last = Provisioning()
            last.wall, last.cpu = later.wall[-sample:], later.cpu[-sample:]
            last.sql, last.statements = later.sql[-sample:], later.statements[-sample:]
            report_provisioning("provision_last", last, first=False)
        out("load_after_provisioning", load())

        if args.analyze_every:
            out("analyze_seconds", analyze())
        pairs = tenant_pairs()
        if len(pairs) != args.tenants:
            raise RuntimeError(f"{len(pairs)} tenants with a schema, expected {args.tenants}")
        migrator = services.migrator()
        runner = app.test_cli_runner()

        # 3. the deploy gate: `flask tenants status`
        def status() -> tuple[float, int, str]:
            seconds, result = timed(lambda: runner.invoke(args=["tenants", "status"]))
            return seconds, result.exit_code, result.output.strip().splitlines()[-1]

        status(), status()  # warm-up: imports, the script directory, PostgreSQL's catalog cache
        runs = [status() for _ in range(args.repeat)]
        out("status_runs_seconds", ", ".join(f"{s:.3f}" for s, _, _ in runs))
        status_median = statistics.median(s for s, _, _ in runs)
        out("status_seconds", status_median)
        target_line("status_seconds", status_median)
        out("status_exit_code", runs[-1][1])
        out("status_output", runs[-1][2])
        # A deploy gate runs `flask tenants status` in a new process: a new connection, whose
        # PostgreSQL backend must load 1,000 version tables into its caches again.
        cold = []
        for _ in range(args.repeat):
            db.state.raw_control.dispose()
            cold.append(status()[0])
        out("status_new_connection_runs_seconds", ", ".join(f"{s:.3f}" for s in cold))
        out("status_new_connection_seconds", statistics.median(cold))
        with profiled(args.profile, "status"):
            status()
        # where the time of `status` goes
        seconds, _ = timed(tenant_pairs)
        out("status_part_control_query_seconds", seconds)
        with migrator.engine.connect() as conn:
            seconds, _ = timed(
                lambda: conn.execute(
                    sa.text(
                        "SELECT table_schema FROM information_schema.tables "
                        "WHERE table_name = 'alembic_version' AND table_schema = ANY(:s)"
                    ),
                    {"s": [s for _, s in pairs]},
                ).all()
            )
        out("status_part_information_schema_seconds", seconds)
        seconds, _ = timed(lambda: migrator.revisions([s for _, s in pairs]))
        out("status_part_bulk_revisions_seconds", seconds)

        # 4. upgrade with nothing to do
        noop = []
        for _ in range(args.repeat):
            seconds, report = timed(lambda: migrations.upgrade_all(migrator, pairs, jobs=1))
            if report.upgraded or len(report.skipped) != len(pairs) or not report.ok:
                raise RuntimeError(f"no-op upgrade did work: {report}")
            noop.append(seconds)
        out("upgrade_noop_runs_seconds", ", ".join(f"{s:.3f}" for s in noop))
        out("upgrade_noop_seconds", statistics.median(noop))
        seconds, result = timed(lambda: runner.invoke(args=["tenants", "upgrade", "--all"]))
        out("upgrade_noop_cli_seconds", seconds)
        out("upgrade_noop_cli_exit_code", result.exit_code)

        # 5. additive revisions, written into a copy of migrations/
        original_dir = migrations.MIGRATIONS_DIR
        copy = work / "migrations"
        shutil.copytree(original_dir, copy, ignore=shutil.ignore_patterns("__pycache__"))
        migrations.MIGRATIONS_DIR = copy
        migrations.script_directory.cache_clear()
        try:
            out("migrations_copy", copy)
            for jobs, column in ((1, "bench_loyalty_tier"), (2, "bench_referral_code")):
                revision = write_additive_revision(copy, column)
                note(f"applying {revision} (customers.{column} + index) to {len(pairs)} tenants, jobs={jobs}")
                cpu = CpuMeter()
                with profiled(args.profile if jobs == 1 else None, f"upgrade_additive_jobs{jobs}"):
                    seconds, report = timed(
                        lambda jobs=jobs: migrations.upgrade_all(migrator, pairs, jobs=jobs)
                    )
                name = f"upgrade_additive_seconds_jobs{jobs}"
                out(name, seconds)
                target_line(name, seconds)
                out(f"upgrade_additive_jobs{jobs}_cpu", cpu.summary())
                out(f"upgrade_additive_jobs{jobs}_per_tenant_ms", seconds / max(1, len(pairs)) * 1000)
                out(
                    f"upgrade_additive_jobs{jobs}_report",
                    f"upgraded={len(report.upgraded)} skipped={len(report.skipped)} "
                    f"failed={len(report.failed)} not_reached={len(report.not_reached)}",
                )
                if report.failed:
                    out(f"upgrade_additive_jobs{jobs}_first_failure", report.failed[0])
                at_head = count_at(migrator, pairs, revision)
                out(
                    f"upgrade_additive_jobs{jobs}_check",
                    f"{at_head} of {len(pairs)} tenants at {revision}; customers.{column} present in "
                    f"{count_schemas_with_column(migrator.engine, column)} schemas",
                )
            result = runner.invoke(args=["tenants", "status"])
            out("status_after_upgrades_exit_code", result.exit_code)
            out("status_after_upgrades_output", result.output.strip().splitlines()[-1])
        finally:
            migrations.MIGRATIONS_DIR = original_dir
            migrations.script_directory.cache_clear()
        migrator.engine.dispose()
        db.state.dispose()


# --- SQLite ---------------------------------------------------------------------------------------------


def bench_sqlite(args: argparse.Namespace, work: Path) -> None:
    # Runs only after the PostgreSQL app is finished with (one app at a time, as in production).
    folder = work / "sqlite"
    app = make_app(f"sqlite:///{folder / 'control.db'}", folder / "tenants")
    with app.app_context():
        migrations.upgrade_control(db.state.raw_control)
        note(f"SQLite: provisioning {args.sqlite_sample} tenants")
        result = provision(args.sqlite_sample, 0, "sqlite_provision")
        report_provisioning("sqlite_provision", result)
        target_line("sqlite_provision_p95_ms", percentile([s * 1000 for s in result.wall], 95))
        db.state.dispose()


# --- main ------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--provision-sample", type=int, default=200)
    parser.add_argument("--sqlite-sample", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3, help="runs of status / no-op upgrade (median)")
    parser.add_argument("--database", default="repairqc_bench")
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument(
        "--analyze-every",
        type=int,
        default=0,
        metavar="N",
        help="run ANALYZE (untimed) every N tenants provisioned and before the status and "
        "upgrade measurements, standing in for autovacuum on a server that has it off",
    )
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--profile", type=Path, default=None, help="write cProfile stats to this folder")
    parser.add_argument(
        "--latencies",
        type=Path,
        default=None,
        help="write the per-tenant figures of the provisioning sample to this CSV file",
    )
    args = parser.parse_args(argv)

    warnings.filterwarnings("ignore", message="Using the in-memory storage")
    admin = sa.create_engine(args.admin_url, isolation_level="AUTOCOMMIT")
    print_machine(admin)
    out("command", " ".join([Path(sys.executable).name, *sys.argv]))
    out("tenants", args.tenants)
    out("load_at_start", load())
    activity = server_activity(admin, args.database)
    out("postgresql_other_client_sessions_at_start", activity["other_sessions"])
    if activity["other_sessions"]:
        note("other clients are using this PostgreSQL server: the figures will be noisier")

    name = args.database
    if not name.replace("_", "").isalnum():
        parser.error("--database: letters, digits and underscores only")
    url = sa.make_url(args.admin_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        ddl.recreate_database(conn, name)
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="repairqc-bench-") as tmp:
            bench_postgresql(args, admin, url, Path(tmp))
            if not args.skip_sqlite:
                bench_sqlite(args, Path(tmp))
    finally:
        if not args.keep:
            with admin.connect() as conn:
                ddl.drop_database(conn, name)
        admin.dispose()
    out("load_at_end", load())
    out("bench_total_seconds", time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
