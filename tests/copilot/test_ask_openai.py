"""Asking through an OpenAI-compatible endpoint (a real HTTP server on loopback): the same pipeline,
the same checks; the remote model only chooses between the twin's readings."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ai"))
from openai_stub import running_stub

from twinforge.ai import LLM
from twinforge.config import load_settings
from twinforge.copilot.ask import TwinAsker

TIE = "What if the tank was at 0.05 m3?"  # the starting level or an alarm level


@pytest.fixture
def remote(tmp_path):
    with running_stub() as stub:
        settings = load_settings(
            None,
            store={"path": tmp_path / "store.duckdb"},
            llm={
                "provider": "openai",
                "model": "gpt-test",
                "base_url": stub.base_url,
                "api_key": "sk-test",
                "timeout_s": 5,
                "max_retries": 0,
            },
        )
        yield stub, LLM.from_settings(settings)


def test_ask_through_an_openai_compatible_endpoint(remote, pump_station):
    stub, llm = remote
    stub.reply = lambda body: json.dumps({"choice": 2})
    r = TwinAsker(pump_station, llm=llm, engine_options={"reps": 2, "horizon": "1 h"}).ask(TIE)
    assert r.status == "answered" and r.chosen_by == "generated"
    # the remote model saw the readings as numbered options, under a JSON Schema
    sent = stub.requests[-1]
    assert "1. " in sent["messages"][-1]["content"] and "2. " in sent["messages"][-1]["content"]
    assert llm.audit.count(kind="structured") >= 1
    # whatever it picks, the plan is one the twin read: the guard's check passed
    assert r.plan in r.readings


def test_a_remote_answer_outside_the_options_is_refused(remote, pump_station):
    stub, llm = remote
    stub.reply = lambda body: json.dumps({"choice": 7})  # not an option: invalid under the schema
    r = TwinAsker(pump_station, llm=llm).ask(TIE)
    assert r.status == "declined" and r.reason == "ambiguous" and r.value is None
