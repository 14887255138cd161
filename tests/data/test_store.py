from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from twinforge.data import DuckDBStore, Quality, QuarantineRecord, StoreError, TimeSeriesStore, open_store
from twinforge.data.errors import DataError

T0 = pd.Timestamp("2024-05-01 12:00:00", tz="UTC")


def frame(rows):
    return pd.DataFrame(rows, columns=["node", "signal", "timestamp", "value", "quality"][: len(rows[0])])


def test_store_satisfies_protocol(store):
    assert isinstance(store, TimeSeriesStore)


def test_out_of_order_samples_are_accepted_and_queries_sort(store):
    times = [T0 + pd.Timedelta(seconds=s) for s in (5, 1, 3, 2, 4)]
    store.write_samples("tw", frame([("n", "s", t, float(i)) for i, t in enumerate(times)]))
    got = store.range("tw", "n", "s")
    assert list(got["timestamp"]) == sorted(times)
    assert list(got["value"]) == [1.0, 3.0, 2.0, 4.0, 0.0]
    assert str(got["timestamp"].dt.tz) == "UTC"
    # half-open range [start, end)
    part = store.range("tw", "n", "s", T0 + pd.Timedelta(seconds=2), T0 + pd.Timedelta(seconds=4))
    assert list(part["value"]) == [3.0, 2.0]


def test_duplicate_timestamp_last_write_wins(store):
    store.write_samples("tw", frame([("n", "s", T0, 1.0), ("n", "s", T0 + pd.Timedelta(seconds=1), 2.0)]))
    store.write_samples("tw", frame([("n", "s", T0, 10.0)]))  # later batch replaces
    # inside one batch, the later row wins
    store.write_samples(
        "tw",
        frame([("n", "s", T0 + pd.Timedelta(seconds=1), 5.0), ("n", "s", T0 + pd.Timedelta(seconds=1), 6.0)]),
    )
    got = store.range("tw", "n", "s")
    assert list(got["value"]) == [10.0, 6.0]
    assert store.counts("tw")["samples"] == 2


def test_latest_and_latest_all_respect_quality(store):
    rows = [
        ("a", "x", T0, 1.0, 0),
        ("a", "x", T0 + pd.Timedelta(seconds=2), 99.0, int(Quality.OUT_OF_RANGE)),
        ("b", "y", T0 + pd.Timedelta(seconds=1), 7.0, int(Quality.UNCERTAIN)),
    ]
    store.write_samples("tw", frame(rows), units={("a", "x"): "degC"})
    latest = store.latest("tw", "a", "x")
    assert latest.value == 99.0 and latest.quality is Quality.OUT_OF_RANGE and latest.unit == "degC"
    usable = store.latest("tw", "a", "x", usable_only=True)
    assert usable.value == 1.0 and usable.timestamp == T0
    assert store.latest("tw", "a", "nope") is None
    every = store.latest_all("tw", usable_only=True).set_index(["node", "signal"])
    assert every.loc[("a", "x"), "value"] == 1.0
    assert every.loc[("b", "y"), "value"] == 7.0


def test_resample_wide_frame_with_aggregates(store):
    # signal n.s: 0..119 at 1 s; bucket 1 min -> two buckets
    rows = [("n", "s", T0 + pd.Timedelta(seconds=i), float(i)) for i in range(120)]
    rows += [("m", "r", T0 + pd.Timedelta(seconds=10 * i), 2.0 * i) for i in range(12)]
    rows.append(("n", "s", T0 + pd.Timedelta(seconds=30, milliseconds=500), 1e6))
    f = frame(rows)
    f["quality"] = 0
    f.loc[f["value"] == 1e6, "quality"] = int(Quality.BAD)
    store.write_samples("tw", f)
    mean = store.resample("tw", "1 min", "mean")
    assert list(mean.columns) == ["m.r", "n.s"]
    assert list(mean.index) == [T0, T0 + pd.Timedelta(minutes=1)]
    assert mean.loc[T0, "n.s"] == pytest.approx(29.5)  # the bad sample is left out
    assert mean.loc[T0 + pd.Timedelta(minutes=1), "n.s"] == pytest.approx(89.5)
    assert mean.loc[T0, "m.r"] == pytest.approx(5.0)  # 0, 2, ..., 10
    assert mean.loc[T0 + pd.Timedelta(minutes=1), "m.r"] == pytest.approx(17.0)  # 12, 14, ..., 22
    several = store.resample("tw", dt.timedelta(seconds=60), ["min", "max", "last", "count"], signals=["n.s"])
    assert several.loc[T0, ("n.s", "min")] == 0
    assert several.loc[T0, ("n.s", "max")] == 59
    assert several.loc[T0, ("n.s", "last")] == 59
    assert several.loc[T0, ("n.s", "count")] == 60
    with_bad = store.resample("tw", "1 min", "max", include_bad=True)
    assert with_bad.loc[T0, "n.s"] == 1e6
    store.write_samples("tw", frame([("g", "h", T0, 1.0), ("g", "h", T0 + pd.Timedelta(seconds=95), 3.0)]))
    gaps = store.resample("tw", "30 s", "mean", signals=[("g", "h")], fill_gaps=True)
    assert list(gaps.index) == [T0 + pd.Timedelta(seconds=30 * k) for k in range(4)]
    assert gaps["g.h"].iloc[0] == 1.0 and gaps["g.h"].iloc[3] == 3.0 and gaps["g.h"].iloc[1:3].isna().all()
    with pytest.raises(DataError, match="unknown aggregate"):
        store.resample("tw", "1 min", "median")


def test_retention_deletes_older_than_cutoff(store):
    store.write_samples("tw", frame([("n", "s", T0 + pd.Timedelta(hours=h), float(h)) for h in range(10)]))
    store.write_samples("other", frame([("n", "s", T0, 1.0)]))
    store.write_events("tw", [{"kind": "failure", "node": "n", "timestamp": T0, "payload": {"code": 7}}])
    out = store.delete_older_than(T0 + pd.Timedelta(hours=4), twin="tw")
    assert out == {"samples": 4, "events": 1}
    assert store.range("tw", "n", "s")["value"].min() == 4.0
    assert store.counts("other")["samples"] == 1  # other twin untouched


def test_downsample_replaces_old_samples_by_bucket_aggregates(store):
    rows = [
        ("n", "s", T0 + pd.Timedelta(seconds=i), float(i), int(Quality.UNCERTAIN if i == 7 else 0))
        for i in range(600)
    ]
    store.write_samples("tw", frame(rows))
    rep = store.downsample(T0 + pd.Timedelta(seconds=330), "1 min", twin="tw")  # cutoff floors to 5 min
    assert (rep.samples_before, rep.samples_after) == (300, 5)
    got = store.range("tw", "n", "s")
    assert len(got) == 5 + 300
    first = got.iloc[0]
    assert (
        first["timestamp"] == T0
        and first["value"] == pytest.approx(29.5)
        and first["quality"] == Quality.UNCERTAIN
    )
    # coarser again: count-weighted combination of the rollups equals the raw mean
    store.downsample(T0 + pd.Timedelta(minutes=5), "5 min", twin="tw")
    got = store.range("tw", "n", "s")
    assert got.iloc[0]["value"] == pytest.approx(np.mean(np.arange(300)))
    roll = store.sql("SELECT count, min, max, last FROM telemetry.rollups").iloc[0]
    assert (roll["count"], roll["min"], roll["max"], roll["last"]) == (300, 0, 299, 299)
    # idempotent
    again = store.downsample(T0 + pd.Timedelta(minutes=5), "5 min", twin="tw")
    assert again.samples_before == again.samples_after == 1


def test_events_text_records_and_quarantine_round_trip(store):
    store.write_events(
        "tw", [{"kind": "alarm", "node": "pump", "timestamp": T0, "payload": {"level": "high"}, "text": "hi"}]
    )
    store.write_text_records(
        "tw",
        [{"node": "pump", "timestamp": T0, "author": "ana", "text": "replaced seal", "metadata": {"wo": 42}}],
    )
    raw = b"\xff\xfe not utf8"
    store.write_quarantine([QuarantineRecord("mqtt", "a/b", raw, "payload is not UTF-8", "tw")])
    ev = store.events("tw", kind="alarm").iloc[0]
    assert ev["payload"] == {"level": "high"} and ev["timestamp"] == T0 and ev["text"] == "hi"
    tr = store.text_records("tw", node="pump").iloc[0]
    assert tr["author"] == "ana" and tr["metadata"] == {"wo": 42}
    q = store.quarantined("tw").iloc[0]
    assert q["payload"] == raw and q["reason"] == "payload is not UTF-8" and q["location"] == "a/b"
    assert store.counts("tw") == {"series": 0, "samples": 0, "events": 1, "text_records": 1, "quarantine": 1}


def test_file_store_persists_and_read_only(tmp_path):
    path = tmp_path / "sub" / "tf.duckdb"
    with open_store(path) as s:
        s.write_samples("tw", frame([("n", "s", T0, 3.5)]))
    with open_store(path, read_only=True) as s:
        assert s.latest("tw", "n", "s").value == 3.5
        with pytest.raises(StoreError, match="read-only"):
            s.write_samples("tw", frame([("n", "s", T0, 1.0)]))
    with pytest.raises(StoreError, match="does not exist"):
        DuckDBStore(tmp_path / "missing.duckdb", read_only=True)


def test_store_path_resolution(monkeypatch, tmp_path):
    from twinforge.data import resolve_store_path

    monkeypatch.delenv("TWINFORGE_STORE", raising=False)
    assert resolve_store_path() == ".twinforge/twinforge.duckdb"
    monkeypatch.setenv("TWINFORGE_STORE", str(tmp_path / "x.duckdb"))
    assert resolve_store_path() == str(tmp_path / "x.duckdb")
    assert resolve_store_path("y.duckdb") == "y.duckdb"
    with pytest.raises(StoreError, match="only embedded DuckDB"):
        open_store("postgresql://db/x")


def test_an_alert_is_updated_field_by_field(store):
    alert_id = store.write_alert(
        "tw",
        {
            "node": "a",
            "signal": "x",
            "source": "detector:pca",
            "started": T0,
            "score": 2.0,
            "peak_score": 2.0,
            "threshold": 1.0,
            "contributions": [["a", "x", 1.0]],
            "text": "at a.x",
        },
    )
    store.update_alert(alert_id, peak_score=9.0, node="b", signal="y", text="at b.y")
    (got,) = store.alerts("tw", alert_id=alert_id).to_dict("records")
    assert (got["node"], got["signal"], got["peak_score"], got["text"]) == ("b", "y", 9.0, "at b.y")
    assert pd.isna(got["ended"]) and got["contributions"] == [["a", "x", 1.0]]  # what was not given is kept
    store.update_alert(alert_id, ended=T0 + pd.Timedelta(minutes=5), contributions=[["b", "y", 1.0]])
    (got,) = store.alerts("tw", alert_id=alert_id).to_dict("records")
    assert not pd.isna(got["ended"]) and got["contributions"] == [["b", "y", 1.0]] and got["node"] == "b"
    store.update_alert(alert_id)  # nothing given: nothing changes
    assert store.alerts("tw", alert_id=alert_id).to_dict("records") == [got]
