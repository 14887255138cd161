"""Streaming alerts naming node and signal, hysteresis, signal mapping, tables and the CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from twinforge.analytics import (
    AnalyticsError,
    AnomalyMonitor,
    FixedThreshold,
    Hysteresis,
    LevelShiftDetector,
    PCADetector,
    SignalMap,
    UnknownSignalError,
    debounce,
    read_table,
    signal_table,
)
from twinforge.analytics.detectors import MultivariateShiftDetector
from twinforge.analytics.factory import DEFAULT_METHOD, DEFAULT_SHIFT, make_detector
from twinforge.analytics.streaming import AlarmState
from twinforge.cli.main import app


def test_monitor_raises_one_alert_naming_node_and_signal(synthetic, pump_station):
    train, test, _labels = synthetic
    det = PCADetector(threshold=FixedThreshold(1.0)).fit(train)
    monitor = AnomalyMonitor(det, pump_station, Hysteresis(raise_after=3, clear_after=10))
    events = []
    for i in range(len(test)):  # one sample at a time, as a dict of signal values
        row = test.iloc[i]
        events += monitor.update(row.to_dict(), at=test.index[i]).events
    raised = [e for e in events if e.kind == "raised"]
    assert len(raised) == 1
    alert = raised[0].alert
    assert (alert.node, alert.signal) == ("flow_meter", "Volume Flow RateRMS")
    assert alert.started == test.index[302]  # third row in a row above the threshold
    # cleared after 10 rows in a row below 0.8 × threshold once the fault is gone
    assert alert.ended is not None and test.index[359] <= alert.ended <= test.index[400]
    # the quiet run that cleared it began clear_after - 1 rows before the clearing row
    assert alert.quiet_since == test.index[test.index.get_loc(alert.ended) - 9]
    assert alert.quiet_since >= test.index[350]
    assert alert.contributions[0][0].node == "flow_meter"
    assert {ref.signal for ref, _ in alert.contributions[:2]} == {"Volume Flow RateRMS", "Current"}
    assert alert.score > alert.threshold and alert.peak_score >= alert.score
    text = alert.describe()
    assert "flow_meter.Volume Flow RateRMS" in text and "current_meter.Current" in text


def test_an_open_alert_names_a_fault_that_takes_over(synthetic, pump_station):
    """A small anomaly on one signal raises the alert; a much larger fault on another signal while
    it is open moves the alert to that signal (one "moved" event, no second alert)."""
    train, test, _labels = synthetic
    test = test.copy()
    pressure, current = test.columns.get_loc("Pressure"), test.columns.get_loc("Current")
    test.iloc[300:400, current] += 5.0  # a modest shift raises the alert
    test.iloc[330:400, pressure] += 60.0  # then a far larger fault on the pressure
    det = PCADetector(threshold=FixedThreshold(1.0)).fit(train)
    monitor = AnomalyMonitor(det, pump_station, Hysteresis(raise_after=3, clear_after=10))
    events = []
    for i in range(len(test)):
        events += monitor.update(test.iloc[i].to_dict(), at=test.index[i]).events
    kinds = [e.kind for e in events]
    assert kinds.count("raised") == 1 and kinds.count("moved") == 1, kinds
    raised = next(e for e in events if e.kind == "raised")
    moved = next(e for e in events if e.kind == "moved")
    assert moved.at >= test.index[330] and moved.alert is raised.alert
    assert (moved.alert.node, moved.alert.signal) == ("pressure_gauge", "Pressure")
    assert "pressure_gauge.Pressure" in moved.alert.describe()


def test_a_single_noisy_sample_does_not_raise_an_alert(synthetic, pump_station):
    train, test, _ = synthetic
    test = test.iloc[:200].copy()
    test.iloc[100, 0] += 50.0  # one spike
    det = PCADetector(threshold=FixedThreshold(1.0)).fit(train)
    plain = det.predict(test)
    assert plain[100] == 1  # the point-wise detector sees it...
    monitor = AnomalyMonitor(det, pump_station, Hysteresis(raise_after=3, clear_after=10))
    update = monitor.update(test)
    assert monitor.alerts == [] and update.alarm.sum() == 0  # ...the debounced monitor does not alert


def test_streaming_scores_equal_batch_scores_with_rolling_context(synthetic, pump_station):
    train, test, _ = synthetic
    det = LevelShiftDetector(window=20, threshold=FixedThreshold(4.0)).fit(train)
    monitor = AnomalyMonitor(det, pump_station)
    monitor.prime(train)
    streamed = np.concatenate([monitor.update(test.iloc[i : i + 7]).scores for i in range(0, len(test), 7)])
    batch = det.score(pd.concat([train, test]))[len(train) :]
    np.testing.assert_allclose(streamed, batch, rtol=1e-9)


def test_debounce_matches_the_state_machine():
    rng = np.random.default_rng(0)
    for _ in range(100):
        scores = rng.normal(size=int(rng.integers(1, 150))).cumsum() * 0.5
        h = Hysteresis(int(rng.integers(1, 5)), int(rng.integers(1, 8)), float(rng.uniform(0.4, 1.0)))
        state = AlarmState(h)
        expected = []
        for s in scores:
            state.step(s, 0.5)
            expected.append(int(state.active))
        assert debounce(scores, 0.5, h).tolist() == expected
    with pytest.raises(AnalyticsError):
        Hysteresis(raise_after=0)


def test_signal_map_resolves_names_and_refuses_unknown_columns(pump_station):
    mapping = SignalMap(pump_station)
    assert str(mapping("Volume Flow RateRMS")) == "flow_meter.Volume Flow RateRMS"
    assert mapping("accelerometer1.Accelerometer1RMS").node == "accelerometer1"
    with pytest.raises(UnknownSignalError, match=r"'Curent' \(did you mean 'Current'\?\)"):
        mapping.resolve(["Current", "Curent"])
    det = PCADetector().fit(
        pd.DataFrame(np.random.default_rng(0).normal(size=(50, 2)), columns=["Current", "rpm"])
    )
    with pytest.raises(UnknownSignalError, match="'rpm'"):
        AnomalyMonitor(det, pump_station)


def test_read_table_semicolon_csv_and_parquet(tmp_path, synthetic, pump_station):
    _, test, labels = synthetic
    frame = test.assign(anomaly=labels)
    frame.index.name = "datetime"
    csv = tmp_path / "run.csv"
    frame.to_csv(csv, sep=";")
    back = read_table(csv)
    assert isinstance(back.index, pd.DatetimeIndex) and list(back.columns) == list(frame.columns)
    np.testing.assert_allclose(back.to_numpy(), frame.to_numpy())
    pq = tmp_path / "run.parquet"
    frame.reset_index().to_parquet(pq)
    assert read_table(pq).shape == frame.shape
    table = signal_table(back, pump_station, label="anomaly")
    assert table.labels is not None and table.labels.sum() == 50
    assert table.refs["Pressure"].node == "pressure_gauge"
    with pytest.raises(UnknownSignalError, match="'anomaly'"):
        signal_table(back, pump_station)
    with pytest.raises(AnalyticsError, match="does not exist"):
        read_table(tmp_path / "nope.csv")


@pytest.fixture
def run_csv(tmp_path, synthetic):
    train, test, labels = synthetic
    frame = pd.concat([train, test]).assign(anomaly=np.r_[np.zeros(len(train), int), labels], changepoint=0)
    frame.index = pd.date_range("2024-01-01", periods=len(frame), freq="s", name="datetime")
    path = tmp_path / "run.csv"
    frame.to_csv(path, sep=";")
    return path, len(train)


def test_cli_detect_prints_alerts_with_node_and_signal(run_csv, examples):
    path, n_train = run_csv
    result = CliRunner().invoke(
        app,
        [
            "detect",
            str(examples / "pump_station.yaml"),
            str(path),
            "--train",
            str(n_train),
            "--label",
            "anomaly",
            "--ignore",
            "changepoint",
            "--method",
            "pca",
            "--window",
            "1",
        ],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "flow_meter.Volume Flow RateRMS ×1" in out
    assert "1 alert(s)" in out
    f1 = float(out.split("F1 ")[1].split()[0])
    mar = float(out.split("MAR ")[1].split("%")[0])
    assert f1 > 0.7 and mar < 10


def test_cli_detect_refuses_unknown_columns(run_csv, examples):
    path, _n_train = run_csv
    result = CliRunner().invoke(
        app, ["detect", str(examples / "pump_station.yaml"), str(path), "--label", "anomaly"]
    )
    assert result.exit_code == 2
    assert "changepoint" in result.output and "not signals of twin" in result.output
    assert "Traceback" not in result.output
    bad = CliRunner().invoke(
        app,
        [
            "detect",
            str(examples / "pump_station.yaml"),
            str(path),
            "--train",
            "999999",
            "--label",
            "anomaly",
            "--ignore",
            "changepoint",
        ],
    )
    assert bad.exit_code == 2 and "--train 999999" in bad.output


def test_cli_detect_with_a_training_file_and_parquet_data(tmp_path, synthetic, examples):
    train, test, labels = synthetic
    train.rename_axis("timestamp").to_csv(tmp_path / "normal.csv")
    test.assign(anomaly=labels).rename_axis("timestamp").reset_index().to_parquet(tmp_path / "live.parquet")
    result = CliRunner().invoke(
        app,
        [
            "detect",
            str(examples / "pump_station.yaml"),
            str(tmp_path / "live.parquet"),
            "--train",
            str(tmp_path / "normal.csv"),
            "--label",
            "anomaly",
            "--method",
            "level",
            "--window",
            "10",
        ],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "fitted on " + str(tmp_path / "normal.csv") in out and "scored 500 rows" in out
    assert "flow_meter.Volume Flow RateRMS" in out
    assert float(out.split("MAR ")[1].split("%")[0]) < 20


def test_alerts_say_which_way_each_signal_moved_and_streams_may_lack_a_signal(synthetic, pump_station):
    train, test, _labels = synthetic
    test = test.copy()
    test.iloc[300:350, test.columns.get_loc("Pressure")] -= 6.0  # flow and current rise, pressure drops
    det = MultivariateShiftDetector(window=10).fit(train)
    monitor = AnomalyMonitor(det, pump_station, Hysteresis(3, 10))
    monitor.prime(train)
    events = []
    for i in range(len(test)):
        row = test.iloc[i].to_dict()
        if 100 <= i < 200:  # the voltmeter is off-line for a while: its value is not sent
            row.pop("Voltage")
        events += monitor.update(row, at=test.index[i]).events
    raised = [e.alert for e in events if e.kind == "raised"]
    assert len(raised) == 1 and raised[0].started >= test.index[300]
    alert = raised[0]
    moves = {ref.signal: value for ref, value in alert.moves}
    assert moves["Volume Flow RateRMS"] > 2 and moves["Pressure"] < -2
    assert alert.direction(next(r for r, _ in alert.contributions if r.signal == "Pressure")) == "down"
    text = alert.describe()
    assert "flow_meter.Volume Flow RateRMS" in text and "↑" in text and "↓" in text
    # a detector that needs every signal still refuses a sample without one
    strict = AnomalyMonitor(PCADetector().fit(train), pump_station)
    with pytest.raises(AnalyticsError, match="lacks signal"):
        strict.update(test.iloc[0].drop("Voltage").to_dict(), at=test.index[0])


def test_factory_default_is_the_label_free_multivariate_shift(synthetic):
    train, test, labels = synthetic
    assert DEFAULT_METHOD == "shift"
    det = make_detector("shift", DEFAULT_SHIFT.window, 0.99).fit(train)
    assert isinstance(det, MultivariateShiftDetector) and det.window == DEFAULT_SHIFT.window
    assert det.threshold_ == DEFAULT_SHIFT.threshold
    alarm = debounce(det.score(test), det.threshold_, DEFAULT_SHIFT.hysteresis)
    assert alarm[labels == 1].mean() > 0.7 and alarm[labels == 0].mean() < 0.1
    with pytest.raises(AnalyticsError, match="unknown method"):
        make_detector("nope", 10, 0.99)


def test_cli_detect_default_uses_every_signal_and_says_which(run_csv, examples, tmp_path):
    path, n_train = run_csv
    args = ["detect", str(examples / "pump_station.yaml"), str(path), "--train", str(n_train)]
    args += ["--label", "anomaly", "--ignore", "changepoint"]
    result = CliRunner().invoke(app, args, terminal_width=200)
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert out.startswith("shift detector on 8 signals") and "signals used: Accelerometer1RMS" in out
    assert "no between-run level variability" in out
    assert "flow_meter.Volume Flow RateRMS" in out and " up" in out
    assert float(out.split("F1 ")[1].split()[0]) > 0.7
    # between-run variability from other normal runs
    frame = read_table(path)
    for i in range(2):
        frame.iloc[:n_train].assign(Temperature=frame["Temperature"].iloc[:n_train] + i).to_csv(
            tmp_path / f"normal{i}.csv", sep=";"
        )
    runs = ["--runs", str(tmp_path / "normal0.csv"), "--runs", str(tmp_path / "normal1.csv")]
    result = CliRunner().invoke(app, args + runs, terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "no between-run" not in result.output and "flow_meter" in result.output
    bad = CliRunner().invoke(app, args + runs[:2])
    assert bad.exit_code == 2 and "at least 2 normal runs" in bad.output and "Traceback" not in bad.output
