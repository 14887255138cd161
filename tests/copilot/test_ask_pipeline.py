"""The ask pipeline with a test double for the model: when the model is asked (only when readings
tie), what happens when it is unsure or fails, and answers built from the twin's results only."""

from __future__ import annotations

import numpy as np
import pytest

from twinforge.ai.llm import Choice
from twinforge.copilot.answer import check_narrative
from twinforge.copilot.ask import TwinAsker
from twinforge.errors import TwinforgeError


class ScriptedChooser:
    """Chooses the given indices in turn, recording what it was offered (a test double)."""

    def __init__(self, picks=(), margin=5.0, fail=False):
        self.picks = list(picks)
        self.margin = margin
        self.fail = fail
        self.calls = []

    def choose(self, prompt, options, *, system=None, examples=None):
        self.calls.append({"prompt": prompt, "options": list(options), "examples": examples})
        if self.fail:
            raise TwinforgeError("model unavailable")
        return Choice(self.picks.pop(0) if self.picks else 0, self.margin, "ranked")


def fake_embed(texts):
    rng = np.random.default_rng(abs(hash(tuple(texts))) % 2**32)
    v = rng.normal(size=(len(texts), 8))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def asker(twin, model=None, **kw):
    return TwinAsker(twin, llm=model or ScriptedChooser(), embed=fake_embed, **kw)


# the starting level or an alarm level (a capacity of 0.05 would be below today's 0.07 m3 level)
TIE = "What if the tank was at 0.05 m3?"


def test_one_meaning_needs_no_model(supply_chain):
    model = ScriptedChooser()
    r = asker(supply_chain, model).ask("What if supplier S3 goes out of business?")
    assert r.status == "answered" and r.kind == "what_if" and r.chosen_by == "reading"
    assert model.calls == []  # the twin read it alone
    o = r.outcomes[0]
    assert r.value == pytest.approx(o.scenario - o.baseline)
    assert "S3 removed (unavailable)" in r.render() and f"{o.baseline:,.0f}" in r.answer


def test_tied_readings_go_to_the_model(pump_station):
    model = ScriptedChooser(picks=[1])
    r = asker(pump_station, model).ask(TIE)
    assert len(model.calls) == 1 and len(model.calls[0]["options"]) == 3
    assert "capacity" not in {o["changes"][0]["parameter"] for o in model.calls[0]["options"]}
    assert (
        r.status == "answered"
        and r.plan["changes"][0]["parameter"] == model.calls[0]["options"][1]["changes"][0]["parameter"]
    )
    assert model.calls[0]["examples"]  # few-shot turns from the twin's own generated examples


def test_an_unsure_or_failing_model_gives_no_number(pump_station):
    r = asker(pump_station, ScriptedChooser(margin=0.01)).ask(TIE)
    assert r.status == "declined" and r.reason == "ambiguous" and r.value is None
    assert "low_level" in r.detail and "initial_level" in r.detail  # the readings are named
    r = asker(pump_station, ScriptedChooser(fail=True)).ask(TIE)
    assert r.status == "declined" and r.reason == "ambiguous" and "model unavailable" in r.detail


def test_declines_are_specific(supply_chain):
    a = asker(supply_chain)
    r = a.ask("What if supplier S9 is down for a day?")
    assert (r.status, r.reason) == ("declined", "unknown_entity") and "S9" in r.answer
    r = a.ask("What if demand at Berlin falls by 150%?")
    assert r.reason == "outside_physical_limits"
    r = a.ask("")
    assert r.reason == "unclear" and "empty" in r.detail


def test_why_is_a_counterfactual(supply_chain):
    r = asker(supply_chain).ask("Why do we ship from S2 to P2?")
    assert r.status == "answered" and r.interventions == ["no flow on S2->P2"]
    assert r.value > 0  # forbidding a lane the optimum uses cannot make the plan cheaper


def test_status_from_parameters_products_state_and_live_data(supply_chain, bottling_line, pump_station):
    r = asker(supply_chain).ask("What is the capacity of plant P1?")
    assert r.value == 600 and "600 item/day" in r.answer
    r = asker(supply_chain).ask("What is Dresden's daily demand?")
    assert r.values == {"lager": 80, "cola": 70} and r.value is None  # per product, never a made-up total
    r = asker(bottling_line, state={"filler": {"temperature": 41.5}}).ask("How hot is the filler?")
    assert r.value == 41.5 and "latest telemetry" in r.answer
    r = asker(pump_station).ask("How much water is in the tank?")
    assert r.value == pytest.approx(0.07) and "simulated start" in r.answer


def test_a_parameter_the_flow_plan_ignores_is_said(supply_chain):
    r = asker(supply_chain).ask("Lead time at Alpen Ingredients goes up to 5 days")
    assert r.status == "answered" and r.value == 0
    assert any("does not use lead time" in n for n in r.notes)


def test_narrative_number_check():
    allowed = [63020.0, 63490.0, 470.0, 0.746]
    assert check_narrative("Cost rises from 63,020 to 63,490 EUR/day, about 0.75% more.", allowed) == []
    assert check_narrative("Cost rises by 9,999 EUR.", allowed) == [9999.0]
    # near misses, small counts and numbers in words are numbers like any other
    assert check_narrative("Cost rises to about 63,000 EUR/day.", allowed) == [63000.0]
    assert check_narrative("Cost rises by 0.8%.", allowed) == [0.8]
    assert check_narrative("Two suppliers are short.", allowed) == [2.0]
    assert check_narrative("Cost rises by four hundred and seventy EUR.", allowed) == []
    assert check_narrative("Cost rises by twenty-five EUR.", allowed) == [25.0]


def test_a_phone_number_in_the_question_is_noted_and_never_a_value(supply_chain):
    r = asker(supply_chain).ask("What if supplier S3 goes out of business? Call me on +49 170 1234567.")
    assert r.status == "answered" and r.plan["changes"] == [{"op": "remove", "target": "S3"}]
    assert any(n.startswith("a phone number in the question was not read") for n in r.notes)
    assert "1234567" not in r.render()


def test_an_over_long_question_is_refused_before_the_model(bottling_line):
    model = ScriptedChooser()
    r = asker(bottling_line, model).ask("What if the filler is 10% faster? " + "x" * 25_000)
    assert r.status == "declined" and "characters long" in r.detail
    assert model.calls == []


def test_readings_that_differ_only_in_which_node_are_declined_naming_them(pump_station):
    """The same change to one of two valves: no model can know which; the asker is asked."""
    from twinforge.copilot.ask import _entities_apart

    one = {"kind": "what_if", "changes": [{"op": "outage", "target": "valve1", "duration": 1.0, "unit": "h"}]}
    two = {"kind": "what_if", "changes": [{"op": "outage", "target": "valve2", "duration": 1.0, "unit": "h"}]}
    assert _entities_apart(pump_station, [one, two]) == "valve1, valve2"
    longer = {
        "kind": "what_if",
        "changes": [{"op": "outage", "target": "valve2", "duration": 2.0, "unit": "h"}],
    }
    assert _entities_apart(pump_station, [one, longer]) == ""  # they differ in more than the node
    assert _entities_apart(pump_station, [one]) == ""
