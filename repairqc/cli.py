"""Flask CLI: `flask --app repairqc tenants|db|operators|periodic|migrate|demo|worker|cron ...`."""

from __future__ import annotations

import contextlib
import getpass
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import AppGroup

from repairqc.audit.services import Actor, acting_as
from repairqc.db import db, unit_of_work
from repairqc.errors import DomainError
from repairqc.tenants import migrations, services
from repairqc.tenants.models import Tenant, TenantStatus

tenants_cli = AppGroup("tenants", help="Create, inspect, suspend, delete and migrate tenants.")
db_cli = AppGroup("db", help="Control-plane migrations and new revisions.")
operators_cli = AppGroup("operators", help="Platform operator accounts.")
crypto_cli = AppGroup("crypto", help="Encryption keys of sensitive fields.")


@contextlib.contextmanager
def command_context() -> Iterator[None]:
    """One unit of work, recorded as the shell user; domain errors become clean CLI errors."""
    try:
        with acting_as(Actor("cli", None, f"cli:{getpass.getuser()}")), unit_of_work():
            yield
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc


def _all_tenants(with_schema_only: bool = True) -> list[Tenant]:
    stmt = sa.select(Tenant).order_by(Tenant.id)
    if with_schema_only:
        stmt = stmt.where(
            Tenant.status.in_([TenantStatus.ACTIVE, TenantStatus.SUSPENDED, TenantStatus.CANCELLED])
        )
    return list(db.control.execute(stmt).scalars())


@tenants_cli.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="The provider's name.")
@click.option("--owner-email", help="Create an owner account with this e-mail.")
@click.option("--owner-name", default="Owner", show_default=True)
@click.option("--empty", is_flag=True, help="The schema only, no first rows: a target for `backups restore`.")
def create_tenant(slug: str, name: str, owner_email: str | None, owner_name: str, empty: bool) -> None:
    """Create and provision tenant SLUG (served at SLUG.BASE_DOMAIN)."""
    from repairqc.accounts.models import Role
    from repairqc.accounts.services import create_staff_user

    if empty and owner_email:
        raise click.UsageError("--empty makes a tenant without rows: it takes no --owner-email")

    password = secrets.token_urlsafe(12) if owner_email else None

    def seed() -> None:
        if owner_email:
            create_staff_user(owner_email, owner_name, password, roles=[(Role.OWNER, None)])

    with command_context():
        tenant = services.create_tenant(slug, name, seed=None if empty else seed, empty=empty)
    click.echo(f"created {tenant.slug} ({tenant.schema}) at {services.tenant_host(tenant.slug)}")
    if owner_email:
        click.echo(f"owner: {owner_email} / {password}")


@tenants_cli.command("list")
def list_tenants() -> None:
    """List every tenant with its status, schema and host names."""
    rows = _all_tenants(with_schema_only=False)
    click.echo(f"{'slug':<24} {'status':<13} {'schema':<10} hosts")
    for tenant in rows:
        hosts = ", ".join(d.host for d in tenant.domains)
        click.echo(f"{tenant.slug:<24} {tenant.status.value:<13} {tenant.schema:<10} {hosts}")


@tenants_cli.command("suspend")
@click.argument("slug")
@click.option("--reason", default=None, help="Shown to the tenant's users.")
def suspend_tenant(slug: str, reason: str | None) -> None:
    """Suspend SLUG: its users see a suspension page; nothing is deleted."""
    with command_context():
        services.set_status(slug, TenantStatus.SUSPENDED, reason)
    click.echo(f"suspended {slug}")


@tenants_cli.command("resume")
@click.argument("slug")
def resume_tenant(slug: str) -> None:
    """Make a suspended tenant active again."""
    with command_context():
        services.set_status(slug, TenantStatus.ACTIVE)
    click.echo(f"resumed {slug}")


@tenants_cli.command("add-domain")
@click.argument("slug")
@click.argument("host")
@click.option("--primary", is_flag=True, help="Use this host in links sent by e-mail.")
def add_domain(slug: str, host: str, primary: bool) -> None:
    """Serve tenant SLUG at HOST too (a custom domain)."""
    with command_context():
        domain = services.add_domain(slug, host, primary)
    click.echo(f"{domain.host} -> {slug}")


@tenants_cli.command("delete")
@click.argument("slug")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete_tenant(slug: str, yes: bool) -> None:
    """Delete SLUG and ALL its data (schema or file). Asks for confirmation."""
    with command_context():
        services.get_tenant(slug)
    if not yes:
        typed = click.prompt(f"This deletes every record of {slug}. Type the slug to confirm", default="")
        if typed != slug:
            raise click.ClickException("not confirmed; nothing deleted")
    with command_context():
        services.delete_tenant(slug)
    click.echo(f"deleted {slug}")


@tenants_cli.command("export")
@click.argument("slug")
@click.argument("output", type=click.Path(dir_okay=False, writable=True), required=False)
def export_tenant(slug: str, output: str | None) -> None:
    """Write all data of SLUG to OUTPUT (a ZIP of CSV tables and stored files).

    Any tenant, whatever its status; the console exports only those whose subscription ended.
    OUTPUT defaults to SLUG-<UTC time>.zip in the current folder.
    """
    from repairqc.db import utcnow
    from repairqc.tenants.export import write_export

    with command_context():
        tenant = services.get_tenant(slug)
        ref, name = tenant.ref, tenant.name
    path = Path(output or f"{slug}-{utcnow():%Y%m%d-%H%M%S}.zip")
    partial = path.with_name(f"{path.name}.part")
    try:
        with partial.open("wb") as out:
            summary = write_export(ref, out, name=name)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    click.echo(
        f"{path}: {summary.tables} tables, {summary.rows} rows, {summary.files} files, "
        f"{path.stat().st_size} bytes"
    )


@tenants_cli.command("upgrade")
@click.argument("slugs", nargs=-1)
@click.option("--all", "all_tenants", is_flag=True, help="Every tenant with a schema.")
@click.option("--jobs", default=1, show_default=True, type=click.IntRange(1, 32), help="Parallel processes.")
def upgrade_tenants(slugs: tuple[str, ...], all_tenants: bool, jobs: int) -> None:
    """Migrate tenant schemas to the newest revision; skips those already there."""
    if all_tenants == bool(slugs):
        raise click.UsageError("name tenants or give --all (not both)")
    tenants = _all_tenants()
    if slugs:
        known = {t.slug: t for t in tenants}
        missing = [s for s in slugs if s not in known]
        if missing:
            raise click.ClickException(f"no such tenant: {', '.join(missing)}")
        tenants = [known[s] for s in slugs]
    pairs = [(t.slug, t.schema) for t in tenants]
    db.control.rollback()  # release the control connection before forking workers
    with click.progressbar(length=len(pairs), label="upgrading tenants", file=sys.stderr) as bar:
        report = migrations.upgrade_all(
            services.migrator(), pairs, jobs=jobs, progress=lambda slug, outcome: bar.update(1)
        )
    click.echo(f"head {report.head}: {len(report.upgraded)} upgraded, {len(report.skipped)} already at head")
    if not report.ok:
        for slug, error in report.failed:
            click.echo(f"FAILED {slug}: {error}", err=True)
        if report.not_reached:
            click.echo(f"not reached ({len(report.not_reached)}): {', '.join(report.not_reached)}", err=True)
        sys.exit(1)


@tenants_cli.command("status")
def tenant_status() -> None:
    """Exit 1 if any tenant is behind the newest revision (a deploy gate)."""
    target = migrations.head("tenant")
    tenants = _all_tenants()
    revisions = services.migrator().revisions([t.schema for t in tenants])
    behind = [(t.slug, revisions.get(t.schema)) for t in tenants if revisions.get(t.schema) != target]
    for slug, revision in behind:
        click.echo(f"behind: {slug} at {revision or 'no revision'}")
    click.echo(f"{len(tenants) - len(behind)} of {len(tenants)} tenants at head {target}")
    if behind:
        sys.exit(1)


@db_cli.command("upgrade")
def upgrade_control() -> None:
    """Bring the control plane to the newest revision."""
    migrations.upgrade_control(db.state.raw_control)
    click.echo(f"control plane at {migrations.head('control')}")


@db_cli.command("revision")
@click.argument("plane", type=click.Choice(migrations.PLANES))
@click.option("-m", "--message", required=True)
def new_revision(plane: str, message: str) -> None:
    """Autogenerate a revision for PLANE from the models (review it before committing)."""
    click.echo(migrations.new_revision(plane, message))


@click.command("migrate")
@click.option("--jobs", default=2, show_default=True, type=click.IntRange(1, 32))
@click.pass_context
def migrate(ctx: click.Context, jobs: int) -> None:
    """The release phase: control plane first, then every tenant."""
    ctx.invoke(upgrade_control)
    ctx.invoke(upgrade_tenants, slugs=(), all_tenants=True, jobs=jobs)


@operators_cli.command("create")
@click.argument("email")
@click.option("--name", required=True)
@click.password_option()
def create_operator(email: str, name: str, password: str) -> None:
    """Create a platform operator who signs in at BASE_DOMAIN/console."""
    from repairqc.console.services import create_operator as create

    with command_context():
        create(email, name, password)
    click.echo(f"operator {email} created")


@click.command("demo")
def demo() -> None:
    """Set up the embedded default: control plane, the `demo` tenant with sample data, logins."""
    from repairqc.demo import ensure_demo

    migrations.upgrade_control(db.state.raw_control)
    with command_context():
        logins = ensure_demo()
    port = current_app.config["SERVER_PORT"] or "5000"
    click.echo(f"\nRepairQC demo tenant: http://{services.tenant_host('demo')}:{port}/")
    click.echo(f"Operator console:     http://{current_app.config['BASE_DOMAIN']}:{port}/console/")
    for role, email, password in logins:
        click.echo(f"  {role:<14} {email:<32} {password}")


@click.command("worker")
@click.option("--burst", is_flag=True, help="Quit when the queues are empty.")
@click.option("--queues", default=None, help="Comma-separated. [default: every queue, with RQ_QUEUE_PREFIX]")
def worker(burst: bool, queues: str | None) -> None:
    """Run an RQ worker (with the scheduler) whose jobs run inside their tenant."""
    from rq import Worker

    from repairqc.jobs import QUEUES, TenantJob, queue_name, redis_connection, set_worker_app

    if not current_app.config["REDIS_URL"]:
        raise click.ClickException("REDIS_URL is not set; without it jobs run in-process")
    names = queues.split(",") if queues else [queue_name(name) for name in QUEUES]
    set_worker_app(current_app._get_current_object())
    Worker(names, connection=redis_connection(), job_class=TenantJob).work(burst=burst, with_scheduler=True)


# --- periodic jobs (repairqc/jobs/periodic.py) -------------------------------------------------------

periodic_cli = AppGroup("periodic", help="The periodic jobs: list them, or run one now.")


@periodic_cli.command("list")
def list_periodic() -> None:
    """Every periodic job with its schedule (cron, UTC) and tenant job."""
    from repairqc.jobs.periodic import PERIODIC_JOBS

    for entry in PERIODIC_JOBS:
        click.echo(f"{entry.name:<30} {entry.cron:<14} {entry.job_path}")
        click.echo(f"{'':<30} {entry.description}")


@periodic_cli.command("run")
@click.argument("names", nargs=-1)
@click.option("--all", "run_all", is_flag=True, help="Every periodic job, in the listed order.")
@click.option("--today", type=click.DateTime(["%Y-%m-%d"]), help="Run for this day [default: today, UTC].")
def run_periodic_now(names: tuple[str, ...], run_all: bool, today) -> None:
    """Fan periodic job NAME out to every active tenant now (queued with Redis, run here
    without it). The jobs are idempotent: running one twice on a day changes nothing twice."""
    from repairqc.jobs.periodic import PERIODIC_JOBS, UnknownPeriodicJob, fan_out, periodic_job, utc_today

    if run_all == bool(names):
        raise click.UsageError("name periodic jobs or give --all (not both)")
    try:
        entries = list(PERIODIC_JOBS) if run_all else [periodic_job(name) for name in names]
    except UnknownPeriodicJob as exc:
        raise click.ClickException(str(exc)) from exc
    day = today.date() if today else utc_today()
    how = "queued" if current_app.config["REDIS_URL"] else "ran"
    for entry in entries:
        try:
            tenants = fan_out(entry, day)
        except ImportError as exc:
            cause = getattr(exc, "exception", exc)  # werkzeug's ImportStringError wraps the real one
            raise click.ClickException(f"{entry.name}: cannot import {entry.job_path} ({cause})") from exc
        click.echo(f"{entry.name} {day.isoformat()}: {how} in {len(tenants)} tenant(s)")


@click.command("cron")
def cron() -> None:
    """Fire the periodic jobs on their schedules. Run exactly one of these.

    With REDIS_URL: rq's CronScheduler enqueues them for the workers. Without: they run in
    this process, so the embedded default gets its daily sweeps too."""
    import logging
    import time
    from datetime import UTC, datetime

    from rq.cron import CronScheduler

    from repairqc.jobs import redis_connection
    from repairqc.jobs.periodic import InProcessCron, fan_out, register_periodic_jobs

    if current_app.config["REDIS_URL"]:
        scheduler = CronScheduler(connection=redis_connection())
        for cron_job in register_periodic_jobs(scheduler):
            click.echo(f"registered {cron_job.name} ({cron_job.cron}, UTC) on {cron_job.queue_name}")
        scheduler.start()
        return

    logger = logging.getLogger("repairqc.cron")
    schedule = InProcessCron()
    click.echo("no REDIS_URL: running the periodic jobs in this process (Ctrl-C stops)")
    for entry in schedule.entries:
        click.echo(f"  {entry.name:<30} next at {schedule.next_at[entry.name]:%Y-%m-%d %H:%M} UTC")
    try:
        while True:
            now = datetime.now(UTC)
            for entry in schedule.due(now):
                try:
                    tenants = fan_out(entry, now.date())
                    logger.warning("periodic %s ran in %s tenant(s)", entry.name, len(tenants))
                except Exception:  # one broken entry must not stop the others' schedules
                    logger.exception("periodic %s failed", entry.name)
                finally:
                    db.control.remove()  # a fresh control session each round: no stale reads
            time.sleep(schedule.seconds_to_next(datetime.now(UTC)))
    except KeyboardInterrupt:
        click.echo("cron stopped")


@crypto_cli.command("rotate")
@click.argument("slugs", nargs=-1)
@click.option("--all", "all_tenants", is_flag=True, help="Every tenant with a schema.")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=500,
    show_default=True,
    help="Rows per transaction; an interruption loses at most one batch.",
)
@click.option(
    "--restart",
    is_flag=True,
    help="Ignore checkpoints and check every row again (values under the new key are skipped).",
)
def rotate_keys(slugs: tuple[str, ...], all_tenants: bool, batch_size: int, restart: bool) -> None:
    """Re-encrypt sensitive fields under the first ENCRYPTION_KEY and re-hash search keys under
    the first LOOKUP_KEY, tenant by tenant, in batches. Interrupted? Run it again: it resumes."""
    from repairqc.crypto_rotation import (
        PassResult,
        Progress,
        RotationInterrupted,
        RotationRefused,
        rotate_tenant,
        rotation_passes,
    )
    from repairqc.db import tenant_context

    if not slugs and not all_tenants:
        raise click.UsageError("name tenants or pass --all")
    try:
        rotation_passes()  # the same tables and keys in every tenant: refuse before touching any
    except RotationRefused as exc:
        raise click.ClickException(str(exc)) from exc
    except ValueError as exc:  # Fernet's refusal of a malformed key
        raise click.ClickException(
            f"ENCRYPTION_KEY holds a key that is not a Fernet key ({exc}); nothing rotated"
        ) from exc
    known = _all_tenants()
    unknown = sorted(set(slugs) - {t.slug for t in known})
    if unknown:
        raise click.UsageError(f"no tenant with a schema is called {', '.join(unknown)}; nothing rotated")
    tenants = [t for t in known if all_tenants or t.slug in slugs]
    again = f"flask crypto rotate {'--all' if all_tenants else ' '.join(slugs)}"

    def progress(step: Progress) -> None:
        click.echo(f"  {step.name}: {step.rows_done}/{step.total_rows} rows, {step.rows_rewritten} rewritten")

    def summary(result: PassResult) -> None:
        if result.already_finished is not None:
            click.echo(
                f"  {result.name}: already finished under key {result.fingerprint} "
                f"({result.already_finished:%Y-%m-%d %H:%M} UTC), 0 rewritten"
            )
        else:
            resumed = f", resumed after id {result.resumed_after}" if result.resumed_after else ""
            click.echo(
                f"  {result.name}: {result.rows_checked} rows checked, {result.rows_rewritten} rewritten"
                f" under key {result.fingerprint}{resumed}"
            )
        if result.changed_meanwhile:
            click.echo(
                f"  {result.name}: {result.changed_meanwhile} rows were saved by someone else meanwhile;"
                " their new values were kept."
            )
        if result.rows_unreadable_total:
            # Never passed over in silence: these values are lost once their key is removed.
            more = ", ..." if result.rows_unreadable > len(result.unreadable_ids) else ""
            shown = ", ".join(map(str, result.unreadable_ids))
            ids = f" (ids {shown}{more})" if shown else ""
            click.echo(
                f"  WARNING {result.name}: {result.rows_unreadable_total} rows hold values no configured"
                f" key can read{ids}; they were left as they are.",
                err=True,
            )

    failed: list[str] = []
    for tenant in tenants:
        click.echo(f"{tenant.slug}: rotating")
        try:
            with tenant_context(tenant.ref), acting_as(Actor("cli", None, f"cli:{getpass.getuser()}")):
                results = rotate_tenant(batch_size, restart, on_progress=progress, on_pass=summary)
        except RotationInterrupted as exc:
            click.echo(f"{tenant.slug}: stopped in {exc.pass_name}: {exc.cause!r}", err=True)
            if not isinstance(exc.cause, Exception):  # Ctrl-C: stop here, not at the next tenant
                raise click.ClickException(
                    f"interrupted; finished batches are kept. Run `{again}` again to resume."
                ) from exc
            failed.append(tenant.slug)
            continue
        rewritten = sum(r.rows_rewritten for r in results)
        unreadable = sum(r.rows_unreadable_total for r in results)
        click.echo(f"{tenant.slug}: done, {rewritten} rows rewritten, {unreadable} with unreadable values")
    if failed:
        raise click.ClickException(
            f"rotation stopped for {', '.join(failed)}; finished batches are kept."
            f" Run `{again}` again to resume."
        )


billing_cli = AppGroup("billing", help="Plans and subscriptions.")


@billing_cli.command("plans")
def list_plans() -> None:
    """Every plan with its limits, trial and the Stripe price configured for each interval."""
    from repairqc.billing.models import Plan

    prices = current_app.config["STRIPE_PRICE_IDS"]
    with command_context():
        for plan in db.control.execute(sa.select(Plan).order_by(Plan.sort_order, Plan.id)).scalars():
            stores = "∞" if plan.max_stores is None else plan.max_stores
            staff = "∞" if plan.max_staff is None else plan.max_staff
            month = prices.get((plan.code, "month"), "(no price: not for sale monthly)")
            year = prices.get((plan.code, "year"), "(no price: not for sale yearly)")
            shown = "public" if plan.is_public else "hidden"
            click.echo(
                f"{plan.code:<12} stores {stores:<4} staff {staff:<4} trial {plan.trial_days}d  {shown}"
            )
            click.echo(f"{'':<12} month {month}  year {year}")


@billing_cli.command("reconcile")
def reconcile() -> None:
    """Re-read every subscription from Stripe now (the nightly job, run here)."""
    from repairqc.billing.tasks import reconcile_billing
    from repairqc.jobs import job_context

    with job_context(current_app._get_current_object(), None, "reconcile_billing"):
        counts = reconcile_billing()
    click.echo(", ".join(f"{name} {n}" for name, n in counts.items()))


def register_commands(app: Flask) -> None:
    for command in (
        billing_cli,
        tenants_cli,
        db_cli,
        operators_cli,
        crypto_cli,
        periodic_cli,
        migrate,
        demo,
        worker,
        cron,
    ):
        app.cli.add_command(command)
    from repairqc.backups.cli import backups_cli  # issue #9: backups

    app.cli.add_command(backups_cli)
