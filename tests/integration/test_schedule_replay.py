"""An optimised schedule replayed in the simulator."""

from __future__ import annotations

import pytest

from twinforge.optimize.orders import load_jobs
from twinforge.optimize.scheduling import ScheduleError, replay_in_simulator, solve_schedule


def test_replay_without_noise_reproduces_the_plan_and_noise_delays_it(bottling_line, examples):
    jobs = load_jobs(examples / "orders" / "bottling_line.yaml", bottling_line)
    plan = solve_schedule(jobs.jobs, objective="makespan", time_limit=10, time_unit=jobs.time_unit)
    exact = replay_in_simulator(bottling_line, plan, reps=3, duration_cv=0.0, failures=False).summary()
    assert exact["planned_makespan_h"] == pytest.approx(plan.makespan / 60, rel=1e-6)
    assert exact["makespan_mean_h"] == pytest.approx(exact["planned_makespan_h"], rel=1e-6)
    noisy = replay_in_simulator(
        bottling_line, plan, reps=40, duration_cv=0.2, failures=True, seed=2
    ).summary()
    assert noisy["makespan_mean_h"] > exact["planned_makespan_h"]
    assert 0.0 <= noisy["on_time_share"] < 1.0


def test_lot_streamed_plans_are_refused(bottling_line, tmp_path):
    f = tmp_path / "orders.yaml"
    f.write_text("time_unit: min\norders:\n  - {id: A, quantity: 30}\n")
    jobs = load_jobs(f, bottling_line)
    plan = solve_schedule(jobs.jobs, objective="makespan", time_limit=5, time_unit=jobs.time_unit)
    with pytest.raises(ScheduleError, match="lot streaming"):
        replay_in_simulator(bottling_line, plan, reps=2)
