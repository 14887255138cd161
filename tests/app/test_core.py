"""The application core without a network: events, twins and versions, jobs, monitoring, faults."""

from __future__ import annotations

import time

import numpy as np
import pytest

from twinforge.app import EventBus, JobRequest, ServeSettings, Workspace
from twinforge.app.jobs import JobManager
from twinforge.app.keys import KeyRing, allows
from twinforge.app.live import LiveMonitor, MonitorSettings
from twinforge.app.twins import TwinNotFound, TwinRegistry
from twinforge.data.emulator import FaultInjector, SensorFault, TelemetrySample
from twinforge.data.errors import MappingError
from twinforge.errors import SpecError
from twinforge.scenario import ScenarioError


# -- events ----------------------------------------------------------------------------------------
def test_every_subscriber_gets_every_event_it_asked_for_in_order():
    bus = EventBus()
    a = bus.subscribe(["values"], ["t1"])
    b = bus.subscribe(["values", "alerts"])
    for i in range(100):
        bus.publish("values", {"i": i}, twin="t1" if i % 2 == 0 else "t2")
    bus.publish("alerts", {"x": 1}, twin="t1")
    got_a = [a.get_sync(0.1).data["i"] for _ in range(50)]
    assert got_a == list(range(0, 100, 2)) and a.get_sync(0.01) is None
    got_b = [b.get_sync(0.1) for _ in range(101)]
    assert [e.topic for e in got_b].count("alerts") == 1
    seqs = [e.seq for e in got_b]
    assert seqs == sorted(seqs)


def test_a_subscriber_that_falls_behind_is_closed_not_the_producer():
    bus = EventBus()
    slow = bus.subscribe(["values"], maxsize=10)
    fast = bus.subscribe(["values"], maxsize=1000)
    for i in range(50):
        bus.publish("values", {"i": i})
    assert slow.overflowed and slow.closed and bus.dropped_subscribers == 1
    received = []
    while (e := slow.get_sync(0.05)) is not None:
        received.append(e)
    assert len(received) == 10  # what it had, then the end marker
    assert len([fast.get_sync(0.05) for _ in range(50)]) == 50
    with pytest.raises(ValueError, match="unknown topic"):
        bus.subscribe(["nonsense"])


# -- twins and versions ---------------------------------------------------------------------------------
def test_twin_versions_are_kept_diffed_and_survive_a_restart(tmp_path, examples):
    reg = TwinRegistry(tmp_path / "versions")
    spec = reg.load_file(examples / "bottling_line.yaml")
    text = (examples / "bottling_line.yaml").read_text()
    changed = text.replace("name: bottling-line", "name: bottling-line", 1).replace(
        "description:", "description: (v2)", 1
    )
    v, changes = reg.put(spec.name, changed)
    assert v.number == 2 and any(c["field"] == "description" for c in changes)
    assert reg.put(spec.name, changed)[0].number == 2  # same text: no new version
    assert reg.diff(spec.name, 1, 2)[0]["element"] == "twin"
    again = TwinRegistry(tmp_path / "versions")
    again.load_file(examples / "bottling_line.yaml")
    assert [x.number for x in again.versions(spec.name)] == [1, 2]
    assert "(v2)" in again.get(spec.name).description


def test_an_invalid_twin_is_refused_with_every_issue_and_changes_nothing(tmp_path, examples):
    reg = TwinRegistry(tmp_path / "versions")
    spec = reg.load_file(examples / "bottling_line.yaml")
    bad = (examples / "bottling_line.yaml").read_text().replace("kind: station", "kind: statoin", 1)
    with pytest.raises(SpecError) as exc:
        reg.put(spec.name, bad)
    issue = exc.value.issues[0]
    assert issue.code == "unknown-kind" and issue.line is not None and issue.path[0] == "nodes"
    assert len(reg.versions(spec.name)) == 1
    with pytest.raises(SpecError, match="not 'other'"):
        reg.put("other", (examples / "bottling_line.yaml").read_text())
    with pytest.raises(TwinNotFound, match="no twin 'nope'"):
        reg.get("nope")


# -- keys -----------------------------------------------------------------------------------------------
def test_keys_are_stored_hashed_and_checked(tmp_path):
    ring = KeyRing(tmp_path / "keys.json")
    assert not ring.enabled
    key, secret = ring.add("ops", "operator")
    assert ring.enabled and secret.startswith(f"tf_{key.id}_")
    stored = (tmp_path / "keys.json").read_text()
    assert secret.split("_", 2)[2] not in stored
    assert ring.verify(secret).role == "operator"
    assert ring.verify(secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
    assert ring.verify("tf_unknown_x") is None and ring.verify(None) is None
    assert KeyRing(tmp_path / "keys.json").verify(secret) is not None  # reloaded from disk
    ring.revoke(key.id)
    assert ring.verify(secret) is None
    assert allows("admin", "operator") and not allows("viewer", "operator")


# -- jobs -------------------------------------------------------------------------------------------------
def _wait(job, seconds=60.0):
    deadline = time.monotonic() + seconds
    while job.status in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.05)
    return job


def test_a_scenario_job_reports_progress_and_a_paired_comparison(bottling_line):
    events = []
    jobs = JobManager(lambda _n: bottling_line, notify=lambda j: events.append((j.status, j.progress)))
    request = JobRequest.model_validate(
        {
            "kind": "simulate",
            "scenario": {
                "interventions": [{"op": "outage", "target": "filler", "start": 0, "duration": "1 h"}]
            },
            "options": {"reps": 6, "horizon": "4 h"},
        }
    )
    job = _wait(jobs.submit("bottling-line", request))
    jobs.shutdown()
    assert job.status == "done", job.error
    throughput = next(p for p in job.result["paired"] if p["kpi"] == "throughput" and p["node"] == "")
    assert throughput["difference"] < 0 and throughput["ci_high"] < 0  # an hour of filler outage costs output
    progress = [p for s, p in events if s == "running"]
    assert progress == sorted(progress) and len(progress) >= 3


def test_a_job_is_cancelled_between_chunks_and_bad_scenarios_fail_at_submit(bottling_line):
    jobs = JobManager(lambda _n: bottling_line)
    long = jobs.submit(
        "bottling-line",
        JobRequest.model_validate({"kind": "simulate", "options": {"reps": 1000, "horizon": "1 week"}}),
    )
    time.sleep(0.5)
    jobs.cancel(long.id)
    _wait(long, 120)
    assert long.status == "cancelled" and long.result is None
    with pytest.raises(ScenarioError, match="unknown node 'nope'"):
        jobs.submit(
            "b",
            JobRequest.model_validate(
                {
                    "kind": "simulate",
                    "scenario": {"interventions": [{"op": "outage", "target": "nope", "duration": "1 h"}]},
                }
            ),
        )
    with pytest.raises(ScenarioError, match="interventions"):
        jobs.submit(
            "b",
            JobRequest.model_validate(
                {"kind": "simulate", "scenario": {"interventions": [{"op": "explode"}]}}
            ),
        )
    jobs.shutdown()


def test_job_options_are_bounded():
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        JobRequest.model_validate({"kind": "simulate", "options": {"reps": 10**9}})
    with pytest.raises(ValidationError):
        JobRequest.model_validate({"kind": "simulate", "options": {"time_limit": float("inf")}})
    with pytest.raises(ValidationError):
        JobRequest.model_validate({"kind": "rm -rf"})


def test_a_flow_job_compares_plans(supply_chain):
    jobs = JobManager(lambda _n: supply_chain)
    job = _wait(
        jobs.submit(
            "sc",
            JobRequest.model_validate(
                {"kind": "optimize", "scenario": {"interventions": [{"op": "remove_node", "target": "S3"}]}}
            ),
        )
    )
    jobs.shutdown()
    assert job.status == "done" and job.result["feasible"]
    assert job.result["comparison"]["objective_delta"] > 0  # losing a supplier costs money


# -- monitoring and faults ---------------------------------------------------------------------------------------
def _steady(spec, seconds, seed=0, start=0.0):
    rng = np.random.default_rng(seed)
    out = []
    signals = [(n.id, s.name) for n in spec.nodes for s in n.signals]
    for t in range(int(seconds)):
        for k, (node, sig) in enumerate(signals):
            out.append(TelemetrySample(node, sig, start + t + 0.01 * k, 10.0 + k + rng.normal(0, 0.1)))
    return out


def test_the_live_monitor_fits_on_normal_rows_stays_quiet_then_names_the_faulty_signal(pump_station):
    monitor = LiveMonitor(pump_station, MonitorSettings(warmup_rows=300, window=5))
    normal = _steady(pump_station, 900)
    events = monitor.feed([(f"{s.node}.{s.signal}", s.timestamp, s.value) for s in normal])
    assert monitor.status.state == "monitoring" and "300 rows" in monitor.status.detail
    assert events == []  # ten minutes of normal operation after the fit: no alert
    faulty = FaultInjector(_steady(pump_station, 120, seed=1, start=900), pump_station)
    faulty.inject(SensorFault(node="pressure_gauge", signal="Pressure", kind="offset", magnitude=2.0))
    events = monitor.feed([(f"{s.node}.{s.signal}", s.timestamp, s.value) for s in faulty])
    raised = [e for e in events if e.kind == "raised"]
    assert raised and (raised[0].alert.node, raised[0].alert.signal) == ("pressure_gauge", "Pressure")


def test_fault_kinds_change_only_their_signal(pump_station):
    base = _steady(pump_station, 30)
    for kind, magnitude, check in [
        ("offset", 5.0, lambda b, f: f == pytest.approx(b + 5.0)),
        ("gain", 2.0, lambda b, f: f == pytest.approx(2 * b)),
        ("stuck", 0.0, lambda b, f: True),
    ]:
        fi = FaultInjector(base, pump_station)
        fi.inject(SensorFault(node="current_meter", signal="Current", kind=kind, magnitude=magnitude))
        out = list(fi)
        for b, f in zip(base, out, strict=True):
            if b.node == "current_meter":
                assert check(b.value, f.value)
            else:
                assert f.value == b.value
    fi = FaultInjector(base, pump_station)
    fi.inject(SensorFault(node="current_meter", signal="Current", kind="stuck"))
    stuck = [s.value for s in fi if s.node == "current_meter"]
    assert len(set(stuck)) == 1
    with pytest.raises(MappingError, match="no signal 'Curent'; did you mean 'Current'"):
        fi.inject(SensorFault(node="current_meter", signal="Curent"))
    assert fi.clear() == 1 and fi.active() == []


# -- the workspace ------------------------------------------------------------------------------------------------
def test_the_workspace_answers_what_every_face_asks(tmp_path, examples):
    ws = Workspace(ServeSettings(twins=[str(examples)], workspace=str(tmp_path / "ws")), store=":memory:")
    try:
        names = [t["name"] for t in ws.twin_list()]
        assert {"bottling-line", "pump-station", "beverage-supply-chain"} <= set(names)
        g = ws.graph("pump-station")
        assert {n["id"] for n in g["nodes"]} >= {"tank", "pump"} and all(
            n["status"] == "idle" for n in g["nodes"]
        )
        assert ws.node("pump-station", "pump")["signals"]
        assert ws.validate("twinforge: 1\nname: x\nnodes: []\nedges: []\n")["ok"]
        assert not ws.validate("name: [")["ok"]
        assert ws.alerts() == []
        with pytest.raises(Exception, match="no alert 7"):
            ws.ack(7, "me")
        alert_id = ws.store.write_alert(
            "pump-station", {"node": "pump", "signal": "x", "started": time.time(), "score": 3.0}
        )
        assert ws.ack(alert_id, "me")["acked_by"] == "me"
        assert ws.graph("pump-station")["nodes"][0]["status"] in ("idle", "alert")
        with pytest.raises(Exception, match="no emulator"):
            ws.inject_fault("pump-station", SensorFault(node="pressure_gauge", signal="Pressure"))
    finally:
        ws.close()
