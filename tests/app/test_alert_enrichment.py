"""An alert carries the likely fault, the matching past work orders and the remaining life.

The emulated pump station (the twin's simulated telemetry through the emulator's fault injector,
as ``twinforge serve --demo`` publishes it) is fed to a live twin without a broker; a sensor fault
raises an alert, and the diagnoser trained on the twin's own synthetic faults names it."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from twinforge.app import ServeSettings, Workspace
from twinforge.app.enrich import RemainingLifeModel
from twinforge.app.live import LiveTwin, MonitorSettings
from twinforge.data.emulator import FaultInjector, SensorFault, SimulatedTelemetry
from twinforge.data.model import to_us
from twinforge.data.store import SampleBatch
from twinforge.errors import UnknownEntityError

START = 1.7e9  # the emulated plant's clock (a fixed start keeps the run reproducible)
SIGNALS = 8  # the pump station's signals, one sample each per second
WORK_ORDERS = """date,asset,text,cost
2025-01-10,pressure_gauge,pressure transmitter reading drifting high - recalibrated,120
2025-03-02,pressure_gauge,replaced pressure gauge stuck at zero,300
2025-05-05,pump,replaced pump mechanical seal leaking,900
2024-11-20,pump,pump bearing noisy - greased,60
2025-06-01,valve1,inlet valve seized half closed,400
2024-12-12,pressure_gauge,cleaned blocked gauge impulse line,40
"""


@pytest.fixture(scope="module")
def embedder():
    from twinforge.ai import LocalOnnxEmbedder

    return LocalOnnxEmbedder()


def _workspace(tmp_path, examples, embedder=None) -> Workspace:
    settings = ServeSettings(
        twins=[str(examples / "pump_station.yaml")],
        workspace=str(tmp_path / "ws"),
        diagnosis={"seeds": 2, "window": 60},
        warn_every_s=0,
    )
    return Workspace(settings, store=str(tmp_path / "store.duckdb"), embedder=embedder)


class Plant:
    """The emulated pump station feeding a live twin in batches of ``seconds``."""

    def __init__(self, ws: Workspace) -> None:
        self.spec = ws.twins.get("pump-station")
        self.store = ws.store
        self.live = LiveTwin(
            self.spec,
            ws.store,
            ws.bus,
            "",
            0,
            MonitorSettings(warmup_rows=300, window=5),
            enricher=ws.enricher("pump-station"),
        ).prepare()
        self.faults = FaultInjector(
            SimulatedTelemetry(self.spec, None, start=START, seed=3), self.spec, seed=3
        )
        self._samples = iter(self.faults)

    def run(self, seconds: int, batch_s: int = 10) -> None:
        for _ in range(seconds // batch_s):
            batch = SampleBatch()
            for s in itertools.islice(self._samples, SIGNALS * batch_s):
                batch.add(self.store.series_id(self.spec.name, s.node, s.signal), to_us(s.timestamp), s.value)
            self.live.ingest(batch)


def _alert_of(ws: Workspace, node: str) -> dict:
    found = [a for a in ws.alerts("pump-station") if a["node"] == node]
    assert found, f"no alert of {node}; alerts: {[(a['node'], a['signal']) for a in ws.alerts()]}"
    return found[-1]  # the first raised (alerts are newest first)


def test_a_sensor_fault_raises_an_alert_with_its_diagnosis_and_the_nodes_work_orders(
    tmp_path, examples, embedder
):
    from twinforge.maintenance import ingest

    ws = _workspace(tmp_path, examples, embedder)
    try:
        (tmp_path / "wo.csv").write_text(WORK_ORDERS)
        ingest(tmp_path / "wo.csv", ws.store, spec=ws.twins.get("pump-station"), embedder=embedder)
        plant = Plant(ws)
        events = ws.bus.subscribe(["alerts"], maxsize=10_000)
        plant.run(600)  # warm-up (300 rows) and normal operation
        ws.diagnosers.wait("pump-station", 1)  # trained at the first alert, if any
        plant.faults.inject(
            SensorFault(node="pressure_gauge", signal="Pressure", kind="offset", magnitude=2.0)
        )
        plant.run(200)
        ws.diagnosers.wait("pump-station", 1)
        plant.run(20)  # an alert that waited for the diagnoser is diagnosed on the next batch
        plant.live.flush()
        status = plant.live.status()["diagnoser"]
        assert status["state"] == "ready" and "sensor_bias" in status["detail"]

        alert = _alert_of(ws, "pressure_gauge")
        d = alert["diagnosis"]
        assert d["state"] == "done" and d["rows"] == 60
        # a 2 bar offset on one gauge is a sensor fault, not a process fault
        assert d["fault"] in {"sensor_bias", "sensor_drift", "sensor_stuck"}, d
        assert 0.4 <= d["probability"] <= 1 and d["probability"] == max(d["probabilities"].values())
        assert d["signals"][0][0] == "Pressure" and d["signals"][0][1] > 3  # most changed, in σ

        wo = alert["work_orders"]
        assert wo["nodes"] == ["pressure_gauge", "pump"]  # the gauge and the pump it measures
        assert len(wo["orders"]) == 3 and wo["ranked"].startswith("closest in meaning to")
        assert all(o["node"] in ("pressure_gauge", "pump") and o["date"] and o["text"] for o in wo["orders"])
        assert "valve" not in " ".join(o["text"] for o in wo["orders"])
        sims = [o["similarity"] for o in wo["orders"]]
        assert sims == sorted(sims, reverse=True)
        assert alert["remaining_life"]["state"] == "none"
        assert "no RUL model for pressure_gauge or pump" in alert["remaining_life"]["detail"]

        # published: raised (diagnosis pending), enriched with the newest work orders, then diagnosed
        got = []
        while (e := events.get_sync(timeout=0.01)) is not None:
            got.append(e)
        mine = [e.data for e in got if e.data.get("id") == alert["id"]]
        assert mine[0]["event"] == "raised" and mine[0]["diagnosis"]["state"] == "pending"
        first = next(e for e in mine if e["event"] == "enriched" and "work_orders" in e)
        assert first["work_orders"]["ranked"] == "newest first"
        dates = [o["date"] for o in first["work_orders"]["orders"]]
        assert dates == sorted(dates, reverse=True) and dates[0] == "2025-05-05"
        assert any(e["event"] == "enriched" and e.get("diagnosis", {}).get("state") == "done" for e in mine)
    finally:
        ws.close()


def test_an_alert_without_work_orders_or_a_ready_diagnoser_is_still_stored_and_diagnosed_later(
    tmp_path, examples
):
    ws = _workspace(tmp_path, examples)
    try:
        plant = Plant(ws)
        assert plant.live.status()["diagnoser"]["state"] == "not started"
        plant.run(600)
        plant.faults.inject(
            SensorFault(node="pressure_gauge", signal="Pressure", kind="offset", magnitude=2.0)
        )
        plant.run(30)
        first = ws.alerts("pump-station")[-1]
        # the first alert starts the diagnoser's training and is stored at once, saying why it
        # has no diagnosis yet; ingest and monitoring go on
        assert (
            first["diagnosis"]["state"] == "pending" and "diagnoser not ready" in first["diagnosis"]["detail"]
        )
        assert _alert_of(ws, "pressure_gauge")["diagnosis"]["state"] == "pending"
        ws.diagnosers.wait("pump-station", 1)
        plant.run(100)
        plant.live.flush()
        alert = _alert_of(ws, "pressure_gauge")
        assert alert["work_orders"] == {
            "orders": [],
            "ranked": "no work orders stored",
            "nodes": ["pressure_gauge", "pump"],
        }
        assert alert["diagnosis"]["state"] == "done" and alert["diagnosis"]["fault"]
        assert plant.live.monitor.status.state == "monitoring"
    finally:
        ws.close()


def test_a_bound_rul_model_gives_the_remaining_life_with_its_interval(tmp_path, examples):
    from twinforge.analytics.rul import LastCycleLinearRUL

    # run-to-failure histories of a pump whose motor current rises as it wears (one cycle a minute)
    rng = np.random.default_rng(0)
    rows = []
    for unit in range(12):
        life = int(rng.integers(30, 60))
        for cycle in range(1, life + 1):
            rows.append((unit, cycle, 2.0 + 0.02 * cycle + rng.normal(0, 0.01)))
    histories = pd.DataFrame(rows, columns=["unit", "cycle", "current"])
    model = LastCycleLinearRUL(cap=60, settings=None, coverage=0.9).fit(histories)

    ws = _workspace(tmp_path, examples)
    try:
        with pytest.raises(UnknownEntityError, match="no node 'pmp'"):
            ws.set_rul_model(
                "pump-station", "pmp", RemainingLifeModel(model, {"current_meter.Current": "current"})
            )
        bound = ws.set_rul_model(
            "pump-station",
            "pump",
            RemainingLifeModel(model, {"current_meter.Current": "current"}, cycle_s=60),
        )
        assert bound["rul_models"] == ["pump"]
        plant = Plant(ws)
        plant.run(600)
        plant.faults.inject(
            SensorFault(node="pressure_gauge", signal="Pressure", kind="offset", magnitude=2.0)
        )
        plant.run(30)
        plant.live.flush()
        life = _alert_of(ws, "pressure_gauge")["remaining_life"]
        assert life["state"] == "done" and life["node"] == "pump" and life["model"] == "LastCycleLinearRUL"
        assert life["lower"] <= life["rul"] <= life["upper"] and life["coverage"] == 0.9
        assert life["cycles_seen"] >= 10 and life["hours"] == pytest.approx(life["rul"] / 60, abs=1e-3)
    finally:
        ws.close()


def test_the_monitor_rows_are_put_on_the_step_the_diagnoser_was_trained_on():
    from twinforge.app.enrich import _on_step

    index = pd.to_datetime(np.arange(100.0, 120.0), unit="s", utc=True)
    frame = pd.DataFrame({"x": np.arange(20.0)}, index=index)
    start = index[7]
    assert _on_step(frame, start, 1.0) is frame
    coarse = _on_step(frame, start, 5.0)
    assert start in coarse.index and list(coarse["x"]) == [2.0, 7.0, 12.0, 17.0]
    with pytest.raises(ValueError, match=r"set monitor\.step_s"):
        _on_step(frame, start, 2.5)
    with pytest.raises(ValueError, match=r"1 s apart and the diagnoser was trained on 0\.5 s rows"):
        _on_step(frame, start, 0.5)
