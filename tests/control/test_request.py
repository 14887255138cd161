"""Asking the twin to hold a band ("keep the tower between 40 and 60 %"): the reading, the
controller written from a template, the guard's verdict as the answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from twinforge.control.code import static_problems
from twinforge.control.request import RequestError, actuators, band_controller
from twinforge.guard.reading import read
from twinforge.spec import load_spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def tower():
    return load_spec(EXAMPLES / "water_tower.yaml")


def only_plan(question, twin):
    r = read(question, twin)
    assert r.refusal is None, r.refusal
    (c,) = r.best
    return c.plan


def test_a_band_is_read_in_the_tank_s_unit(tower):
    assert only_plan("Keep the tower between 40 and 60% full", tower) == {
        "kind": "keep",
        "target": "tower",
        "quantity": "level",
        "min": 240.0,
        "max": 360.0,
    }
    assert only_plan("Can you hold the water tower above 200 m3?", tower) == {
        "kind": "keep",
        "target": "tower",
        "quantity": "level",
        "min": 200.0,
    }
    assert only_plan("maintain the tower below 90 %", tower)["max"] == pytest.approx(540.0)


@pytest.mark.parametrize(
    ("question", "reason", "said"),
    [
        ("keep the tank between 40 and 60 %", "ambiguous", "reservoir"),
        ("keep the tower between 40 and 60", "unclear", "unit"),
        ("keep the tower above 700 m3", "outside_physical_limits", "capacity"),
    ],
)
def test_a_band_that_cannot_be_held_as_asked_is_declined_with_the_reason(tower, question, reason, said):
    r = read(question, tower)
    if r.refusal is None:  # the band is read; the twin refuses it
        from twinforge.guard.check import twin_problems

        (c,) = r.best
        (problem,) = twin_problems(c.plan, tower)
        r.refusal = problem
    assert r.refusal.reason == reason and said in r.refusal.detail


def test_the_controller_drives_the_pumps_that_fill_or_drain_the_tank(tower):
    assert actuators(tower, "tower").fill == ("duty_pump", "standby_pump")
    assert actuators(tower, "reservoir").drain == ("duty_pump", "standby_pump")
    p = band_controller(tower, "tower", "level", 240.0, 360.0)
    assert static_problems(p.code) == []
    assert set(p.actuate) == {"duty_pump.speed", "standby_pump.speed"}
    assert p.limits[0].signal == "tower.level" and (p.limits[0].min, p.limits[0].max) == (240.0, 360.0)
    with pytest.raises(RequestError) as info:
        band_controller(tower, "duty_pump", "speed", 0.1, 0.9)
    assert info.value.reason == "not_modelled"


def test_asking_to_hold_a_band_answers_with_the_guard_s_verdict(tower):
    from twinforge.copilot.ask import TwinAsker

    asker = TwinAsker(tower)
    r = asker.ask("Keep the tower between 40 and 60% full")
    assert (r.status, r.kind) == ("answered", "keep")
    assert r.values["verdict"] == "accept" and r.values["runs"] > 0
    assert "Accepted by the guard" in r.answer and "duty_pump" in r.answer
    # a band the tower starts outside of: rejected, with when and where
    r = asker.ask("keep the tower between 300 and 310 m3")
    assert r.values["verdict"] == "reject" and r.values["violation"]["constraint"].startswith("tower.level")
    assert "Rejected by the guard" in r.answer


def test_a_timetable_is_judged_as_the_setpoint_changes_it_means(tower):
    from twinforge.control.guard import judge, schedule_setpoints
    from twinforge.control.proposal import load_proposal, parse_proposal

    schedule = load_proposal(EXAMPLES / "proposals" / "night_pumping.yaml")
    points = schedule_setpoints(tower, schedule)
    at = [(p.at / 3600, p.value) for p in points.setpoints]
    # each block at its start, the twin's own speed (0.7) back at its end, every 24 h for 48 h
    assert at[:4] == [(0, 0.75), (6, 0.7), (6, 0.62), (22, 0.7)]
    assert (24, 0.75) in at and (46, 0.75) in at and all(t < 48 for t, _ in at)
    verdict = judge(tower, schedule, reps=1)
    assert verdict.verdict == "reject" and verdict.violation["constraint"].startswith("tower.level")
    with pytest.raises(Exception, match="overlap"):
        parse_proposal(
            {
                "proposal": "schedule",
                "blocks": [
                    {"target": "duty_pump", "parameter": "speed", "value": 0.5, "start": 0, "end": 7200},
                    {"target": "duty_pump", "parameter": "speed", "value": 0.9, "start": 3600},
                ],
            }
        )
    unknown = parse_proposal(
        {"proposal": "schedule", "blocks": [{"target": "pump9", "parameter": "speed", "value": 0.5}]}
    )
    v = judge(tower, unknown)
    assert (v.verdict, v.stage) == ("reject", "twin") and "pump9" in v.reasons[0]
