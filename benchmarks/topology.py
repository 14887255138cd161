"""Topology learning benchmark: recover a twin's graph from sensor series simulated at known topology.

Data (all simulated here, nothing downloaded):

- **bottling line** (``examples/bottling_line.yaml``): the twin's own sensors are replaced by one
  sensor per item-flow node that a plant would have (source counter, buffer levels, conveyor
  occupancy, sink counter), 5 s period, 8 h simulated by ``twinforge.sim`` (via
  ``data.emulator.SimulatedTelemetry``). Stations carry no sensor, so the true graph is the material
  graph with the stations contracted: ``pallets_in -> buf_infeed -> buf_depal -> ... -> warehouse_dock``.
- **pump station** (``examples/pump_station.yaml``): its eight SKAB sensors plus flow meters on both
  valves and a level sensor on the tank; the plant is operated by random setpoint steps (valve
  openings, pump speed every 5-20 min) over 8 h at 1 s, since a plant left alone gives only
  noise. True graph: the physical edges with the unsensed ``return_line`` contracted
  (``tank -> valve1 -> pump -> valve2 -> tank``).
- **EPANET Net1** (``wntr``): pressures at the 9 junctions, 7 days at 15 min (EpanetSimulator); true
  graph: pipes between junctions, directed by the sign of the mean simulated flow. No twin.

Conditions: measurement noise (std as a share of each signal's own step std: 0, 0.5) x missing
data (0, or 10 % of cells dropped at random plus one 5 % gap per signal) x seeds.

Held out: the calibration (Platt weights of :mod:`twinforge.topology.score`) and the baseline's
threshold are fitted on **seed 0, no noise, no missing data of the bottling line** and reported on
**seeds 1-2** under every condition. The pump station is not used for fitting: its graph is not
identifiable from this simulator's data (valve and pump flows are equal at every instant, the tank
level and temperature never change), so its labels would only teach the calibration noise (seen
on seed 0 while developing). EPANET is never used for fitting.

Baseline (same run): plain lag-0 correlation of the differenced series, ``|r| >= threshold``, no
direction (each correlated pair is proposed in both directions, scored by ``|r|``).

Metrics: directed precision, recall and F1 of the edges at confidence >= 0.5 (an edge counts only
with the right direction) and ROC AUC of the confidences over every ordered node pair.

Run: ``.venv/bin/python benchmarks/topology.py`` (add ``--quick`` for one seed, ``--record`` to write
its section of docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._record import add_record_flag, markdown_table, record
from twinforge.data.emulator import SimulatedTelemetry
from twinforge.scenario.models import Scenario, Setpoint
from twinforge.spec import Node, Signal, TwinSpec, load_spec
from twinforge.topology import (
    Calibration,
    fit_calibration,
    infer_topology,
    signals_from_frame,
    with_item_sensors,
)
from twinforge.topology.score import prepare

ROOT = Path(__file__).resolve().parents[1]
TRAIN_SEED = 0
TEST_SEEDS = (1, 2)
NOISE_LEVELS = (0.0, 0.5)
MISSING_LEVELS = (0.0, 0.1)


# -- datasets ----------------------------------------------------------------------------------
def _contract(edges: list[tuple[str, str]], keep: set[str]) -> set[tuple[str, str]]:
    """Edges between kept nodes through paths of unkept nodes."""
    out_adj: dict[str, list[str]] = {}
    for s, t in edges:
        out_adj.setdefault(s, []).append(t)
    truth = set()
    for s in keep:
        stack, seen = list(out_adj.get(s, [])), set()
        while stack:
            x = stack.pop()
            if x in seen:
                continue
            seen.add(x)
            if x in keep:
                if x != s:
                    truth.add((s, x))
            else:
                stack.extend(out_adj.get(x, []))
    return truth


def _telemetry_frame(
    spec: TwinSpec, hours: float, seed: int, scenario: Scenario | None = None
) -> pd.DataFrame:
    rows = list(SimulatedTelemetry(spec, hours * 3600, start=0.0, seed=seed, scenario=scenario))
    df = pd.DataFrame(rows)
    df["column"] = df["node"] + "." + df["signal"]
    wide = df.pivot_table(index="timestamp", columns="column", values="value", aggfunc="first")
    wide = wide.dropna(how="any").reset_index().rename(columns={"timestamp": "time"})
    wide.columns.name = None
    return wide


def line_dataset(seed: int) -> tuple[TwinSpec, pd.DataFrame, set[tuple[str, str]]]:
    spec = load_spec(ROOT / "examples" / "bottling_line.yaml")
    material = [(e.source, e.target) for e in spec.edges if e.kind == "material"]
    spec, keep = with_item_sensors(spec, period_s=5)
    frame = _telemetry_frame(spec, 8, seed)
    mapping_twin = spec.model_copy(update={"edges": []}, deep=True)
    return mapping_twin, frame, _contract(material, keep)


def pump_dataset(seed: int) -> tuple[TwinSpec, pd.DataFrame, set[tuple[str, str]]]:
    spec = load_spec(ROOT / "examples" / "pump_station.yaml")
    physical = [(e.source, e.target) for e in spec.edges if e.kind == "physical"]
    extra = [("valve1", "flow", "m^3/h"), ("valve2", "flow", "m^3/h"), ("tank", "level", "m^3")]
    for node, st, unit in extra:
        spec.nodes.append(
            Node(
                id=f"{node}_{st}_meter",
                kind="sensor",
                observes=f"{node}.{st}",
                signals=[Signal(name=f"{node} {st}", unit=unit, period=1, noise_std=0.0)],
            )
        )
    rng = np.random.default_rng(1000 + seed)
    steps, t = [], 0.0
    horizon = 8 * 3600.0
    while True:
        t += float(rng.uniform(300, 1200))
        if t >= horizon:
            break
        target, param, lo, hi = [
            ("valve1", "opening", 0.4, 1.0),
            ("valve2", "opening", 0.4, 1.0),
            ("pump", "speed", 0.7, 1.1),
        ][int(rng.integers(3))]
        steps.append(
            Setpoint(target=target, parameter=param, value=round(float(rng.uniform(lo, hi)), 3), at=t)
        )
    scenario = Scenario(name="operation", interventions=steps)
    frame = _telemetry_frame(spec, 8, seed, scenario)
    keep = {"tank", "valve1", "pump", "valve2"}
    mapping_twin = spec.model_copy(update={"edges": []}, deep=True)
    return mapping_twin, frame, _contract(physical, keep)


def epanet_dataset(seed: int, name: str = "Net1") -> tuple[None, pd.DataFrame, set[tuple[str, str]]]:
    import wntr

    inp = Path(wntr.__file__).parent / "library" / "networks" / f"{name}.inp"
    wn = wntr.network.WaterNetworkModel(str(inp))
    wn.options.time.duration = 7 * 24 * 3600
    wn.options.time.hydraulic_timestep = 900
    wn.options.time.report_timestep = 900
    rng = np.random.default_rng(2000 + seed)
    for jname in wn.junction_name_list:  # demand that differs per junction and per seed
        j = wn.get_node(jname)
        if j.demand_timeseries_list and j.demand_timeseries_list[0].base_value > 0:
            j.demand_timeseries_list[0].base_value *= float(rng.uniform(0.7, 1.3))
    prefix = Path("/tmp") / f"twinforge-topology-{name}-{seed}"
    res = wntr.sim.EpanetSimulator(wn).run_sim(file_prefix=str(prefix))
    pressure = res.node["pressure"][wn.junction_name_list]
    flow = res.link["flowrate"]
    truth = set()
    junctions = set(wn.junction_name_list)
    for lname, link in wn.links():
        if link.start_node_name in junctions and link.end_node_name in junctions:
            mean = float(flow[lname].mean())
            s, t = (link.start_node_name, link.end_node_name)
            truth.add((s, t) if mean >= 0 else (t, s))
    frame = pressure.reset_index().rename(columns={"index": "time"})
    frame.columns = ["time", *[f"J{c} [m]" for c in pressure.columns]]
    truth = {(f"J{s}", f"J{t}") for s, t in truth}
    return None, frame, truth


def degrade(frame: pd.DataFrame, noise: float, missing: float, seed: int) -> pd.DataFrame:
    """Measurement noise (share of each signal's step std) and missing cells/gaps."""
    rng = np.random.default_rng(3000 + seed)
    out = frame.copy()
    cols = [c for c in out.columns if c != "time"]
    for c in cols:
        x = out[c].to_numpy(dtype=float, copy=True)
        if noise > 0:
            step = float(np.nanstd(np.diff(x))) or float(np.nanstd(x)) or 1.0
            x = x + rng.normal(0.0, noise * step, len(x))
        if missing > 0:
            x[rng.random(len(x)) < missing] = np.nan
            g = int(0.05 * len(x))
            s = int(rng.integers(0, len(x) - g))
            x[s : s + g] = np.nan
        out[c] = x
    return out


# -- scoring -----------------------------------------------------------------------------------
def scores_method(twin, frame, calibration: Calibration | None):
    data = signals_from_frame(frame, twin, source="bench")
    proposal = infer_topology(data, twin=twin, calibration=calibration)
    return data.nodes, proposal


def evaluate(nodes, conf: dict[tuple[str, str], float], predicted: set, truth: set) -> dict[str, float]:
    from sklearn.metrics import roc_auc_score

    tp = len(predicted & truth)
    prec = tp / len(predicted) if predicted else 0.0
    rec = tp / len(truth) if truth else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    pairs = [(u, v) for u in nodes for v in nodes if u != v]
    y = [1 if p in truth else 0 for p in pairs]
    s = [conf.get(p, 0.0) for p in pairs]
    auc = roc_auc_score(y, s) if 0 < sum(y) < len(y) else float("nan")
    und_pred = {frozenset(p) for p in predicted}
    und_true = {frozenset(p) for p in truth}
    utp = len(und_pred & und_true)
    up = utp / len(und_pred) if und_pred else 0.0
    ur = utp / len(und_true) if und_true else 0.0
    uf1 = 2 * up * ur / (up + ur) if up + ur else 0.0
    return {"precision": prec, "recall": rec, "f1": f1, "auc": auc, "f1_undirected": uf1}


def baseline_scores(twin, frame) -> tuple[list[str], dict[tuple[str, str], float]]:
    data = signals_from_frame(frame, twin, source="bench")
    z = prepare(data.values)
    ok = np.isfinite(z)
    conf: dict[tuple[str, str], float] = {}
    n = z.shape[1]
    for i in range(n):
        for j in range(i + 1, n):
            u, v = data.infos[i].node, data.infos[j].node
            if u == v:
                continue
            m = ok[:, i] & ok[:, j]
            if m.sum() < 10 or np.std(z[m, i]) == 0 or np.std(z[m, j]) == 0:
                r = 0.0
            else:
                r = abs(float(np.corrcoef(z[m, i], z[m, j])[0, 1]))
            for p in ((u, v), (v, u)):
                conf[p] = max(conf.get(p, 0.0), r)
    return data.nodes, conf


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="one test seed, fewer conditions")
    add_record_flag(ap)
    args = ap.parse_args()
    t0 = time.time()
    makers = {"line": line_dataset, "pump": pump_dataset, "epanet-Net1": epanet_dataset}
    # -- fit on the training split -------------------------------------------------------------
    feats, labels, base_pairs = [], [], []
    for name in ("line",):
        twin, frame, truth = makers[name](TRAIN_SEED)
        nodes, prop = scores_method(twin, frame, None)
        und_true = {frozenset(p) for p in truth}
        done = set()
        for (s, t), f in prop.features.items():
            key = frozenset((s, t))
            if key in done:
                continue
            done.add(key)
            feats.append(f)
            labels.append(1 if key in und_true else 0)
        bn, bconf = baseline_scores(twin, frame)
        base_pairs += [(bconf[p], 1 if p in truth or p[::-1] in truth else 0) for p in bconf]
    calibration = fit_calibration(np.array(feats), np.array(labels), source="seed 0, bottling line, clean")
    # baseline threshold: best undirected F1 on the training pairs
    best_thr, best_f1 = 0.1, -1.0
    for thr in np.linspace(0.02, 0.9, 89):
        pred = [lab for s, lab in base_pairs if s >= thr]
        tp = sum(pred)
        pos = sum(lab for _s, lab in base_pairs)
        if not pred or not tp:
            continue
        p, r = tp / len(pred), tp / pos
        f = 2 * p * r / (p + r)
        if f > best_f1:
            best_thr, best_f1 = float(thr), f
    print(
        "calibration: weights "
        + ", ".join(f"{w:.4f}" for w in calibration.weights)
        + f"; intercept {calibration.intercept:.4f}; baseline threshold |r| >= {best_thr:.2f}"
    )
    # -- report on held-out seeds ----------------------------------------------------------------
    seeds = TEST_SEEDS[:1] if args.quick else TEST_SEEDS
    rows, per = [], {}
    for name, maker in makers.items():
        for seed in seeds:
            twin, clean, truth = maker(seed)
            for noise in NOISE_LEVELS:
                for missing in MISSING_LEVELS:
                    frame = degrade(clean, noise, missing, seed)
                    nodes, prop = scores_method(twin, frame, calibration)
                    conf = {(e.source, e.target): e.confidence for e in prop.scored}
                    predicted = {(e.source, e.target) for e in prop.proposed(0.5)}
                    m = evaluate(nodes, conf, predicted, truth)
                    bn, bconf = baseline_scores(twin, frame)
                    bpred = {p for p, s in bconf.items() if s >= best_thr}
                    b = evaluate(bn, bconf, bpred, truth)
                    per.setdefault(name, []).append((m, b))
                    rows.append(
                        [
                            name,
                            seed,
                            noise,
                            missing,
                            len(truth),
                            m["precision"],
                            m["recall"],
                            m["f1"],
                            m["auc"],
                            m["f1_undirected"],
                            b["f1"],
                            b["auc"],
                            b["f1_undirected"],
                        ]
                    )
    headers = [
        "data",
        "seed",
        "noise",
        "missing",
        "true edges",
        "precision",
        "recall",
        "F1",
        "AUC",
        "F1 undirected",
        "baseline F1",
        "baseline AUC",
        "baseline F1 undirected",
    ]
    summary = []
    for name, vals in per.items():
        mf1 = float(np.mean([m["f1"] for m, _b in vals]))
        mauc = float(np.nanmean([m["auc"] for m, _b in vals]))
        bf1 = float(np.mean([b["f1"] for _m, b in vals]))
        bauc = float(np.nanmean([b["auc"] for _m, b in vals]))
        summary.append(
            [
                name,
                mf1,
                mauc,
                bf1,
                bauc,
                mf1 / bf1 if bf1 else float("inf"),
                mauc / bauc if bauc else float("nan"),
            ]
        )
    sum_headers = ["data", "F1", "AUC", "baseline F1", "baseline AUC", "F1 ratio", "AUC ratio"]
    table = markdown_table(headers, rows)
    sum_table = markdown_table(sum_headers, summary)
    print(table)
    print()
    print(sum_table)
    head_f1 = float(np.mean([s[1] for s in summary if s[0] in ("line", "pump")]))
    head_auc = float(np.mean([s[2] for s in summary if s[0] in ("line", "pump")]))
    base_f1 = float(np.mean([s[3] for s in summary if s[0] in ("line", "pump")]))
    elapsed = time.time() - t0
    if args.record:
        body = (
            "Recover a twin's graph from simulated sensor series (see the docstring of "
            "`benchmarks/topology.py` for the data, the true graphs and the conditions). "
            "Calibration and the baseline's threshold were fitted on seed 0 (no noise, no missing "
            f"data) of the bottling line; rows below are seeds {', '.join(map(str, seeds))} "
            "(held out) under every condition; the pump station and EPANET Net1 are never used for "
            "fitting. Honesty note: one earlier run of this script (an earlier version of the "
            "conditioning sets, calibration fitted on line + pump) showed us the held-out rows "
            "(line F1 0.76, pump 0.09, Net1 0.15); the two changes made after it (conditioning "
            "sets drawn from the neighbours of both ends; calibration on the line only) were "
            "checked on seed 0 only.\n\n"
            "Fitted calibration (peak, partial, significance, name similarity, unit "
            "compatibility): weights "
            + ", ".join(f"{w:.4f}" for w in calibration.weights)
            + f", intercept {calibration.intercept:.4f}. Baseline: lag-0 |r| >= {best_thr:.2f}, no direction.\n\n"
            + table
            + "\n\nMeans over the held-out rows:\n\n"
            + sum_table
            + f"\n\nHeadline (mean of line and pump station): edge F1 {head_f1:.3f} vs baseline {base_f1:.3f}; "
            f"AUC {head_auc:.3f}. Run time {elapsed:.0f} s.\n"
        )
        record("topology", "Topology learning from sensor data", body)
    print(f"topology edge_f1={head_f1:.3f} auc={head_auc:.3f} baseline_f1={base_f1:.3f}")


if __name__ == "__main__":
    main()
