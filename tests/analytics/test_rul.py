"""Remaining useful life on small synthetic run-to-failure fleets (one and several operating
conditions), intervals, targets and metrics by hand; a small real-data check on C-MAPSS FD002."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from twinforge.analytics import (
    AnalyticsError,
    LastCycleLinearRUL,
    NotFittedError,
    WindowedRegressorRUL,
    phm08_score,
    rmse,
    rul_targets,
)
from twinforge.analytics.rul import OperatingConditions, conformal_bands


def fleet(n_units: int, rng: np.random.Generator, truncate: bool) -> tuple[pd.DataFrame, np.ndarray]:
    """Units whose wear grows exponentially until it reaches 1 (failure); three noisy sensors see the
    wear, one sensor is constant. Truncated units stop at a random cycle; their true RUL is returned."""
    rows, truth = [], []
    for unit in range(1, n_units + 1):
        life = int(rng.integers(150, 300))
        onset = life - int(rng.integers(80, 130))
        cycles = np.arange(1, life + 1)
        wear = np.where(cycles > onset, ((cycles - onset) / (life - onset)) ** 2, 0.0)
        stop = int(rng.integers(40, life - 5)) if truncate else life
        for c in range(stop):
            rows.append(
                {
                    "unit": unit,
                    "cycle": c + 1,
                    "temp": 640 + 8 * wear[c] + rng.normal(scale=0.5),
                    "pressure": 20 - 3 * wear[c] + rng.normal(scale=0.2),
                    "speed": 9000 + 40 * wear[c] + rng.normal(scale=5),
                    "const": 100.0,
                }
            )
        truth.append(life - stop)
    return pd.DataFrame(rows), np.array(truth, dtype=float)


def test_rul_targets_are_piecewise_linear_and_capped():
    h = pd.DataFrame({"unit": [1] * 5 + [2] * 3, "cycle": [1, 2, 3, 4, 5, 1, 2, 3]})
    assert rul_targets(h, cap=3).tolist() == [3, 3, 2, 1, 0, 2, 1, 0]
    assert rul_targets(h, cap=None).tolist() == [4, 3, 2, 1, 0, 2, 1, 0]


def test_metrics_by_hand():
    assert rmse([10, 20], [13, 16]) == pytest.approx(np.sqrt((9 + 16) / 2))
    # late by 10: e^1 - 1 ; early by 13: e^1 - 1
    assert phm08_score([50, 50], [60, 37]) == pytest.approx(2 * (np.e - 1))


def test_windowed_gradient_boosting_learns_remaining_life():
    rng = np.random.default_rng(11)
    train, _ = fleet(40, rng, truncate=False)
    test, truth = fleet(30, rng, truncate=True)
    model = WindowedRegressorRUL(windows=(10, 30), coverage=None).fit(train)
    assert "const" not in model.signals_  # a signal that never varies is dropped
    pred = model.predict(test)
    assert list(pred.index) == list(range(1, 31))
    capped = np.minimum(truth, 125)
    result = model.evaluate(test, capped)
    constant = rmse(capped, np.full(len(capped), capped.mean()))
    assert result.rmse < 15 and result.rmse < 0.5 * constant
    assert model.score(test, capped) == pytest.approx(result.rmse)
    assert result.phm08 > 0 and result.units == 30
    baseline = LastCycleLinearRUL().fit(train).evaluate(test, capped)
    assert result.rmse < baseline.rmse


def test_rul_input_errors():
    rng = np.random.default_rng(1)
    train, _ = fleet(3, rng, truncate=False)
    with pytest.raises(AnalyticsError, match=r"lacks column\(s\) \['unit'\]"):
        WindowedRegressorRUL().fit(train.drop(columns=["unit"]))
    with pytest.raises(NotFittedError):
        WindowedRegressorRUL().predict(train)
    model = WindowedRegressorRUL(windows=(5,)).fit(train)
    with pytest.raises(AnalyticsError, match=r"2 true RUL values for 3 units"):
        model.evaluate(train, [1.0, 2.0])
    with pytest.raises(AnalyticsError, match="coverage must be between 0 and 1"):
        WindowedRegressorRUL(coverage=1.5)
    with pytest.raises(AnalyticsError, match=r"operating settings\) lacks column\(s\) \['altitude'\]"):
        WindowedRegressorRUL(settings=["altitude"]).fit(train)


def test_cli_rul_predicts_and_scores(tmp_path):
    from typer.testing import CliRunner

    from twinforge.cli.main import app

    rng = np.random.default_rng(5)
    train, _ = fleet(15, rng, truncate=False)
    test, truth = fleet(8, rng, truncate=True)
    train.to_csv(tmp_path / "train.csv", index=False)
    test.to_csv(tmp_path / "test.csv", index=False)
    np.savetxt(tmp_path / "truth.txt", np.minimum(truth, 125))
    result = CliRunner().invoke(
        app,
        [
            "rul",
            str(tmp_path / "train.csv"),
            str(tmp_path / "test.csv"),
            "--truth",
            str(tmp_path / "truth.txt"),
        ],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    assert "8 unit(s)" in result.output and "RMSE" in result.output
    assert "90% interval" in result.output and "interval coverage" in result.output
    assert "1 operating condition(s)" in result.output
    assert "const" not in result.output.split("signals used:")[1].split("\n")[0]
    bad = CliRunner().invoke(
        app, ["rul", str(tmp_path / "train.csv"), str(tmp_path / "test.csv"), "--cmapss"]
    )
    assert bad.exit_code == 2 and "C-MAPSS files have 26" in bad.output
    bad = CliRunner().invoke(
        app, ["rul", str(tmp_path / "train.csv"), str(tmp_path / "test.csv"), "--coverage", "1.5"]
    )
    assert bad.exit_code == 2 and "coverage" in bad.output


# -- operating conditions ------------------------------------------------------------------------

CONDITIONS = np.array([[0.0, 0.0, 100.0], [10.0, 0.25, 100.0], [25.0, 0.62, 60.0], [42.0, 0.84, 100.0]])


def multi_condition_fleet(
    n_units: int, rng: np.random.Generator, truncate: bool, n_conditions: int = 4
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Units that switch at random between operating conditions every cycle. Each condition sets the
    sensors' levels (spread of tens of units); wear moves them by a few units, so across conditions
    the wear is hidden. Returns histories (with setting1..3), true RUL of each unit and the wear of
    each row."""
    levels = np.random.default_rng(99).normal(scale=30.0, size=(n_conditions, 3))  # same for every fleet
    parts, truth, wears = [], [], []
    for unit in range(1, n_units + 1):
        life = int(rng.integers(150, 260))
        onset = life - int(rng.integers(80, 120))
        cycles = np.arange(1, life + 1)
        wear = (np.clip(cycles - onset, 0, None) / (life - onset)) ** 1.5
        stop = int(rng.integers(40, life - 5)) if truncate else life
        cond = rng.integers(0, n_conditions, stop)
        settings = CONDITIONS[cond] + rng.normal(scale=[0.002, 0.0003, 0.0], size=(stop, 3))
        gain = np.array([6.0, -4.0, 5.0]) * (1 + 0.2 * cond[:, None])  # wear shows more at some points
        sensors = levels[cond] + gain * wear[:stop, None] + rng.normal(scale=0.4, size=(stop, 3))
        frame = pd.DataFrame(
            {
                "unit": unit,
                "cycle": cycles[:stop],
                "setting1": settings[:, 0],
                "setting2": settings[:, 1],
                "setting3": settings[:, 2],
                "temp": sensors[:, 0],
                "pressure": sensors[:, 1],
                "speed": sensors[:, 2],
                "const": 7.0,
            }
        )
        parts.append(frame)
        truth.append(life - stop)
        wears.append(wear[:stop])
    return pd.concat(parts, ignore_index=True), np.array(truth, dtype=float), np.concatenate(wears)


def _light_boosting():
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(max_iter=120, learning_rate=0.1, min_samples_leaf=40, random_state=0)


def test_operating_conditions_are_recovered_from_the_settings():
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 4, 4000)
    settings = CONDITIONS[truth] + rng.normal(scale=[0.002, 0.0003, 0.0], size=(4000, 3))
    found = OperatingConditions().fit(settings)
    assert found.n_conditions_ == 4  # chosen from the data: the silhouette peaks at the true number
    assert max(found.silhouettes_, key=found.silhouettes_.get) == 4
    labels = found.assign(settings)
    # one-to-one: every true condition maps to exactly one found condition and back
    table = pd.crosstab(truth, labels)
    assert (table.gt(0).sum(axis=0) == 1).all() and (table.gt(0).sum(axis=1) == 1).all()
    # one operating point with measurement noise (as C-MAPSS FD001): one condition
    noise = CONDITIONS[0] + rng.normal(scale=[0.002, 0.0003, 0.0], size=(4000, 3))
    single = OperatingConditions().fit(noise)
    assert single.n_conditions_ == 1 and set(single.assign(noise)) == {0}
    assert max(single.silhouettes_.values()) < 0.8
    # constant settings or none at all: one condition
    assert OperatingConditions().fit(np.ones((50, 3))).n_conditions_ == 1
    assert OperatingConditions().fit(np.zeros((50, 0))).n_conditions_ == 1
    with pytest.raises(AnalyticsError, match="missing or infinite"):
        OperatingConditions().fit(np.array([[1.0], [np.nan]]))
    with pytest.raises(NotFittedError):
        OperatingConditions().assign(settings)


def test_per_condition_normalisation_reveals_wear_hidden_by_condition_switching():
    rng = np.random.default_rng(7)
    train, _, wear = multi_condition_fleet(30, rng, truncate=False)
    per_condition = WindowedRegressorRUL(windows=(5,), coverage=None).fit(train)
    global_only = WindowedRegressorRUL(windows=(5,), coverage=None, settings=None).fit(train)
    assert per_condition.n_conditions == 4 and global_only.n_conditions == 1
    assert per_condition.settings_ == ["setting1", "setting2", "setting3"]
    # settings are not signals; a constant signal is dropped
    assert per_condition.signals_ == ["temp", "pressure", "speed"]
    frame = train.sort_values(["unit", "cycle"])
    z = per_condition._standardised(frame)
    z_global = global_only._standardised(frame)
    for j in range(3):
        hidden = abs(np.corrcoef(z_global[:, j], wear)[0, 1])
        visible = abs(np.corrcoef(z[:, j], wear)[0, 1])
        assert hidden < 0.3 and visible > 0.8, (j, hidden, visible)
    # ... and the model that sees it predicts the remaining life far better
    test, truth, _ = multi_condition_fleet(40, rng, truncate=True)
    capped = np.minimum(truth, 125)
    good = per_condition.evaluate(test, capped).rmse
    blind = global_only.evaluate(test, capped).rmse
    assert good < 12 and good < 0.8 * blind, (good, blind)


def test_single_condition_data_is_standardised_as_before():
    rng = np.random.default_rng(2)
    train, _ = fleet(12, rng, truncate=False)
    model = WindowedRegressorRUL(windows=(5,), coverage=None).fit(train)
    assert model.n_conditions == 1 and model.settings_ == []
    frame = train.sort_values(["unit", "cycle"])
    cols = model.signals_
    expected = (frame[cols] - frame[cols].mean()) / frame[cols].std()
    np.testing.assert_allclose(model._standardised(frame), expected.to_numpy(), rtol=1e-5, atol=1e-5)
    # noisy settings around one operating point: still one condition, settings are not signals
    noisy = train.assign(setting1=rng.normal(scale=0.002, size=len(train)), setting2=100.0)
    model = WindowedRegressorRUL(windows=(5,), coverage=None).fit(noisy)
    assert model.n_conditions == 1 and model.signals_ == cols
    np.testing.assert_allclose(
        model._standardised(frame.assign(setting1=0.0, setting2=100.0)), expected, atol=1e-5
    )


# -- intervals -----------------------------------------------------------------------------------


def test_conformal_bands_by_hand():
    pred = np.repeat([10.0, 100.0], 500)
    resid = np.r_[np.linspace(-1, 1, 500), np.linspace(-20, 20, 500)]  # error grows with the prediction
    bands = conformal_bands(resid, pred, coverage=0.8, bands=2)
    lo, hi = bands.bounds(np.array([10.0, 100.0]), cap=125.0)
    assert lo[0] == pytest.approx(10 - 0.8, abs=0.02) and hi[0] == pytest.approx(10 + 0.8, abs=0.02)
    assert lo[1] == pytest.approx(100 - 16, abs=0.2) and hi[1] == pytest.approx(min(125, 116), abs=0.2)
    lo, hi = bands.bounds(np.array([2.0, 120.0]), cap=125.0)  # clipped to [0, cap]
    assert lo[0] >= 0 and hi[1] == 125.0


def test_intervals_reach_their_nominal_coverage_on_held_out_units():
    rng = np.random.default_rng(21)
    train, _ = fleet(40, rng, truncate=False)
    test, truth = fleet(150, rng, truncate=True)
    capped = np.minimum(truth, 125)
    model = WindowedRegressorRUL(windows=(10, 30), regressor=_light_boosting, coverage=0.8).fit(train)
    table = model.predict_interval(test)
    assert list(table.columns) == ["rul", "lower", "upper"] and len(table) == 150
    assert (table["lower"] <= table["rul"]).all() and (table["rul"] <= table["upper"]).all()
    e = model.evaluate(test, capped)
    assert 0.7 <= e.coverage <= 0.92, e.coverage
    assert 0 < e.mean_width < 60
    oof = model.oof_predictions_
    assert len(oof) == len(train) and set(oof.columns) == {"unit", "cycle", "rul", "predicted"}
    # a lower nominal coverage gives narrower intervals and lower coverage
    narrow = WindowedRegressorRUL(windows=(10, 30), regressor=_light_boosting, coverage=0.5).fit(train)
    n = narrow.evaluate(test, capped)
    assert n.mean_width < e.mean_width and n.coverage < e.coverage and 0.35 <= n.coverage <= 0.65
    # without coverage there is no interval, and a clear error says so
    plain = WindowedRegressorRUL(windows=(10,), regressor=_light_boosting, coverage=None).fit(train)
    assert plain.evaluate(test, capped).coverage is None
    with pytest.raises(AnalyticsError, match="no intervals"):
        plain.predict_interval(test)


def test_fd002_real_data_six_conditions_and_intervals():
    from twinforge.analytics.rul import read_histories
    from twinforge.datasets import reference_data
    from twinforge.errors import TwinforgeError

    try:
        folder = reference_data("cmapss")
    except TwinforgeError as exc:
        pytest.skip(f"C-MAPSS data not available: {exc}")
    if not (folder / "train_FD002.txt.gz").is_file():
        pytest.skip(f"{folder / 'train_FD002.txt.gz'} not found")
    train = read_histories(folder / "train_FD002.txt.gz", cmapss=True)
    test = read_histories(folder / "test_FD002.txt.gz", cmapss=True)
    truth = np.minimum(np.loadtxt(folder / "RUL_FD002.txt.gz"), 125)
    train = train[train["unit"] <= 30]  # small: a quick fit
    test = test[test["unit"] <= 60]
    truth = truth[:60]
    options = {"windows": (10, 30), "smoothing_span": 10, "regressor": _light_boosting}
    model = WindowedRegressorRUL(**options, coverage=0.9, calibration_folds=3).fit(train)
    assert model.n_conditions == 6  # FD002's six operating points, found from the settings
    assert (np.bincount(model._conditions(train), minlength=6) > 500).all()
    e = model.evaluate(test, truth)
    odd = test.copy()
    odd.loc[odd.index[5], "setting1"] = 60.0  # an altitude training never saw
    with pytest.raises(AnalyticsError, match=r"1 row\(s\) run at operating settings unlike any of the 6"):
        model.predict(odd)
    blind = WindowedRegressorRUL(**options, coverage=None, settings=None).fit(train).evaluate(test, truth)
    assert e.rmse < 22 and e.rmse < 0.85 * blind.rmse, (e.rmse, blind.rmse)
    assert e.coverage >= 0.7 and e.mean_width < 70, (e.coverage, e.mean_width)
