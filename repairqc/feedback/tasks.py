"""The hourly "survey-dispatch" job (HB §6.3): send the satisfaction-survey links that are due.

A survey is due `survey_delay_hours` after its order's delivery. Each due survey gets one
`CustomerMessage` (event key `survey:<id>:invitation`, so never twice), written in the
customer's language and sent after the job's unit of work commits, on the channel the
customer can receive (e-mail, or a text message when an SMS provider is set); a customer with
neither is left for the store to ask by phone or on site (status "not sent"). Only scheduled
surveys move, and they are locked while they do: a repeat run, a retry or a second scheduler
sends nothing twice.
"""

from __future__ import annotations

from repairqc.feedback import services
from repairqc.jobs import job
from repairqc.jobs.periodic import run_moment


@job(queue="default", timeout=600)
def dispatch_surveys(today_iso: str, now_iso: str | None = None) -> list[int]:
    """Send the surveys due by the run's moment; the ids of those sent (or found without a channel)."""
    return services.dispatch_due_surveys(run_moment(today_iso, now_iso))
