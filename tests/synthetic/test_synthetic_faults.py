"""Each fault of the library changes the twin's signals in the documented direction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from twinforge.spec import load_spec
from twinforge.synthetic import (
    FAULT_KINDS,
    NormalModel,
    SyntheticError,
    applicable_faults,
    fit_normal_model,
    generate,
    make_fault,
    normal_model,
    ramp,
)

ROOT = Path(__file__).resolve().parents[2]
DURATION, ONSET = 600.0, 300.0


@pytest.fixture(scope="module")
def pump():
    return load_spec(ROOT / "examples" / "pump_station.yaml")


@pytest.fixture(scope="module")
def bottling():
    return load_spec(ROOT / "examples" / "bottling_line.yaml")


@pytest.fixture(scope="module")
def pump_normal(pump):
    return generate(pump, None, duration_s=DURATION, seed=3).frame


def change(spec, base, kind, node, severity=0.8, **kw):
    """Mean of the last 200 rows, faulty run minus normal run of the same seed, per column."""
    fault = make_fault(kind, node, severity=severity, onset_s=ONSET, ramp_s=30.0, **kw)
    run = generate(spec, fault, duration_s=DURATION, seed=3)
    before = run.frame.iloc[: int(ONSET)]
    assert np.allclose(before.to_numpy(), base.iloc[: int(ONSET)].to_numpy(), rtol=0.02, atol=1e-9)
    return run, run.frame.iloc[-200:].mean() - base.iloc[-200:].mean()


def test_ramp_rises_linearly_from_the_onset():
    r = ramp(np.array([0.0, 100.0, 130.0, 160.0, 500.0]), 100.0, 60.0)
    assert r.tolist() == [0.0, 0.0, 0.5, 1.0, 1.0]
    assert ramp(np.array([99.0, 100.0]), 100.0, 0.0).tolist() == [0.0, 1.0]


def test_valve_partly_closed_is_simulated_by_the_twin(pump, pump_normal):
    run, d = change(pump, pump_normal, "valve_closure", "valve1")
    assert d["Volume Flow RateRMS"] < -20  # L/min: throttled flow
    assert d["Pressure"] > 0.1  # bar: up the pump curve
    assert d["Current"] < -0.2  # A: less power
    assert d["Accelerometer1RMS"] > 0  # recirculation at part load
    assert run.anomaly[: int(ONSET)].sum() == 0 and run.anomaly[int(ONSET) :].all()
    assert run.label == "valve_closure"


def test_leak_lowers_flow_and_pressure_and_raises_current(pump, pump_normal):
    _, d = change(pump, pump_normal, "leak", "pump", severity=0.8)
    assert d["Volume Flow RateRMS"] < -2  # L/min: 2 % of 125 read after the leak
    assert d["Pressure"] < -0.01  # bar: lower head further out on the curve
    assert d["Current"] > 0.02
    assert d["Voltage"] < 0  # sags with the current


def test_leak_drains_the_simulated_tank(pump):
    spec = pump.model_copy(deep=True)
    from twinforge.spec.models import Node

    spec.nodes.append(
        Node.model_validate(
            {
                "id": "level_gauge",
                "kind": "sensor",
                "observes": "tank.level",
                "signals": [{"name": "level", "unit": "L", "period": 1}],
            }
        )
    )
    normal = generate(spec, None, duration_s=DURATION, seed=1).frame["level"]
    leak = generate(
        spec, make_fault("leak", "pump", severity=1.0, onset_s=ONSET), duration_s=DURATION, seed=1
    )
    lost = normal.iloc[-1] - leak.frame["level"].iloc[-1]
    assert lost > 10  # litres lost from the circuit
    long = generate(spec, make_fault("leak", "pump", severity=1.0, onset_s=60.0), duration_s=1200.0, seed=1)
    assert long.frame["Volume Flow RateRMS"].iloc[-1] == 0.0  # drained: dry-run protection stopped the pump


def test_cavitation_cuts_head_and_flow_and_raises_vibration(pump, pump_normal):
    run, d = change(pump, pump_normal, "cavitation", "pump")
    assert d["Volume Flow RateRMS"] < -5 and d["Pressure"] < -0.2
    assert d["Current"] < -0.2
    assert d["Accelerometer1RMS"] > 0.05 and d["Accelerometer2RMS"] > 0.05
    after = run.frame["Accelerometer1RMS"].iloc[-200:]
    assert after.std() > 3 * pump_normal["Accelerometer1RMS"].iloc[-200:].std()  # bursts


def test_imbalance_raises_vibration_and_current_ripple_only(pump, pump_normal):
    run, d = change(pump, pump_normal, "imbalance", "pump")
    assert d["Accelerometer1RMS"] > 0.1
    assert abs(d["Volume Flow RateRMS"]) < 1e-9 and abs(d["Pressure"]) < 1e-9
    ripple = (run.frame["Current"] - pump_normal["Current"]).iloc[-200:]
    assert ripple.std() > 0.03  # A: 2.4 % of 3 A, sinusoidal
    assert abs(ripple.mean()) < 0.05


def test_imbalance_on_the_bottling_line_filler(bottling):
    base = generate(bottling, None, duration_s=DURATION, seed=2).frame
    run = generate(
        bottling, make_fault("imbalance", "filler", severity=0.8, onset_s=ONSET), duration_s=DURATION, seed=2
    )
    d = run.frame.iloc[-200:].mean() - base.iloc[-200:].mean()
    assert d["filler_vib.vibration"] > 2.0  # mm/s
    assert abs(d["capper_vib.vibration"]) < 1e-9


def test_sensor_faults_change_only_their_signal(pump, pump_normal):
    run, d = change(pump, pump_normal, "sensor_bias", "flow_meter")
    assert d["Volume Flow RateRMS"] > 0
    assert (d.drop("Volume Flow RateRMS").abs() < 1e-9).all()
    run = generate(
        pump, make_fault("sensor_drift", "pressure_gauge", onset_s=ONSET), duration_s=DURATION, seed=3
    )
    gap = run.frame["Pressure"] - pump_normal["Pressure"]
    assert gap.iloc[-1] > gap.iloc[int(ONSET) + 60] > 0  # grows with time
    run = generate(
        pump, make_fault("sensor_stuck", "current_meter", onset_s=ONSET), duration_s=DURATION, seed=3
    )
    assert run.frame["Current"].iloc[int(ONSET) :].nunique() == 1
    assert pump_normal["Current"].iloc[int(ONSET) :].nunique() > 100


def test_every_listed_fault_generates(bottling):
    pairs = applicable_faults(bottling)
    assert {k for k, _ in pairs} == {"imbalance", "sensor_drift", "sensor_stuck", "sensor_bias"}
    for kind, node in pairs[:6]:
        run = generate(bottling, make_fault(kind, node, onset_s=100.0), duration_s=200.0, seed=0)
        assert run.anomaly.sum() == 100 and np.isfinite(run.frame.to_numpy()).all()


def test_labelled_csv(pump, tmp_path):
    run = generate(pump, make_fault("leak", "pump", onset_s=100.0), duration_s=200.0, seed=0)
    path = run.to_csv(tmp_path / "leak.csv")
    import pandas as pd

    back = pd.read_csv(path)
    assert list(back.columns[-3:]) == ["anomaly", "fault", "fault_node"]
    assert back["anomaly"].sum() == 100 and set(back["fault"]) == {"normal", "leak"}


@pytest.mark.parametrize(
    ("kind", "node", "kw", "message"),
    [
        ("crack", "pump", {}, "unknown fault 'crack'"),
        ("leak", "pump9", {}, "node 'pump9' is not in twin"),
        ("valve_closure", "pump", {}, "cannot happen at 'pump' (a pump)"),
        ("sensor_bias", "pump", {}, "needs a sensor node"),
        ("sensor_bias", "flow_meter", {"signal": "nope"}, "has no signal 'nope'"),
        ("leak", "pump", {"severity": 1.5}, "severity"),
        ("leak", "pump", {"onset_s": 5000.0}, "not before the end of the run"),
    ],
)
def test_bad_faults_give_clear_errors(pump, kind, node, kw, message):
    with pytest.raises(SyntheticError, match=message.replace("(", r"\(").replace(")", r"\)")):
        generate(pump, make_fault(kind, node, **kw), duration_s=600.0)


def test_fault_kinds_are_documented():
    from twinforge.synthetic import faults

    for kind in FAULT_KINDS:
        assert f"``{kind}``" in faults.__doc__


def test_normal_model_reproduces_variance_correlation_and_autocorrelation():
    rng = np.random.default_rng(0)
    n = 20000
    e = rng.standard_normal((n, 2))
    x = np.zeros((n, 2))
    for i in range(1, n):
        x[i, 0] = 0.9 * x[i - 1, 0] + e[i, 0]
        x[i, 1] = 0.3 * x[i - 1, 1] + 0.6 * e[i, 0] + 0.8 * e[i, 1]
    import pandas as pd

    rec = pd.DataFrame(x * [2.0, 5.0] + [10.0, 50.0], columns=["a", "b"])
    sim = pd.DataFrame({"a": np.full(n, 5.0), "b": np.full(n, 50.0)})
    model = fit_normal_model(rec, sim)
    assert model.gain.tolist() == pytest.approx([rec["a"].mean() / 5.0, rec["b"].mean() / 50.0], rel=1e-6)
    out = pd.DataFrame(model.sample(n, np.random.default_rng(1)), columns=["a", "b"])
    assert out.std().to_numpy() == pytest.approx(rec.std().to_numpy(), rel=0.1)
    assert out["a"].autocorr(1) == pytest.approx(rec["a"].autocorr(1), abs=0.03)
    assert out["b"].autocorr(1) == pytest.approx(rec["b"].autocorr(1), abs=0.05)
    assert out.corr().iloc[0, 1] == pytest.approx(rec.corr().iloc[0, 1], abs=0.08)
    again = NormalModel.from_metadata(model.to_metadata())
    assert np.allclose(again.A, model.A, atol=1e-6)


def test_bad_normal_model_metadata_is_a_clear_error(pump):
    spec = pump.model_copy(update={"metadata": {"synthetic": {"normal": {"columns": ["x"]}}}})
    with pytest.raises(SyntheticError, match=r"metadata\.synthetic\.normal"):
        normal_model(spec)


def test_skab_testbed_twin_carries_its_fitted_normal_model():
    spec = load_spec(ROOT / "benchmarks" / "synthetic" / "skab_testbed.yaml")
    model = normal_model(spec)
    assert model is not None and len(model.columns) == 8
    run = generate(spec, None, duration_s=600.0, seed=0)
    # the rated values were chosen for anomaly-free.csv's means (see the twin's description)
    means = run.frame.mean()
    assert means["Volume Flow RateRMS"] == pytest.approx(125.24, rel=0.02)
    assert means["Current"] == pytest.approx(2.403, rel=0.1)
    assert means["Temperature"] == pytest.approx(89.47, abs=2.0)
    assert run.frame["Voltage"].std() > 5  # fitted electrical noise (about 11 V in the recording)
