"""The ask pipeline with a scripted model (repair loop, declines, answers built from results) and
the narrative number check."""

from __future__ import annotations

import numpy as np
import pytest

from twinforge.copilot.answer import check_narrative
from twinforge.copilot.ask import TwinAsker
from twinforge.copilot.library import Example


class ScriptedModel:
    """Returns the given plans in turn, recording what it was asked (a test double of the LLM)."""

    def __init__(self, plans):
        self.plans = list(plans)
        self.calls = []

    def decode_ranked(self, prompt, schema, *, numbers=(), system=None, examples=None):
        self.calls.append({"prompt": prompt, "schema": schema, "numbers": list(numbers)})
        plan = self.plans.pop(0)

        class Result:
            min_margin = 1.0

        return plan, Result()


def fake_embed(texts):
    rng = np.random.default_rng(abs(hash(tuple(texts))) % 2**32)
    v = rng.normal(size=(len(texts), 8))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


EXAMPLES = [
    Example(
        question="What if S3 is no longer available?",
        plan={"kind": "what_if", "changes": [{"op": "remove", "target": "S3"}]},
    )
]


def asker(twin, plans, **kw):
    return TwinAsker(twin, examples=EXAMPLES, llm=ScriptedModel(plans), embed=fake_embed, **kw)


def test_answered_with_numbers_from_the_twin(supply_chain):
    a = asker(supply_chain, [{"kind": "what_if", "changes": [{"op": "remove", "target": "S3"}]}])
    r = a.ask("What if supplier S3 goes out of business?")
    assert r.status == "answered" and r.kind == "what_if"
    o = r.outcomes[0]
    assert r.value == pytest.approx(o.scenario - o.baseline)
    assert "S3 removed (unavailable)" in r.render() and f"{o.baseline:,.0f}" in r.answer
    # the schema handed to the model only names what the question names
    schema_text = str(a.llm.calls[0]["schema"])
    assert "'S3'" in schema_text and "'S1'" not in schema_text


def test_repair_loop_feeds_the_problem_back(supply_chain):
    wrong = {"kind": "what_if", "changes": [{"op": "demand", "direction": "decrease", "percent": 10}]}
    right = {"kind": "what_if", "changes": [{"op": "demand", "direction": "increase", "percent": 10}]}
    a = asker(supply_chain, [wrong, right])
    r = a.ask("What if demand rises by 10%?")
    assert r.status == "answered" and len(r.attempts) == 2
    assert "asks for an increase" in r.attempts[0].problems[0]
    feedback = a.llm.calls[1]["prompt"]
    assert "That plan is wrong" in feedback[-1].content


def test_unmapped_after_bounded_repairs_gives_no_number(bottling_line):
    bad = {"kind": "what_if", "changes": [{"op": "outage", "target": "filler", "duration": 9, "unit": "h"}]}
    a = asker(bottling_line, [bad, bad, bad], max_repairs=2)
    r = a.ask("What if the filler is down for 4 hours?")
    assert r.status == "unmapped" and r.value is None and len(r.attempts) == 3
    assert "could not map" in r.answer and "attempt 1" in r.answer


def test_declines(supply_chain):
    a = asker(supply_chain, [{"kind": "decline", "reason": "not_modelled"}])
    r = a.ask("How many employees work at plant P1?")
    assert r.status == "declined" and r.value is None
    # an id the twin does not have is declined before any model call
    a = asker(supply_chain, [])
    r = a.ask("What if supplier S9 is down for a day?")
    assert r.status == "declined" and "S9" in r.answer and a.llm.calls == []


def test_why_is_a_counterfactual(supply_chain):
    a = asker(supply_chain, [{"kind": "why", "source": "S2", "target": "P2"}])
    r = a.ask("Why do we ship from S2 to P2?")
    assert r.status == "answered" and r.interventions == ["no flow on S2->P2"]
    assert r.value > 0  # forbidding a lane the optimum uses cannot make the plan cheaper


def test_status_from_parameters_and_live_state(supply_chain, bottling_line):
    a = asker(supply_chain, [{"kind": "status", "target": "P1", "quantity": "capacity"}])
    r = a.ask("What is the capacity of plant P1?")
    assert r.value == 600 and "600 item/day" in r.answer
    a = asker(
        bottling_line,
        [{"kind": "status", "target": "filler", "quantity": "temperature"}],
        state={"filler": {"temperature": 41.5}},
    )
    r = a.ask("How hot is the filler?")
    assert r.value == 41.5 and "latest telemetry" in r.answer


def test_narrative_number_check():
    allowed = [63020.0, 63490.0, 470.0, 0.746]
    assert check_narrative("Cost rises from 63,020 to 63,490 EUR/day, about 0.75% more.", allowed) == []
    assert check_narrative("Cost rises by 9,999 EUR.", allowed) == [9999.0]
