"""Remaining useful life on a small synthetic run-to-failure fleet; targets and metrics by hand."""

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
    model = WindowedRegressorRUL(windows=(10, 30)).fit(train)
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


def test_cli_rul_predicts_and_scores(tmp_path):
    from typer.testing import CliRunner

    from twinforge.cli.main import app

    rng = np.random.default_rng(5)
    train, _ = fleet(25, rng, truncate=False)
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
    assert "const" not in result.output.split("signals used:")[1].split("\n")[0]
    bad = CliRunner().invoke(
        app, ["rul", str(tmp_path / "train.csv"), str(tmp_path / "test.csv"), "--cmapss"]
    )
    assert bad.exit_code == 2 and "C-MAPSS files have 26" in bad.output
