"""Real data: the SKAB-testbed twin's normal model fitted to SKAB's anomaly-free recording."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from twinforge.analytics.diagnosis import train_diagnoser
from twinforge.datasets import SKAB_SIGNALS, reference_data_dir
from twinforge.spec import load_spec
from twinforge.synthetic import fit_normal_model, generate
from twinforge.synthetic.generate import NORMAL_MODEL_REPLICATIONS

ROOT = Path(__file__).resolve().parents[2]
SIGNALS = SKAB_SIGNALS


@pytest.fixture(scope="module")
def skab():
    folder = reference_data_dir() / "skab"
    if not (folder / "anomaly-free.csv").is_file():
        pytest.skip(f"SKAB reference data not found at {folder} (set TWINFORGE_DATA)")
    return folder


@pytest.fixture(scope="module")
def twin():
    return load_spec(ROOT / "benchmarks" / "synthetic" / "skab_testbed.yaml")


def test_fitted_twin_reproduces_the_recordings_statistics(skab, twin):
    recorded = pd.read_csv(skab / "anomaly-free.csv", sep=";", index_col="datetime")[SIGNALS].astype(float)
    recorded = recorded.iloc[:3000]
    bare = twin.model_copy(update={"metadata": {}})
    simulated = generate(bare, None, duration_s=3000.0, seed=0, replications=NORMAL_MODEL_REPLICATIONS).frame
    model = fit_normal_model(recorded, simulated)
    fitted = twin.model_copy(update={"metadata": {"synthetic": {"normal": model.to_metadata()}}})
    synthetic = generate(fitted, None, duration_s=3000.0, seed=5).frame
    for col in ("Current", "Voltage", "Pressure", "Volume Flow RateRMS", "Accelerometer1RMS"):
        assert synthetic[col].mean() == pytest.approx(recorded[col].mean(), rel=0.02), col
        assert synthetic[col].std() == pytest.approx(recorded[col].std(), rel=0.35), col
        assert synthetic[col].autocorr(1) == pytest.approx(recorded[col].autocorr(1), abs=0.12), col
    # fast electrical signals: their correlation is a property of single samples, so it is reproduced
    assert synthetic["Current"].corr(synthetic["Voltage"]) == pytest.approx(
        recorded["Current"].corr(recorded["Voltage"]), abs=0.1
    )


def test_diagnoser_from_the_twin_answers_on_a_real_valve1_window(skab, twin):
    path = skab / "valve1" / "1.csv"
    if not path.is_file():
        pytest.skip(f"SKAB valve1 file not found at {path}")
    frame = pd.read_csv(path, sep=";", index_col="datetime")[SIGNALS].astype(float)
    diagnoser = train_diagnoser(twin, seeds=range(1), duration_s=1200.0)
    d = diagnoser.diagnose(frame.iloc[-60:], frame.iloc[:400])
    assert d.fault in set(diagnoser.classes_) | {"unknown"}
    assert sum(d.probabilities.values()) == pytest.approx(1.0)
    assert d.signals and d.signals[0][0] in SIGNALS
