"""Fit the SKAB-testbed twin's normal model to SKAB's ``anomaly-free.csv`` and write it into the twin.

How: the twin (``skab_testbed.yaml``, rated values chosen so its hydraulics give the recording's
means) is simulated for as many seconds as the recording has rows, without a normal model; then
:func:`twinforge.synthetic.fit_normal_model` fits per-signal sensor gains (recorded mean /
simulated mean), the std of the noise to add (recorded variance minus the simulation's own) and a
VAR(1) of the standardised recording (correlations, lag-1 autocorrelations). The result replaces
the block after the marker line at the end of the YAML file. A table compares the recording with a
fresh synthetic normal run (another seed) of the fitted twin.

Run: ``.venv/bin/python benchmarks/synthetic/fit_skab_testbed.py``
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from twinforge.datasets import reference_data  # noqa: E402
from twinforge.spec import load_spec  # noqa: E402
from twinforge.synthetic import fit_normal_model, generate  # noqa: E402
from twinforge.synthetic.generate import NORMAL_MODEL_REPLICATIONS  # noqa: E402

TWIN = Path(__file__).with_name("skab_testbed.yaml")
MARKER = "# --- normal model fitted by benchmarks/synthetic/fit_skab_testbed.py (do not edit below) ---"


def load_anomaly_free() -> pd.DataFrame:
    frame = pd.read_csv(reference_data("skab") / "anomaly-free.csv", sep=";", index_col="datetime")
    return frame.astype(float)


def compare(recorded: pd.DataFrame, synthetic: pd.DataFrame) -> pd.DataFrame:
    """Mean, std and lag-1 autocorrelation of each signal, recorded vs synthetic, and the largest
    difference of a correlation between this signal and another."""
    rc, sc = recorded.corr(), synthetic[recorded.columns].corr()
    rows = []
    for c in recorded.columns:
        rows.append(
            {
                "signal": c,
                "mean rec": recorded[c].mean(),
                "mean syn": synthetic[c].mean(),
                "std rec": recorded[c].std(),
                "std syn": synthetic[c].std(),
                "ac1 rec": recorded[c].autocorr(1),
                "ac1 syn": synthetic[c].autocorr(1),
                "max |Δcorr|": float(np.abs(rc[c] - sc[c]).max()),
            }
        )
    return pd.DataFrame(rows).set_index("signal")


def main() -> int:
    recorded = load_anomaly_free()
    text = TWIN.read_text(encoding="utf-8").split(MARKER)[0].rstrip() + "\n"
    spec = load_spec(TWIN)
    bare = spec.model_copy(update={"metadata": {}})
    simulated = generate(
        bare, None, duration_s=float(len(recorded)), seed=0, replications=NORMAL_MODEL_REPLICATIONS
    ).frame
    model = fit_normal_model(recorded, simulated)
    block = yaml.safe_dump(
        {"metadata": {"synthetic": {"normal": model.to_metadata()}}}, sort_keys=False, width=120
    )
    TWIN.write_text(text + MARKER + "\n" + block, encoding="utf-8")
    fitted = load_spec(TWIN)
    synthetic = generate(fitted, None, duration_s=float(len(recorded)), seed=1).frame
    print(compare(recorded, synthetic).round(4).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
