"""Topology learning: a lagged chain is recovered with its direction, an indirect link is pruned,
gaps are tolerated, bad input gets a clear error, accepted edges land in a valid twin."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from twinforge.cli.main import app
from twinforge.spec import Node, Signal, TwinSpec, load_spec
from twinforge.topology import (
    TopologyInputError,
    accept_edges,
    infer_topology,
    read_signals,
    signals_from_frame,
)
from twinforge.topology.score import lagged_correlations, partial_correlation


def chain_frame(seed: int = 0, rows: int = 3000) -> pd.DataFrame:
    """A -> B (2 samples later) -> C (3 samples later), plus an unrelated D; levels (random walks)."""
    rng = np.random.default_rng(seed)
    da = rng.normal(size=rows)
    db = 0.8 * np.roll(da, 2) + 0.6 * rng.normal(size=rows)
    dc = 0.8 * np.roll(db, 3) + 0.6 * rng.normal(size=rows)
    dd = rng.normal(size=rows)
    return pd.DataFrame(
        {
            "time": np.arange(rows) * 2.0,
            "A": np.cumsum(da),
            "B": np.cumsum(db),
            "C": np.cumsum(dc),
            "D": np.cumsum(dd),
        }
    )


def _edges(proposal, min_conf=0.5):
    return {(e.source, e.target) for e in proposal.proposed(min_conf)}


def test_chain_is_recovered_with_direction_and_lag():
    data = signals_from_frame(chain_frame())
    proposal = infer_topology(data, use_names=False)
    assert _edges(proposal) == {("A", "B"), ("B", "C")}
    ab = next(e for e in proposal.scored if (e.source, e.target) == ("A", "B"))
    assert ab.lag_samples == 2 and ab.lag_s == pytest.approx(4.0)
    assert ab.direction_probability > 0.9
    assert proposal.confidence("A", "B") > proposal.confidence("B", "A") + 0.5


def test_indirect_link_is_pruned_by_the_conditional_test():
    proposal = infer_topology(signals_from_frame(chain_frame(seed=1)), use_names=False)
    ac = next(e for e in proposal.scored if (e.source, e.target) == ("A", "C"))
    # marginally A and C are strongly related (at lag 5) ...
    assert abs(ac.evidence["peak_correlation"]) > 0.5 and ac.lag_samples == 5
    # ... but B explains it away
    assert abs(ac.evidence["partial_correlation"]) < 0.05
    assert "B" in ac.evidence["separating_set"]
    assert ac.confidence < 0.5


def test_missing_data_is_tolerated():
    frame = chain_frame(seed=2)
    rng = np.random.default_rng(5)
    for col in ("A", "B", "C", "D"):
        frame.loc[rng.random(len(frame)) < 0.1, col] = np.nan
    frame.loc[500:800, "B"] = np.nan  # a long gap
    proposal = infer_topology(signals_from_frame(frame), use_names=False)
    assert _edges(proposal) == {("A", "B"), ("B", "C")}


def test_lagged_correlation_matches_numpy_on_complete_rows():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(200, 2))
    z[10, 0] = np.nan
    r, cnt = lagged_correlations(z, 3)
    a, b = z[:-3, 0], z[3:, 1]
    ok = np.isfinite(a) & np.isfinite(b)
    assert r[3, 0, 1] == pytest.approx(np.corrcoef(a[ok], b[ok])[0, 1], abs=1e-9)
    assert cnt[3, 0, 1] == ok.sum()
    pc, _n = partial_correlation(z[:, 0], z[:, 0] * 2 + 1, [])
    assert pc == pytest.approx(1.0)


def test_name_similarity_uses_the_local_embedding_model():
    frame = chain_frame(seed=3).rename(
        columns={
            "A": "pump flow [m^3/h]",
            "B": "pipe flow [L/min]",
            "C": "tank level [m^3]",
            "D": "voltage [V]",
        }
    )
    data = signals_from_frame(frame)
    assert [i.unit for i in data.infos] == ["m^3/h", "L/min", "m^3", "V"]
    proposal = infer_topology(data)
    e = next(e for e in proposal.scored if (e.source, e.target) == ("pump flow", "pipe flow"))
    assert e.evidence["unit_compatibility"] == 1.0
    other = next(e for e in proposal.scored if {e.source, e.target} == {"pump flow", "voltage"})
    assert other.evidence["unit_compatibility"] == 0.0
    assert e.evidence["name_similarity"] > other.evidence["name_similarity"]
    assert _edges(proposal) == {("pump flow", "pipe flow"), ("pipe flow", "tank level")}


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"time": range(50), "A": range(50)}), "needs at least two"),
        (pd.DataFrame({"A": ["x"] * 50, "B": range(50)}), "column 'A' holds no numbers"),
        (pd.DataFrame({"A": [np.nan] * 50, "B": range(50)}), "column 'A' is empty"),
        (pd.DataFrame({"A": range(5), "B": range(5)}), "at least 30 samples"),
        (pd.DataFrame({"A": [1.0] * 50, "B": [2.0] * 50}), "fewer than two signals vary"),
    ],
)
def test_bad_input_gets_a_clear_error(frame, message):
    with pytest.raises(TopologyInputError, match=message):
        infer_topology(signals_from_frame(frame, source="plant.csv"), use_names=False)


def _line_twin() -> TwinSpec:
    return TwinSpec(
        name="mini",
        nodes=[
            Node(id="src", kind="source", parameters={"interarrival_time": "30 s"}),
            Node(id="buf", kind="buffer", parameters={"capacity": 10}),
            Node(id="dock", kind="sink"),
            Node(
                id="level_eye",
                kind="sensor",
                observes="buf.level",
                signals=[Signal(name="level", unit="item")],
            ),
        ],
    )


def test_columns_map_onto_twin_nodes_and_accepted_edges_validate():
    twin = _line_twin()
    frame = chain_frame(seed=4).rename(columns={"A": "src.released", "B": "level", "C": "dock"})
    frame = frame.drop(columns="D")
    data = signals_from_frame(frame, twin)
    assert [i.node for i in data.infos] == ["src", "buf", "dock"]
    proposal = infer_topology(data, twin=twin, use_names=False)
    edges = proposal.proposed(0.5)
    assert {(e.source, e.target) for e in edges} == {("src", "buf"), ("buf", "dock")}
    new, diff = accept_edges(twin, edges)
    assert {(e.source, e.target, e.kind) for e in new.edges} == {
        ("src", "buf", "material"),
        ("buf", "dock", "material"),
    }
    assert "+ edge src->buf" in diff.render()
    assert new.edges[0].metadata["topology"]["confidence"] >= 0.5


def test_unknown_column_for_a_twin_is_named():
    frame = chain_frame().rename(columns={"A": "nowhere.flow"})
    with pytest.raises(TopologyInputError, match=r"column 'nowhere\.flow' matches no node"):
        signals_from_frame(frame, _line_twin())


def test_cli_proposes_and_accepts_into_a_twin_file(tmp_path):
    csv = tmp_path / "plant.csv"
    chain_frame(seed=5).to_csv(csv, index=False)
    out = tmp_path / "learned.yaml"
    result = CliRunner().invoke(
        app, ["topology", str(csv), "--no-names", "--accept", "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    learned = load_spec(out)
    assert {(e.source, e.target) for e in learned.edges} == {("A", "B"), ("B", "C")}
    assert read_signals(csv).period_s == pytest.approx(2.0)


def test_cli_bad_input_exits_2_without_traceback(tmp_path):
    csv = tmp_path / "one.csv"
    pd.DataFrame({"time": range(40), "A": range(40)}).to_csv(csv, index=False)
    result = CliRunner().invoke(app, ["topology", str(csv), "--no-names"])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "needs at least two" in text and "Traceback" not in text
    missing = CliRunner().invoke(app, ["topology", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2 and "no such file" in " ".join(missing.output.split())


def test_dates_in_the_time_column_give_the_period_in_seconds():
    frame = chain_frame(rows=100)
    frame["time"] = pd.date_range("2024-01-01", periods=100, freq="10s").astype(str)
    assert signals_from_frame(frame.sample(frac=1.0, random_state=0)).period_s == pytest.approx(10.0)
    frame.loc[3, "time"] = "yesterday-ish"
    frame.loc[4:20, "time"] = "soon"
    with pytest.raises(TopologyInputError, match="time column 'time'"):
        signals_from_frame(frame)
