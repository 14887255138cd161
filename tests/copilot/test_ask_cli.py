"""``twinforge ask`` and ``twinforge suggest`` with the real local model."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from twinforge.cli.main import app

runner = CliRunner()


@pytest.mark.slow
def test_ask_answers_and_declines(examples):
    result = runner.invoke(
        app, ["ask", str(examples / "supply_chain.yaml"), "What is the capacity of plant P1?", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["status"] == "answered" and data["value"] == 600
    result = runner.invoke(
        app, ["ask", str(examples / "supply_chain.yaml"), "What if supplier S9 goes bankrupt?"]
    )
    assert result.exit_code == 1 and "Declined" in result.output


@pytest.mark.slow
def test_suggest_runs_and_ranks(examples):
    result = runner.invoke(app, ["suggest", str(examples / "supply_chain.yaml"), "--n", "2"])
    assert result.exit_code == 0, result.output
    assert "scenarios worth testing" in result.output


def test_ask_bad_twin_file(tmp_path):
    result = runner.invoke(app, ["ask", str(tmp_path / "none.yaml"), "What if?"])
    assert result.exit_code == 2 and "file not found" in result.output
