"""Real data: two SKAB valve1 runs through the twin-mapped streaming monitor."""

from __future__ import annotations

import numpy as np
import pytest

from twinforge.analytics import (
    AnomalyMonitor,
    FixedThreshold,
    Hysteresis,
    LevelShiftDetector,
    detection_counts,
    read_table,
    signal_table,
)
from twinforge.analytics.factory import DEFAULT_SHIFT
from twinforge.datasets import reference_data_dir


@pytest.fixture(scope="module")
def valve1():
    folder = reference_data_dir() / "skab" / "valve1"
    if not folder.is_dir():
        pytest.skip(f"SKAB reference data not found at {folder} (set TWINFORGE_DATA)")
    return folder


def test_skab_runs_are_detected_with_alerts_on_the_flow_meter(valve1, pump_station):
    runs = [
        signal_table(read_table(valve1 / f"{i}.csv"), pump_station, label="anomaly", ignore=["changepoint"])
        for i in range(16)
    ]
    # normal level variability between runs, from the 400-row training parts only
    scale = LevelShiftDetector.level_scale_from_runs([r.signals.iloc[:400] for r in runs])
    total = None
    flow = ["Volume Flow RateRMS"]
    for i in (1, 3):
        # the configuration the SKAB benchmark's leave-one-file-out selection chooses for most files
        run = runs[i]
        train, rest = run.signals.iloc[:400][flow], run.signals.iloc[400:][flow]
        det = LevelShiftDetector(10, scale, direction="down", threshold=FixedThreshold(2.25)).fit(train)
        monitor = AnomalyMonitor(det, pump_station, Hysteresis(5, 20, 0.75))
        monitor.prime(train)
        update = monitor.update(rest)
        counts = detection_counts(run.labels.iloc[400:].to_numpy(), update.alarm)
        total = counts if total is None else total + counts
        assert counts.f1 > 0.8, f"valve1/{i}.csv: F1 {counts.f1:.3f}"
        first = monitor.alerts[0]
        assert (first.node, first.signal) == ("flow_meter", "Volume Flow RateRMS")
        anomaly_start = run.labels.index[np.argmax(run.labels.to_numpy())]
        assert first.started >= anomaly_start  # no alert in the normal stretch before the fault
    assert total is not None and total.f1 > 0.85 and total.far < 0.15


def test_the_label_free_default_on_all_signals_names_the_flow_drop(valve1, pump_station):
    """The default detector (every signal, two-sided, configuration chosen without labels) on two
    valve1 runs: its alerts come after the fault starts and say the flow meter's reading went down."""
    runs = [
        signal_table(read_table(valve1 / f"{i}.csv"), pump_station, label="anomaly", ignore=["changepoint"])
        for i in range(16)
    ]
    scale = LevelShiftDetector.level_scale_from_runs([r.signals.iloc[:400] for r in runs])
    total = None
    for i in (1, 3):
        run = runs[i]
        train, rest = run.signals.iloc[:400], run.signals.iloc[400:]
        det = DEFAULT_SHIFT.make(scale).fit(train)
        assert det.signals_used_ == list(train.columns)
        monitor = AnomalyMonitor(det, pump_station, DEFAULT_SHIFT.hysteresis)
        monitor.prime(train)
        update = monitor.update(rest)
        counts = detection_counts(run.labels.iloc[400:].to_numpy(), update.alarm)
        total = counts if total is None else total + counts
        first = monitor.alerts[0]
        assert (first.node, first.signal) == ("flow_meter", "Volume Flow RateRMS")
        assert first.direction(first.contributions[0][0]) == "down"
        anomaly_start = run.labels.index[np.argmax(run.labels.to_numpy())]
        assert first.started >= anomaly_start
    assert total is not None and total.f1 > 0.85 and total.far < 0.10


def test_demo_step_streams_a_skab_run(valve1, examples):
    from rich.console import Console

    from twinforge.cli.analytics import detect_step
    from twinforge.cli.demo import Tour

    console = Console(record=True, width=200)
    detect_step(Tour(console=console, folder=examples))
    text = console.export_text()
    assert "anomaly at flow_meter.Volume Flow RateRMS" in text
    assert "valve1/3.csv: 748 streamed rows" in text and "F1 0." in text
