"""``twinforge synth`` writes labelled synthetic telemetry; bad input is a clear error, exit 2."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from twinforge.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
PUMP = str(ROOT / "examples" / "pump_station.yaml")
runner = CliRunner()


def test_synth_writes_a_labelled_csv(tmp_path):
    out = tmp_path / "leak.csv"
    result = runner.invoke(
        app,
        [
            "synth",
            PUMP,
            "--fault",
            "leak",
            "--node",
            "pump",
            "--onset",
            "100",
            "--duration",
            "300",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert len(frame) == 300 and frame["anomaly"].sum() == 200
    assert set(frame.loc[frame["anomaly"] == 1, "fault"]) == {"leak"}
    assert "Volume Flow RateRMS" in frame.columns


def test_synth_lists_the_faults_of_a_twin():
    result = runner.invoke(app, ["synth", str(ROOT / "examples" / "bottling_line.yaml"), "--list"])
    assert result.exit_code == 0
    assert "imbalance" in result.output and "filler" in result.output
    assert "cavitation" not in result.output


def test_synth_bad_input_is_a_clear_error(tmp_path):
    out = str(tmp_path / "x.csv")
    cases = [
        (["--fault", "crack", "--node", "pump"], "unknown fault 'crack'"),
        (["--fault", "leak", "--node", "valve9"], "node 'valve9' is not in twin"),
        (["--fault", "leak"], "needs --node"),
        (["--fault", "leak", "--node", "pump", "--signal", "Current"], "sensor faults only"),
    ]
    for args, message in cases:
        result = runner.invoke(app, ["synth", PUMP, *args, "--out", out])
        assert result.exit_code == 2, (args, result.output)
        assert message in " ".join(result.output.split()), (args, result.output)
        assert "Traceback" not in result.output
    result = runner.invoke(app, ["synth", PUMP])
    assert result.exit_code == 2 and "--out" in result.output
