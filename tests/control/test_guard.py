"""The guard on control proposals: static checks, the proposal against the twin, the sandbox, and
closed-loop verdicts with evidence on the water tower (real simulation, real child process)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from twinforge.cli.main import app
from twinforge.control import judge, parse_proposal
from twinforge.control.code import load_controller, static_problems
from twinforge.control.proposal import proposal_problems
from twinforge.errors import SpecError
from twinforge.spec import load_spec

HOLD = """
def control(obs, memory):
    level = obs["tower.level"]
    if level is None:
        return {}
    speed = min(1.0, max(0.0, 0.67 + 0.004 * (350 - level)))
    if obs["duty_pump.status"] == 0:
        return {"duty_pump.speed": 0.0, "standby_pump.speed": speed}
    return {"duty_pump.speed": speed, "standby_pump.speed": 0.0}
"""


@pytest.fixture(scope="module")
def tower():
    return load_spec(Path(__file__).resolve().parents[2] / "examples" / "water_tower.yaml")


def controller(code, **extra):
    data = {
        "proposal": "controller",
        "name": "test",
        "observe": ["tower.level", "duty_pump.status"],
        "actuate": {"duty_pump.speed": {}, "standby_pump.speed": {}},
        "period": "60 s",
        "code": textwrap.dedent(code),
    }
    return parse_proposal({**data, **extra})


@pytest.mark.parametrize(
    "code, said",
    [
        ("import os\ndef control(obs, memory):\n    return {}", "only 'math' may be imported"),
        ("def control(obs, memory):\n    return ().__class__.__bases__", "attributes starting with '_'"),
        ("def control(obs, memory):\n    return getattr(obs, 'x')", "'getattr' is not allowed"),
        ("def control(obs, memory):\n    return open('/etc/passwd').read()", "'open' is not allowed"),
        ("def control(obs, memory):\n    return __import__('os')", "names starting with '_'"),
        (
            "def control(obs, memory):\n    try:\n        return {}\n    except:\n        return {}",
            "except may only name",
        ),
        (
            "def control(obs, memory):\n    try:\n        return {}\n    except BaseException:\n        return {}",
            "except may only name",
        ),
        ("def control(obs, memory):\n    return '{0.x}'.format(obs)", "attribute 'format'"),
        ("def control(obs, memory):\n    return lambda: 1", "Lambda is not allowed"),
        ("def ctrl(obs, memory):\n    return {}", "defines no function control"),
        ("def control(obs):\n    return {}", "exactly two arguments"),
        ("def control(obs, memory)\n    return {}", "does not parse"),
        ("print('hi')\ndef control(obs, memory):\n    return {}", "at the top level"),
    ],
)
def test_static_checks_name_what_is_not_allowed(code, said):
    problems = static_problems(code)
    assert any(said in p for p in problems), problems


def test_a_checked_controller_has_only_the_allowed_builtins():
    fn = load_controller("import math\ndef control(obs, memory):\n    return {'x': math.sqrt(obs['a'])}")
    assert fn({"a": 4.0}, {}) == {"x": 2.0}
    assert static_problems(HOLD) == []
    with pytest.raises(ValueError, match="only 'math'"):
        load_controller("import sys\ndef control(obs, memory):\n    return {}")


def test_the_proposal_is_checked_against_the_twin(tower):
    p = controller(
        HOLD,
        observe=["tower.levle", "nowhere.level"],
        actuate={"tower.capacity": {}, "duty_pump.speed": {"min": 0, "max": 1.5}},
        limits=[{"switching": "standby_pump.speed", "max_per_hour": 2}],
    )
    problems = "\n".join(proposal_problems(tower, p))
    assert "'capacity' is not a setpoint of a tank" in problems
    assert "bounds [0, 1.5] are not within the catalogue's [0, 1.2]" in problems
    assert "a tank has no state 'levle'" in problems
    assert "the twin has no node 'nowhere'" in problems
    assert "not a setpoint the proposal changes" in problems
    s = parse_proposal(
        {
            "proposal": "setpoints",
            "setpoints": [{"at": "30 h", "target": "duty_pump", "parameter": "speed", "value": 0.5}],
        }
    )
    assert any("beyond the horizon" in x for x in proposal_problems(tower, s))


@pytest.mark.parametrize(
    "data, said",
    [
        ({"proposal": "controller", "actuate": {}}, "code"),
        ({"proposal": "setpoints", "setpoints": []}, "at least 1"),
        (
            {
                "proposal": "setpoints",
                "setpoints": [{"target": "p", "parameter": "speed", "value": 1}],
                "horizon": "-1 h",
            },
            "horizon",
        ),
        (
            {
                "proposal": "setpoints",
                "setpoints": [{"target": "p", "parameter": "speed", "value": 1}],
                "limits": [{"signal": "t.level"}],
            },
            "needs min or max",
        ),
        ({"proposal": "nonsense"}, "proposal: setpoints, controller or schedule"),
        ([1, 2], "a mapping"),
    ],
)
def test_malformed_proposals_say_what_is_wrong(data, said):
    with pytest.raises(SpecError) as err:
        parse_proposal(data)
    assert said in str(err.value) + " ".join(i.message for i in err.value.issues)


def test_a_level_controller_that_covers_every_scenario_is_accepted(tower):
    v = judge(tower, controller(HOLD, limits=[{"signal": "tower.level", "min": 150, "max": 520}]), reps=1)
    assert v.accepted, v.reasons
    by = {s["scenario"]: s for s in v.scenarios}
    assert set(by) == {"nominal", "demand_surge", "pump_failure", "sensor_noise", "sensor_dropout"}
    assert by["demand_surge"]["current_violations"] == 1  # the current control drains the tower
    assert {k["kpi"] for k in v.kpis} >= {"energy", "tower.mean_level"}
    assert "tower.level" in v.trace["signals"]


def test_a_controller_without_the_standby_is_rejected_under_pump_failure(tower):
    code = HOLD.replace('return {"duty_pump.speed": 0.0, "standby_pump.speed": speed}', "pass")
    v = judge(tower, controller(code), reps=1)
    assert not v.accepted and v.stage == "constraints"
    assert v.violation["scenario"] == "pump_failure"
    assert v.violation["time_h"] > 8  # the duty pump fails a third of the way into the day
    assert "tower.level" in v.violation["constraint"]
    assert v.trace and len(v.trace["t_h"]) == len(v.trace["signals"]["tower.level"])


def test_a_controller_that_breaks_on_a_sensor_dropout_is_rejected(tower):
    code = HOLD.replace("    if level is None:\n        return {}\n", "")
    v = judge(tower, controller(code), reps=1)
    assert not v.accepted and v.stage == "run"
    assert "TypeError" in v.reasons[0] and "sensor_dropout" in v.reasons[0]


@pytest.mark.parametrize(
    "body, said",
    [
        ("    while True:\n        pass", "did not return within"),
        ("    x = [0] * 10**10\n    return {}", "memory limit"),
        ("    return [1]", "not a dict"),
        ("    return {'duty_pump.speed': float('nan')}", "not finite"),
        ("    return {'duty_pump.speed': 1.5}", "outside its bounds"),
        ("    return {'tower.outflow_rate': 1.0}", "does not actuate"),
    ],
)
def test_broken_and_malicious_controllers_are_rejected_with_the_reason(body, said, tower):
    v = judge(tower, controller("def control(obs, memory):\n" + body), reps=1)
    assert not v.accepted and any(said in r for r in v.reasons), v.reasons


def test_setpoints_that_overflow_the_tower_are_rejected_with_the_time(tower):
    p = parse_proposal(
        {
            "proposal": "setpoints",
            "name": "full-speed",
            "setpoints": [{"at": "2 h", "target": "duty_pump", "parameter": "speed", "value": 1.0}],
        }
    )
    v = judge(tower, p, reps=1)
    assert not v.accepted and v.violation["scenario"] == "nominal"
    # 150 m^3/h in, 100 out from 2 h: the high alarm (540) is reached at 2 + (540 - 350 - 2 * 5) / 50 h
    assert v.violation["time_h"] == pytest.approx(2 + 180 / 50, abs=0.05)


def test_switching_limits_count_the_changes(tower):
    chatter = "def control(obs, memory):\n    memory['n'] = memory.get('n', 0) + 1\n    return {'duty_pump.speed': 0.6 + 0.1 * (memory['n'] % 2)}"
    v = judge(
        tower, controller(chatter, limits=[{"switching": "duty_pump.speed", "max_per_hour": 6}]), reps=1
    )
    assert not v.accepted and "changes at most 6 times an hour" in v.reasons[0]


def test_the_sandbox_process_cannot_write_files_or_open_sockets(tmp_path):
    """Below the static checks: after lock-down the child can neither create files nor sockets."""
    target = tmp_path / "written"
    script = textwrap.dedent(
        f"""
        import socket, sys
        from twinforge.control.sandbox import _lock_down
        _lock_down()
        results = []
        try:
            open({str(target)!r}, "w").write("x")
            results.append("file written")
        except OSError as exc:
            results.append("file refused")
        try:
            socket.socket()
            results.append("socket opened")
        except OSError:
            results.append("socket refused")
        sys.stdout.write(",".join(results))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stdout == "file refused,socket refused", done.stderr
    assert not target.exists() or target.stat().st_size == 0


def test_the_cli_exit_codes_and_json(tmp_path, examples):
    ok = tmp_path / "hold.yaml"
    ok.write_text(
        json.dumps(
            {
                "proposal": "controller",
                "name": "hold",
                "observe": ["tower.level", "duty_pump.status"],
                "actuate": {"duty_pump.speed": {}, "standby_pump.speed": {}},
                "code": HOLD,
            }
        )
    )
    runner = CliRunner()
    r = runner.invoke(
        app, ["guard", str(ok), "--twin", str(examples / "water_tower.yaml"), "--reps", "1", "--json"]
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["verdict"] == "accept"
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "proposal: controller\nactuate: {duty_pump.speed: {}}\ncode: |\n  import os\n  def control(obs, memory):\n      return {}\n"
    )
    r = runner.invoke(app, ["guard", str(bad), "--twin", str(examples / "water_tower.yaml")])
    assert r.exit_code == 1 and "REJECT" in r.output and "only 'math'" in r.output
    r = runner.invoke(
        app, ["guard", str(tmp_path / "missing.yaml"), "--twin", str(examples / "water_tower.yaml")]
    )
    assert r.exit_code == 2
