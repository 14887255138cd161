"""The spec commands of the CLI: exit codes, messages without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from twinforge.cli.main import app

runner = CliRunner()


def test_validate_examples_pass(examples):
    files = sorted(str(p) for p in examples.glob("*.yaml"))
    result = runner.invoke(app, ["validate", *files])
    assert result.exit_code == 0, result.output
    assert result.output.count("✓") == len(files)


def test_validate_broken_file_names_file_path_and_problem(tmp_path, examples):
    bad = tmp_path / "broken.yaml"
    text = (examples / "bottling_line.yaml").read_text()
    bad.write_text(
        text.replace("kind: buffer", "kind: bufer", 1).replace("target: warehouse_dock", "target: dock")
    )
    result = subprocess.run(
        [sys.executable, "-m", "twinforge", "validate", str(bad)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    err = result.stderr
    assert "Traceback" not in err
    assert f"{bad}:" in err
    assert "nodes[1].kind" in err and "unknown kind 'bufer'" in err and "did you mean 'buffer'" in err
    assert "unknown node 'dock'" in err


def test_validate_malformed_yaml(tmp_path):
    bad = tmp_path / "m.yaml"
    bad.write_text("twinforge: 1\nname: x\nnodes: [\n")
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 2
    assert "malformed YAML" in result.output


def test_validate_missing_file(tmp_path):
    result = runner.invoke(app, ["validate", str(tmp_path / "none.yaml")])
    assert result.exit_code == 2 and "file not found" in result.output


def test_show(examples):
    result = runner.invoke(app, ["show", str(examples / "supply_chain.yaml")])
    assert result.exit_code == 0
    assert (
        "beverage-supply-chain" in result.output
        and "supplier" in result.output
        and "S1 → P1" in result.output
    )


def test_schema_full_and_kind(tmp_path):
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.output)["title"] == "twinforge twin spec"
    result = runner.invoke(app, ["schema", "--kind", "pump"])
    data = json.loads(result.output)
    assert "flow_rate" in data["properties"]["parameters"]["properties"]
    result = runner.invoke(app, ["schema", "--kind", "teleporter"])
    assert result.exit_code == 2 and "unknown kind" in result.output


def test_diff_command(tmp_path, examples):
    changed = tmp_path / "b.yaml"
    changed.write_text(
        (examples / "bottling_line.yaml")
        .read_text()
        .replace("{capacity: 25, initial_level: 5}", "{capacity: 50, initial_level: 5}")
    )
    result = runner.invoke(app, ["diff", str(examples / "bottling_line.yaml"), str(changed)])
    assert result.exit_code == 0
    assert "buf_fill parameters.capacity: 25 -> 50" in result.output


def test_demo_runs():
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert "step 1" in result.output and "upstream of filler" in result.output
