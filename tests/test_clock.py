"""The suite's clock (tests/clock.py): a run started in the last two hours of a UTC day is moved
back two hours, and the processes the tests start run on the same clock."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests import clock

ROOT = Path(__file__).resolve().parents[1]


def test_only_the_last_two_hours_of_a_day_are_moved_back():
    day = datetime(2026, 11, 25, tzinfo=UTC)
    assert clock.offset_for(day) == timedelta(0)
    assert clock.offset_for(day + timedelta(hours=21, minutes=59, seconds=59)) == timedelta(0)
    assert clock.offset_for(day + timedelta(hours=22)) == -clock.WINDOW
    assert clock.offset_for(day + timedelta(hours=23, minutes=59, seconds=59)) == -clock.WINDOW
    moved = day + timedelta(hours=23, minutes=58) + clock.offset_for(day + timedelta(hours=23, minutes=58))
    assert moved.date() == day.date() and (day + timedelta(days=1) - moved) >= clock.WINDOW


def test_a_process_the_tests_start_runs_on_the_given_clock():
    env = {**os.environ, clock.OFFSET_ENV: str(-clock.WINDOW.total_seconds())}
    before = datetime.now(UTC)
    result = subprocess.run(
        [*clock.command("tests.test_clock")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    after = datetime.now(UTC)
    assert result.returncode == 0, result.stderr
    seen = datetime.fromisoformat(result.stdout.strip())
    # This process may itself be moved (a run near midnight): compare with its own clock.
    own = timedelta(seconds=float(os.environ[clock.OFFSET_ENV]))
    assert before - own - clock.WINDOW <= seen <= after - own - clock.WINDOW + timedelta(seconds=1)


if __name__ == "__main__":  # the subprocess of the test above
    print(datetime.now(UTC).isoformat())
