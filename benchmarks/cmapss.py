"""NASA C-MAPSS FD001, FD002, FD003 remaining-useful-life benchmark, with prediction intervals.

For each subset: train on its run-to-failure engines (piecewise-linear target capped at 125 cycles),
predict the RUL at the last cycle of each truncated test engine, compare with ``RUL_FD00x``: RMSE
against the capped truth min(125, true RUL) and against the raw truth, the PHM08 score (sum of
exp(-d/13)-1 for d<0, exp(d/10)-1 for d>=0, d = predicted - capped truth), and the empirical
coverage and mean width of the 90 % split-conformal intervals.

The sensors are standardised per operating condition (k-means on the three settings; the number of
conditions chosen by silhouette on the training settings: 6 on FD002, 1 on FD001/FD003).
Model choice is made on the TRAINING engines only: 4 folds grouped by engine; the out-of-fold
predictions at every cycle >= 31 of the held-out engines (test engines have >= 31 cycles) give the
CV RMSE. The same out-of-fold residuals calibrate the intervals. The test set is used once per
subset and model, for the final numbers.

Run: ``flock /tmp/twinforge-bench.lock .venv/bin/python benchmarks/cmapss.py`` (``--record``: write
its section of docs/benchmarks.md, only when all subsets ran)
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
from twinforge.analytics import LastCycleLinearRUL, WindowedRegressorRUL, phm08_score, rmse
from twinforge.analytics.rul import read_histories
from twinforge.datasets import reference_data

SUBSETS = ["FD001", "FD002", "FD003"]
SENSORS = [f"sensor{i}" for i in range(1, 22)]
GRID = [((10, 30, 60), 0.0), ((5, 15, 30, 60, 120), 0.0), ((5, 15, 30, 60, 120), 10.0)]
COVERAGE = 0.9
CAP = 125.0
GOALS = {"FD001": 12.0, "FD002": 16.0, "FD003": 12.0}
PUBLISHED = {"FD001": 12.61, "FD002": 22.36, "FD003": 12.64}  # DCNN, Li et al. 2018 (capped truth)


def cv_rmse(model) -> float:
    """RMSE of the out-of-fold predictions (folds grouped by engine) at cycles >= 31."""
    oof = model.oof_predictions_
    oof = oof[oof["cycle"] >= 31]
    return rmse(oof["rul"].to_numpy(), oof["predicted"].to_numpy())


def test_numbers(model, test: pd.DataFrame, truth: np.ndarray) -> dict[str, float]:
    table = model.predict_interval(test)
    pred, lo, hi = (table[c].to_numpy() for c in ("rul", "lower", "upper"))
    capped = np.minimum(truth, CAP)
    return {
        "rmse": rmse(capped, pred),
        "rmse_raw": rmse(truth, pred),
        "phm08": phm08_score(capped, pred),
        "coverage": float(((capped >= lo) & (capped <= hi)).mean()),
        "coverage_raw": float(((truth >= lo) & (truth <= hi)).mean()),
        "width": float((hi - lo).mean()),
        "units": len(pred),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_record_flag(parser)
    parser.add_argument("--subsets", default=",".join(SUBSETS), help="comma-separated, e.g. FD001,FD002")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # progress when piped
    try:
        folder = reference_data("cmapss")
    except Exception as exc:
        print(f"skipped: {exc}")
        return 0
    subsets = [s.strip().upper() for s in args.subsets.split(",") if s.strip()]
    t0, cpu0 = time.perf_counter(), time.process_time()
    rows: list[list[object]] = []
    best: dict[str, dict[str, float]] = {}
    base: dict[str, dict[str, float]] = {}
    notes: list[str] = []
    for name in subsets:
        train = read_histories(folder / f"train_{name}.txt.gz", cmapss=True)
        test = read_histories(folder / f"test_{name}.txt.gz", cmapss=True)
        truth = np.loadtxt(folder / f"RUL_{name}.txt.gz")
        print(
            f"{name}: {train['unit'].nunique()} training engines ({len(train)} cycles), "
            f"{test['unit'].nunique()} test engines"
        )
        start = time.perf_counter()
        baseline = LastCycleLinearRUL(signals=SENSORS, coverage=COVERAGE).fit(train)
        base_fit = time.perf_counter() - start
        k = baseline.n_conditions
        print(f"  operating conditions found in the training settings: {k}")
        candidates = []
        for windows, span in GRID:
            start = time.perf_counter()
            model = WindowedRegressorRUL(
                windows=windows, smoothing_span=span, signals=SENSORS, coverage=COVERAGE
            ).fit(train)
            fit_s = time.perf_counter() - start
            score = cv_rmse(model)
            print(f"  windows {windows}, smoothing span {span:g}: CV RMSE {score:.2f} ({fit_s:.0f} s)")
            if not candidates or score < candidates[0][0]:
                candidates = [(score, windows, span, model, fit_s)]
        best_cv, windows, span, model, fit_s = candidates[0]
        base[name] = test_numbers(baseline, test, truth)
        best[name] = test_numbers(model, test, truth)
        for label, cv, numbers, secs in [
            ("ridge on last-cycle sensors (baseline)", cv_rmse(baseline), base[name], base_fit),
            (
                f"gradient boosting, windows {windows}, smoothing {span:g} (best CV)",
                best_cv,
                best[name],
                fit_s,
            ),
        ]:
            rows.append(
                [
                    name,
                    k,
                    label,
                    round(cv, 2),
                    round(numbers["rmse"], 2),
                    round(numbers["rmse_raw"], 2),
                    round(numbers["phm08"], 1),
                    f"{numbers['coverage']:.1%}",
                    f"{numbers['coverage_raw']:.1%}",
                    round(numbers["width"], 1),
                    f"{secs:.0f}",
                ]
            )
            print(
                f"  {label:<66} test RMSE {numbers['rmse']:6.2f} (raw {numbers['rmse_raw']:6.2f})  "
                f"PHM08 {numbers['phm08']:8.1f}  coverage {numbers['coverage']:.1%}  width {numbers['width']:.1f}"
            )
        if k > 1:  # what the per-condition normalisation and the condition history bring (not used to choose)
            for label, kwargs in [
                ("same, one global standardisation (no conditions)", {"settings": None}),
                ("same, without condition-history features", {"condition_history": False}),
            ]:
                ablation = WindowedRegressorRUL(
                    windows=windows, smoothing_span=span, signals=SENSORS, coverage=None, **kwargs
                ).fit(train)
                e = ablation.evaluate(test, np.minimum(truth, CAP))
                notes.append(f"{name} {label}: test RMSE {e.rmse:.2f}, PHM08 {e.phm08:.1f}")
                print(f"  {label:<66} test RMSE {e.rmse:6.2f}  PHM08 {e.phm08:8.1f}")
        del model, baseline
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0

    units = sum(best[n]["units"] for n in subsets)
    score_mean = sum(best[n]["phm08"] for n in subsets) / units
    coverage = sum(best[n]["coverage"] * best[n]["units"] for n in subsets) / units
    headers = [
        "subset",
        "conditions",
        "model",
        "CV RMSE (train engines)",
        "test RMSE (capped truth)",
        "test RMSE (raw truth)",
        "PHM08 score (sum)",
        "90 % interval coverage (capped)",
        "coverage (raw)",
        "mean width",
        "fit s",
    ]
    goal_lines = []
    for n in subsets:
        met = best[n]["rmse"] <= GOALS[n]
        goal_lines.append(
            f"- {n}: goal RMSE ≤ {GOALS[n]:g} **{'met' if met else 'missed'}** (RMSE {best[n]['rmse']:.2f}); "
            f"ratio to the ridge baseline in the same run {best[n]['rmse'] / base[n]['rmse']:.2f}; "
            f"published DCNN (Li et al. 2018) {PUBLISHED[n]:g}."
        )
    body = (
        "Train on each subset's run-to-failure engines, predict the RUL at the last cycle of each truncated "
        "test engine, compare with `RUL_FD00x`. Training target min(125, cycles to failure). RMSE against the "
        "capped truth min(125, RUL) and the raw truth; PHM08 score summed over the subset's test engines "
        "(d = predicted − capped truth); 90 % split-conformal intervals (out-of-fold residuals, 4 folds "
        "grouped by engine, 5 bands of predicted RUL), their empirical coverage of the capped and the raw "
        f"truth and mean width. CPU only, 1 thread, total wall time {elapsed:.0f} s, CPU time {cpu:.0f} s "
        "(the machine is shared: wall time depends on its load; model selection and interval calibration "
        "included; fit s includes the 4 calibration fits).\n\n"
        + markdown_table(headers, rows)
        + "\n\nSensors are standardised per operating condition: k-means on the three settings, the number "
        "of conditions chosen by the best silhouette on the training settings (k = 2..10; one condition "
        "if no silhouette reaches 0.8). Features: last value, and mean / std / least-squares slope over "
        "each window of the standardised sensors (those constant within conditions dropped), the cycle "
        "count, and with several conditions the cycles spent so far in each condition. Model selection "
        "used only the training engines (4-fold CV grouped by engine, out-of-fold predictions at every "
        "cycle ≥ 31); grid: "
        + "; ".join(f"windows {w} smoothing span {s:g}" for w, s in GRID)
        + ". The baseline (ridge on the last cycle's standardised sensors and the cycle count) uses the "
        "same per-condition normalisation.\n\n"
        + "\n".join(goal_lines)
        + (
            "\n\nAblations on the test set, reported only, not used for any choice:\n"
            + "\n".join(f"- {n}" for n in notes)
            if notes
            else ""
        )
        + "\n\nTest data seen during development: before this script was written, one configuration "
        "(windows (5, 15, 30, 60, 120), smoothing span 10, as in the grid) and the ridge baseline were scored "
        "once on the FD001, "
        "FD002 and FD003 test sets to check the pipeline end to end; the grid and the selection rule were "
        "not changed after it. The ablations above are test-set numbers too, reported only."
        + f"\n\nHeadline: score = PHM08 mean per test engine over the {units} engines of "
        f"{', '.join(subsets)}; coverage = share of those engines whose capped true RUL lies in the interval."
    )
    print()
    print(markdown_table(headers, rows))
    if args.record and subsets == SUBSETS:
        record("cmapss", "C-MAPSS FD001, FD002, FD003 remaining useful life with intervals", body)
    rmses = " ".join(f"rmse_{n.lower()}={best[n]['rmse']:.2f}" for n in subsets)
    print(f"cmapss {rmses} score={score_mean:.2f} coverage={coverage:.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
