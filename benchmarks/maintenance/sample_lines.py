"""Draw the labelled work-order lines from nist-nestor's excavators.csv (run once; output is frozen).

Stratified by asset and year with a fixed seed. Assets B and D are the development half, assets
A, C and E the test half (split by asset, not by row). Labels were then added by hand.

    .venv/bin/python benchmarks/maintenance/sample_lines.py  # writes lines_unlabelled.csv
"""

from __future__ import annotations

import csv
import importlib.util
import math
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 14
PER_ASSET = {"A": 30, "C": 45, "E": 45, "B": 55, "D": 65}
SPLIT = {"A": "test", "C": "test", "E": "test", "B": "dev", "D": "dev"}


def excavators_csv() -> Path:
    spec = importlib.util.find_spec("nestor")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("nist-nestor is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "excavators.csv"


def main() -> None:
    rng = np.random.default_rng(SEED)
    frame = pd.read_csv(excavators_csv(), dtype=str, keep_default_na=False)
    frame["row"] = range(len(frame))
    frame["year"] = frame["BscStartDate"].str[:4]
    picked = []
    for asset, n in PER_ASSET.items():
        rows = frame[frame["Asset"] == asset].drop_duplicates("OriginalShorttext")
        years = rows["year"].value_counts().sort_index()
        # proportional allocation per year, at least one per year present
        share = {y: max(1, math.floor(n * c / years.sum())) for y, c in years.items()}
        while sum(share.values()) > n:
            share[max(share, key=share.get)] -= 1
        while sum(share.values()) < n:
            y = max(years.index, key=lambda y: years[y] / share[y])
            share[y] += 1
        for year, k in share.items():
            pool = rows[rows["year"] == year]
            take = rng.choice(len(pool), size=min(k, len(pool)), replace=False)
            picked.append(pool.iloc[sorted(take)])
    out = pd.concat(picked)
    path = Path(__file__).with_name("lines_unlabelled.csv")
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "split", "source_row", "date", "asset", "text", "cost"])
        for i, r in enumerate(out.itertuples()):
            w.writerow([i, SPLIT[r.Asset], r.row, r.BscStartDate, r.Asset, r.OriginalShorttext, r.Cost])
    print(f"{len(out)} lines -> {path}")


if __name__ == "__main__":
    main()
