"""Date phrases in a search query become a time window; the rest is the query."""

from __future__ import annotations

from datetime import datetime

import pytest

from twinforge.maintenance import MaintenanceError, split_when

TODAY = datetime(2012, 12, 13)


@pytest.mark.parametrize(
    ("query", "rest", "start", "end"),
    [
        ("pump seal leaks last winter", "pump seal leaks", datetime(2011, 12, 1), datetime(2012, 3, 1)),
        ("boom cracks in 2008", "boom cracks", datetime(2008, 1, 1), datetime(2009, 1, 1)),
        ("engine won't start since March 2009", "engine won't start", datetime(2009, 3, 1), None),
        ("blown hoses before 2005", "blown hoses", None, datetime(2005, 1, 1)),
        ("blown hoses after 2005", "blown hoses", datetime(2006, 1, 1), None),
        (
            "track rollers in the last 3 months",
            "track rollers",
            datetime(2012, 10, 1),
            datetime(2012, 12, 14),
        ),
        ("lube faults last month", "lube faults", datetime(2012, 11, 1), datetime(2012, 12, 1)),
        ("lube faults this year", "lube faults", datetime(2012, 1, 1), datetime(2013, 1, 1)),
        ("aircon summer 2010", "aircon", datetime(2010, 6, 1), datetime(2010, 9, 1)),
        ("aircon in Feb 2010", "aircon", datetime(2010, 2, 1), datetime(2010, 3, 1)),
    ],
)
def test_phrases(query, rest, start, end):
    text, when = split_when(query, TODAY)
    assert text == rest
    assert when is not None and (when.start, when.end) == (start, end)


def test_last_winter_while_in_winter_is_the_previous_one():
    _, when = split_when("leaks last winter", datetime(2013, 1, 15))
    assert (when.start, when.end) == (datetime(2011, 12, 1), datetime(2012, 3, 1))
    _, when = split_when("leaks this winter", datetime(2013, 1, 15))
    assert (when.start, when.end) == (datetime(2012, 12, 1), datetime(2013, 3, 1))


def test_southern_seasons():
    _, when = split_when("aircon not cooling last summer", TODAY, hemisphere="south")
    # southern summer: December to February; on 13 December 2012 "last summer" is Dec 2011 - Feb 2012
    assert (when.start, when.end) == (datetime(2011, 12, 1), datetime(2012, 3, 1))
    _, when = split_when("leaks last winter", TODAY, hemisphere="south")
    assert (when.start, when.end) == (datetime(2012, 6, 1), datetime(2012, 9, 1))
    with pytest.raises(MaintenanceError, match="hemisphere"):
        split_when("x", TODAY, hemisphere="east")


def test_no_phrase():
    assert split_when("bucket cylinder leaking", TODAY) == ("bucket cylinder leaking", None)
