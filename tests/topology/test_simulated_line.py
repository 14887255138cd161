"""The real pipeline on a simulated plant: the bottling line's telemetry (twinforge.sim through the
plant emulator's SimulatedTelemetry), mapped onto the twin, gives back the line's material flow."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from twinforge.cli.main import app
from twinforge.data.emulator import SimulatedTelemetry
from twinforge.spec import dump_spec, load_spec
from twinforge.topology import (
    accept_edges,
    fit_calibration,
    infer_topology,
    signals_from_frame,
    with_item_sensors,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def line():
    """The line with its edges removed and one sensor per item-flow node; 4 h of telemetry at 5 s."""
    spec, _ = with_item_sensors(load_spec(ROOT / "examples" / "bottling_line.yaml"), period_s=5)
    rows = pd.DataFrame(list(SimulatedTelemetry(spec, 4 * 3600, start=0.0, seed=7)))
    rows["column"] = rows["node"] + "." + rows["signal"]
    wide = rows.pivot_table(index="timestamp", columns="column", values="value").dropna().reset_index()
    wide = wide.rename(columns={"timestamp": "time"})
    wide.columns.name = None
    unlinked = spec.model_copy(update={"edges": []}, deep=True)
    return unlinked, wide


def test_simulated_line_gives_back_its_material_flow(line):
    twin, frame = line
    data = signals_from_frame(frame, twin)
    assert data.period_s == pytest.approx(5.0)
    proposal = infer_topology(data, twin=twin)
    edges = {(e.source, e.target) for e in proposal.proposed(0.5)}
    # the ends of the line are unmistakable; most of the buffer chain is found with its direction
    assert ("pallets_in", "buf_infeed") in edges
    assert ("conveyor_out", "warehouse_dock") in edges
    chain = ["pallets_in", "buf_infeed", "buf_depal", "buf_rinse", "buf_fill", "buf_cap", "buf_label"]
    truth = set(itertools.pairwise(chain)) | {
        ("buf_label", "conveyor_out"),
        ("conveyor_out", "warehouse_dock"),
    }
    assert len(edges & truth) >= 5
    assert not any((t, s) in edges for s, t in truth)  # no true link proposed backwards
    new, diff = accept_edges(twin, proposal.proposed(0.5))
    assert all(e.kind == "material" for e in new.edges) and len(diff) == len(new.edges)


def test_calibration_refit_on_labelled_pairs_separates_them(line):
    twin, frame = line
    proposal = infer_topology(signals_from_frame(frame, twin), twin=twin, use_names=False)
    chain = ["pallets_in", "buf_infeed", "buf_depal", "buf_rinse", "buf_fill", "buf_cap", "buf_label"]
    linked = {frozenset(p) for p in itertools.pairwise(chain)}
    feats, labels, seen = [], [], set()
    for (s, t), f in proposal.features.items():
        if frozenset((s, t)) in seen:
            continue
        seen.add(frozenset((s, t)))
        feats.append(f)
        labels.append(int(frozenset((s, t)) in linked))
    cal = fit_calibration(np.array(feats), np.array(labels))
    p = cal.probability(np.array(feats))
    y = np.array(labels)
    assert p[y == 1].mean() > p[y == 0].mean() + 0.3


def test_cli_with_a_twin_maps_columns_and_writes_the_edges(line, tmp_path):
    twin, frame = line
    csv, twin_file, out = tmp_path / "line.csv", tmp_path / "line.yaml", tmp_path / "learned.yaml"
    frame.to_csv(csv, index=False)
    dump_spec(twin, twin_file)
    result = CliRunner().invoke(
        app, ["topology", str(csv), "--twin", str(twin_file), "--accept", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "pallets_in" in result.output and "wrote" in result.output
    learned = load_spec(out)
    assert ("pallets_in", "buf_infeed") in {(e.source, e.target) for e in learned.edges}
