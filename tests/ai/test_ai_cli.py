from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from twinforge.cli.main import app

runner = CliRunner()


@pytest.mark.slow
def test_llm_check_runs_structured_and_free_text(isolated: Path) -> None:
    result = runner.invoke(app, ["llm", "check"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "SmolLM2-135M-Instruct.Q4_1.gguf" in out and "llguidance" in out
    assert '"asset": "P-101"' in out and '"action": "replace"' in out and '"part": "bearing"' in out
    assert "completion tokens" in out and "tokens/s" in out
    assert (isolated / ".twinforge" / "twinforge.duckdb").is_file()  # default store in the current folder

    audit = runner.invoke(app, ["llm", "audit", "-n", "5"])
    assert audit.exit_code == 0, audit.output
    assert "structured" in audit.output and "chat" in audit.output and "2 calls" in audit.output


def test_bad_config_exits_2_without_traceback(isolated: Path) -> None:
    (isolated / "twinforge.toml").write_text('[llm]\nprovider = "nope"\n')
    result = runner.invoke(app, ["llm", "check"])
    assert result.exit_code == 2
    assert "llm.provider" in result.output and "Traceback" not in result.output


def test_missing_model_file_is_a_clear_error(isolated: Path) -> None:
    result = runner.invoke(app, ["llm", "check", "--model", str(isolated / "missing.gguf")])
    assert result.exit_code == 2 and "GGUF model file not found" in result.output


def test_redact_and_empty_audit(isolated: Path) -> None:
    result = runner.invoke(
        app, ["llm", "redact", "Operator Anna Schmidt (anna.schmidt@acme.com) reset P-102"]
    )
    assert result.exit_code == 0
    assert "Operator <PERSON_1> (<EMAIL_1>) reset P-102" in result.output
    assert "<PERSON_1> = Anna Schmidt" in result.output
    assert "no audit entries" in runner.invoke(app, ["llm", "audit"]).output


@pytest.mark.slow
def test_demo_step_shows_a_validated_object_and_the_redacted_line(isolated: Path) -> None:
    from rich.console import Console

    from twinforge.cli.demo import STEPS, Tour
    from twinforge.cli.llm import llm_step
    from twinforge.examples import examples_dir

    assert "twinforge.cli.llm:llm_step" in STEPS
    console = Console(record=True, width=200)
    llm_step(Tour(console=console, folder=examples_dir()))
    out = console.export_text()
    assert '"asset": "P-101"' in out and "valid on attempt" in out and "tokens" in out
    assert "Technician <PERSON_1> (<EMAIL_1>, <PHONE_1>)" in out and "<PERSON_1>=John Miller" in out
