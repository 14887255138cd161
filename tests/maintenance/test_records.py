"""Reading work orders: every line kept, what is wrong with it flagged."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from twinforge.maintenance import MaintenanceError, read_csv_text, read_lines_text, read_work_orders
from twinforge.maintenance.records import parse_cost, parse_date

CSV = """BscStartDate,Asset,OriginalShorttext,PMType,Cost
2008-09-25,D,LH Bucket crowd top servo hose leaking,PM01,0
31/02/2009,C,CRACK IN BOOM @ RH BOTTOM MOUNT,PM01,12.5
not a date,E,REPLACE BUCKET TEETH,PM01,abc
2009-04-21,,ENGINE OVERHEATING,PM01,
2009-04-22,C,won,t swing,PM01,0
"""


def test_csv_rows_are_kept_and_flagged():
    orders = read_csv_text(CSV, "wo.csv")
    assert len(orders) == 5
    good, bad_day, bad_date, no_asset, bad_row = orders
    assert good.date == datetime(2008, 9, 25) and good.asset == "D" and good.cost == 0.0 and good.flags == []
    assert good.line == 2 and good.source == "wo.csv"
    assert bad_day.date is None and bad_day.flags == ["bad_date"] and bad_day.date_text == "31/02/2009"
    assert bad_date.flags == ["bad_date", "bad_cost"] and bad_date.text == "REPLACE BUCKET TEETH"
    assert no_asset.asset is None and no_asset.flags == ["no_asset"] and no_asset.cost is None
    assert "bad_row" in bad_row.flags and bad_row.text == "won"


def test_empty_and_headerless_inputs(tmp_path: Path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(MaintenanceError, match=r"empty\.csv is empty"):
        read_work_orders(empty)
    header_only = tmp_path / "header.csv"
    header_only.write_text("date,asset,text\n\n")
    assert read_work_orders(header_only) == []
    no_text = tmp_path / "cols.csv"
    no_text.write_text("date,asset,value\n2020-01-01,P1,3\n")
    with pytest.raises(MaintenanceError, match="no text column"):
        read_work_orders(no_text)
    with pytest.raises(MaintenanceError, match="not found"):
        read_work_orders(tmp_path / "missing.csv")


def test_plain_lines_in_three_shapes(tmp_path: Path):
    text = (
        "2010-03-19 | D | Bucket slow SHD24 | 1027.84\n"
        "\n"
        "2011-02-15 E: Oil leak LH directional control valve\n"
        "pump seal weeping again\n"
        "19.07.2010 | | replace hyd. line\n"
        "yesterday | C | boom crack\n"
    )
    path = tmp_path / "log.txt"
    path.write_text(text)
    orders = read_work_orders(path)
    assert [o.line for o in orders] == [1, 3, 4, 5, 6]
    a, b, c, d, e = orders
    assert (a.date, a.asset, a.text, a.cost) == (datetime(2010, 3, 19), "D", "Bucket slow SHD24", 1027.84)
    assert (b.date, b.asset, b.text) == (datetime(2011, 2, 15), "E", "Oil leak LH directional control valve")
    assert c.date is None and c.asset is None and set(c.flags) == {"no_date", "no_asset"}
    assert d.date == datetime(2010, 7, 19) and d.flags == ["no_asset"]
    assert e.flags == ["bad_date"] and e.asset == "C"
    with pytest.raises(MaintenanceError, match="is empty"):
        read_lines_text("  \n", "x.txt")


def test_dates_and_costs():
    assert parse_date("2008-09-25T10:30:00") == datetime(2008, 9, 25, 10, 30)
    assert parse_date("25-Sep-2008") == datetime(2008, 9, 25)
    assert parse_date("2008/13/01") is None
    assert parse_cost("$1,234.50") == (1234.5, True)
    assert parse_cost("") == (None, True)
    assert parse_cost("nan") == (None, False)
