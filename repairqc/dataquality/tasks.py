"""The nightly anomaly scan (HB §7.1.2): "data-anomalies" runs once a day in every tenant
(`jobs.periodic`). The scan is idempotent (`anomalies.scan`), so a retry, a second scheduler or
a "scan now" the same day flags nothing twice."""

from __future__ import annotations

from repairqc.dataquality import anomalies
from repairqc.jobs import job
from repairqc.jobs.periodic import run_moment


@job(queue="default", timeout=1800)
def scan_data_anomalies(today_iso: str, now_iso: str | None = None) -> dict[str, int]:
    """Flag the tenant's unusual figures and stuck orders as of the day's run (`now_iso` lets
    tests travel in time)."""
    result = anomalies.scan(run_moment(today_iso, now_iso))
    return {"flagged": result.flagged, "resolved": result.resolved}
