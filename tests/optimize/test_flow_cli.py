"""`twinforge optimize`: tables, what-if, infeasibility (exit 1), bad input (exit 2), output files,
and the demo step. Real HiGHS solves."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

from rich.console import Console
from typer.testing import CliRunner

from twinforge.cli.main import app

runner = CliRunner()


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_optimize_prints_costs_flows_and_shadow_prices(examples):
    result = runner.invoke(app, ["optimize", str(examples / "supply_chain.yaml"), "--top", "5"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "objective 63,020 EUR/day" in out
    for word in ("purchase", "processing", "transport", "fixed", "penalty"):
        assert word in out
    assert "top 5 of 15" in out
    assert "supply_capacity of S2 (lager)" in out and "-9 EUR/item" in out
    assert "capacity of P1" in out
    assert "Running HiGHS" not in out  # the solver banner is kept out of command output


def test_optimize_with_scenario_compares_to_baseline(tmp_path, examples):
    sc = write(
        tmp_path,
        "no-s3.yaml",
        "scenario: 1\nname: no-s3-cola\ninterventions:\n  - {op: forbid_flow, edge: S3->P1, product: cola}\n",
    )
    out_file = tmp_path / "plan.json"
    result = runner.invoke(
        app, ["optimize", str(examples / "supply_chain.yaml"), "-s", str(sc), "--out", str(out_file)]
    )
    assert result.exit_code == 0, result.output
    assert "what-if: objective 63,020.00 → 63,490.00 EUR/day (+470.00, +0.7%)" in result.output
    assert "changed flows" in result.output
    data = json.loads(out_file.read_text())
    assert data["comparison"]["objective_delta"] == 470
    assert data["baseline"]["objective"] == 63020
    assert data["plan"]["scenario"] == "no-s3-cola"
    assert any(b["name"] == "forbid_flow[S3->P1,cola]" for b in data["plan"]["binding"])


def test_optimize_csv_output(tmp_path, examples):
    out_file = tmp_path / "flows.csv"
    result = runner.invoke(app, ["optimize", str(examples / "supply_chain.yaml"), "-o", str(out_file)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out_file.read_text())))
    assert len(rows) == 15
    assert sum(float(r["flow"]) for r in rows if r["target"].startswith("C_")) == 1080


def test_infeasible_scenario_exits_1_with_explanation(tmp_path, examples):
    sc = write(
        tmp_path,
        "down.yaml",
        "scenario: 1\nname: p1-down\ninterventions:\n"
        "  - {op: outage, target: P1, duration: 6 h}\n  - {op: scale_demand, factor: 1.1}\n",
    )
    out_file = tmp_path / "why.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "twinforge",
            "optimize",
            str(examples / "supply_chain.yaml"),
            "--scenario",
            str(sc),
            "--out",
            str(out_file),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    out = " ".join(result.stdout.split())
    assert "infeasible:" in out
    assert "capacity of P1 ≤ 450 item/day [was 600 item/day; outage 6 h of a 24 h period" in out
    assert "cannot be met: short by" in out
    data = json.loads(out_file.read_text())
    assert data["infeasible"]["shortfalls"]
    assert "capacity[P1]" in [c["name"] for c in data["infeasible"]["conflict"]]


def test_bad_input_exits_2_without_traceback(tmp_path, examples):
    setpoint = write(
        tmp_path,
        "sp.yaml",
        "scenario: 1\nname: sp\ninterventions:\n  - {op: scale_demand, factor: 1.1, product: beer}\n",
    )
    result = runner.invoke(app, ["optimize", str(examples / "supply_chain.yaml"), "-s", str(setpoint)])
    assert result.exit_code == 2
    assert "unknown product 'beer'" in result.output
    assert "sp.yaml" in result.output
    assert "baseline" not in result.output  # checked before anything is solved
    result = runner.invoke(app, ["optimize", str(examples / "bottling_line.yaml")])
    assert result.exit_code == 2
    assert "cannot plan flows through" in result.output
    result = runner.invoke(app, ["optimize", str(examples / "supply_chain.yaml"), "--out", "plan.xlsx"])
    assert result.exit_code == 2 and "unsupported file type" in result.output
    result = runner.invoke(
        app, ["optimize", str(examples / "supply_chain.yaml"), "--planning-period", "3 kg"]
    )
    assert result.exit_code == 2


def test_integer_and_lp_flags_and_model_file(tmp_path, examples):
    model_file = tmp_path / "model.lp"
    result = runner.invoke(
        app,
        [
            "optimize",
            str(examples / "supply_chain.yaml"),
            "--integer",
            "--ignore-fixed-costs",
            "--time-limit",
            "20",
            "--write-model",
            str(model_file),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "objective 58,320 EUR/day" in result.output  # no fixed costs
    text = model_file.read_text()
    assert "capacity(P1)" in text and "demand(C_berlin,cola)" in text and "flow(S1.to.P1,lager)" in text
    mps = tmp_path / "model.mps"
    result = runner.invoke(app, ["optimize", str(examples / "supply_chain.yaml"), "--write-model", str(mps)])
    assert result.exit_code == 0, result.output
    assert "supply_capacity[S1,cola]" in mps.read_text()


def test_demo_step_runs_on_the_real_twin(examples):
    from twinforge.cli.demo import Tour
    from twinforge.cli.optimize_flow import flow_step

    console = Console(record=True, width=120)
    tour = Tour(console=console, folder=examples)
    flow_step(tour)
    text = console.export_text()
    assert "optimal plan: 63,020 EUR/day" in text
    assert "no flow on S3->P1 for cola" in text
    assert "+470.00" in text
    assert "cannot be met: short by" in text
    assert "conflicting constraints" in text
