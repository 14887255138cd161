"""`twinforge simulate` and `twinforge warn`."""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from twinforge.cli.main import app

runner = CliRunner(env={"COLUMNS": "200"})


def test_simulate_prints_kpis_with_confidence_intervals_and_writes_csv(examples, tmp_path):
    out = tmp_path / "kpis.csv"
    result = runner.invoke(
        app,
        [
            "simulate",
            str(examples / "bottling_line.yaml"),
            "--reps",
            "3",
            "--horizon",
            "2 h",
            "--seed",
            "4",
            "--kpi",
            "daily=throughput*24",
            "--out",
            str(out),
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "throughput" in result.output and "95% CI" in result.output and "daily" in result.output
    df = pd.read_csv(out)
    assert list(df.columns) == ["replication", "kpi", "node", "metric", "value", "unit"]
    assert set(df["replication"]) == {0, 1, 2}


def test_simulate_with_a_scenario_shows_the_paired_comparison(examples, tmp_path):
    sc = tmp_path / "down.yaml"
    sc.write_text(
        "scenario: 1\nname: filler-down\ninterventions:\n"
        "  - {op: outage, target: filler, start: 1 h, duration: 2 h}\n",
        encoding="utf-8",
    )
    out = tmp_path / "kpis.parquet"
    result = runner.invoke(
        app,
        [
            "simulate",
            str(examples / "bottling_line.yaml"),
            "--scenario",
            str(sc),
            "--reps",
            "3",
            "--horizon",
            "4 h",
            "--out",
            str(out),
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "paired" in result.output and "filler down for 2 h" in result.output
    df = pd.read_parquet(out)
    assert set(df["run"]) == {"baseline", "filler-down"}


def test_warn_reads_a_state_file(examples, tmp_path):
    state = tmp_path / "state.yaml"
    state.write_text(
        "buf_fill: {level: 20}\nfiller: {status: 0, repair_remaining: 15 min}\n", encoding="utf-8"
    )
    events = tmp_path / "events.yaml"
    events.write_text(
        "- {kind: buffer_overflow, buffer: buf_rinse}\n- {kind: threshold, state: filler_temp.temperature, above: 30}\n",
        encoding="utf-8",
    )
    result = runner.invoke(
        app,
        [
            "warn",
            str(examples / "bottling_line.yaml"),
            "--state",
            str(state),
            "--events",
            str(events),
            "--horizon",
            "1 h",
            "--reps",
            "10",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "buf_rinse full" in result.output and "filler_temp.temperature > 30" in result.output


def test_cli_errors_exit_2_without_traceback(examples, tmp_path):
    line = str(examples / "bottling_line.yaml")
    result = runner.invoke(app, ["simulate", line, "--horizon", "a while", "--reps", "2"])
    assert result.exit_code == 2
    assert "not a time" in result.output and "Traceback" not in result.output
    result = runner.invoke(
        app, ["simulate", line, "--reps", "2", "--horizon", "1 h", "--out", str(tmp_path / "x.xlsx")]
    )
    assert result.exit_code == 2 and ".csv or .parquet" in result.output
    assert "replications" not in result.output  # refused before simulating
    state = tmp_path / "s.yaml"
    state.write_text("fillr: {temperature: 40}\n", encoding="utf-8")
    result = runner.invoke(app, ["warn", line, "--state", str(state), "--reps", "2"])
    assert result.exit_code == 2 and "did you mean 'filler'" in result.output
    result = runner.invoke(app, ["simulate", str(examples / "supply_chain.yaml"), "--reps", "2"])
    assert result.exit_code == 2 and "optimize" in result.output


def test_demo_step_compares_and_warns(examples):
    from rich.console import Console

    from twinforge.cli.demo import Tour
    from twinforge.cli.sim import sim_step

    console = Console(record=True, width=200)
    sim_step(Tour(console=console, folder=examples))
    text = console.export_text()
    assert "filler down 4 h vs baseline" in text
    assert "lost output:" in text and "variance" in text
    assert "early warning: events within 4 h" in text and "buf_rinse full" in text
