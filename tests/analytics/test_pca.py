"""PCA T² and Q against a hand computation, control limits, contributions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from twinforge.analytics import FixedThreshold, PCADetector


def test_t2_and_q_match_hand_computation_on_two_correlated_signals():
    # Four points symmetric about 0 with unit standard deviation in each column and correlation 0.5:
    # the correlation matrix [[1, .5], [.5, 1]] has eigenvectors (1,1)/√2 (λ=1.5) and (1,-1)/√2 (λ=0.5).
    a, b = np.sqrt(1.5 * 3 / 4), np.sqrt(0.5 * 3 / 4)  # scores along the two axes, sample variance 1.5 / 0.5
    u1, u2 = np.array([1, 1]) / np.sqrt(2), np.array([1, -1]) / np.sqrt(2)
    train = np.array([a * u1 + b * u2, a * u1 - b * u2, -a * u1 + b * u2, -a * u1 - b * u2])
    frame = pd.DataFrame(train, columns=["x", "y"])
    det = PCADetector(n_components=1, threshold=FixedThreshold(1.0)).fit(frame)
    assert det.n_components_ == 1
    np.testing.assert_allclose(det.eigenvalues_, [1.5, 0.5], atol=1e-12)
    new = pd.DataFrame([[2.0, 1.0], [0.5, -0.5]], columns=["x", "y"])
    # standardisation: training mean 0, sample std 1 in both columns, so z = x
    z = new.to_numpy()
    t = z @ u1
    expected_t2 = t**2 / 1.5
    expected_q = (z @ u2) ** 2
    np.testing.assert_allclose(det.t2(new), expected_t2, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(det.q(new), expected_q, rtol=1e-10, atol=1e-12)
    # [2, 1]: T² = (3/√2)²/1.5 = 3, Q = (1/√2)² = 0.5 ; [0.5, -0.5]: T² = 0, Q = 0.5
    np.testing.assert_allclose(det.t2(new), [3.0, 0.0], atol=1e-10)
    np.testing.assert_allclose(det.q(new), [0.5, 0.5], atol=1e-10)


def test_control_limits_follow_the_textbook_formulas():
    n, a, conf = 50, 2, 0.99
    expected = a * (n - 1) * (n + 1) / (n * (n - a)) * stats.f.ppf(conf, a, n - a)
    assert PCADetector.t2_control_limit(n, a, conf) == pytest.approx(expected)
    # Jackson-Mudholkar with one residual eigenvalue λ: θ1=λ, θ2=λ², θ3=λ³, h0 = 1/3
    lam = 0.5
    h0 = 1 - 2 * lam * lam**3 / (3 * lam**4)
    c = stats.norm.ppf(conf)
    q_lim = lam * (c * np.sqrt(2 * lam**2 * h0**2) / lam + 1 + lam**2 * h0 * (h0 - 1) / lam**2) ** (1 / h0)
    assert PCADetector.q_control_limit(np.array([lam]), conf) == pytest.approx(q_lim)
    # the Q limit of one residual component equals λ·χ²₁ quantile approximately
    assert q_lim == pytest.approx(lam * stats.chi2.ppf(conf, 1), rel=0.1)


def test_contributions_name_a_biased_sensor_among_correlated_ones():
    """Reconstruction-based contributions do not smear a one-sensor bias over the signals that
    are correlated with it (plain squared residuals do)."""
    rng = np.random.default_rng(3)
    base = rng.normal(size=(600, 1))
    train = pd.DataFrame(
        np.hstack([base + 0.05 * rng.normal(size=(600, 1)) for _ in range(4)] + [rng.normal(size=(600, 2))]),
        columns=["a", "b", "c", "d", "e", "f"],
    )
    test = train.iloc[:100].copy()
    test["b"] += 0.6  # a bias of one of four strongly correlated sensors
    for statistic in ("q", "t2", "combined"):
        det = PCADetector(statistic=statistic).fit(train)
        contrib = det.contributions(test)
        assert (contrib.to_numpy() >= 0).all()
        if statistic != "t2":
            assert contrib.mean().idxmax() == "b"


def test_pca_finds_a_correlation_breaking_fault_and_names_the_signal(synthetic):
    train, test, labels = synthetic
    det = PCADetector(threshold=FixedThreshold(1.0)).fit(train)
    pred = det.predict(test)
    assert pred[labels == 1].mean() > 0.9
    assert pred[labels == 0].mean() < 0.05
    contrib = det.contributions(test.iloc[300:350]).mean()
    assert contrib.idxmax() == "Volume Flow RateRMS"
    # at the 99 % limits about 1 % of normal rows of each chart exceed them
    assert det.t2_limit_ > 0 and det.q_limit_ > 0
