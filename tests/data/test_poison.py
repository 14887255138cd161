"""Input that cannot be stored never jams ingest and never vanishes: the store checks every sample
before the write (good samples of a batch stored, bad ones quarantined), the MQTT decoder
quarantines poison with the reason, a store path that is a data file is refused, and a file import
reports what it stored and what not, and can be re-run without duplicates."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from twinforge.cli.main import app
from twinforge.data import (
    DuckDBStore,
    FileMapping,
    MessageDecoder,
    MqttMapping,
    SampleBatch,
    StoreError,
    ingest_file,
)
from twinforge.data.store import TIME_MAX_US, sample_problem, time_problem

from .conftest import FLOW_RIG

runner = CliRunner()
TOPIC = "twinforge/flow-rig/flow/q"
T = 1_714_564_800  # 2024-05-01 12:00:00 UTC


# -- the store's own check -------------------------------------------------------------------


def test_one_bad_sample_never_poisons_a_batch(store):
    sid = store.series_id("tw", "n", "s")
    good = [(T * 10**6 + i, float(i)) for i in range(4)]
    bad = [
        (T * 10**9, 1.0),  # ns where µs belong: year 56302
        (10**400, 1.0),  # larger than any integer numpy holds
        (-1, 1.0),  # before 1970
        (T * 10**6 + 10, float("nan")),
        (T * 10**6 + 11, float("inf")),
        (T * 10**6 + 12, "high"),
    ]
    rows = [good[0], bad[0], good[1], bad[1], bad[2], good[2], bad[3], bad[4], bad[5], good[3]]
    batch = SampleBatch([sid] * len(rows), [t for t, _ in rows], [v for _, v in rows], [0] * len(rows))
    assert store.write_batch(batch) == 4
    assert list(store.range("tw", "n", "s")["value"]) == [0.0, 1.0, 2.0, 3.0]
    q = store.quarantined("tw")
    assert len(q) == 6 and set(q["source"]) == {"store"} and set(q["location"]) == {"n.s"}
    reasons = list(q["reason"])
    assert "outside the storable window 1970-01-01 .. 2262-04-11 UTC (56302-" in reasons[0]
    assert "divided by 1,000 it would fit" in reasons[0]
    assert "about 10^400 µs" in reasons[1] and "1969-12-31" in reasons[2]
    assert "value nan is not a finite number" in reasons[3] and "value inf" in reasons[4]
    assert "value 'high' is not a number" in reasons[5]
    assert json.loads(q["text"].iloc[0]) == {"series": "n.s", "ts_us": T * 10**9, "value": 1.0, "quality": 0}
    # the store is not jammed: the next write goes through
    assert store.write_batch(SampleBatch([sid], [T * 10**6 + 99], [9.0], [0])) == 1


def test_sample_rule_edges():
    assert time_problem(0) is None and time_problem(TIME_MAX_US) is None
    assert (
        time_problem(TIME_MAX_US + 1) is not None and time_problem(float("nan")) == "time nan is not finite"
    )
    assert sample_problem(T * 10**6, 1.0, 3) is None
    assert "quality code 7" in sample_problem(T * 10**6, 1.0, 7)
    assert "is not a number" in sample_problem(T * 10**6, None)


def test_write_samples_frame_quarantines_non_finite_values(store):
    frame = pd.DataFrame(
        {
            "node": ["n"] * 3,
            "signal": ["s"] * 3,
            "timestamp": pd.to_datetime([T, T + 1, T + 2], unit="s", utc=True),
            "value": [1.0, float("nan"), 3.0],
        }
    )
    assert store.write_samples("tw", frame) == 2
    assert store.counts("tw")["quarantine"] == 1


# -- MQTT payloads that cannot be stored ---------------------------------------------------------


@pytest.fixture
def decoder(flow_rig, store):
    return MessageDecoder(flow_rig, store, MqttMapping.default(flow_rig))


POISON = [
    ({"ts": T * 1_000_000, "value": 1.0}, "'ts' 1714564800000000: time is outside the storable window"),
    ({"ts": T * 1000, "value": 1.0}, "divided by 1,000 it would fit"),
    ({"ts_ms": T * 1_000_000, "value": 1.0}, "'ts_ms' 1714564800000000: time is outside"),
    ({"ts": 1e300, "value": 1.0}, "about 10^306 µs from 1970"),
    ({"ts": -86400, "value": 1.0}, "(1969-12-31 00:00 UTC)"),
    ({"ts": "9999-01-01T00:00:00Z", "value": 1.0}, "time is outside the storable window"),
    ({"ts": "+12345-01-01", "value": 1.0}, "'ts'"),
    ({"ts": T, "value": 1e308, "unit": "m^3/s"}, "'value' 1e+308 m^3/s is inf m^3/h"),
    (b'{"ts": 1714564800, "value": Infinity}', "'value' must be a finite number"),
    (b'{"ts": 1714564800, "value": -Infinity}', "'value' must be a finite number"),
    (b'{"ts": 1714564800, "value": NaN}', "'value' must be a finite number"),
    (b'{"ts": NaN, "value": 1}', "'ts': timestamp must be finite"),
    (b'{"ts": 1714564800, "value": 1' + b"0" * 5000 + b"}", "payload is not valid JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "nests arrays or objects too deeply"),
    ({"ts": T, "value": "12.5"}, "'value' must be a number, found str"),
]


@pytest.mark.parametrize(("payload", "reason"), POISON)
def test_poison_payloads_are_quarantined_with_the_reason(decoder, payload, reason):
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    batch, quarantine = SampleBatch(), []
    res = decoder.decode(TOPIC, raw, 0, batch, quarantine)
    assert len(batch) == 0 and res.quarantined == 1
    assert reason in quarantine[0].reason, quarantine[0].reason
    assert quarantine[0].payload == raw and quarantine[0].location == TOPIC


def test_poison_inside_a_gateway_batch_keeps_the_good_samples(decoder, store):
    samples = [{"ts": T, "value": 1.0}, {"ts": T * 1000, "value": 2.0}, {"ts": T + 1, "value": 3.0}]
    batch, quarantine = SampleBatch(), []
    decoder.decode(TOPIC, json.dumps({"samples": samples}).encode(), 0, batch, quarantine)
    assert batch.value == [1.0, 3.0] and len(quarantine) == 1
    assert quarantine[0].reason.startswith("samples[1]: 'ts'")
    assert store.write_batch(batch, quarantine) == 2


# -- the store path -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["data.csv", "data.parquet", "x.json", "spec.yaml", "notes.txt", "a.csv.gz"])
def test_store_path_with_a_data_file_extension_is_refused(tmp_path, name):
    path = tmp_path / name
    with pytest.raises(StoreError, match=r"data-file extension") as err:
        DuckDBStore(path)
    assert str(path) in str(err.value)
    assert not path.exists()  # nothing created under the misleading name


def test_existing_file_that_is_not_duckdb_is_refused(tmp_path):
    (tmp_path / "plain").write_text("time,value\n1,2\n")
    with pytest.raises(StoreError, match=r"'.*plain' exists and is not a DuckDB database"):
        DuckDBStore(tmp_path / "plain")
    (tmp_path / "empty.duckdb").touch()
    with pytest.raises(StoreError, match="is an empty file"):
        DuckDBStore(tmp_path / "empty.duckdb", read_only=True)
    with pytest.raises(StoreError, match="is a folder"):
        DuckDBStore(tmp_path)
    with DuckDBStore(tmp_path / "real.duckdb") as s:  # a DuckDB file opens, also again
        s.series_id("tw", "n", "s")
    with DuckDBStore(tmp_path / "real.duckdb", read_only=True) as s:
        assert s.counts()["series"] == 1


def test_cli_refuses_a_csv_as_store_naming_it(tmp_path):
    data = tmp_path / "rig.csv"
    data.write_text("time,q\n2024-05-01T12:00:00,1\n")
    (tmp_path / "rig.yaml").write_text(FLOW_RIG)
    (tmp_path / "map.yaml").write_text("timestamp: time\ncolumns: {q: flow.q}\n")
    for args in (
        ["store", "info", "--store", str(data)],
        [
            "ingest",
            str(tmp_path / "rig.yaml"),
            str(data),
            "-m",
            str(tmp_path / "map.yaml"),
            "--store",
            str(data),
        ],
    ):
        res = runner.invoke(app, args)
        assert res.exit_code == 2, res.output
        text = " ".join(res.output.split())
        assert "data-file extension '.csv'" in text and "rig.csv" in text and "Traceback" not in text
    assert data.read_text() == "time,q\n2024-05-01T12:00:00,1\n"


# -- file ingest: what was stored, what not, and re-runs ------------------------------------------

MAPPING = {"twin": "flow-rig", "timestamp": {"column": "time"}, "columns": {"q": "flow.q", "t": "thermo.t"}}


def rows(n: int) -> list[str]:
    """``n`` CSV rows ``time,q,t``, one second apart from 2024-05-01 12:00:00 UTC."""
    times = pd.date_range("2024-05-01 12:00:00", periods=n, freq="s", tz="UTC").strftime("%Y-%m-%dT%H:%M:%S")
    return [f"{t},{i % 40},{i % 90}" for i, t in enumerate(times)]


def test_partial_csv_reports_every_row_and_re_runs_without_duplicates(flow_rig, tmp_path):
    lines = rows(3000)
    lines[1000] = "2024-05-01T12:16:40,1,2,3"  # one field too many: line 1002
    lines[2000] = "9999-01-01T00:00:00,5,6"  # outside the store's window: line 2002
    lines[2500] = "2024-05-01T12:41:40,inf,7"  # one bad cell, the other stored: line 2502
    path = tmp_path / "rig.csv"
    path.write_text("time,q,t\n" + "\n".join(lines) + "\n")
    mapping = FileMapping.from_data(MAPPING)
    with DuckDBStore(tmp_path / "s.duckdb") as store:
        report = ingest_file(flow_rig, path, mapping, store, chunk_rows=700)
        assert report.complete and report.last_line == 3001
        assert report.rows == 3000 and report.rows_stored == 2998
        assert report.rows_malformed == 1 and report.rows_quarantined == 1 and report.cells_quarantined == 1
        assert report.samples_stored == 2998 * 2 - 1
        where = dict(report.problems)
        assert list(where) == ["rig.csv line 1002", "rig.csv line 2002", "rig.csv line 2502"]
        assert "row has 4 field(s), the header has 3" in where["rig.csv line 1002"]
        assert "outside the storable window" in where["rig.csv line 2002"]
        assert "column 'q': 'inf' is not a finite number" in where["rig.csv line 2502"]
        q = store.quarantined("flow-rig").set_index("location")
        assert q.loc["rig.csv line 1002", "text"] == "2024-05-01T12:16:40,1,2,3"
        assert json.loads(q.loc["rig.csv line 2002", "text"])["time"] == "9999-01-01T00:00:00"
        counts = store.counts()
        # the same file again: nothing duplicated, the quarantine records replaced
        again = ingest_file(flow_rig, path, mapping, store, chunk_rows=1000)
        assert again.samples_stored == report.samples_stored and store.counts() == counts


def test_unreadable_tail_is_reported_and_a_fixed_file_resumes(flow_rig, tmp_path):
    # an unterminated quote with more than two of Arrow's 1 MiB blocks after it
    lines = rows(120_000)
    lines[1000] = '2024-05-01T12:16:40,"7,8'
    path = tmp_path / "big.csv"
    path.write_text("time,q,t\n" + "\n".join(lines) + "\n")
    (tmp_path / "rig.yaml").write_text(FLOW_RIG)
    (tmp_path / "map.yaml").write_text(json.dumps(MAPPING))
    store = str(tmp_path / "s.duckdb")
    args = [
        "ingest",
        str(tmp_path / "rig.yaml"),
        str(path),
        "-m",
        str(tmp_path / "map.yaml"),
        "--store",
        store,
    ]
    res = runner.invoke(app, args)
    assert res.exit_code == 1 and "Traceback" not in res.output
    text = " ".join(res.output.split())
    assert "incomplete:" in text and "unterminated quote" in text and "run the same command again" in text
    with DuckDBStore(store, read_only=True) as st:
        stored = st.counts("flow-rig")["samples"]
        q = st.quarantined("flow-rig")
    assert 0 < stored <= 1000 * 2 and len(q) == 1
    stop_line = int(q["location"].iloc[0].rsplit(" ", 1)[1])
    assert stored == (stop_line - 2) * 2  # every row before the stop is stored, none after
    assert (
        f"{120_001 - stop_line + 1} line(s) from line {stop_line} to the end of the file are not stored"
        in (q["reason"].iloc[0])
    )
    # fix the quote and run again: it completes, rows before are rewritten, not duplicated
    lines[1000] = "2024-05-01T12:16:40,7,8"
    path.write_text("time,q,t\n" + "\n".join(lines) + "\n")
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    with DuckDBStore(store, read_only=True) as st:
        assert st.counts("flow-rig")["samples"] == 120_000 * 2
        assert st.counts("flow-rig")["quarantine"] == 0  # the stop record was replaced


def test_parquet_epoch_numbers_beyond_int64_are_quarantined_not_wrapped(flow_rig, store, tmp_path):
    path = tmp_path / "e.parquet"
    pd.DataFrame({"epoch": [T, T * 1e6, 1e300, T + 1], "q": [1.0, 2.0, 3.0, 4.0]}).to_parquet(path)
    mapping = FileMapping.from_data(
        {"timestamp": {"column": "epoch", "unit": "s"}, "columns": {"q": "flow.q"}}
    )
    report = ingest_file(flow_rig, path, mapping, store)
    assert report.samples_stored == 2 and report.rows_quarantined == 2
    assert [loc for loc, _ in report.problems] == ["e.parquet row 2", "e.parquet row 3"]
    assert "divided by 1,000,000 it would fit" in report.problems[0][1]


def test_quarantine_cli_filters_and_json(tmp_path, flow_rig):
    path = tmp_path / "s.duckdb"
    with DuckDBStore(path) as store:
        dec = MessageDecoder(flow_rig, store, MqttMapping.default(flow_rig))
        batch, quarantine = SampleBatch(), []
        dec.decode(TOPIC, b'{"ts": 1714564800000, "value": 1}', 0, batch, quarantine)
        store.write_batch(batch, quarantine)
        csv = tmp_path / "r.csv"
        csv.write_text("time,q\n2024-05-01T12:00:00,x\n")
        ingest_file(
            flow_rig, csv, FileMapping.from_data({"timestamp": "time", "columns": {"q": "flow.q"}}), store
        )
    res = runner.invoke(app, ["store", "quarantine", "--store", str(path), "--source", "mqtt", "--json"])
    assert res.exit_code == 0, res.output
    (row,) = [json.loads(line) for line in res.output.splitlines()]
    assert row["location"] == TOPIC and row["payload"] == '{"ts": 1714564800000, "value": 1}'
    assert "outside the storable window" in row["reason"] and row["twin"] == "flow-rig"
    res = runner.invoke(app, ["store", "quarantine", "--store", str(path), "--twin", "flow-rig"])
    assert res.exit_code == 0 and "2 quarantined" in res.output and "r.csv line 2" in res.output


def test_bytes_that_are_not_utf8_spoil_one_row_not_the_file(flow_rig, store, tmp_path):
    path = tmp_path / "bytes.csv"
    path.write_bytes(b"time,q\n2024-05-01T12:00:00,1\n2024-05-01T12:00:01,\xff\xfe2\n2024-05-01T12:00:02,3\n")
    report = ingest_file(
        flow_rig, path, FileMapping.from_data({"timestamp": "time", "columns": {"q": "flow.q"}}), store
    )
    assert report.complete and report.samples_stored == 2 and report.cells_quarantined == 1
    assert report.problems == [
        ("bytes.csv line 3", "column 'q': '\\\\xff\\\\xfe2' is not a finite number (signal flow.q)")
    ]


def test_ingestor_is_ready_only_once_the_broker_confirmed_its_subscriptions(flow_rig, store):
    """On a new session a message published between CONNACK and SUBACK finds no subscriber and the
    broker drops it (acknowledged to its publisher): start() must wait for the SUBACK."""
    from types import SimpleNamespace

    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.reasoncodes import ReasonCode

    from twinforge.data import BrokerError, MqttIngestor

    ing = MqttIngestor(flow_rig, store, "127.0.0.1", 1, client_id="unit")
    sent = []
    client = SimpleNamespace(subscribe=lambda topics: sent.append(topics) or (0, 7))
    granted = ReasonCode(PacketTypes.SUBACK, identifier=1)
    ing._on_connect(client, None, SimpleNamespace(session_present=False), granted, None)
    assert sent == [[("twinforge/flow-rig/#", 1)]] and not ing.connected
    ing._on_subscribe(None, None, 6, [granted], None)  # another subscription's answer
    assert not ing.connected
    ing._on_subscribe(None, None, 7, [granted], None)
    assert ing.connected
    refused = MqttIngestor(flow_rig, store, "127.0.0.1", 1, client_id="unit2")
    refused._on_connect(client, None, SimpleNamespace(session_present=False), granted, None)
    refused._on_subscribe(None, None, 7, [ReasonCode(PacketTypes.SUBACK, identifier=0x80)], None)
    with pytest.raises(BrokerError, match="refused the subscription to twinforge/flow-rig/#"):
        refused.wait_connected(0.05)
