from __future__ import annotations

import json

import pandas as pd
import pytest

from twinforge.data import FileMapping, MappingError, Quality, ingest_file
from twinforge.data.errors import DataError

CSV = """time;flow_lpm;temp_f;level
2024-05-01 12:00:00;100;212;0.5
2024-05-01 12:00:01;200;32;
2024-05-01 12:00:02;abc;50;0.7
not a time;1;2;3
2024-05-01 12:00:03;1200;-40;NA
"""


def rig_mapping(**over) -> FileMapping:
    data = {
        "twin": "flow-rig",
        "timestamp": {"column": "time"},
        "delimiter": ";",
        "columns": {
            "flow_lpm": {"node": "flow", "signal": "q", "unit": "L/min"},
            "temp_f": {"node": "thermo", "signal": "t", "unit": "degF"},
            "level": "level.v",
        },
    }
    data.update(over)
    return FileMapping.from_data(data)


def test_csv_ingest_converts_units_and_quarantines_bad_rows(flow_rig, store, tmp_path):
    path = tmp_path / "rig.csv"
    path.write_text(CSV)
    report = ingest_file(flow_rig, path, rig_mapping(), store)
    assert report.rows == 5
    # 4 rows with a good time x 3 columns = 12 cells: 1 bad ('abc'), 2 missing ('' and NA)
    assert report.samples_stored == 9
    assert report.missing_cells == 2
    assert report.cells_quarantined == 1
    assert report.rows_quarantined == 1
    assert report.quarantine_records == 2
    assert report.out_of_range == 2  # 1200 L/min = 72 m^3/h > 50; -40 degF = -40 degC < -20
    flow = store.range("flow-rig", "flow", "q")
    # L/min -> m^3/h: x * 60 / 1000
    assert list(flow["value"]) == pytest.approx([6.0, 12.0, 72.0])
    assert list(flow["quality"]) == [0, 0, int(Quality.OUT_OF_RANGE)]
    temp = store.range("flow-rig", "thermo", "t")
    assert list(temp["value"]) == pytest.approx([100.0, 0.0, 10.0, -40.0])  # degF -> degC
    assert list(temp["quality"]) == [0, 0, 0, int(Quality.OUT_OF_RANGE)]
    level = store.range("flow-rig", "level", "v")
    assert list(level["value"]) == [0.5, 0.7]
    q = store.quarantined("flow-rig")
    reasons = dict(zip(q["location"], q["reason"], strict=True))
    assert "column 'flow_lpm': 'abc' is not a finite number" in reasons["rig.csv line 4"]
    assert "timestamp in column 'time' is 'not a time' cannot be read" in reasons["rig.csv line 5"]
    row = json.loads(q.set_index("location").loc["rig.csv line 4", "text"])
    assert row == {"time": "2024-05-01 12:00:02", "flow_lpm": "abc", "temp_f": "50", "level": "0.7"}
    # nothing lost: every non-empty cell is stored or in a quarantined row
    assert report.samples_stored + report.cells_quarantined + 3 == 4 * 3 - 2 + 3


def test_parquet_with_epoch_times_and_timezone(flow_rig, store, tmp_path):
    path = tmp_path / "rig.parquet"
    pd.DataFrame({"epoch_ms": [1714564800000, 1714564801000], "flow_lpm": [50.0, float("inf")]}).to_parquet(
        path
    )
    mapping = FileMapping(
        timestamp={"column": "epoch_ms", "unit": "ms"},
        columns={"flow_lpm": {"node": "flow", "signal": "q", "unit": "L/min"}},
    )
    report = ingest_file(flow_rig, path, mapping, store)
    assert report.samples_stored == 1 and report.cells_quarantined == 1
    got = store.range("flow-rig", "flow", "q")
    assert got["timestamp"].iloc[0] == pd.Timestamp("2024-05-01 12:00:00", tz="UTC")
    assert got["value"].iloc[0] == pytest.approx(3.0)
    # local times with a declared zone
    local = tmp_path / "local.csv"
    local.write_text("t,flow_lpm\n2024-05-01 14:00:00,10\n")
    m = FileMapping(timestamp={"column": "t", "timezone": "Europe/Berlin"}, columns={"flow_lpm": "flow.q"})
    ingest_file(flow_rig, local, m, store)
    assert store.latest("flow-rig", "flow", "q").timestamp == pd.Timestamp("2024-05-01 12:00:00", tz="UTC")


def test_mapping_errors_name_the_problem_with_suggestions(flow_rig, tmp_path):
    bad = FileMapping.from_data(
        {
            "timestamp": "time",
            "columns": {
                "a": {"node": "flwo", "signal": "q"},
                "b": {"node": "flow", "signal": "qq"},
                "c": {"node": "thermo", "signal": "t", "unit": "bar"},
                "d": {"node": "pump", "signal": "x"},
            },
        }
    )
    with pytest.raises(MappingError) as err:
        bad.resolve(flow_rig)
    text = str(err.value)
    assert "no node 'flwo'; did you mean 'flow'?" in text
    assert "node 'flow' has no signal 'qq'; did you mean 'q'?" in text
    assert "column 'c': unit 'bar' does not fit signal thermo.t" in text
    assert "node 'pump' of twin 'flow-rig' has no signals" in text
    with pytest.raises(MappingError, match="mapping is for twin 'other'"):
        FileMapping(twin="other", timestamp="t", columns={"x": "flow.q"}).resolve(flow_rig)
    with pytest.raises(MappingError, match=r"column 'x': expected 'node\.signal'"):
        FileMapping.from_data({"timestamp": "t", "columns": {"x": "noseparator"}})
    path = tmp_path / "f.csv"
    path.write_text("time,flow\n2024-01-01,1\n")
    m = FileMapping(timestamp="time", columns={"flw": "flow.q"})
    with pytest.raises(MappingError, match="'flw' not in the file; did you mean 'flow'"):
        ingest_file(flow_rig, path, m, None)  # type: ignore[arg-type]
    with pytest.raises(DataError, match="unsupported file type"):
        ingest_file(flow_rig, tmp_path / "x.xlsx", m, None)  # type: ignore[arg-type]


def test_mapping_yaml_file(flow_rig, tmp_path):
    path = tmp_path / "map.yaml"
    path.write_text(
        "twin: flow-rig\ntimestamp: {column: time, format: '%d/%m/%Y %H:%M'}\n"
        "columns:\n  Flow: {node: flow, signal: q, unit: L/s}\n  T: thermo.t\n"
    )
    m = FileMapping.from_yaml(path)
    assert m.columns["T"].node == "thermo" and m.timestamp.format == "%d/%m/%Y %H:%M"
    resolved = {r.column: r for r in m.resolve(flow_rig)}
    assert resolved["Flow"].convert(1.0) == pytest.approx(3.6)  # 1 L/s = 3.6 m^3/h


def test_skab_file_onto_pump_station(pump_station, store, skab_dir):
    path = skab_dir / "anomaly-free.csv"
    cols = list(pd.read_csv(path, sep=";", nrows=0).columns)
    mapping = FileMapping.from_signal_names(pump_station, cols, "datetime", delimiter=";")
    assert len(mapping.columns) == 8
    report = ingest_file(pump_station, path, mapping, store)
    assert report.rows == 9405 and report.samples_stored == 9405 * 8
    assert report.quarantine_records == 0 and report.ignored_columns == []
    latest = store.latest("pump-station", "flow_meter", "Volume Flow RateRMS")
    assert latest.unit == "L/min" and latest.timestamp == pd.Timestamp("2020-02-08 16:16:47", tz="UTC")
