"""Numbers of a question: value, unit and role decided by the words around them."""

from __future__ import annotations

import pytest

from twinforge.guard.quantities import scan


def one(question: str, currency: str = "EUR"):
    found = [n for n in scan(question, currency) if "old" not in n.roles and "reference" not in n.roles]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize(
    ("question", "value", "unit", "role"),
    [
        ("What if the filler is down for 3 hours?", 3, "h", "duration"),
        ("the labeller jams two hours into the run", 2, "h", "start"),
        ("Pump out of service from the one hour mark", 1, "h", "start"),
        ("From hour one onward we slow the filler", 1, "h", "start"),
        ("the lead time goes up to 5 days", 5, "day", "value"),
        ("the lead time goes up by 5 days", 5, "day", "amount"),
        ("yield falls to 80%", 80, "%", "value"),
        ("output falls by 20%", 20, "%", "percent"),
        ("Run the labeler at 110% for the whole shift", 110, "%", "value"),
        ("Feed 140 cases an hour onto the line", 140, "item/h", "value"),
        ("Sales wants 2,800 cases a day at the dock", 2800, "item/day", "value"),
        ("Glass is up 50 cents a case", 0.5, "EUR/item", "amount"),
        ("electricity going up to 35p a kWh", 0.35, "GBP/kWh", "value"),
        ("2 CHF less per container on the lane", 2, "CHF/item", "amount"),
        ("an order drops every 20 seconds", 20, "s", "value"),
        ("stops for half an hour", 0.5, "h", "duration"),
        ("losing Hamburg for a whole day", 1, "day", "duration"),
    ],
)
def test_value_unit_and_role(question, value, unit, role):
    n = one(question)
    assert n.value == pytest.approx(value) and n.unit == unit and n.roles[0] == role


def test_factors_and_one_more():
    assert one("double the capacity").roles == ("factor",) and one("halve it").value == 0.5
    assert one("supply cut in half").value == 0.5
    n = one("put a second filler in parallel")  # that many
    assert (n.value, n.roles) == (2, ("value",))
    n = one("add a CT scanner")  # one more
    assert (n.value, n.roles, n.direction) == (1, ("amount",), "increase")
    n = one("if we permanently lose one of the three CT machines")
    assert (n.value, n.roles, n.direction) == (1, ("amount",), "decrease")
    assert one("a third more orders").unit == "%"
    assert one("leave the outlet valve half open").roles == ("value",)
    n = one("Shut valve2 completely")
    assert (n.value, n.roles) == (0, ("value",))


def test_directions_and_speed():
    assert one("the capper is 25% slower").direction == "slower"
    assert one("the filler ran 10% faster").direction == "faster"
    assert one("costs 30% more").direction == "increase"
    assert one("it loses 100 pallets/day of capacity").direction == "decrease"


def test_clock_times_count_from_the_start_of_the_run():
    found = scan("We start at 06:00; the packer is down at 06:30 for an hour.")
    start = next(n for n in found if n.roles == ("start",))
    assert (start.value, start.unit) == (30, "min")
    found = scan("Shift starts at 6am. If the sorter breaks at 10 for 90 minutes")
    assert next(n for n in found if n.roles == ("start",)).value == 4
    # a time of day with no start of the run: flagged, never guessed
    assert scan("What if the filler stops at 14:00?")[0].roles == ("clock",)


def test_old_values_are_not_used():
    found = scan("If cases arrived every 25 s instead of every 30, what changes?")
    assert [n.roles for n in found] == [("value",), ("old",)]
    assert scan("What if the tank held 150 litres instead of 100?")[1].roles == ("old",)


def test_o_clock_is_a_clock_time_and_a_quick_one_no_number():
    n = one("the filler stops at 10 o'clock")
    assert (n.value, n.roles) == (10.0, ("clock",))
    assert scan("quick one: what if the filler stops?", "EUR") == []


def test_negative_and_relative_values():
    assert one("What if the scrap rate was -5%?").value == -5
    assert one("Set the supply to minus 50 tons a day").value == -50  # a value below zero
    assert one("the supply drops by minus 50 tons a day").value == 50  # not "to": a change
    n = one("Throttle the inlet valve 40% from where it is now")
    assert (n.roles, n.direction) == (("percent",), "decrease")
