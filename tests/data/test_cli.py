from __future__ import annotations

import json
import threading

import pytest
from typer.testing import CliRunner

from twinforge.cli.main import app
from twinforge.data import InitialStateTelemetry, PlantEmulator

from .conftest import FLOW_RIG

runner = CliRunner()

CSV = "time,flow_lpm,temp_f\n2024-05-01 12:00:00,100,212\n2024-05-01 12:00:01,oops,50\n"
MAPPING = """
twin: flow-rig
timestamp: time
columns:
  flow_lpm: {node: flow, signal: q, unit: L/min}
  temp_f: {node: thermo, signal: t, unit: degF}
"""


@pytest.fixture
def files(tmp_path):
    (tmp_path / "rig.yaml").write_text(FLOW_RIG)
    (tmp_path / "rig.csv").write_text(CSV)
    (tmp_path / "map.yaml").write_text(MAPPING)
    return tmp_path


def test_ingest_file_then_inspect_store(files):
    store = str(files / "s.duckdb")
    res = runner.invoke(
        app,
        [
            "ingest",
            str(files / "rig.yaml"),
            str(files / "rig.csv"),
            "-m",
            str(files / "map.yaml"),
            "--store",
            store,
        ],
    )
    assert res.exit_code == 0, res.output
    assert "samples stored" in res.output and "3" in res.output
    res = runner.invoke(app, ["store", "info", "--store", store])
    assert res.exit_code == 0 and "samples 3" in res.output and "quarantine 1" in res.output
    res = runner.invoke(app, ["store", "quarantine", "--store", store])
    assert res.exit_code == 0 and "1 quarantined" in res.output and "rig.csv line 3" in res.output
    res = runner.invoke(app, ["watch", str(files / "rig.yaml"), "--store", store, "--once", "--json"])
    assert res.exit_code == 0, res.output
    state = json.loads(res.output)
    assert state["states"]["pump"]["flow"]["value"] == pytest.approx(6.0)
    assert state["states"]["tank"]["temperature"]["status"] == "stale"
    res = runner.invoke(app, ["watch", str(files / "rig.yaml"), "--store", store, "--once"])
    assert res.exit_code == 0 and "flow.q" in res.output and "missing" in res.output
    res = runner.invoke(
        app,
        [
            "store",
            "resample",
            "flow-rig",
            "--every",
            "1 min",
            "--store",
            store,
            "--out",
            str(files / "r.csv"),
        ],
    )
    assert res.exit_code == 0 and (files / "r.csv").read_text().startswith("bucket,flow.q,thermo.t")
    res = runner.invoke(
        app, ["store", "downsample", "--older-than", "2030-01-01", "--every", "1 h", "--store", store]
    )
    assert res.exit_code == 0 and "3 samples → 2 bucket samples" in res.output
    res = runner.invoke(app, ["store", "retain", "--older-than", "0.5 d", "--store", store])
    assert res.exit_code == 0 and "samples 2" in res.output


def test_cli_errors_exit_2_without_traceback(files):
    (files / "bad.yaml").write_text("timestamp: time\ncolumns:\n  flow_lpm: {node: flwo, signal: q}\n")
    res = runner.invoke(
        app,
        [
            "ingest",
            str(files / "rig.yaml"),
            str(files / "rig.csv"),
            "-m",
            str(files / "bad.yaml"),
            "--store",
            ":memory:",
        ],
    )
    assert res.exit_code == 2
    assert "did you mean 'flow'" in " ".join(res.output.split()) and "Traceback" not in res.output
    res = runner.invoke(
        app, ["watch", str(files / "rig.yaml"), "--store", str(files / "none.duckdb"), "--once"]
    )
    assert res.exit_code == 2 and "does not exist" in " ".join(res.output.split())
    res = runner.invoke(
        app, ["ingest-mqtt", str(files / "rig.yaml"), "--broker", "localhost:notaport", "--duration", "0"]
    )
    assert res.exit_code == 2 and "not a number" in " ".join(res.output.split())


@pytest.mark.slow
def test_ingest_mqtt_and_watch_against_mosquitto(files, mosquitto, flow_rig):
    store = str(files / "live.duckdb")
    stop = threading.Event()

    def publish():
        with PlantEmulator(flow_rig, mosquitto.host, mosquitto.port, samples_per_message=10) as em:
            while not stop.is_set():
                em.publish(InitialStateTelemetry(flow_rig, 10, start=None), speed=10)

    thread = threading.Thread(target=publish, daemon=True)
    thread.start()
    try:
        res = runner.invoke(
            app,
            [
                "ingest-mqtt",
                str(files / "rig.yaml"),
                "-b",
                mosquitto.address,
                "--store",
                store,
                "--duration",
                "2",
            ],
        )
        assert res.exit_code == 0, res.output
        assert '"samples_stored"' in res.output
        res = runner.invoke(
            app, ["watch", str(files / "rig.yaml"), "-b", mosquitto.address, "--once", "--duration", "1.5"]
        )
        assert res.exit_code == 0, res.output
        assert "flow.q" in res.output and "fresh" in res.output
    finally:
        stop.set()
        thread.join(20)
    res = runner.invoke(app, ["store", "info", "--store", store])
    samples = int(res.output.split("samples ")[1].split(",")[0])
    assert samples > 0
