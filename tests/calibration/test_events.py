from __future__ import annotations

import pandas as pd
import pytest

from twinforge.calibration import (
    CalibrationError,
    calibrate_events,
    check_event_log,
    event_log_from_store,
    event_log_to_store,
    read_event_log,
    simulate_event_log,
    write_event_log,
)
from twinforge.data.store import DuckDBStore


def test_the_simulator_trace_is_a_valid_log_with_paired_jobs_and_stops(one_station):
    log = simulate_event_log(one_station, "2 days", seed=1)
    assert set(log["event"]) == {"start", "finish", "down", "up"}
    checked = check_event_log(log, one_station)
    counts = checked["event"].value_counts()
    assert counts["start"] - counts["finish"] in (0, 1)  # one job may be open at the end
    assert counts["down"] - counts["up"] in (0, 1)
    assert set(checked.loc[checked["event"] == "down", "reason"]) == {"failure"}
    assert (checked.groupby("node")["t"].diff().dropna() >= 0).all()


def test_an_empty_log_is_refused(one_station, tmp_path):
    with pytest.raises(CalibrationError, match="empty"):
        check_event_log(pd.DataFrame(columns=["node", "event", "t"]), one_station)
    p = tmp_path / "empty.csv"
    p.write_text("")
    with pytest.raises(CalibrationError, match="empty"):
        read_event_log(p, one_station)


def test_an_unknown_node_is_named_with_a_suggestion(one_station):
    log = pd.DataFrame({"node": ["press", "pres"], "event": ["start", "finish"], "t": [0.0, 10.0]})
    with pytest.raises(CalibrationError, match=r"row 2: node 'pres' is not in twin .*did you mean 'press'"):
        check_event_log(log, one_station)


def test_times_going_backwards_name_the_row(one_station, tmp_path):
    p = tmp_path / "ev.csv"
    p.write_text("node,event,t\npress,start,0\npress,finish,12\npress,start,11\n")
    with pytest.raises(CalibrationError, match=r"ev.csv: row 3: time goes backwards for node 'press'"):
        read_event_log(p, one_station)


def test_unknown_events_reasons_missing_columns_and_bad_times_are_refused(one_station):
    with pytest.raises(CalibrationError, match="row 1: unknown event 'begin'"):
        check_event_log(pd.DataFrame({"node": ["press"], "event": ["begin"], "t": [0]}), one_station)
    with pytest.raises(CalibrationError, match="missing column"):
        check_event_log(pd.DataFrame({"node": ["press"], "t": [0]}), one_station)
    with pytest.raises(CalibrationError, match="unknown reason 'coffee'"):
        check_event_log(
            pd.DataFrame({"node": ["press"], "event": ["down"], "t": [0], "reason": ["coffee"]}), one_station
        )
    with pytest.raises(CalibrationError, match="neither a number of seconds nor a timestamp"):
        check_event_log(pd.DataFrame({"node": ["press"], "event": ["start"], "t": ["soon"]}), one_station)


def test_a_log_of_a_node_that_is_not_a_station_is_refused(one_station):
    log = pd.DataFrame({"node": ["buf"] * 2, "event": ["start", "finish"], "t": [0.0, 1.0]})
    with pytest.raises(CalibrationError, match="'buf' is a buffer"):
        calibrate_events(one_station, log)


def test_timestamps_csv_and_store_round_trips_keep_the_log(one_station, tmp_path):
    log = simulate_event_log(one_station, "1 day", seed=2)
    p = tmp_path / "ev.csv"
    write_event_log(log, p)
    back = read_event_log(p, one_station)
    assert len(back) == len(log) and (back["t"] - log["t"]).abs().max() < 1e-9
    stamped = log.assign(t=pd.Timestamp("2026-03-01", tz="UTC") + pd.to_timedelta(log["t"], unit="s"))
    checked = check_event_log(stamped, one_station)
    assert abs((checked["t"].iloc[-1] - checked["t"].iloc[0]) - (log["t"].iloc[-1] - log["t"].iloc[0])) < 1e-3
    with DuckDBStore() as store:
        assert event_log_to_store(store, one_station.name, log) == len(log)
        stored = event_log_from_store(store, one_station)
        assert len(stored) == len(log)
        assert list(stored["event"]) == list(log["event"])
        assert (stored["reason"].fillna("") == log["reason"].fillna("")).all()
