"""Replaying a production schedule under breakdowns and process-time noise."""

from __future__ import annotations

import pytest

from twinforge.errors import UnknownEntityError
from twinforge.sim import ScheduledOperation, SimulationError, replay_schedule

PLAN = [
    ("filler", "A", "0 h", "2 h"),
    ("capper", "A", "2 h", "1 h"),
    ("filler", "B", "2 h", "3 h"),
    ("capper", "B", "5 h", "1 h"),
]


def test_exact_replay_without_noise_or_failures(bottling_line):
    r = replay_schedule(bottling_line, PLAN, reps=3, duration_cv=0, failures=False)
    ops = r.operations[r.operations["replication"] == 0]
    assert (ops["start"] == ops["planned_start"]).all()
    assert (ops["end"] == ops["planned_end"]).all()
    assert r.summary()["makespan_mean_h"] == pytest.approx(6.0)
    assert r.summary()["on_time_share"] == 1.0


def test_delays_propagate_along_jobs_and_stations(bottling_line):
    # filler's first operation runs 1 h long: the capper and the filler's next job wait
    plan = [
        ScheduledOperation(station="filler", job="A", start=0, duration=3600),
        ScheduledOperation(station="capper", job="A", start=3600, duration=600),
        ScheduledOperation(station="filler", job="B", start=3600, duration=1800),
    ]
    late = [plan[0].model_copy(update={"duration": 7200}), plan[1], plan[2]]
    base = replay_schedule(bottling_line, plan, reps=1, duration_cv=0, failures=False)
    r = replay_schedule(bottling_line, late, reps=1, duration_cv=0, failures=False)
    ends = dict(zip(r.operations["job"] + "@" + r.operations["station"], r.operations["end"], strict=True))
    assert ends["A@capper"] == 7200 + 600
    assert ends["B@filler"] == 7200 + 1800
    assert base.makespan["makespan_h"].iloc[0] == pytest.approx(1.5)


def test_breakdowns_and_noise_make_jobs_late(bottling_line):
    r = replay_schedule(bottling_line, PLAN, reps=200, duration_cv=0.1, seed=1)
    s = r.summary()
    assert s["makespan_mean_h"] > 6.0
    assert 0 < s["on_time_share"] < 1
    jobs = r.jobs.set_index("job")
    assert (jobs["late_probability"] > 0).all()
    assert (jobs["delay_p90_h"] >= jobs["delay_mean_h"]).all()


def test_schedule_errors(bottling_line):
    with pytest.raises(UnknownEntityError, match="did you mean 'filler'"):
        replay_schedule(bottling_line, [("filer", "A", 0, 10)], reps=1)
    with pytest.raises(SimulationError, match="not a station"):
        replay_schedule(bottling_line, [("buf_fill", "A", 0, 10)], reps=1)
    with pytest.raises(SimulationError, match=r"schedule\[0\]"):
        replay_schedule(bottling_line, [("filler", "A", "soon", 10)], reps=1)
    with pytest.raises(SimulationError, match="empty"):
        replay_schedule(bottling_line, [], reps=1)
