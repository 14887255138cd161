from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from twinforge.app.events import EventBus
from twinforge.app.live import LiveTwin, drift_monitor
from twinforge.calibration import DriftMonitor, event_log_to_store, simulate_event_log, write_event_log
from twinforge.cli.main import app
from twinforge.data.signals import SignalIndex
from twinforge.data.store import DuckDBStore, SampleBatch
from twinforge.sim import run_replications

T0 = 1_780_000_000.0  # wall-clock seconds of the first sample


def _batch(live: LiveTwin, tel: pd.DataFrame, shift: float) -> SampleBatch:
    sids = {v: k for k, v in live._series.items()}
    batch = SampleBatch()
    for n, s, t, v in zip(tel["node"], tel["signal"], tel["t"], tel["value"], strict=True):
        batch.add(sids[(n, s)], int((T0 + shift + float(t)) * 1e6), float(v))
    return batch


def test_a_drift_alert_goes_through_the_live_alert_path(pump_station):
    assert drift_monitor(pump_station) is not None
    store = DuckDBStore()
    bus = EventBus()
    sub = bus.subscribe(["alerts"])
    live = LiveTwin(pump_station, store, bus, "127.0.0.1", 1)
    live._series = {
        store.series_id(pump_station.name, i.node, i.signal, i.unit or None): (i.node, i.signal)
        for i in SignalIndex(pump_station)
    }
    live.drift = DriftMonitor(pump_station)
    live._on_samples(
        _batch(
            live, run_replications(pump_station, reps=1, horizon="1 h", seed=1, telemetry=True).telemetry, 0
        )
    )
    assert store.alerts(pump_station.name).empty
    worn = pump_station.copy_deep()
    worn.scale("pump", "flow_rate", 0.9)
    tel = run_replications(worn, reps=1, horizon="30 min", seed=2, telemetry=True).telemetry
    live._on_samples(_batch(live, tel, 3600))
    alerts = store.alerts(pump_station.name)
    assert len(alerts) >= 1
    row = alerts.iloc[0]
    assert row["source"] == "drift" and row["node"] == "flow_meter"
    assert "pump.flow_rate" in row["text"] and "->" in row["text"]
    event = sub.get_sync(1.0)
    assert event.topic == "alerts" and event.data["source"] == "drift"
    assert event.data["proposal"]["parameter"] == "flow_rate"
    assert live.status()["drift"]["alerts"] >= 1


def test_cli_calibrates_from_a_file_and_from_the_store_and_writes_the_diff(one_station, tmp_path, examples):
    from twinforge.spec import dump_spec, load_spec

    twin_file = tmp_path / "one.yaml"
    dump_spec(one_station, twin_file)
    log = simulate_event_log(one_station, "2 days", seed=3)
    write_event_log(log, tmp_path / "ev.csv")
    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "calibrate",
            str(twin_file),
            "--events",
            str(tmp_path / "ev.csv"),
            "--out",
            str(tmp_path / "d.yaml"),
            "--apply",
            str(tmp_path / "cal.yaml"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "press.process_time" in res.output and (tmp_path / "d.yaml").exists()
    cal = load_spec(tmp_path / "cal.yaml")
    assert abs(cal.get("press", "process_time") - 15) < 0.1
    res = runner.invoke(
        app,
        [
            "calibrate",
            str(twin_file),
            "--diff",
            str(tmp_path / "d.yaml"),
            "--apply",
            str(tmp_path / "c2.yaml"),
        ],
    )
    assert res.exit_code == 0, res.output
    store_path = tmp_path / "s.duckdb"
    with DuckDBStore(store_path) as store:
        event_log_to_store(store, one_station.name, log)
    res = runner.invoke(app, ["calibrate", str(twin_file), "--store", str(store_path), "--node", "press"])
    assert res.exit_code == 0, res.output
    assert "press.mttr" in res.output


def test_cli_bad_input_is_an_error_without_a_traceback(one_station, tmp_path):
    from twinforge.spec import dump_spec

    twin_file = tmp_path / "one.yaml"
    dump_spec(one_station, twin_file)
    (tmp_path / "bad.csv").write_text("node,event,t\npress,start,5\npress,finish,3\n")
    runner = CliRunner()
    res = runner.invoke(app, ["calibrate", str(twin_file), "--events", str(tmp_path / "bad.csv")])
    assert res.exit_code == 2 and "time goes backwards" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, ["calibrate", str(twin_file)])
    assert res.exit_code == 2 and "nothing to calibrate from" in res.output
    res = runner.invoke(app, ["calibrate", str(twin_file), "--events", str(tmp_path / "none.csv")])
    assert res.exit_code == 2 and "no such event log file" in res.output


def test_the_workspace_calibrates_from_its_store_and_reports_drift(tmp_path, examples):
    from twinforge.app.workspace import ServeSettings, Workspace
    from twinforge.calibration import CalibrationError

    ws = Workspace(ServeSettings(twins=[str(examples)], workspace=str(tmp_path / "ws")), store=":memory:")
    try:
        line = ws.twins.get("bottling-line")
        with pytest.raises(CalibrationError, match="no station events and no telemetry"):
            ws.calibrate("bottling-line")
        log = simulate_event_log(line, "2 days", seed=1, nodes=["filler"])
        event_log_to_store(ws.store, "bottling-line", log)
        diff = ws.calibrate("bottling-line", nodes=["filler"])
        assert diff["twin"] == "bottling-line"
        changed = {(c["node"], c["parameter"]) for c in diff["changes"]}
        assert ("filler", "process_time") in changed
        pt = next(c for c in diff["changes"] if c["parameter"] == "process_time")
        assert abs(pt["estimate"]["mean"] - 32) < 0.2 and pt["unit"] == "s"
        assert ws.drift("pump-station") == {"twin": "pump-station", "monitoring": False, "alerts": []}
    finally:
        ws.close()
