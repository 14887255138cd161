"""The real pipeline with the local SmolLM2-135M: the model choosing between readings, and a fixed
sample of the dev question set (never the held-out sets) answered end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from twinforge.copilot.ask import TwinAsker
from twinforge.copilot.evaluation import judge
from twinforge.spec import load_spec

DEV = Path(__file__).resolve().parents[2] / "benchmarks" / "ask" / "dev"


@pytest.fixture(scope="module")
def local_llm(tmp_path_factory):
    from twinforge.ai.audit import AuditLog
    from twinforge.ai.llm import LLM
    from twinforge.ai.providers.local import LocalLlamaProvider

    return LLM(LocalLlamaProvider(), audit=AuditLog(tmp_path_factory.mktemp("store") / "audit.duckdb"))


@pytest.mark.slow
def test_the_local_model_chooses_between_readings_and_is_audited(local_llm, pump_station):
    asker = TwinAsker(
        pump_station, llm=local_llm, min_margin=0.0, engine_options={"reps": 2, "horizon": "1 h"}
    )
    before = local_llm.audit.count(kind="ranked")
    r = asker.ask("What if the tank was at 0.05 m3?")
    assert local_llm.audit.count(kind="ranked") == before + 1
    assert r.chosen_by == "ranked" and r.margin is not None
    assert r.status == "answered" and r.plan["changes"][0]["parameter"] in (
        "capacity",
        "initial_level",
        "high_level",
        "low_level",
    )


@pytest.mark.slow
def test_real_pipeline_on_a_sample_of_the_dev_set(local_llm):
    results = []
    for f in sorted(DEV.glob("*.questions.yaml")):
        data = yaml.safe_load(f.read_text(encoding="utf-8"))
        twin = load_spec(f.parent / data["twin"])
        asker = TwinAsker(
            twin,
            llm=local_llm,
            engine_options={"reps": 3, "horizon": "4 h"}
            if "line" in f.name or "pump" in f.name or "warehouse" in f.name
            else None,
        )
        for q in data["questions"][::4]:
            r = asker.ask(q["question"])
            # invariants, whatever happened: no number without a run, interventions shown
            if r.status != "answered":
                assert r.value is None and not r.outcomes and r.reason and r.detail
            elif r.kind in ("what_if", "compare"):
                assert r.interventions and r.outcomes
            results.append(judge(r, q["expect"], twin).verdict)
    assert len(results) >= 60
    assert results.count("wrong") <= 1, results
    assert results.count("correct") + results.count("declined") >= 0.9 * len(results)
