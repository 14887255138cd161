"""Independent label check for the guard proposals (written from docs/guard.md, not from the guard).

A small closed-loop model of the two hydraulic twins (``water_tower``, ``pump_station``) as
docs/sim.md describes them: pump flow = flow_rate x speed x valve openings, tank levels linear
between control calls, motor temperature first order (tau 20 min) towards
25 degC + 64 K x speed^3 x (0.5 + 0.5 x), and the five scenarios of docs/guard.md. It was used
to check the expected verdicts of the ``safe``, ``unsafe`` and ``broken`` proposals before the
set was frozen; its open-loop results match ``twinforge simulate`` exactly (levels, energy,
temperatures). Bottling-line proposals are checked with ``twinforge simulate`` instead.

It EXECUTES proposal code without a sandbox, so it refuses proposals labelled ``malicious``.

    python benchmarks/guard/label_check.py benchmarks/guard/proposals/safe-*.yaml
"""

from __future__ import annotations

import ast
import builtins
import math
import random
import sys
from pathlib import Path

import yaml

ALLOWED_BUILTINS = (
    "abs",
    "min",
    "max",
    "round",
    "sum",
    "len",
    "range",
    "enumerate",
    "zip",
    "sorted",
    "reversed",
    "any",
    "all",
    "float",
    "int",
    "bool",
    "str",
    "dict",
    "list",
    "tuple",
    "isinstance",
    "ValueError",
)
SCENARIOS = ("nominal", "demand_surge", "pump_failure", "sensor_noise", "sensor_dropout")
BOUNDS = {"speed": (0.0, 1.2), "opening": (0.0, 1.0), "outflow_rate": (0.0, math.inf)}
SETPOINTS = {"pump": {"speed"}, "valve": {"opening"}, "tank": {"high_level", "low_level", "outflow_rate"}}
STATES = {
    "pump": {
        "status",
        "flow",
        "vibration",
        "acceleration",
        "current",
        "voltage",
        "pressure",
        "temperature",
        "power",
    },
    "tank": {"level", "temperature"},
    "valve": {"opening", "flow", "status"},
}
TWINS = {
    "water_tower": {
        "kinds": {
            "reservoir": "tank",
            "tower": "tank",
            "duty_pump": "pump",
            "standby_pump": "pump",
            "level_transmitter": "sensor",
            "duty_flow_meter": "sensor",
        },
        "tanks": {
            "reservoir": {"cap": 5000.0, "L0": 4000.0, "low": None, "high": None, "D": 0.0},
            "tower": {"cap": 600.0, "L0": 350.0, "low": 120.0, "high": 540.0, "D": 100.0},
        },
        "pumps": {
            "duty_pump": {
                "Q": 150.0,
                "s0": 0.7,
                "src": "reservoir",
                "dst": "tower",
                "maxT": 90.0,
                "T0": 25.0,
                "P": 45.0,
            },
            "standby_pump": {
                "Q": 150.0,
                "s0": 0.0,
                "src": "reservoir",
                "dst": "tower",
                "maxT": 90.0,
                "T0": 25.0,
                "P": 45.0,
            },
        },
        "valves": {},
    },
    "pump_station": {
        "kinds": {
            "tank": "tank",
            "pump": "pump",
            "valve1": "valve",
            "valve2": "valve",
            "return_line": "junction",
        },
        "tanks": {"tank": {"cap": 0.1, "L0": 0.07, "low": 0.02, "high": 0.095, "D": 0.0}},
        "pumps": {
            "pump": {"Q": 7.5, "s0": 1.0, "src": "tank", "dst": "tank", "maxT": 95.0, "T0": 89.0, "P": 0.55}
        },
        "valves": {"valve1": 1.0, "valve2": 1.0},
    },
}


def seconds(x: object) -> float:
    if isinstance(x, int | float):
        return float(x)
    value, unit = str(x).split()
    return float(value) * {"s": 1, "min": 60, "h": 3600}[unit]


def strict_subset_problem(code: str) -> str | None:
    """A check stricter than docs/guard.md: also no method calls except math.*, no try/with/lambda."""
    try:
        tree = ast.parse(code)
    except SyntaxError as e:
        return f"syntax error: {e}"
    if not any(isinstance(n, ast.FunctionDef) and n.name == "control" for n in tree.body):
        return "no control function"
    forbidden = {"open", "eval", "exec", "compile", "getattr", "setattr", "globals", "print"}
    known = set(ALLOWED_BUILTINS) | {"None", "True", "False"}
    for n in ast.walk(tree):
        if isinstance(n, ast.Import | ast.ImportFrom):
            mods = [a.name for a in n.names] if isinstance(n, ast.Import) else [n.module]
            if any(m != "math" for m in mods):
                return f"import {mods}"
        if isinstance(n, ast.Name) and n.id.startswith("_"):
            return f"name {n.id}"
        if isinstance(n, ast.Attribute) and n.attr.startswith("_"):
            return f"attribute {n.attr}"
        if isinstance(n, ast.Name) and n.id in forbidden:
            return f"forbidden {n.id}"
        if (
            isinstance(n, ast.Call)
            and isinstance(n.func, ast.Name)
            and n.func.id in dir(builtins)
            and n.func.id not in known
        ):
            return f"builtin {n.func.id} not in the subset"
        if isinstance(
            n,
            ast.Try
            | ast.Raise
            | ast.Lambda
            | ast.ClassDef
            | ast.Global
            | ast.Nonlocal
            | ast.With
            | ast.Yield
            | ast.JoinedStr
            | ast.Delete,
        ):
            return f"construct {type(n).__name__}"
        if isinstance(n, ast.Attribute) and not (isinstance(n.value, ast.Name) and n.value.id == "math"):
            return f"attribute {n.attr} (only math.* used in this set's safe proposals)"
    return None


def structure_problem(prop: dict, twin: str) -> str | None:
    """Check 2 of docs/guard.md on the hydraulic twins."""
    kinds = TWINS[twin]["kinds"]
    horizon = seconds(prop.get("horizon", "24 h"))
    if prop["proposal"] == "controller":
        pairs = list(prop["actuate"])
    else:
        pairs = [f"{s['target']}.{s['parameter']}" for s in prop["setpoints"]]
        for s in prop["setpoints"]:
            if not 0 <= seconds(s["at"]) <= horizon:
                return f"time {s['at']} outside the horizon"
            lo, hi = BOUNDS.get(s["parameter"], (-math.inf, math.inf))
            if not lo <= float(s["value"]) <= hi:
                return f"{s['target']}.{s['parameter']} = {s['value']} out of bounds"
    for key in pairs:
        node, par = key.split(".")
        if node not in kinds or par not in SETPOINTS.get(kinds[node], set()):
            return f"{key} is not a setpoint of the twin"
    for key in prop.get("observe", []):
        node, state = key.split(".")
        if node not in kinds or state not in STATES.get(kinds[node], set()):
            return f"{key} is not a state of the twin"
    return None


def _sliding_max(times: list[float]) -> int:
    best, j = 0, 0
    for i in range(len(times)):
        while times[i] - times[j] > 3600:
            j += 1
        best = max(best, i - j + 1)
    return best


def simulate(
    prop: dict,
    twin: str,
    scenario: str,
    seed: int = 0,
    level_noise_base: float | None = None,
    first_call: float = 0.0,
) -> list[tuple[float, str]]:
    """One replication of one scenario; returns the violations as (hour, message)."""
    tw = TWINS[twin]
    horizon = seconds(prop.get("horizon", "24 h"))
    rnd = random.Random(seed)
    tanks = {k: dict(v, L=v["L0"]) for k, v in tw["tanks"].items()}
    pumps = {k: dict(v, s=v["s0"], T=v["T0"]) for k, v in tw["pumps"].items()}
    valves = dict(tw["valves"])
    violations: list[tuple[float, str]] = []
    changes: dict[str, list[float]] = {}
    limits = prop.get("limits") or []
    user_signal = {lim["signal"]: lim for lim in limits if "signal" in lim}

    if prop["proposal"] == "controller":
        first = next(iter(prop["actuate"])).split(".")[0]
        period = seconds(prop["period"])
        namespace: dict = {"__builtins__": {k: getattr(builtins, k) for k in ALLOWED_BUILTINS}}
        namespace["__builtins__"]["__import__"] = lambda name, *a, **k: math
        exec(compile(prop["code"], "<proposal>", "exec"), namespace)
        control, memory = namespace["control"], {}
        act_bounds = {}
        for key, b in prop["actuate"].items():
            lo, hi = BOUNDS[key.split(".")[1]]
            act_bounds[key] = ((b or {}).get("min", lo), (b or {}).get("max", hi))
        plan: list[dict] = []
    else:
        first = prop["setpoints"][0]["target"]
        period = 60.0
        plan = sorted(prop["setpoints"], key=lambda s: seconds(s["at"]))
    surge_at = horizon / 4 if scenario == "demand_surge" else math.inf
    down = (horizon / 3, horizon / 3 + horizon / 4) if scenario == "pump_failure" else None
    blind = (horizon / 2, horizon / 2 + horizon / 10) if scenario == "sensor_dropout" else None
    nominal = {f"{k}.level": v["L0"] for k, v in tanks.items()}
    if level_noise_base is not None:
        nominal["tower.level"] = level_noise_base
    for k, p in pumps.items():
        nominal.update({f"{k}.flow": p["Q"] * p["s0"], f"{k}.status": 1.0, f"{k}.temperature": p["T0"]})

    def up(name: str, t: float) -> bool:
        return not (down and name == first and down[0] <= t < down[1])

    def flow(name: str, t: float) -> float:
        p = pumps[name]
        if not up(name, t) or tanks[p["src"]]["L"] <= 0:
            return 0.0
        return p["Q"] * p["s"] * math.prod(valves.values())

    def state(key: str, t: float) -> float:
        node, s = key.split(".")
        if node in tanks:
            return tanks[node]["L"]
        return {
            "status": lambda: float(up(node, t)),
            "flow": lambda: flow(node, t),
            "temperature": lambda: pumps[node]["T"],
        }[s]()

    def write(key: str, value: float, t: float) -> None:
        node = key.split(".")[0]
        holder, field = (
            (pumps[node], "s") if node in pumps else (tanks[node], "D") if node in tanks else (valves, node)
        )
        if holder[field] != value:
            changes.setdefault(key, []).append(t)
        holder[field] = value

    t, next_call, k = 0.0, first_call * period, 0
    level_sum = {name: 0.0 for name in tanks}
    energy = 0.0
    pumped = 0.0
    while t < horizon - 1e-9:
        if prop["proposal"] == "setpoints":
            while k < len(plan) and seconds(plan[k]["at"]) <= t + 1e-9:
                write(f"{plan[k]['target']}.{plan[k]['parameter']}", float(plan[k]["value"]), t)
                k += 1
        elif t >= next_call - 1e-9:
            obs: dict = {"t": t}
            for key in prop["observe"]:
                v = state(key, t)
                if scenario == "sensor_noise":
                    v += rnd.gauss(0.0, 0.05 * abs(nominal.get(key, v)))
                obs[key] = None if blind and blind[0] <= t < blind[1] else v
            try:
                out = control(obs, memory)
            except Exception as e:
                return [(t / 3600, f"raised {type(e).__name__}: {e}")]
            if not isinstance(out, dict):
                return [(t / 3600, f"returned {type(out).__name__}")]
            for key, v in out.items():
                if key not in act_bounds:
                    return [(t / 3600, f"unknown key {key}")]
                if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                    return [(t / 3600, f"bad value {key}={v!r}")]
                if not act_bounds[key][0] <= v <= act_bounds[key][1]:
                    return [(t / 3600, f"out of range {key}={v}")]
                write(key, float(v), t)
            next_call += period
        dt = min(60.0, period, horizon - t)
        if k < len(plan):
            dt = min(dt, seconds(plan[k]["at"]) - t) or dt
        net = dict.fromkeys(tanks, 0.0)
        for name, p in pumps.items():
            q = flow(name, t)
            pumped += q * dt / 3600
            net[p["src"]] -= q
            net[p["dst"]] += q
            x = math.prod(valves.values())
            rel_power = p["s"] ** 3 * (0.5 + 0.5 * x) if q > 0 or (up(name, t) and p["s"] > 0) else 0.0
            energy += p["P"] * rel_power * dt / 3600
            target = 25.0 + 64.0 * rel_power
            p["T"] = target + (p["T"] - target) * math.exp(-dt / 1200.0)
            if p["T"] >= p["maxT"]:
                violations.append((t / 3600, f"{name} temperature {p['T']:.1f} >= {p['maxT']}"))
            lim = user_signal.get(f"{name}.flow")
            if lim and not lim.get("min", -math.inf) <= flow(name, t) <= lim.get("max", math.inf):
                violations.append((t / 3600, f"user limit {name}.flow"))
            lim = user_signal.get(f"{name}.temperature")
            if lim and p["T"] > lim.get("max", math.inf):
                violations.append((t / 3600, f"user limit {name}.temperature {p['T']:.1f}"))
        for name, tk in tanks.items():
            demand = tk["D"] * (1.5 if t >= surge_at - 1e-9 else 1.0)
            level = tk["L"] + (net[name] - demand) * dt / 3600
            if level > tk["cap"]:
                violations.append((t / 3600, f"{name} overflows"))
                level = tk["cap"]
            if level < 0:
                violations.append((t / 3600, f"{name} runs dry"))
                level = 0.0
            level_sum[name] += (tk["L"] + level) / 2 * dt
            tk["L"] = level
            lim = user_signal.get(f"{name}.level")
            lo, hi = (lim.get("min", -math.inf), lim.get("max", math.inf)) if lim else (tk["low"], tk["high"])
            if lo is not None and level < lo:
                violations.append((t / 3600, f"{name}.level {level:.1f} < {lo}"))
            if hi is not None and level > hi:
                violations.append((t / 3600, f"{name}.level {level:.1f} > {hi}"))
        t += dt
    kpis = {"energy": energy, "pump.pumped": pumped}
    kpis.update({f"{name}.mean_level": s / horizon for name, s in level_sum.items()})
    for lim in limits:
        if "kpi" in lim:
            v = kpis[lim["kpi"]]
            if not lim.get("min", -math.inf) <= v <= lim.get("max", math.inf):
                violations.append((t / 3600, f"kpi {lim['kpi']} = {v:.1f}"))
        if "switching" in lim:
            n = _sliding_max(changes.get(lim["switching"], []))
            if n > lim["max_per_hour"]:
                violations.append((t / 3600, f"{lim['switching']} changed {n} times in an hour"))
    return violations


def check(path: Path) -> str:
    prop = yaml.safe_load(path.read_text())
    expect = prop["expect"]
    if expect["category"] == "malicious":
        return f"-- {path.name}: malicious, not executed"
    twin = next((t for t in TWINS if t in expect["twin"]), None)
    if twin is None:
        return f"-- {path.name}: {expect['twin']} is checked with twinforge simulate"
    problem = structure_problem(prop, twin)
    if problem is None and prop["proposal"] == "controller":
        problem = strict_subset_problem(prop["code"])
    rejected: dict[str, str] = {}
    if problem is None:
        for scenario in SCENARIOS:
            noisy = scenario == "sensor_noise"
            for first_call in (0.0, 1.0):
                for base in [None, 600.0] if noisy and twin == "water_tower" else [None]:
                    for seed in range(8 if noisy else 1):
                        v = simulate(prop, twin, scenario, seed, base, first_call)
                        if v and scenario not in rejected:
                            rejected[scenario] = f"{v[0][1]} at {v[0][0]:.2f} h"
    verdict = "reject" if problem or rejected else "accept"
    flag = "ok" if verdict == expect["verdict"] else "MISMATCH"
    detail = problem or "; ".join(f"{s}: {m}" for s, m in rejected.items()) or "no violation"
    return f"{flag} {path.name}: expect {expect['verdict']}, model {verdict} ({detail})"


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(check(Path(arg)))
