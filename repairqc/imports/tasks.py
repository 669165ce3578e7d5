"""The imports' sweep: a file uploaded for an import and never confirmed holds customers' and
staff's personal data, so it is not kept longer than IMPORT_PREVIEW_HOURS (HB §7.3.1).

"import-expiry" runs hourly per tenant (`jobs.periodic`); cancelling a run empties its file, so a
re-run, a retry or a second scheduler finds nothing more to do.
"""

from __future__ import annotations

from repairqc.imports import services
from repairqc.jobs import job
from repairqc.jobs.periodic import parse_moment


@job(queue="default", timeout=600)
def expire_import_previews(today_iso: str, now_iso: str | None = None) -> int:
    """Cancel the imports left unconfirmed too long; the number cancelled. `now_iso` lets tests
    travel in time (the scheduler passes only the day)."""
    return services.expire_previews(parse_moment(now_iso) if now_iso else None)
