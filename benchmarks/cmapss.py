"""NASA C-MAPSS FD001 remaining-useful-life benchmark.

Train on the 100 run-to-failure engines of ``train_FD001`` (piecewise-linear target capped at 125
cycles), predict the RUL at the last cycle of each of the 100 truncated engines of ``test_FD001``,
compare with ``RUL_FD001``: RMSE and the PHM08 score (sum of exp(-d/13)-1 for d<0, exp(d/10)-1 for
d>=0, d = predicted - true).

Model choice is made on the TRAINING engines only: 4-fold cross-validation grouped by engine, each
held-out engine cut at 4 random cycles (like the test engines), over a small grid of window sets and
smoothing spans. The test set is used once, for the final numbers.

Run: ``flock /tmp/twinforge-bench.lock .venv/bin/python benchmarks/cmapss.py``
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._record import markdown_table, record
from twinforge.analytics import LastCycleLinearRUL, WindowedRegressorRUL, rmse
from twinforge.analytics.rul import read_histories
from twinforge.datasets import reference_data

SENSORS = [f"sensor{i}" for i in range(1, 22)]
WINDOW_SETS = [(10, 30, 60), (10, 20, 40, 80), (5, 15, 30, 60, 120)]
SMOOTHING = [0.0, 5.0, 10.0]
PUBLISHED = [
    ("CNN (Babu et al. 2016)", 18.45),
    ("LSTM (Zheng et al. 2017)", 16.14),
    ("DCNN (Li et al. 2018)", 12.61),
]


def truncated_validation(
    histories: pd.DataFrame, seed: int = 1, cuts: int = 4
) -> tuple[pd.DataFrame, np.ndarray]:
    """Cut each engine at ``cuts`` random cycles (>= 31, like the test engines); true RUL capped at 125."""
    rng = np.random.default_rng(seed)
    parts, truth, new_id = [], [], 0
    for _, g in histories.groupby("unit"):
        for cut in rng.integers(31, len(g), cuts):
            new_id += 1
            parts.append(g.iloc[:cut].assign(unit=new_id))
            truth.append(min(125, len(g) - cut))
    return pd.concat(parts, ignore_index=True), np.array(truth, dtype=float)


def cross_validate(train: pd.DataFrame, make, folds: int = 4) -> float:
    units = train["unit"].unique()
    groups = np.array_split(np.random.default_rng(0).permutation(units), folds)
    preds, truths = [], []
    for held in groups:
        model = make().fit(train[~train["unit"].isin(held)])
        val, truth = truncated_validation(train[train["unit"].isin(held)])
        preds.append(model.predict(val).to_numpy())
        truths.append(truth)
    return rmse(np.concatenate(truths), np.concatenate(preds))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-record", action="store_true", help="do not write docs/benchmarks.md")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # progress when piped
    try:
        folder = reference_data("cmapss")
    except Exception as exc:
        print(f"skipped: {exc}")
        return 0
    t0 = time.perf_counter()
    train = read_histories(folder / "train_FD001.txt.gz", cmapss=True)
    test = read_histories(folder / "test_FD001.txt.gz", cmapss=True)
    truth = np.loadtxt(folder / "RUL_FD001.txt.gz")
    print(
        f"FD001: {train['unit'].nunique()} training engines ({len(train)} cycles), {test['unit'].nunique()} test engines"
    )

    print("model selection (4-fold CV over training engines):")
    cv: dict[tuple[tuple[int, ...], float], float] = {}
    for windows, span in itertools.product(WINDOW_SETS, SMOOTHING):
        cv[windows, span] = cross_validate(
            train,
            lambda w=windows, s=span: WindowedRegressorRUL(windows=w, smoothing_span=s, signals=SENSORS),
        )
        print(f"  windows {windows}, smoothing span {span:g}: CV RMSE {cv[windows, span]:.2f}")
    (best_windows, best_span), best_cv = min(cv.items(), key=lambda kv: kv[1])
    baseline_cv = cross_validate(train, lambda: LastCycleLinearRUL(signals=SENSORS))

    rows: list[list[object]] = []
    results = {}
    for name, make, cv_rmse in [
        ("Ridge on last-cycle sensors (baseline)", lambda: LastCycleLinearRUL(signals=SENSORS), baseline_cv),
        (
            f"Gradient boosting, windows {best_windows}, smoothing {best_span:g} (best CV)",
            lambda: WindowedRegressorRUL(windows=best_windows, smoothing_span=best_span, signals=SENSORS),
            best_cv,
        ),
    ]:
        start = time.perf_counter()
        model = make().fit(train)
        fit_s = time.perf_counter() - start
        result = model.evaluate(test, truth)
        results[name] = result
        rows.append([name, round(cv_rmse, 2), round(result.rmse, 2), round(result.phm08, 1), f"{fit_s:.1f}"])
        print(
            f"  {name:<66} CV {cv_rmse:6.2f}  test RMSE {result.rmse:6.2f}  PHM08 {result.phm08:8.1f}  fit {fit_s:.1f} s"
        )
    for name, value in PUBLISHED:
        rows.append([f"{name} (published)", "", value, "", ""])
    best_name = rows[1][0]
    best, base = results[best_name], results[rows[0][0]]
    elapsed = time.perf_counter() - t0
    goal = best.rmse <= 12.0
    body = (
        "FD001: 100 training engines run to failure, 100 truncated test engines; RUL at each test engine's "
        "last cycle vs `RUL_FD001`. Training target min(125, cycles to failure). CPU only, "
        f"1 thread, total wall time {elapsed:.0f} s (model selection included).\n\n"
        + markdown_table(["model", "CV RMSE (train engines)", "test RMSE", "PHM08 score", "fit s"], rows)
        + "\n\nModel selection used only the training engines (4-fold CV grouped by engine, each held-out "
        "engine cut at 4 random cycles); grid: windows "
        + ", ".join(str(w) for w in WINDOW_SETS)
        + " × smoothing span "
        + ", ".join(f"{s:g}" for s in SMOOTHING)
        + ". Features: last value, and mean / std / least-squares slope over each window of the "
        "standardised sensors (the constant ones dropped), plus the cycle count.\n\n"
        f"Goal RMSE ≤ 12.0: **{'met' if goal else 'missed'}** (RMSE {best.rmse:.2f}, PHM08 {best.phm08:.1f}); "
        f"RMSE ratio to the ridge baseline in the same run: {best.rmse / base.rmse:.2f}."
    )
    if not args.no_record:
        record("cmapss", "C-MAPSS FD001 remaining useful life", body)
    print(f"cmapss rmse={best.rmse:.2f} score={best.phm08:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
