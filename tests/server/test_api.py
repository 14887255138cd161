"""The HTTP API over a workspace of the example twins: what it returns, and how it refuses."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from twinforge.app import ServeSettings, Workspace
from twinforge.server import create_app


@pytest.fixture
def workspace(tmp_path, examples):
    ws = Workspace(
        ServeSettings(twins=[str(examples)], workspace=str(tmp_path / "ws"), max_body_bytes=200_000),
        store=str(tmp_path / "store.duckdb"),
    )
    yield ws
    ws.close()


@pytest.fixture
def client(workspace):
    with TestClient(create_app(workspace)) as c:
        yield c


def _job(client, job_id, seconds=90):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["status"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.1)
    raise AssertionError("job did not finish")


def test_twins_graph_nodes_and_signals(client):
    twins = {t["name"]: t for t in client.get("/api/twins").json()}
    assert (
        twins["bottling-line"]["engine"] == "simulate"
        and twins["beverage-supply-chain"]["engine"] == "optimize"
    )
    g = client.get("/api/twins/pump-station/graph").json()
    assert (
        len(g["nodes"]) == twins["pump-station"]["nodes"]
        and len(g["edges"]) == twins["pump-station"]["edges"]
    )
    node = client.get("/api/twins/pump-station/nodes/pump").json()
    assert {p["name"] for p in node["parameters"]} >= {"flow_rate", "speed"}
    assert {s["signal"] for s in node["signals"]} >= {"Pressure", "Current"}
    signals = client.get("/api/twins/pump-station/signals").json()
    assert len(signals) == 8 and {s["status"] for s in signals} == {"missing"}  # no data yet
    detail = client.get("/api/twins/bottling-line").json()
    assert detail["spec"]["name"] == "bottling-line" and "nodes:" in detail["text"]


def test_unknown_things_are_404_with_what_exists(client):
    r = client.get("/api/twins/nope/graph")
    assert r.status_code == 404 and "bottling-line" in r.json()["detail"]
    assert client.get("/api/twins/pump-station/nodes/nope").status_code == 404
    r = client.get("/api/twins/pump-station/signals/pump/nope")
    assert (r.status_code == 400 and "has no signal" in r.json()["detail"]) or r.status_code == 404
    assert client.get("/api/jobs/nope").status_code == 404
    assert client.post("/api/alerts/99/ack").status_code == 404


def test_a_new_twin_version_is_validated_and_diffed(client, examples):
    text = (examples / "bottling_line.yaml").read_text()
    bad = client.put(
        "/api/twins/bottling-line", json={"text": text.replace("kind: station", "kind: statoin", 1)}
    )
    assert bad.status_code == 422
    err = bad.json()["errors"][0]
    assert err["code"] == "unknown-kind" and err["field"].startswith("nodes[") and err["line"]
    good = client.put(
        "/api/twins/bottling-line", json={"text": text.replace("description:", "description: v2", 1)}
    )
    assert good.status_code == 200 and good.json()["version"] == 2
    assert [v["version"] for v in client.get("/api/twins/bottling-line/versions").json()] == [1, 2]
    diff = client.get("/api/twins/bottling-line/diff?a=1&b=2").json()
    assert diff["changes"][0]["field"] == "description"
    assert client.post("/api/validate", json={"text": "name: ["}).json()["ok"] is False
    assert client.put("/api/twins/a%20b", json={"text": text}).status_code == 422  # bad name
    assert (
        client.put(
            "/api/twins/bottling-line", content=b"{not json", headers={"content-type": "application/json"}
        ).status_code
        == 422
    )


def test_scenario_jobs_run_and_can_be_cancelled(client):
    r = client.post(
        "/api/twins/bottling-line/jobs",
        json={
            "kind": "simulate",
            "scenario": {
                "interventions": [{"op": "outage", "target": "filler", "start": 0, "duration": "1 h"}]
            },
            "options": {"reps": 4, "horizon": "4 h"},
        },
    )
    assert r.status_code == 202
    job = _job(client, r.json()["id"])
    assert job["status"] == "done" and any(p["kpi"] == "throughput" for p in job["result"]["paired"])
    bad = client.post(
        "/api/twins/bottling-line/jobs",
        json={
            "kind": "simulate",
            "scenario": {"interventions": [{"op": "outage", "target": "nope", "duration": "1 h"}]},
        },
    )
    assert bad.status_code == 422 and "unknown node 'nope'" in str(bad.json())
    long = client.post(
        "/api/twins/bottling-line/jobs",
        json={"kind": "simulate", "options": {"reps": 1000, "horizon": "1 week"}},
    )
    cancelled = client.delete(f"/api/jobs/{long.json()['id']}").json()
    assert cancelled["status"] in ("cancelled", "running")
    assert _job(client, long.json()["id"])["status"] == "cancelled"
    flow = client.post(
        "/api/twins/beverage-supply-chain/jobs",
        json={"kind": "optimize", "scenario": {"interventions": [{"op": "remove_node", "target": "S3"}]}},
    )
    result = _job(client, flow.json()["id"])["result"]
    assert result["feasible"] and result["comparison"]["objective_delta"] > 0
    assert (
        client.post(
            "/api/twins/bottling-line/jobs", json={"kind": "simulate", "options": {"reps": 0}}
        ).status_code
        == 422
    )


def test_ask_returns_the_plan_the_interventions_and_the_computed_numbers(client):
    r = client.post(
        "/api/twins/bottling-line/ask", json={"question": "What if the filler is down for 2 hours?"}
    )
    body = r.json()
    assert r.status_code == 200 and body["status"] == "answered", body
    assert body["interventions"] == ["filler down for 2 h from the start"]
    outcome = body["outcomes"][0]
    assert outcome["kpi"] == "throughput" and outcome["scenario"] < outcome["baseline"]
    declined = client.post(
        "/api/twins/bottling-line/ask", json={"question": "What if the toaster is down for 2 hours?"}
    ).json()
    assert declined["status"] == "declined" and declined["reason"] and declined["outcomes"] == []
    assert client.post("/api/twins/bottling-line/ask", json={"question": ""}).status_code == 422
    assert client.post("/api/twins/bottling-line/ask", json={"question": "x" * 5000}).status_code == 422
    examples = client.get("/api/twins/bottling-line/examples").json()
    assert len(examples) >= 4 and all(isinstance(q, str) for q in examples)


def test_alerts_are_listed_and_acknowledged(client, workspace):
    alert_id = workspace.store.write_alert(
        "pump-station",
        {
            "node": "pressure_gauge",
            "signal": "Pressure",
            "started": time.time(),
            "score": 9.0,
            "threshold": 1.5,
            "contributions": [["pressure_gauge", "Pressure", 0.9]],
        },
    )
    alerts = client.get("/api/alerts?twin=pump-station&open=true").json()
    assert [a["id"] for a in alerts] == [alert_id] and alerts[0]["contributions"][0][0] == "pressure_gauge"
    acked = client.post(f"/api/alerts/{alert_id}/ack", json={"note": "checking"}).json()
    assert acked["acked_by"] == "local" and acked["acked_at"]
    assert client.get("/api/twins/pump-station/graph").json()["nodes"]  # still drawable
    assert client.get("/api/alerts?twin=nope").status_code == 404


def test_an_alert_carries_its_diagnosis_work_orders_and_remaining_life(client, workspace):
    plain = workspace.store.write_alert(
        "pump-station", {"node": "pump", "signal": "Current", "started": time.time() - 60, "score": 2.0}
    )
    alert_id = workspace.store.write_alert(
        "pump-station",
        {
            "node": "pressure_gauge",
            "signal": "Pressure",
            "started": time.time(),
            "score": 9.0,
            "threshold": 1.5,
            "diagnosis": {"state": "pending", "fault": None, "detail": "waiting for 60 rows"},
        },
    )
    orders = {
        "orders": [{"id": 4, "date": "2025-01-10", "text": "gauge drifting high", "similarity": 0.61}],
        "ranked": "closest in meaning to 'sensor drift'",
        "nodes": ["pressure_gauge", "pump"],
    }
    workspace.store.update_alert(
        alert_id,
        diagnosis={"state": "done", "fault": "sensor_drift", "name": "sensor drift", "probability": 0.57},
        work_orders=orders,
        remaining_life={"state": "none", "detail": "no RUL model for pressure_gauge or pump"},
    )
    alerts = {a["id"]: a for a in client.get("/api/alerts?twin=pump-station").json()}
    got = alerts[alert_id]
    assert got["diagnosis"]["fault"] == "sensor_drift" and got["diagnosis"]["probability"] == 0.57
    assert got["work_orders"] == orders and got["remaining_life"]["state"] == "none"
    assert {alerts[plain][k] for k in ("diagnosis", "work_orders", "remaining_life")} == {None}
    assert client.get(f"/api/alerts/{alert_id}").json() == got
    assert client.get("/api/alerts/999").status_code == 404
    acked = client.post(f"/api/alerts/{alert_id}/ack").json()
    assert acked["diagnosis"]["name"] == "sensor drift" and acked["work_orders"]["orders"][0]["id"] == 4
    schema = client.get("/openapi.json").json()["paths"]["/api/alerts"]["get"]
    assert "diagnosis" in schema["description"]


def test_the_web_app_and_its_assets_are_served_from_the_packages(client):
    page = client.get("/")
    assert (
        page.status_code == 200 and "twinforge" in page.text and "/static/vendor/plotly.min.js" in page.text
    )
    assert client.get("/static/app.js").status_code == 200
    js = client.get("/static/vendor/plotly.min.js")
    assert js.status_code == 200 and len(js.content) > 1_000_000
    assert (
        "http://" not in page.text.replace("http://www.w3.org", "") and "https://" not in page.text
    )  # no CDN
    schema = client.get("/openapi.json").json()
    assert "/api/twins/{name}/ask" in schema["paths"]


def test_bodies_over_the_limit_are_refused(client):
    r = client.post("/api/validate", json={"text": "x" * 300_000})
    assert r.status_code == 413 and "over" in r.json()["detail"]


def test_a_control_proposal_is_judged_as_a_job(client):
    proposal = {
        "proposal": "setpoints",
        "name": "full speed",
        "setpoints": [{"at": "2 h", "target": "duty_pump", "parameter": "speed", "value": 1.0}],
    }
    r = client.post(
        "/api/twins/water-tower/jobs", json={"kind": "guard", "options": {"reps": 1, "proposal": proposal}}
    )
    assert r.status_code == 202
    verdict = _job(client, r.json()["id"])["result"]
    assert verdict["verdict"] == "reject" and verdict["violation"]["scenario"] == "nominal"
    bad = client.post(
        "/api/twins/water-tower/jobs",
        json={"kind": "guard", "options": {"proposal": {"proposal": "controller"}}},
    )
    assert bad.status_code == 422 and "code" in str(bad.json())
    missing = client.post("/api/twins/water-tower/jobs", json={"kind": "guard"})
    assert missing.status_code in (400, 422) and "options.proposal" in str(missing.json())


def test_the_stream_sends_job_events(client):
    with client.websocket_connect("/api/stream?topics=jobs&twins=bottling-line") as socket:
        r = client.post(
            "/api/twins/bottling-line/jobs",
            json={"kind": "simulate", "options": {"reps": 2, "horizon": "1 h"}},
        )
        seen = []
        while not seen or seen[-1]["data"]["status"] not in ("done", "failed"):
            seen.append(socket.receive_json())
        assert {e["data"]["id"] for e in seen} == {r.json()["id"]} and seen[-1]["data"]["status"] == "done"
        assert [e["seq"] for e in seen] == sorted(e["seq"] for e in seen)


def test_api_keys_roles_and_rate_limits(tmp_path, examples):
    ws = Workspace(
        ServeSettings(
            twins=[str(examples / "pump_station.yaml")],
            workspace=str(tmp_path / "ws"),
            rate_limit_per_min=600,
        ),
        store=":memory:",
    )
    _, admin = ws.keys.add("admin", "admin")
    _, viewer = ws.keys.add("viewer", "viewer")
    try:
        with TestClient(create_app(ws)) as c:
            assert c.get("/api/twins").status_code == 401
            assert c.get("/api/twins", headers={"Authorization": "Bearer tf_bad_key"}).status_code == 401
            assert c.get("/api/twins", headers={"X-API-Key": viewer}).status_code == 200
            r = c.post(
                "/api/twins/pump-station/jobs", json={"kind": "simulate"}, headers={"X-API-Key": viewer}
            )
            assert r.status_code == 403 and "operator" in r.json()["detail"]
            made = c.post("/api/keys", json={"name": "ops", "role": "operator"}, headers={"X-API-Key": admin})
            assert made.status_code == 201 and made.json()["key"].startswith("tf_")
            assert c.get("/api/keys", headers={"X-API-Key": viewer}).status_code == 403
            with pytest.raises(WebSocketDisconnect) as refused, c.websocket_connect("/api/stream"):
                pass
            assert refused.value.code == 4401
            with c.websocket_connect(f"/api/stream?key={viewer}&topics=jobs") as socket:
                assert socket is not None
            statuses = [c.get("/api/health", headers={"X-API-Key": viewer}).status_code for _ in range(120)]
            assert 429 in statuses and statuses[0] == 200
    finally:
        ws.close()


def test_early_warning_runs_from_the_synced_state(client):
    assert client.get("/api/twins/bottling-line/warnings").json()["events"] == []
    w = client.post("/api/twins/bottling-line/warnings").json()
    assert w["horizon_h"] == 8 and w["events"] and {"event", "probability"} <= set(w["events"][0])
    assert client.get("/api/twins/bottling-line/warnings").json()["at"] == w["at"]
