"""Early warning: event probabilities and times from a starting state; state-driven failures."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from twinforge.sim import (
    BufferOverflow,
    NodeFailure,
    SimulationError,
    TargetMissed,
    ThresholdCrossing,
    early_warning,
    state_mapping,
)
from twinforge.sim.warning import wilson_interval


def test_buffer_overflow_time_from_a_given_state(tw):
    # s2 is down for 10 more minutes; s1 fills b2 (capacity 10, now 4) every 5 s
    twin = tw.line(
        "ovf",
        1.0,
        [
            {"process_time": tw.const(5)},
            {"process_time": tw.const(5), "mtbf": {"value": 1000, "unit": "h"}, "mttr": tw.const(600)},
        ],
        buffers=[None, 10],
    )
    state = {"b2": {"level": 4}, "s2": {"status": 0, "repair_remaining": "10 min"}}
    ew = early_warning(twin, state, horizon="1 h", events=[BufferOverflow(buffer="b2")], reps=3)
    row = ew.table.iloc[0]
    assert row["probability"] == 1.0
    assert row["expected_time_h"] * 3600 == pytest.approx(30.0)  # 6 more items, one every 5 s


def test_threshold_crossing_time_is_exact(tw):
    twin = tw.line(
        "hot",
        1.0,
        [
            {
                "process_time": tw.const(10),
                "heating_rate": {"value": 0.5, "unit": "K/min"},
                "cooling_time_constant": {"value": 10, "unit": "min"},
                "ambient_temperature": {"value": 20, "unit": "degC"},
            }
        ],
        buffers=[1000],
    )
    ev = ThresholdCrossing(state="s1.temperature", above=24, unit="degC")
    ew = early_warning(twin, None, horizon="1 h", events=[ev], reps=2)
    # T(t) = 20 + 5 (1 - exp(-t / 600)) reaches 24 at t = 600 ln 5
    assert ew.table.iloc[0]["expected_time_h"] * 3600 == pytest.approx(600 * math.log(5), rel=1e-9)
    # starting hotter than the threshold: it happens at once
    ew = early_warning(twin, {"s1": {"temperature": "30 degC"}}, horizon="1 h", events=[ev], reps=2)
    assert ew.table.iloc[0]["expected_time_h"] == 0.0
    # never reached: asymptote 25 degC < 26
    ev2 = ThresholdCrossing(state="s1.temperature", above=26, unit="degC")
    assert early_warning(twin, None, horizon="2 h", events=[ev2], reps=2).table.iloc[0]["probability"] == 0.0


def test_temperature_driven_failure_probability_matches_integrated_hazard(tw):
    # an idle, cooling station: lambda(t) = b exp(k (T(t) - Ta)), T(t) = Ta + 30 exp(-t / tau)
    b, k, tau, horizon = 1 / 3600, 0.1, 1800.0, 3600.0
    twin = tw.line(
        "hazard",
        {"value": 1e6, "unit": "s"},
        [
            {
                "process_time": tw.const(1),
                "failure_rate_base": {"value": b * 3600, "unit": "1/h"},
                "hazard_temperature_coefficient": k,
                "ambient_temperature": {"value": 20, "unit": "degC"},
                "cooling_time_constant": {"value": tau / 60, "unit": "min"},
                "mttr": tw.const(60),
            }
        ],
    )
    twin.nodes[0].parameters["start_time"] = twin.nodes[0].parameters["interarrival_time"]
    cum, _ = integrate.quad(lambda t: b * math.exp(k * 30 * math.exp(-t / tau)), 0, horizon)
    p_theory = 1 - math.exp(-cum)  # ~0.79 (constant hazard would give 0.63)
    ew = early_warning(
        twin, {"s1": {"temperature": 50}}, horizon=horizon, events=[NodeFailure(node="s1")], reps=400, seed=1
    )
    row = ew.table.iloc[0]
    lo, hi = wilson_interval(int(row["occurrences"]), 400, 0.99)
    assert lo <= p_theory <= hi, (lo, p_theory, hi)
    # mean time given failure
    t_mean, _ = integrate.quad(
        lambda t: (
            t
            * b
            * math.exp(k * 30 * math.exp(-t / tau))
            * math.exp(-integrate.quad(lambda u: b * math.exp(k * 30 * math.exp(-u / tau)), 0, t)[0])
        ),
        0,
        horizon,
    )
    assert row["expected_time_h"] * 3600 == pytest.approx(t_mean / p_theory, rel=0.08)


def test_wear_driven_failures_match_the_renewal_mean(tw):
    # always busy, 100 s per item, wear += 0.1 per item; hazard b (1 + 2 wear), reset on repair
    b, c = 1 / 3600, 2.0
    twin = tw.line(
        "wear",
        50.0,
        [
            {
                "process_time": tw.const(100),
                "failure_rate_base": {"value": 1.0, "unit": "1/h"},
                "hazard_wear_coefficient": c,
                "wear_per_cycle": 0.1,
                "mttr": tw.const(10),
            }
        ],
        buffers=[10**7],
    )
    from twinforge.sim import run_replications

    mc = run_replications(twin, reps=4, horizon="150 h", seed=2)
    failures = mc.values("s1.failures").sum()
    up = ((1 - mc.values("s1.down")) * 150 * 3600).sum()

    # wear is a step function of the operating time since repair: w(t) = 0.1 floor(t / 100)
    t = np.arange(0, 20 * 3600 + 1, 1.0)
    n = np.floor(t / 100)
    survival = np.exp(-b * (t + c * 0.1 * (100 * n * (n - 1) / 2 + n * (t - 100 * n))))
    mttf = float(np.trapezoid(survival, t))
    assert up / failures == pytest.approx(mttf, rel=0.06)  # ~900 failures


def test_daily_target_missed_pro_rata_and_at_day_end(tw):
    twin = tw.line("target", 10.0, [{"process_time": tw.const(5)}])
    p = type(twin.nodes[0].parameters["interarrival_time"])
    twin.nodes[-1].parameters["daily_target"] = p(value=9000, unit="item/day")  # line makes 8640
    ew = early_warning(twin, None, horizon="8 h", events=[TargetMissed(sink="out")], reps=2)
    assert ew.table.iloc[0]["probability"] == 1.0
    assert ew.table.iloc[0]["expected_time_h"] == pytest.approx(8.0)
    twin.nodes[-1].parameters["daily_target"] = p(value=8000, unit="item/day")
    ew = early_warning(twin, None, horizon="30 h", events=[TargetMissed(sink="out")], reps=2)
    assert ew.table.iloc[0]["probability"] == 0.0
    # 20 h into the day with 5000 cases done: 4 h at 360/h cannot reach 8000 -> missed at day end
    ew = early_warning(
        twin,
        {"out": {"count": 5000}},
        horizon="6 h",
        day_elapsed="20 h",
        events=[TargetMissed(sink="out")],
        reps=2,
    )
    assert ew.table.iloc[0]["expected_time_h"] == pytest.approx(4.0)


def test_bottling_line_warning_table(bottling_line):
    state = {"buf_fill": {"level": 20}, "filler": {"status": 0, "repair_remaining": "15 min"}}
    ew = early_warning(bottling_line, state, horizon="2 h", reps=30, seed=4)
    t = ew.table.set_index("event")
    assert set(t.columns) >= {"probability", "probability_low", "probability_high", "expected_time_h"}
    assert (t["probability_low"] <= t["probability"]).all() and (
        t["probability"] <= t["probability_high"]
    ).all()
    # the filler is down for 15 min: the rinse buffer in front of it (5 of 20) fills in ~8 min
    # unless the rinser or the depalletizer fails as well
    assert t.loc["buf_rinse full", "probability"] >= 0.9
    assert t.loc["buf_rinse full", "expected_time_h"] < 0.25
    assert ew.times.shape == (30, len(t))
    assert np.nanmax(ew.times.to_numpy()) <= 2.0


class FakeTwinState:
    """What a live-data sync might hand over."""

    def to_mapping(self):
        return {"buf_fill": {"level": 3}}


def test_starting_state_forms_and_errors(bottling_line):
    assert state_mapping(FakeTwinState()) == {"buf_fill": {"level": 3}}
    with pytest.raises(SimulationError, match="did you mean 'buf_fill'"):
        early_warning(bottling_line, {"buf_fil": {"level": 3}}, horizon="1 h", reps=2)
    with pytest.raises(SimulationError, match="cannot set 'pressure'"):
        early_warning(bottling_line, {"filler": {"pressure": 3}}, horizon="1 h", reps=2)
    with pytest.raises(SimulationError, match=r"whole number in 0\.\.25"):
        early_warning(bottling_line, {"buf_fill": {"level": 40}}, horizon="1 h", reps=2)
    with pytest.raises(SimulationError, match="exactly one of 'above' or 'below'"):
        early_warning(
            bottling_line, None, events=[{"kind": "threshold", "state": "filler.temperature"}], reps=2
        )
    with pytest.raises(SimulationError, match="has no simulated state"):
        early_warning(
            bottling_line, None, events=[{"kind": "threshold", "state": "filler.colour", "above": 1}], reps=2
        )
    with pytest.raises(SimulationError, match="not a sink with a daily_target"):
        early_warning(bottling_line, None, events=[{"kind": "target_missed", "sink": "filler"}], reps=2)
