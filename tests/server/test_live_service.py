"""The service with real parts: mosquitto, the emulated pump station publishing on the wall clock,
ingest into DuckDB, monitoring, a sensor fault injected through the emulator, the alert stored and
streamed, acknowledged, and still there after a restart."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from twinforge.app import ServeSettings, Workspace
from twinforge.server import create_app


def _until(predicate, seconds, step=0.2):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


@pytest.mark.timeout(240)
def test_a_sensor_fault_raises_an_alert_that_is_streamed_stored_and_kept(tmp_path, examples, mosquitto):
    settings = ServeSettings(
        twins=[str(examples / "pump_station.yaml")],
        workspace=str(tmp_path / "ws"),
        monitor={"warmup_rows": 150, "window": 5},
        diagnosis={"seeds": 1, "window": 20},
        warn_every_s=0,
    )
    store = str(tmp_path / "store.duckdb")
    ws = Workspace(settings, store=store)
    try:
        assert ws.start_live(mosquitto.address, wait_s=10) == ["pump-station"]
        assert ws.start_emulators(backlog_s=200) == ["pump-station"]
        with TestClient(create_app(ws)) as client:
            # the backlog arrives at once; monitoring fits on it and then watches live data
            status = _until(
                lambda: (
                    (s := client.get("/api/health").json()["live"]["pump-station"])["monitor"]["state"]
                    == "monitoring"
                    and s
                ),
                60,
            )
            assert status and status["connected"] and status["ingest"]["samples_stored"] >= 150 * 8
            with client.websocket_connect("/api/stream?topics=values,alerts&twins=pump-station") as socket:
                first = socket.receive_json()
                assert first["topic"] == "values" and first["twin"] == "pump-station"
                before = {(n, s): v for n, s, _t, v, _q in first["data"]["samples"]}
                assert before
                latest = client.get("/api/twins/pump-station/latest").json()
                assert {x["signal"] for x in latest} >= {"Pressure", "Current"} and all(
                    x["age_s"] < 30 for x in latest
                )
                assert client.get("/api/alerts?twin=pump-station").json() == []  # normal operation: quiet
                r = client.post(
                    "/api/twins/pump-station/faults",
                    json={"node": "pressure_gauge", "signal": "Pressure", "kind": "offset", "magnitude": 3.0},
                )
                assert r.status_code == 200 and r.json()["active"][0]["signal"] == "Pressure"
                raised = None
                deadline = time.monotonic() + 60
                while raised is None and time.monotonic() < deadline:
                    ev = socket.receive_json()
                    if (
                        ev["topic"] == "alerts"
                        and ev["data"]["event"] == "raised"
                        and ev["data"]["source"] != "drift"
                    ):
                        raised = ev["data"]
                assert raised is not None, "no alert within 60 s of the fault"
                assert (raised["node"], raised["signal"]) == ("pressure_gauge", "Pressure")
                assert raised["score"] > raised["threshold"]
                assert raised["diagnosis"]["state"] == "pending"
                # then enriched: the node's work orders (none here), remaining life, the diagnosis
                parts: dict = {}
                deadline = time.monotonic() + 120
                while "diagnosis" not in parts and time.monotonic() < deadline:
                    ev = socket.receive_json()
                    if (
                        ev["topic"] == "alerts"
                        and ev["data"]["event"] == "enriched"
                        and ev["data"]["id"] == raised["id"]
                    ):
                        parts.update(ev["data"])
                assert parts["work_orders"]["orders"] == [] and parts["remaining_life"]["state"] == "none"
                assert parts["diagnosis"]["state"] == "done" and parts["diagnosis"]["rows"] == 20
            stored = client.get("/api/alerts?twin=pump-station&open=true").json()
            assert (
                stored
                and stored[0]["id"] == raised["id"]
                and stored[0]["contributions"][0][:2] == ["pressure_gauge", "Pressure"]
                and stored[0]["diagnosis"] == parts["diagnosis"]
            )
            status = client.get("/api/twins/pump-station").json()["live"]["diagnoser"]
            assert status["state"] == "ready" and "synthetic windows" in status["detail"]
            graph = client.get("/api/twins/pump-station/graph").json()
            assert {n["id"]: n["status"] for n in graph["nodes"]}["pressure_gauge"] == "alert"
            assert client.post(f"/api/alerts/{raised['id']}/ack").status_code == 200
            assert client.delete("/api/twins/pump-station/faults").json()["cleared"] == 1
            stored_samples = ws.store.counts("pump-station")
    finally:
        ws.close()
    assert stored_samples["samples"] > 0
    # a restart keeps the alert and its acknowledgement
    again = Workspace(settings, store=store)
    try:
        kept = again.alerts("pump-station")
        assert kept[0]["id"] == raised["id"] and kept[0]["acked_by"] == "local"
    finally:
        again.close()
