from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from twinforge.datasets import SKAB_SIGNALS

PUMP_SIGNALS = SKAB_SIGNALS


def correlated_normal(n: int, rng: np.random.Generator, columns: list[str]) -> pd.DataFrame:
    """Normal operation: signals driven by two latent factors plus noise (so PCA and regressions
    have structure to learn), with a 1 Hz time index."""
    p = len(columns)
    latent = rng.normal(size=(n, 2))
    loadings = np.random.default_rng(99).normal(size=(2, p))
    values = latent @ loadings + 0.3 * rng.normal(size=(n, p)) + np.arange(1, p + 1)
    index = pd.date_range("2024-01-01", periods=n, freq="s")
    return pd.DataFrame(values, index=index, columns=columns)


@pytest.fixture
def synthetic() -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Training data, test data, and the test labels: rows 300-349 of the test data have the flow
    shifted by +8 (about 7 standard deviations) and the current by +4 (about 5.5)."""
    rng = np.random.default_rng(7)
    train = correlated_normal(600, rng, PUMP_SIGNALS)
    test = correlated_normal(500, rng, PUMP_SIGNALS)
    labels = np.zeros(len(test), dtype=int)
    labels[300:350] = 1
    test.iloc[300:350, PUMP_SIGNALS.index("Volume Flow RateRMS")] += 8.0
    test.iloc[300:350, PUMP_SIGNALS.index("Current")] += 4.0
    return train, test, labels
