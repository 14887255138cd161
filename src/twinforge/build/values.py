"""Parameters from the numbers of a description, and the values it does not give.

A number belongs to the element named nearest before it in its sentence (else the first one
after it), and to the parameter of that element's kind whose unit fits the number's unit and whose
words stand nearest (the question reader's vocabulary,
:data:`twinforge.guard.vocabulary.QUANTITY_WORDS`, plus :data:`BUILD_WORDS`). A rate of items
("120 bottles an hour") sets a station's process time or a source's time between arrivals as its
inverse. A number without a unit is used only when words name its parameter, or when it can only
be the required count of its element ("a buffer of 20"). Values the description does not give
come from the catalogue default; the few required parameters that have none take a typical value
(:data:`TYPICAL`), derived from the twin where it can be. Both are listed as assumptions.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from twinforge.errors import UnitError
from twinforge.guard.quantities import NumberMention, scan
from twinforge.guard.vocabulary import QUANTITY_HINTS, QUANTITY_WORDS
from twinforge.spec import units
from twinforge.spec.catalog import CATALOG, EDGE_CATALOG, ParamDef

#: words a description uses for a parameter, besides the question reader's vocabulary
BUILD_WORDS: dict[str, tuple[str, ...]] = {
    "capacity": ("hold", "holds", "holding", "capacity", "store", "stores", "room for", "up to"),
    "process_time": (
        "per bottle",
        "per item",
        "per case",
        "per part",
        "per unit",
        "per piece",
        "per pallet",
        "per job",
        "per order",
        "per box",
        "per batch",
        "per truck",
        "per frame",
        "per can",
        "cycle",
        "cycle time",
        "each",
    ),
    "servers": ("heads", "valves", "servers", "parallel", "lanes", "spindles", "stations"),
    "interarrival_time": ("every", "arrive", "arrives", "arrival"),
    "mtbf": ("fail", "fails", "failure", "breaks down", "between failures"),
    "mttr": ("repair", "fix", "to repair", "repairs"),
    "demand": ("need", "needs", "order", "orders", "demand", "want", "buy"),
    "supply_capacity": ("supply", "supplies", "up to", "can deliver", "capacity"),
    "daily_target": ("target", "per day", "a day"),
    "flow_rate": ("deliver", "delivers", "pumps", "flow", "rated"),
    "transport_time": ("travel", "ride", "transport"),
    "length": ("long", "length"),
    "outflow_rate": ("draw", "draws", "drawn", "outflow", "consumption", "use", "uses"),
    "initial_level": ("start", "starts", "initially", "currently", "filled with", "starting with"),
    "lead_time": ("lead time", "transit"),
    "distance": ("km", "away", "distance"),
    "cost_per_unit": ("cost", "costs", "per item", "per pallet", "freight"),
    "vehicles": ("vans", "trucks", "vehicles", "lorries"),
    "efficiency": ("efficiency", "efficient"),
    "accuracy": ("accuracy", "accurate"),
}

#: typical values of the required parameters that have no catalogue default
TYPICAL: dict[tuple[str, str], tuple[float, str]] = {
    ("source", "interarrival_time"): (60.0, "s"),
    ("station", "process_time"): (60.0, "s"),
    ("buffer", "capacity"): (10.0, "item"),
    ("conveyor", "transport_time"): (30.0, "s"),
    ("tank", "capacity"): (100.0, "m^3"),
    ("pump", "flow_rate"): (50.0, "m^3/h"),
}

#: parameters whose catalogue default is written out (and listed) for each kind
KEY_DEFAULTS: dict[str, tuple[str, ...]] = {
    "station": ("servers",),
    "customer": ("demand",),
    "depot": ("vehicles",),
    "tank": ("initial_level",),
    "pump": ("speed",),
    "valve": ("opening",),
}

_COUNTS = {"", "item", "cycle"}
_RATE_TO_TIME = {("station", "process_time"), ("source", "interarrival_time")}


@dataclass(frozen=True)
class Reading:
    """A number read as a parameter value of one element (a node key or an edge (source, target))."""

    owner: str | tuple[str, str]
    parameter: str
    value: float
    unit: str
    text: str  # the words it came from
    item: int
    score: float


def numbers_of(text: str) -> list[tuple[NumberMention, int, int]]:
    """Numbers of a sentence with their character span in ``text`` (found by their digits)."""
    out = []
    cursor = 0
    for m in scan(text):
        if m.derived or m.clock is not None:
            continue
        digits = re.search(re.escape(_digits(m.value)), text[cursor:])
        if digits is None:
            digits = re.search(r"\d+(?:[.,]\d+)*", text[cursor:])
        if digits is None:
            continue
        start = cursor + digits.start()
        end = start + len(m.text.split()[0])
        if m.unit == "" and re.match(r"\s*(m|metres?|meters?)\b(?![/^\d])", text[cursor + digits.end() :]):
            from dataclasses import replace as _replace

            m = _replace(m, unit="m")  # "a conveyor of 12 m": metres (the question reader leaves "m" open)
        out.append((m, start, min(end + 12, len(text))))
        cursor = cursor + digits.end()
    return out


def _digits(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _phrases(name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    strong = (name.replace("_", " "), *QUANTITY_WORDS.get(name, ()), *BUILD_WORDS.get(name, ()))
    weak = QUANTITY_HINTS.get(name, ())
    return strong, weak


def _hits(window: str, phrases: tuple[str, ...]) -> int:
    low = f" {window.lower()} "
    return sum(1 for p in phrases if re.search(rf"(?<![a-z]){re.escape(p.lower())}(?![a-z])", low))


def value_in(pdef: ParamDef, m: NumberMention, kind: str, currency: str) -> tuple[float, str] | None:
    """The number as a value of ``pdef`` (value, unit), or None when its unit does not fit."""
    cat = pdef.unit_for(currency)
    unit = m.unit
    if unit.startswith("/"):
        unit = "item" + unit  # "30 per hour"
    if unit == "%":
        if cat == "" and pdef.bounds[1] <= 1.0:
            return m.value / 100.0, ""
        return None
    if unit == "":
        if cat in _COUNTS or cat == "":
            return m.value, cat
        return None
    if (kind, pdef.name) in _RATE_TO_TIME:
        try:
            if units.compatible(unit, "item/s") and m.value > 0:
                return 1.0 / units.convert(m.value, unit, "item/s"), "s"
        except UnitError:
            return None
    try:
        if units.compatible(unit, cat):
            return m.value, unit
    except UnitError:
        return None
    if unit in ("item", "m^3") and cat.startswith(unit + "/"):
        return None
    return None


def read_numbers(
    text: str,
    item: int,
    owners: list[tuple[int, int, str, str]],
    edges_after: dict[str, tuple[str, str]],
    currency: str,
) -> list[Reading]:
    """Readings of one sentence. ``owners``: (start, end, node key, kind) of its mentions;
    ``edges_after``: node key -> edge stated in this sentence that ends at it (numbers after the
    target may be the edge's)."""
    out: list[Reading] = []
    nums = numbers_of(text)
    listed = _respectively(text, nums, owners)
    for idx, (m, start, _end) in enumerate(nums):
        if "old" in m.roles:
            continue
        if idx in listed:
            owner, m, left = listed[idx]
            for r in _best(m, owner, left, "", {}, start, text, item, currency):
                out.append(r)
            continue
        # a count of elements ("two fillers", "3 customers")
        nxt = [o for o in owners if o[0] >= start and o[0] - start <= len(_digits(m.value)) + 2]
        if nxt and m.unit == "":
            continue
        before = [o for o in owners if o[1] <= start]
        after = [o for o in owners if o[0] >= start]
        # nearest element before the number; the next one when the number cannot be the former's
        # ("the pump feeds a 200 m3 tank")
        choices = ([before[-1]] if before else []) + ([after[0]] if after else [])
        if not choices:
            continue
        owner = choices[0]
        if owner[0] < 0 and not _fits(m, owner[3], currency):
            continue  # carried over from the sentence before: only a number with a fitting unit
        if len(choices) == 2 and not _fits(m, owner[3], currency) and _fits(m, choices[1][3], currency):
            owner = choices[1]
        prev_end = nums[idx - 1][1] + len(nums[idx - 1][0].text) if idx else 0
        left_from = max(prev_end, owner[1] if owner[1] <= start else 0)
        left = re.split(r"[,;:(]|\band\b", text[left_from:start])[-1]
        next_start = nums[idx + 1][1] if idx + 1 < len(nums) else len(text)
        right = text[start : min(next_start, start + len(m.text) + 30)]
        right = re.split(r"[,;)]|\band\b", right[len(_digits(m.value)) :])[0]
        out.extend(_best(m, owner, left, right, edges_after, start, text, item, currency))
    return out


def _fits(m: NumberMention, kind: str, currency: str) -> bool:
    kd = CATALOG.get(kind)
    return kd is not None and any(
        value_in(p, m, kind, currency) is not None and m.unit not in ("", "%") for p in kd.params.values()
    )


def _respectively(
    text: str, nums: list[tuple[NumberMention, int, int]], owners: list[tuple[int, int, str, str]]
) -> dict[int, tuple[tuple[int, int, str, str], NumberMention, str]]:
    """ "the shops in York, Hull and Bradford, which need 80, 60 and 110 items per day": a list of
    numbers (only the last with a unit) read in order against the list of elements before it."""
    out: dict[int, tuple[tuple[int, int, str, str], NumberMention, str]] = {}
    i = 0
    while i < len(nums):
        j = i
        while (
            j + 1 < len(nums)
            and nums[j][0].unit == ""
            and re.fullmatch(
                r"\s*(,|and|, and)\s*", text[nums[j][1] + len(_digits(nums[j][0].value)) : nums[j + 1][1]]
            )
        ):
            j += 1
        k = j - i + 1
        if k >= 2 and nums[j][0].unit:
            before = []
            for o in (o for o in owners if o[1] <= nums[i][1]):
                if before and before[-1][2] == o[2]:
                    continue  # "..., which need": the pronoun repeats the last element
                before.append(o)
            group = before[-k:]
            if len(group) == k and len({o[3] for o in group}) == 1 and len({o[2] for o in group}) == k:
                last = before[-1][1]
                left = text[last : nums[i][1]]
                for n, idx in enumerate(range(i, j + 1)):
                    m = nums[idx][0]
                    unit = nums[j][0].unit
                    from dataclasses import replace as _r

                    out[idx] = (group[n], _r(m, unit=unit), left)
        i = j + 1
    return out


def _best(
    m: NumberMention,
    owner: tuple[int, int, str, str],
    left: str,
    right: str,
    edges_after: dict[str, tuple[str, str]],
    start: int,
    text: str,
    item: int,
    currency: str,
) -> list[Reading]:
    if True:
        cands: list[tuple[float, str | tuple[str, str], str, float, str]] = []
        _, key, kind = owner[1], owner[2], owner[3]
        kd = CATALOG.get(kind)
        for pdef in kd.params.values() if kd else []:
            v = value_in(pdef, m, kind, currency)
            if v is None:
                continue
            strong, weak = _phrases(pdef.name)
            score = 3 * _hits(left, strong) + 2 * _hits(right, strong) + _hits(left + right, weak)
            worded = score > 0
            if pdef.required:
                score += 0.5
            if not worded and m.unit in ("", "%") and not (pdef.required and m.unit == ""):
                continue
            cands.append((score, key, pdef.name, v[0], v[1]))
        edge = edges_after.get(key)
        if edge is not None and owner[1] <= start:
            for pdef in EDGE_CATALOG["material"].params.values():
                v = value_in(pdef, m, "edge", currency)
                if v is None:
                    continue
                strong, weak = _phrases(pdef.name)
                score = 3 * _hits(left, strong) + 2 * _hits(right, strong) + _hits(left + right, weak)
                if score < 1:
                    continue  # a lane's value needs its words ("at 3 EUR per item", "150 km")
                score += 0.3
                cands.append((score, edge, pdef.name, v[0], v[1]))
        if not cands:
            return []
        cands.sort(key=lambda c: -c[0])
        score, who, name, value, unit = cands[0]
        return [
            Reading(
                who,
                name,
                value,
                unit,
                text[max(0, start - 30) : start + len(m.text) + 10].strip(),
                item,
                score,
            )
        ]


def typical(kind: str, name: str, known: dict[str, list[float]]) -> tuple[float, str, str] | None:
    """A value for a required parameter without catalogue default: (value, unit, reason)."""
    if (kind, name) == ("source", "interarrival_time") and known.get("station_time_per_server"):
        slowest = max(known["station_time_per_server"])
        return round(slowest * 1.25, 3), "s", "derived: 80 % load on the slowest station"
    if (kind, name) == ("station", "process_time") and known.get("station_time"):
        vals = sorted(known["station_time"])
        return vals[len(vals) // 2], "s", "derived: median process time of the other stations"
    if (kind, name) in TYPICAL:
        value, unit = TYPICAL[(kind, name)]
        return value, unit, "typical value (the catalogue has no default)"
    return None


def close(a: float, b: float, rel: float = 0.01) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)
