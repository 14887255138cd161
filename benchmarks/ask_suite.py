"""Generate the question suite for ``benchmarks/ask_eval.py`` and the few-shot library.

Every question belongs to an *intent*: one meaning (a plan on one twin with fixed entities and
numbers), asked in several paraphrases. Intents are split into dev and test at random (seeded),
so no paraphrase of a test intent is ever in dev. The dev split becomes the built-in few-shot
library (``src/twinforge/copilot/library/<twin>.yaml``); the test split is what the evaluation
reports. Unanswerable questions (unknown entities, things the twin does not model, values outside
physical limits, off-topic) carry ``plan: null``: they must be declined.

Run ``python benchmarks/ask_suite.py`` to rewrite ``benchmarks/ask_suite.yaml`` and the library.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "benchmarks" / "ask_suite.yaml"
LIBRARY = ROOT / "src" / "twinforge" / "copilot" / "library"
TWIN_NAMES = {
    "supply_chain": "beverage-supply-chain",
    "bottling_line": "bottling-line",
    "pump_station": "pump-station",
}

rng = random.Random(20261127)


def pick(seq: list[Any], n: int) -> list[Any]:
    return rng.sample(seq, min(n, len(seq)))


def what_if(*changes: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "what_if", "changes": list(changes)}


class Suite:
    def __init__(self) -> None:
        self.intents: list[dict[str, Any]] = []

    def add(
        self, twin: str, category: str, plan: dict[str, Any] | None, questions: list[str], n: int = 3
    ) -> None:
        """One intent, asked in ``n`` of the given paraphrases."""
        self.intents.append(
            {
                "twin": twin,
                "category": category,
                "plan": plan,
                "questions": pick(questions, n),
                "kind": plan["kind"] if plan else "decline",
            }
        )


# -- supply chain (flow optimisation) --------------------------------------------------------------

CITIES = {
    "C_berlin": "Berlin",
    "C_frankfurt": "Frankfurt",
    "C_stuttgart": "Stuttgart",
    "C_dresden": "Dresden",
}
SUPPLIERS = {"S1": "Hamburg", "S2": "Munich", "S3": "Cologne"}
PLANTS = {"P1": "Hanover", "P2": "Nuremberg"}


def supply_chain(s: Suite) -> None:
    t = "supply_chain"
    for p, direction in [
        (10, "increase"),
        (20, "increase"),
        (5, "decrease"),
        (15, "decrease"),
        (25, "decrease"),
        (8, "increase"),
    ]:
        word = "rises" if direction == "increase" else "falls"
        more = "more" if direction == "increase" else "less"
        s.add(
            t,
            "demand",
            what_if({"op": "demand", "direction": direction, "percent": p}),
            [
                f"What if demand {word} by {p}%?",
                f"What happens to the daily cost if total demand {'grows' if direction == 'increase' else 'drops'} {p}%?",
                f"Suppose every customer orders {p}% {more}. What does the plan cost?",
                f"How does the cost change if overall demand goes {'up' if direction == 'increase' else 'down'} by {p} percent?",
            ],
        )
    for product, p, direction in [
        ("lager", 10, "increase"),
        ("cola", 20, "decrease"),
        ("cola", 15, "increase"),
        ("lager", 30, "decrease"),
    ]:
        s.add(
            t,
            "demand-product",
            what_if({"op": "demand", "direction": direction, "percent": p, "product": product}),
            [
                f"What if {product} demand {'increases' if direction == 'increase' else 'decreases'} by {p}%?",
                f"Suppose demand for {product} {'grows' if direction == 'increase' else 'drops'} {p}%.",
                f"How would a {p}% {'rise' if direction == 'increase' else 'fall'} in {product} sales change our costs?",
            ],
        )
    for cust, p, direction in [
        ("C_berlin", 20, "increase"),
        ("C_stuttgart", 50, "decrease"),
        ("C_dresden", 40, "increase"),
        ("C_frankfurt", 10, "decrease"),
    ]:
        city = CITIES[cust]
        s.add(
            t,
            "demand-customer",
            what_if({"op": "demand", "direction": direction, "percent": p, "customer": cust}),
            [
                f"What if {city} orders {p}% {'more' if direction == 'increase' else 'less'}?",
                f"What if demand in {city} {'rises' if direction == 'increase' else 'falls'} by {p}%?",
                f"Suppose {city}'s demand {'grows' if direction == 'increase' else 'shrinks'} {p} percent. What happens to cost?",
            ],
        )
    for cust, product, p, direction in [
        ("C_berlin", "cola", 30, "decrease"),
        ("C_frankfurt", "lager", 25, "increase"),
    ]:
        city = CITIES[cust]
        s.add(
            t,
            "demand-customer-product",
            what_if(
                {"op": "demand", "direction": direction, "percent": p, "product": product, "customer": cust}
            ),
            [
                f"What if demand for {product} in {city} {'drops' if direction == 'decrease' else 'rises'} by {p}%?",
                f"Suppose {city} buys {p}% {'less' if direction == 'decrease' else 'more'} {product}.",
                f"How does the plan change if {product} orders from {city} {'fall' if direction == 'decrease' else 'grow'} {p}%?",
            ],
        )
    for sup in SUPPLIERS:
        s.add(
            t,
            "remove-supplier",
            what_if({"op": "remove", "target": sup}),
            [
                f"What if supplier {sup} is no longer available?",
                f"What if {sup} goes out of business?",
                f"Suppose we lose supplier {sup}. What does it cost us?",
                f"What happens if {sup} can't deliver anything anymore?",
            ],
        )
    for plant in PLANTS:
        s.add(
            t,
            "remove-plant",
            what_if({"op": "remove", "target": plant}),
            [
                f"What if plant {plant} closes?",
                f"What if we shut down {plant}?",
                f"Suppose {plant} is lost to a fire. Can we still serve everyone?",
            ],
        )
    lanes = [
        ("S1", "P1"),
        ("S3", "P1"),
        ("S2", "P2"),
        ("P1", "C_berlin"),
        ("P2", "C_stuttgart"),
        ("P2", "C_frankfurt"),
    ]
    for a, b in lanes:
        bn = CITIES.get(b, b)
        s.add(
            t,
            "forbid-lane",
            what_if({"op": "forbid", "source": a, "target": b}),
            [
                f"What if we stop shipping from {a} to {bn}?",
                f"What if the lane from {a} to {bn} is closed?",
                f"Suppose nothing can go from {a} to {bn} anymore.",
            ],
        )
    for a, b, product in [("S3", "P1", "cola"), ("S1", "P1", "lager")]:
        s.add(
            t,
            "forbid-lane-product",
            what_if({"op": "forbid", "source": a, "target": b, "product": product}),
            [
                f"What if {a} can no longer send {product} to {b}?",
                f"Suppose {product} from {a} to {b} is banned.",
                f"What happens if {a} stops shipping {product} to {b}?",
            ],
        )
    for a, b, v in [("S1", "P2", 12), ("S2", "P1", 4), ("P1", "C_dresden", 3), ("P2", "C_berlin", 5)]:
        bn = CITIES.get(b, b)
        key = f"{a}->{b}"
        s.add(
            t,
            "edge-cost",
            what_if(
                {"op": "set", "target": key, "parameter": "cost_per_unit", "value": v, "unit": "EUR/item"}
            ),
            [
                f"What if shipping from {a} to {bn} costs {v} EUR per pallet?",
                f"Suppose freight from {a} to {bn} becomes {v} EUR per item.",
                f"What if the transport cost on the {a} to {bn} lane changes to {v} EUR/item?",
            ],
        )
    for a, b, p in [("S3", "P1", 50), ("P2", "C_stuttgart", 100)]:
        bn = CITIES.get(b, b)
        s.add(
            t,
            "edge-cost-pct",
            what_if(
                {
                    "op": "change",
                    "target": f"{a}->{b}",
                    "parameter": "cost_per_unit",
                    "direction": "increase",
                    "percent": p,
                }
            ),
            [
                f"What if freight from {a} to {bn} gets {p}% more expensive?",
                f"Suppose shipping costs from {a} to {bn} increase by {p}%.",
                f"What if the lane {a} to {bn} costs {p} percent more per pallet?",
            ],
        )
    for plant, v in [("P1", 700), ("P2", 450), ("P1", 550)]:
        s.add(
            t,
            "capacity-set",
            what_if({"op": "set", "target": plant, "parameter": "capacity", "value": v, "unit": "item/day"}),
            [
                f"What if plant {plant} could handle {v} pallets per day?",
                f"What if the capacity of {plant} were {v} items per day?",
                f"Suppose {plant} can process {v} item/day. What changes?",
            ],
        )
    for plant, p, direction in [("P2", 20, "decrease"), ("P1", 15, "increase"), ("P1", 10, "decrease")]:
        s.add(
            t,
            "capacity-pct",
            what_if(
                {
                    "op": "change",
                    "target": plant,
                    "parameter": "capacity",
                    "direction": direction,
                    "percent": p,
                }
            ),
            [
                f"What if the capacity of {plant} {'drops' if direction == 'decrease' else 'grows'} by {p}%?",
                f"What if {plant} {'loses' if direction == 'decrease' else 'adds'} {p}% of its capacity?",
                f"Suppose {plant}'s capacity is {'cut' if direction == 'decrease' else 'raised'} by {p} percent.",
            ],
        )
    for plant, product, p in [("P2", "lager", 20), ("P1", "cola", 30)]:
        s.add(
            t,
            "processing-cost",
            what_if(
                {
                    "op": "change",
                    "target": plant,
                    "parameter": "processing_cost",
                    "direction": "increase",
                    "percent": p,
                    "product": product,
                }
            ),
            [
                f"What if processing {product} at {plant} costs {p}% more?",
                f"Suppose {plant}'s {product} processing cost rises by {p}%.",
                f"What happens if bottling {product} in {plant} gets {p} percent more expensive?",
            ],
        )
    for plant, partners in [("P1", ["C_berlin", "C_dresden"]), ("P2", ["C_frankfurt", "C_stuttgart"])]:
        names = [CITIES[c] for c in partners]
        s.add(
            t,
            "serve-only",
            what_if({"op": "only", "direction": "serve_only", "target": plant, "partners": partners}),
            [
                f"What if plant {plant} only serves {names[0]} and {names[1]}?",
                f"Suppose {plant} may deliver only to {names[0]} and {names[1]}.",
                f"What if {plant}'s customers are restricted to {names[0]} and {names[1]}?",
            ],
        )
    for plant, sup in [("P1", "S1"), ("P2", "S2")]:
        s.add(
            t,
            "buy-only",
            what_if({"op": "only", "direction": "buy_only", "target": plant, "partners": [sup]}),
            [
                f"What if {plant} only buys from {sup}?",
                f"Suppose plant {plant} must source everything from supplier {sup}.",
                f"What if {sup} becomes the only supplier of {plant}?",
            ],
        )
    for a, b in [("S1", "S3"), ("S2", "S3")]:
        s.add(
            t,
            "exclusive",
            what_if({"op": "exclusive", "first": a, "second": b}),
            [
                f"What if we can use {a} or {b}, but not both?",
                f"Suppose suppliers {a} and {b} are mutually exclusive.",
                f"What if we must choose between {a} and {b}?",
            ],
        )
    for plant, h in [("P1", 6), ("P2", 12), ("P1", 3)]:
        s.add(
            t,
            "outage",
            what_if({"op": "outage", "target": plant, "duration": h, "unit": "h"}),
            [
                f"What if {plant} is down for {h} hours?",
                f"Suppose plant {plant} stops for {h} hours today.",
                f"What does a {h} hour outage at {plant} cost?",
            ],
        )
    for sup in SUPPLIERS:
        s.add(
            t,
            "why-node",
            {"kind": "why", "target": sup},
            [
                f"Why do we use supplier {sup}?",
                f"Why is {sup} part of the plan?",
                f"Why do we buy from {sup}?",
            ],
        )
    for plant in PLANTS:
        s.add(
            t,
            "why-node",
            {"kind": "why", "target": plant},
            [
                f"Why do we need plant {plant}?",
                f"Why is {plant} used at all?",
                f"Why does the plan rely on {plant}?",
            ],
        )
    for a, b in [("S2", "P2"), ("P1", "C_berlin"), ("S3", "P1"), ("P2", "C_frankfurt")]:
        bn = CITIES.get(b, b)
        s.add(
            t,
            "why-lane",
            {"kind": "why", "target": b, "source": a},
            [
                f"Why do we ship from {a} to {bn}?",
                f"Why does {bn} get goods from {a}?",
                f"Why is the lane {a} to {bn} used?",
            ],
        )
    for plant in PLANTS:
        s.add(
            t,
            "status",
            {"kind": "status", "target": plant, "quantity": "capacity"},
            [
                f"What is the capacity of plant {plant}?",
                f"How much can {plant} handle per day?",
                f"What's {plant}'s daily capacity?",
            ],
        )
    for cust, product in [("C_berlin", "lager"), ("C_dresden", "cola"), ("C_stuttgart", "cola")]:
        city = CITIES[cust]
        s.add(
            t,
            "status",
            {"kind": "status", "target": cust, "quantity": "demand", "product": product},
            [
                f"How much {product} does {city} demand per day?",
                f"What is the daily {product} demand in {city}?",
                f"What's {city}'s demand for {product}?",
            ],
        )
    for sup, product in [("S1", "lager"), ("S2", "cola"), ("S3", "lager")]:
        s.add(
            t,
            "status",
            {"kind": "status", "target": sup, "quantity": "cost_per_unit", "product": product},
            [
                f"What does {sup} charge for {product}?",
                f"What is the purchase price of {product} at {sup}?",
                f"How much does {product} cost from supplier {sup}?",
            ],
        )
    for (sa, _pa), (sb, pb) in [(("S1", None), ("demand", 10)), (("S3", None), ("S2", None))]:
        first = [{"op": "remove", "target": sa}]
        second = (
            [{"op": "demand", "direction": "increase", "percent": pb}]
            if sb == "demand"
            else [{"op": "remove", "target": sb}]
        )
        other = f"a {pb}% demand increase" if sb == "demand" else f"losing {sb}"
        s.add(
            t,
            "compare",
            {"kind": "compare", "first": first, "second": second},
            [
                f"Which is worse: losing {sa} or {other}?",
                f"Compare losing supplier {sa} with {other}.",
                f"What hurts more, {sa} being unavailable or {other}?",
            ],
        )
    unanswerable(
        s,
        t,
        [
            "What if supplier S7 goes bankrupt?",
            "What if plant P3 is down for 5 hours?",
            "What if demand in Paris doubles?",
            "How many employees work at plant P1?",
            "What is the CO2 footprint of plant P2?",
            "What is the weather in Berlin tomorrow?",
            "What is the stock price of supplier S1?",
            "What if demand drops by 150%?",
            "Write a poem about cola.",
            "What is the capital of France?",
            "How many trucks does plant P2 own?",
            "What if we open a new warehouse in Leipzig?",
            "What if Munich Brewing Co. becomes a supplier?",
            "Who is the CEO of supplier S2?",
            "What if the capacity of P1 becomes -50 pallets per day?",
        ],
    )


# -- bottling line (simulation) --------------------------------------------------------------------

STATIONS = ["depalletizer", "rinser", "filler", "capper", "labeler", "packer"]
BUFFERS = ["buf_depal", "buf_rinse", "buf_fill", "buf_cap", "buf_label"]


def bottling_line(s: Suite) -> None:
    t = "bottling_line"
    for st, d, unit in [
        ("filler", 4, "h"),
        ("capper", 2, "h"),
        ("labeler", 30, "min"),
        ("rinser", 90, "min"),
        ("packer", 3, "h"),
        ("depalletizer", 45, "min"),
    ]:
        word = "hours" if unit == "h" else "minutes"
        s.add(
            t,
            "outage",
            what_if({"op": "outage", "target": st, "duration": d, "unit": unit}),
            [
                f"What if the {st} is down for {d} {word}?",
                f"The {st} breaks down for {d} {word}. How much output do we lose?",
                f"Suppose the {st} stops for {d} {word}.",
                f"How does throughput change if the {st} is unavailable for {d} {word}?",
            ],
        )
    for st, v in [("filler", 28), ("capper", 30), ("labeler", 25), ("rinser", 35)]:
        s.add(
            t,
            "process-time-set",
            what_if({"op": "set", "target": st, "parameter": "process_time", "value": v, "unit": "s"}),
            [
                f"What if the {st} took {v} seconds per case?",
                f"Suppose the {st}'s cycle time becomes {v} s.",
                f"What if the process time of the {st} were {v} seconds?",
            ],
        )
    for st, p, direction in [
        ("filler", 10, "decrease"),
        ("capper", 20, "increase"),
        ("packer", 15, "increase"),
        ("labeler", 10, "decrease"),
    ]:
        s.add(
            t,
            "process-time-pct",
            what_if(
                {
                    "op": "change",
                    "target": st,
                    "parameter": "process_time",
                    "direction": direction,
                    "percent": p,
                }
            ),
            [
                f"What if the {st}'s process time {'increases' if direction == 'increase' else 'decreases'} by {p}%?",
                f"What if the {st} needs {p}% {'more' if direction == 'increase' else 'less'} time per case?",
                f"Suppose the {st}'s cycle time {'rises' if direction == 'increase' else 'drops'} {p} percent.",
            ],
        )
    for buf, v in [("buf_fill", 50), ("buf_rinse", 40), ("buf_cap", 10), ("buf_label", 60)]:
        s.add(
            t,
            "buffer-set",
            what_if({"op": "set", "target": buf, "parameter": "capacity", "value": v, "unit": "item"}),
            [
                f"What if {buf} could hold {v} cases?",
                f"What if we resize {buf} to {v} cases?",
                f"Suppose the buffer {buf} had room for {v} items.",
            ],
        )
    for st, n in [("filler", 2), ("capper", 2), ("labeler", 3)]:
        s.add(
            t,
            "servers",
            what_if({"op": "set", "target": st, "parameter": "servers", "value": n}),
            [
                f"What if the {st} had {n} parallel servers?",
                f"Suppose we run {n} {st}s in parallel.",
                f"What if there were {n} {st} heads working side by side?",
            ],
        )
    for st, p in [("filler", 90), ("capper", 110), ("packer", 80)]:
        s.add(
            t,
            "speed",
            what_if({"op": "setpoint", "target": st, "parameter": "speed", "value": p, "unit": "%"}),
            [
                f"What if the {st} runs at {p}% speed?",
                f"Suppose we set the {st} to {p} percent of its nominal speed.",
                f"What if the {st}'s speed setpoint is {p}%?",
            ],
        )
    for st, p in [("filler", 50), ("labeler", 100)]:
        s.add(
            t,
            "mttr",
            what_if(
                {"op": "change", "target": st, "parameter": "mttr", "direction": "increase", "percent": p}
            ),
            [
                f"What if repairs on the {st} took {p}% longer?",
                f"Suppose the {st}'s mean time to repair grows by {p}%.",
                f"What if fixing the {st} needs {p} percent more time?",
            ],
        )
    for r in [100, 150]:
        s.add(
            t,
            "arrivals",
            what_if({"op": "arrivals", "target": "pallets_in", "rate": r, "unit": "item/h"}),
            [
                f"What if cases arrive at {r} per hour at pallets_in?",
                f"Suppose pallets_in delivers {r} cases an hour.",
                f"What if the arrival rate at pallets_in is {r} items per hour?",
            ],
        )
    for st in ["filler", "capper", "labeler"]:
        s.add(
            t,
            "why",
            {"kind": "why", "target": st},
            [
                f"Why is the {st} the bottleneck?",
                f"Why does the {st} limit our output?",
                f"Is the {st} what holds the line back, and why?",
            ],
        )
    for buf in ["buf_fill", "buf_cap", "buf_rinse"]:
        s.add(
            t,
            "status",
            {"kind": "status", "target": buf, "quantity": "capacity"},
            [
                f"What is the capacity of {buf}?",
                f"How many cases fit in {buf}?",
                f"How big is {buf}?",
            ],
        )
    for st in ["capper", "rinser", "packer"]:
        s.add(
            t,
            "status",
            {"kind": "status", "target": st, "quantity": "process_time"},
            [
                f"How long does the {st} take per case?",
                f"What is the process time of the {st}?",
                f"What's the {st}'s cycle time?",
            ],
        )
    s.add(
        t,
        "status",
        {"kind": "status", "target": "filler", "quantity": "temperature"},
        [
            "What is the temperature of the filler right now?",
            "How hot is the filler?",
            "What's the filler's current temperature?",
        ],
    )
    for (a, da), (b, db) in [(("filler", 2), ("capper", 3)), (("labeler", 1), ("packer", 2))]:
        s.add(
            t,
            "compare",
            {
                "kind": "compare",
                "first": [{"op": "outage", "target": a, "duration": da, "unit": "h"}],
                "second": [{"op": "outage", "target": b, "duration": db, "unit": "h"}],
            },
            [
                f"Which hurts more: the {a} down for {da} hours or the {b} down for {db} hours?",
                f"Compare a {da} hour stop of the {a} with a {db} hour stop of the {b}.",
                f"What is worse, losing the {a} for {da} hours or the {b} for {db} hours?",
            ],
        )
    unanswerable(
        s,
        t,
        [
            "What if machine M7 is down for 2 hours?",
            "What if the pasteurizer fails for an hour?",
            "How many employees run the line?",
            "What is the weather tomorrow?",
            "What if the filler runs at 300% speed?",
            "What if buf_fill could hold -5 cases?",
            "What colour are the bottles?",
            "What if station S9 stops for 30 minutes?",
            "Who repaired the capper last week?",
            "What is the price of beer in Munich?",
            "What if the filler's scrap rate is 150%?",
            "Tell me a joke about bottles.",
            "What if line 2 is down for 3 hours?",
            "How much electricity does the office use?",
        ],
    )


# -- pump station (simulation) ---------------------------------------------------------------------


def pump_station(s: Suite) -> None:
    t = "pump_station"
    for valve, p in [("valve1", 50), ("valve2", 30), ("valve1", 75), ("valve2", 60)]:
        s.add(
            t,
            "valve",
            what_if({"op": "setpoint", "target": valve, "parameter": "opening", "value": p, "unit": "%"}),
            [
                f"What if {valve} is only {p}% open?",
                f"Suppose we throttle {valve} to {p}% opening.",
                f"What happens if {valve} is set to {p} percent open?",
            ],
        )
    for p in [80, 90, 110]:
        s.add(
            t,
            "pump-speed",
            what_if({"op": "setpoint", "target": "pump", "parameter": "speed", "value": p, "unit": "%"}),
            [
                f"What if the pump runs at {p}% speed?",
                f"Suppose we set the pump to {p} percent of nominal speed.",
                f"What if the pump's speed setpoint is {p}%?",
            ],
        )
    for target, d, unit in [("pump", 2, "h"), ("pump", 30, "min"), ("valve2", 45, "min"), ("valve1", 1, "h")]:
        word = ("hours" if d != 1 else "hour") if unit == "h" else "minutes"
        s.add(
            t,
            "outage",
            what_if({"op": "outage", "target": target, "duration": d, "unit": unit}),
            [
                f"What if the {target} stops for {d} {word}?",
                f"Suppose {target} fails for {d} {word}.",
                f"How much flow do we lose if the {target} is down for {d} {word}?",
            ],
        )
    for v in [2, 5]:
        s.add(
            t,
            "outflow",
            what_if(
                {"op": "set", "target": "tank", "parameter": "outflow_rate", "value": v, "unit": "m^3/h"}
            ),
            [
                f"What if {v} m3/h are drawn from the tank?",
                f"Suppose the tank's outflow rate is {v} cubic metres per hour.",
                f"What if consumers take {v} m^3/h out of the tank?",
            ],
        )
    for p, direction in [(20, "decrease"), (10, "increase")]:
        s.add(
            t,
            "flow-rate",
            what_if(
                {
                    "op": "change",
                    "target": "pump",
                    "parameter": "flow_rate",
                    "direction": direction,
                    "percent": p,
                }
            ),
            [
                f"What if the pump's rated flow {'drops' if direction == 'decrease' else 'rises'} by {p}%?",
                f"Suppose the pump delivers {p}% {'less' if direction == 'decrease' else 'more'} flow at nominal speed.",
                f"What if the nominal flow of the pump {'decreases' if direction == 'decrease' else 'increases'} {p} percent?",
            ],
        )
    for valve in ["valve1", "valve2"]:
        s.add(
            t,
            "why",
            {"kind": "why", "target": valve},
            [
                f"Why does {valve} limit the flow?",
                f"Is {valve} holding the flow back, and why?",
                f"Why is {valve} a bottleneck for the loop?",
            ],
        )
    s.add(
        t,
        "status",
        {"kind": "status", "target": "tank", "quantity": "capacity"},
        [
            "What is the capacity of the tank?",
            "How much water can the tank hold?",
            "How big is the tank?",
        ],
    )
    s.add(
        t,
        "status",
        {"kind": "status", "target": "pump", "quantity": "flow_rate"},
        [
            "What is the pump's rated flow?",
            "How much does the pump deliver at nominal speed?",
            "What's the nominal flow rate of the pump?",
        ],
    )
    for valve in ["valve1", "valve2"]:
        s.add(
            t,
            "status",
            {"kind": "status", "target": valve, "quantity": "opening"},
            [
                f"How open is {valve}?",
                f"What is the opening of {valve}?",
                f"What's the current opening setpoint of {valve}?",
            ],
        )
    s.add(
        t,
        "status",
        {"kind": "status", "target": "pump", "quantity": "temperature"},
        [
            "What is the pump motor temperature now?",
            "How hot is the pump?",
            "What's the current temperature of the pump?",
        ],
    )
    s.add(
        t,
        "compare",
        {
            "kind": "compare",
            "first": [
                {"op": "setpoint", "target": "valve1", "parameter": "opening", "value": 50, "unit": "%"}
            ],
            "second": [{"op": "setpoint", "target": "pump", "parameter": "speed", "value": 80, "unit": "%"}],
        },
        [
            "Which reduces flow more: valve1 at 50% open or the pump at 80% speed?",
            "Compare valve1 50% open with the pump running at 80% speed.",
            "What is worse for the flow, valve1 half open at 50% or the pump at 80% speed?",
        ],
    )
    unanswerable(
        s,
        t,
        [
            "What if pump P2 fails?",
            "What if valve3 is closed?",
            "What is the price of water?",
            "How many operators watch the station?",
            "What if valve1 is 250% open?",
            "What if the pump runs at 500% speed?",
            "What is the weather in Moscow?",
            "What if the second tank overflows?",
            "Who installed the pump?",
            "What if we add a chlorine dosing unit?",
            "What if the tank is 300% full?",
            "Write a haiku about water.",
        ],
    )


def unanswerable(s: Suite, twin: str, questions: list[str]) -> None:
    """Each unanswerable question is its own intent (one phrasing)."""
    for q in questions:
        s.intents.append(
            {"twin": twin, "category": "unanswerable", "plan": None, "questions": [q], "kind": "decline"}
        )


def build() -> list[dict[str, Any]]:
    s = Suite()
    supply_chain(s)
    bottling_line(s)
    pump_station(s)
    rows = []
    for i, intent in enumerate(s.intents):
        # half of each category's intents go to test; unanswerables to test (none in the library:
        # the library teaches declining with its own hand-written examples)
        split = "test" if intent["plan"] is None else None
        intent["id"] = f"{intent['twin']}/{i:03d}"
        intent["split"] = split
    by_cat: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for intent in s.intents:
        if intent["split"] is None:
            by_cat.setdefault((intent["twin"], intent["category"]), []).append(intent)
    for group in by_cat.values():
        rng.shuffle(group)
        n_dev = len(group) // 2 if len(group) > 1 else 0
        for j, intent in enumerate(group):
            intent["split"] = "dev" if j < n_dev else "test"
    for intent in s.intents:
        for q in intent["questions"]:
            rows.append(
                {
                    "id": f"{intent['id']}/{len(rows):03d}",
                    "intent": intent["id"],
                    "twin": intent["twin"],
                    "split": intent["split"],
                    "category": intent["category"],
                    "kind": intent["kind"],
                    "question": q,
                    "plan": intent["plan"],
                }
            )
    return rows


#: hand-written decline examples for the library (not in the suite)
LIBRARY_DECLINES = {
    "supply_chain": [
        ("How many forklifts does plant P2 have?", "not_modelled"),
        ("What is the weather in Hamburg?", "not_about_this_twin"),
        ("What if demand in Vienna grows by 10%?", "unknown_entity"),
    ],
    "bottling_line": [
        ("How many people work on the night shift?", "not_modelled"),
        ("What is the best beer in the world?", "not_about_this_twin"),
        ("What if the blow moulder is down for an hour?", "unknown_entity"),
    ],
    "pump_station": [
        ("What is the chemical composition of the water?", "not_modelled"),
        ("Who won the football match yesterday?", "not_about_this_twin"),
        ("What if the booster pump trips for an hour?", "unknown_entity"),
    ],
}


def main() -> None:
    rows = build()
    SUITE.write_text(
        "# Generated by benchmarks/ask_suite.py — do not edit by hand.\n"
        + yaml.safe_dump(rows, sort_keys=False, width=120),
        encoding="utf-8",
    )
    LIBRARY.mkdir(parents=True, exist_ok=True)
    for short, name in TWIN_NAMES.items():
        examples = [
            {"question": r["question"], "plan": r["plan"], "intent": r["intent"]}
            for r in rows
            if r["twin"] == short and r["split"] == "dev" and r["plan"] is not None
        ]
        examples += [
            {"question": q, "plan": {"kind": "decline", "reason": reason}}
            for q, reason in LIBRARY_DECLINES[short]
        ]
        (LIBRARY / f"{name}.yaml").write_text(
            f"# Few-shot library for twin {name!r}: the dev split of benchmarks/ask_suite.yaml plus a few\n"
            "# hand-written declines. Generated by benchmarks/ask_suite.py.\n"
            + yaml.safe_dump({"twin": name, "examples": examples}, sort_keys=False, width=120),
            encoding="utf-8",
        )
    counts: dict[tuple[str, str], int] = {}
    for r in rows:
        counts[(r["twin"], r["split"])] = counts.get((r["twin"], r["split"]), 0) + 1
    print(f"{len(rows)} questions, {len({r['intent'] for r in rows})} intents")
    for (twin, split), n in sorted(counts.items()):
        print(f"  {twin:14s} {split:4s} {n}")


if __name__ == "__main__":
    main()
