"""One date for the whole test run.

Test modules take `TODAY` when they are imported, and the tenants made at the start of a session
get a standard that takes effect that day; a run that crosses midnight UTC then compares
yesterday's dates with today's (a CI run started at 23:58 once failed 148 tests). A run takes
about a quarter of an hour, so when it starts in the last `WINDOW` of the day the clock of the
test process, and of every Python process the tests start (the RQ workers, the browser tests'
server), is moved back by `WINDOW` and ticks from there: the date stays the same for two hours.
At any other time of day nothing is moved.

The database servers keep the real time, which the application never reads: every timestamp is
made in Python (`repairqc.db.utcnow`). Chromium keeps it too; the session cookie has no expiry
and the remember-me cookie a year's, so two hours make no difference to it.

Subprocesses: `python -m tests.clock MODULE ARGS...` runs `python -m MODULE ARGS...` on the same
clock (`command`), which the parent hands down in `OFFSET_ENV`.
"""

from __future__ import annotations

import os
import runpy
import sys
from datetime import UTC, datetime, time, timedelta

import time_machine

#: How long before midnight UTC a run is moved back, and by how much.
WINDOW = timedelta(hours=2)
#: Seconds the clock is moved by, for the processes the tests start.
OFFSET_ENV = "REPAIRQC_TEST_CLOCK_OFFSET"


def offset_for(now: datetime) -> timedelta:
    """How far to move a clock that reads `now` (UTC) so the date holds for `WINDOW`."""
    midnight = datetime.combine(now.date() + timedelta(days=1), time(), tzinfo=UTC)
    return -WINDOW if midnight - now <= WINDOW else timedelta(0)


def start() -> timedelta:
    """Move this process's clock as `OFFSET_ENV` says, or (the first process) as `offset_for`
    the real time says and record it there for the processes started later."""
    given = os.environ.get(OFFSET_ENV)
    offset = timedelta(seconds=float(given)) if given else offset_for(datetime.now(UTC))
    os.environ[OFFSET_ENV] = str(offset.total_seconds())
    if offset:
        time_machine.travel(datetime.now(UTC) + offset, tick=True).start()
    return offset


def command(module: str) -> list[str]:
    """The argv beginning of `python -m module` on the tests' clock."""
    return [sys.executable, "-m", "tests.clock", module]


if __name__ == "__main__":
    start()
    module, sys.argv = sys.argv[1], sys.argv[1:]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
