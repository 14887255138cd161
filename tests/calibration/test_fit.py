from __future__ import annotations

import math

import numpy as np
import pytest

from twinforge.calibration import (
    CalibrationError,
    apply_diff,
    calibrate_events,
    read_diff,
    station_samples,
)
from twinforge.calibration.distributions import fit_best, fit_family, weibull_mle


def test_station_parameters_are_recovered_with_fit_and_uncertainty(one_station_result):
    res = one_station_result
    pt = res.estimate("press", "process_time")
    # true: lognormal mean 15 s, std 2 s
    assert pt.gof["family"] == "lognormal"
    assert abs(pt.mean - 15) < 0.05 and abs(pt.std - 2) < 0.05
    lo, hi = pt.ci95
    assert lo <= 15 <= hi and 0 < pt.mean_se < 0.05
    assert 0 <= pt.gof["ks_stat"] < 0.02 and pt.gof["ks_p"] > 0.01
    assert {c["family"] for c in pt.candidates} >= {"normal", "gamma", "weibull", "exponential"}
    # the lognormal beats the exponential by a wide AIC margin
    aic = {c["family"]: c["aic"] for c in pt.candidates}
    assert aic["exponential"] - aic["lognormal"] > 1000
    mtbf = res.estimate("press", "mtbf")  # true mean: 2 h * Gamma(1 + 1/1.5) = 1.805 h of operation
    true_mtbf = 2 * math.gamma(1 + 1 / 1.5)
    assert mtbf.unit == "h" and mtbf.gof.get("censored") == 1
    assert abs(mtbf.mean - true_mtbf) < 3 * mtbf.mean_se and mtbf.mean_se < 0.2
    mttr = res.estimate("press", "mttr")
    assert mttr.unit == "min" and abs(mttr.mean - 10) < 3 * mttr.mean_se
    assert mttr.n > 50


def test_process_times_exclude_the_time_a_job_waited_through_a_repair(one_station, one_station_log):
    s = station_samples(one_station_log, "press")
    assert len(s.ttr) > 50
    # without subtracting downtime, interrupted jobs would last a repair (minutes) longer
    assert s.process_times.max() < 60 and abs(np.mean(s.process_times) - 15) < 0.05


def test_moment_matching_baseline_keeps_the_twins_family(one_station, one_station_log):
    res = calibrate_events(one_station, one_station_log, method="moments")
    pt = res.estimate("press", "process_time")
    assert pt.method == "moments" and pt.new_distribution.type == "lognormal"
    assert abs(pt.mean - 15) < 0.05


def test_the_diff_is_written_reviewed_and_applied(one_station, one_station_result, tmp_path):
    res = one_station_result
    p = tmp_path / "diff.yaml"
    res.write(p)
    text = p.read_text()
    assert "old: lognormal(mean=15, std=2) s" in text and "ks_p" in text and "ci95" in text
    new = apply_diff(one_station, read_diff(p))
    assert new.node("press").parameters["process_time"].distribution.mean() == pytest.approx(
        res.calibrated().node("press").parameters["process_time"].distribution.mean(), rel=1e-5
    )
    assert new.node("press").parameters["mttr"].unit == "min"
    rendered = res.render()
    assert "press.process_time: lognormal(mean=15, std=2) s ->" in rendered


def test_a_bad_diff_is_refused_with_where(one_station, tmp_path):
    p = tmp_path / "d.yaml"
    p.write_text("twin: one-station\nchanges:\n  - {node: press, parameter: colour, new: 3}\n")
    with pytest.raises(
        CalibrationError, match=r"changes\[0\]: node 'press' \(station\) has no parameter 'colour'"
    ):
        apply_diff(one_station, read_diff(p))
    p.write_text("twin: other\nchanges: []\n")
    with pytest.raises(CalibrationError, match="made for twin 'other'"):
        apply_diff(one_station, read_diff(p))


def test_too_few_events_are_said_not_guessed(one_station, one_station_log):
    short = one_station_log[one_station_log["t"] < 300]
    res = calibrate_events(one_station, short)
    assert [e.parameter for e in res.estimates] == ["process_time"]
    assert any("mtbf" in n and "not estimated" in n for n in res.notes)
    with pytest.raises(CalibrationError, match="nothing to estimate"):
        calibrate_events(one_station, one_station_log[one_station_log["t"] < 30])


def test_censored_weibull_mle_matches_a_direct_optimisation():
    rng = np.random.default_rng(3)
    x = 5 * rng.weibull(2.0, 400)
    c = np.array([4.0, 6.0])
    p = weibull_mle(x, c)
    fit = fit_family("weibull", x, c)
    assert fit.params["shape"] == pytest.approx(p["shape"], rel=1e-4)
    assert abs(p["shape"] - 2.0) < 3 * fit.se["shape"] and abs(p["scale"] - 5) < 3 * fit.se["scale"]


def test_the_family_is_chosen_by_aic_for_each_catalogue_shape():
    rng = np.random.default_rng(5)
    cases = {
        "uniform": rng.uniform(26, 32, 4000),
        "triangular": rng.triangular(26, 29, 36, 4000),
        "exponential": rng.exponential(8.0, 4000),
        "normal": rng.normal(27, 2, 4000),
    }
    for family, x in cases.items():
        best, _ = fit_best(x)
        assert best.family == family, (family, best.family)
        assert best.ks_p > 0.01
