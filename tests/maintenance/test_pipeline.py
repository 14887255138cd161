"""Ingest into a real DuckDB store, link to a twin, search with the real embedding model,
cluster failure modes, monthly trends."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from twinforge.data import DuckDBStore
from twinforge.maintenance import MaintenanceError, failure_modes, ingest, search, trends
from twinforge.maintenance.storage import read_orders
from twinforge.spec import load_spec

HERE = Path(__file__).resolve().parent

LOG = """date,asset,text,cost
2011-01-10,C,L/H BUCKET CYL LEAKING,100
2011-02-11,C,RH bucket cylinder leaking oil,120
2011-07-02,C,bucket crowd cylinder leaking at gland,90
2011-03-05,D,Engine won't start,0
2011-03-06,D,RH engine will not start,0
2011-08-09,D,engines wont start - flat batteries,50
2011-05-05,E,replace bucket teeth,800
2011-06-06,E,CRACK IN BOOM NEAR CAB,0
2011-06-07,Z,blown hyd hose on slew,300
someday,C,track roller fallen out,0
2011-09-09,,grease pump leaking at shaft seal,70
"""


@pytest.fixture(scope="module")
def embedder():
    from twinforge.ai import LocalOnnxEmbedder

    return LocalOnnxEmbedder()


@pytest.fixture
def loaded(tmp_path: Path, embedder):
    path = tmp_path / "wo.csv"
    path.write_text(LOG)
    store = DuckDBStore(tmp_path / "store.duckdb")
    report = ingest(path, store, spec=load_spec(HERE / "fleet.yaml"), embedder=embedder)
    yield store, report, path
    store.close()


def test_ingest_keeps_and_flags_everything(loaded):
    store, report, _ = loaded
    assert (report.read, report.stored, report.embedded) == (11, 11, 11)
    assert report.flagged == {"unknown_asset": 1, "bad_date": 1, "no_asset": 1}
    assert report.twin == "excavator-fleet"
    rows = read_orders(store)
    assert len(rows) == 11
    z = rows[rows["asset"] == "Z"].iloc[0]
    assert z["flags"] == "unknown_asset" and pd.isna(z["node"]) and z["fmc"] == "ELP"
    undated = rows[rows["date_text"] == "someday"].iloc[0]
    assert pd.isna(undated["ts"])
    assert undated["flags"] == "bad_date" and undated["node"] == "shd23"
    c = rows[rows["asset"] == "C"]
    assert set(c["node"]) == {"shd23"} and set(c["link_how"]) == {"tag"}
    # no asset: the text names the grease pump node's kind words
    grease = rows[rows["text"].str.startswith("grease pump")].iloc[0]
    assert grease["node"] == "lube_pump" and grease["link_how"] == "kind" and grease["fmc"] == "ELU"


def test_reingest_replaces_the_source(loaded, embedder):
    store, _, path = loaded
    ingest(path, store, spec=load_spec(HERE / "fleet.yaml"), embedder=embedder)
    assert len(read_orders(store)) == 11


def test_search_meaning_and_time_filter(loaded, embedder):
    store, _, _ = loaded
    result = search(store, "bucket cylinder oil leak", embedder=embedder, k=3)
    assert all("bucket" in h.text.lower() and "leak" in h.text.lower() for h in result.hits)
    result = search(store, "engine not starting in summer 2011", embedder=embedder, k=3)
    assert result.text_query == "engine not starting"
    assert result.hits[0].text == "engines wont start - flat batteries"
    assert all(datetime(2011, 6, 1) <= h.date < datetime(2011, 9, 1) for h in result.hits)
    only_c = search(store, "leak", asset="shd23", embedder=embedder, k=10)
    assert {h.asset for h in only_c.hits} == {"C"} and only_c.searched == 4
    with pytest.raises(MaintenanceError, match="empty"):
        search(store, "  ", embedder=embedder)


def test_modes_and_trends(loaded):
    store, report, _ = loaded
    modes = failure_modes(store)
    assert report.modes == len(modes) >= 1
    labels = dict(zip(modes["label"], modes["size"], strict=True))
    assert labels.get("bucket cylinder: leak") == 3 or labels.get("engine: no start") == 3
    table, undated = trends(store, "C")
    assert undated == 1
    assert table.loc["2011-01", "ELP"] == 1 and table.loc["2011-07", "ELP"] == 1
    assert int(table.to_numpy().sum()) == 3
    by_node, _ = trends(store, "shd24")
    assert by_node["FTS"].sum() == 3
    with pytest.raises(MaintenanceError, match="no work orders for asset 'Q'"):
        trends(store, "Q")


def test_read_only_store_without_logs(tmp_path: Path):
    DuckDBStore(tmp_path / "s.duckdb").close()
    with (
        DuckDBStore(tmp_path / "s.duckdb", read_only=True) as store,
        pytest.raises(MaintenanceError, match="holds no work orders"),
    ):
        failure_modes(store)
