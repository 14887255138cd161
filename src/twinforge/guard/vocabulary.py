"""The words a question uses for each kind of change, each quantity, and each form of question.

These lists are general English for each idea — not the phrasing of any evaluation question — and
a twin can add words for its own parameters in a node's ``metadata.vocabulary``
(``{parameter: [words]}``). They are compared as stems, so "repairs", "repaired" and "repairing"
are one word.

- :data:`OP_WORDS`: words that speak of each kind of change (an outage, a removal, a closed lane,
  an exclusive deal...). A plan may only use a kind of change the question has words for; changes
  that are only parameter values (set, change, scale, add) need no words of their own.
- :data:`QUANTITY_WORDS`: words for the catalogue's parameters and state variables.
- :func:`plan_forms`: the kinds of plan the form of a question allows (why, compare, status,
  what-if).
"""

from __future__ import annotations

import re
from functools import cache

from twinforge.guard.text import normalise, stem, tokenize

#: words that signal each kind of change
OP_WORDS: dict[str, tuple[str, ...]] = {
    "outage": (
        "down",
        "stop",
        "stopped",
        "fail",
        "failure",
        "outage",
        "break",
        "broken",
        "breakdown",
        "unavailable",
        "offline",
        "off line",
        "trip",
        "halt",
        "standstill",
        "maintenance",
        "repair",
        "idle",
        "out of action",
        "out of service",
        "out for",
        "off for",
        "lost for",
        "lose for",
        "shut",
        "shutdown",
        "jam",
        "die",
        "dead",
        "crash",
        "overhaul",
        "can't deliver",
        "cannot deliver",
        "not deliver",
        "unable",
        "out",
        "closed for",
        "close for",
        "goes out",
        "loses power",
        "power cut",
        "blackout",
        "stuck",
        "fault",
        "faulty",
        "malfunction",
        "software update",
        "firmware update",
        "isolated",
        "taken out",
        "get going again",
        "go dark",
        "dark",
        "out of order",
        "out of commission",
        "knocked out",
        "lose power",
        "lose",
        "losing",
        "without",
    ),
    "remove": (
        "lose",
        "no longer",
        "not available",
        "unavailable",
        "out of business",
        "bankrupt",
        "close",
        "closed",
        "closure",
        "shut",
        "shutdown",
        "gone",
        "go away",
        "can't",
        "cannot",
        "without",
        "fire",
        "destroyed",
        "remove",
        "drop",
        "exit",
        "quit",
        "stop buying",
        "stop using",
        "anymore",
        "any more",
        "for good",
        "permanently",
        "mothball",
        "mothballing",
        "mothballed",
        "decommission",
        "scrap",
        "scrapping",
        "divest",
        "sell off",
        "entirely",
        "altogether",
        "decommission",
        "sell off",
        "divest",
        "scrap",
        "cease",
        "lost",
    ),
    "forbid": (
        "stop shipping",
        "no longer ship",
        "no longer send",
        "can no longer",
        "close",
        "closed",
        "ban",
        "banned",
        "forbid",
        "block",
        "blocked",
        "nothing can",
        "no shipment",
        "no more",
        "stop",
        "not allowed",
        "cut off",
        "cut",
        "lane",
        "route",
        "drop",
        "without",
        "can't",
        "cannot",
        "no",
        "suspend",
        "embargo",
        "stop bringing",
        "stop sending",
        "stop trucking",
    ),
    "only": (
        "only",
        "exclusively",
        "exclusive",
        "must source",
        "restricted",
        "restrict",
        "limited to",
        "sole",
        "solely",
        "just",
        "nothing but",
        "nobody but",
        "no one but",
        "no other",
        "single source",
        "single-source",
    ),
    "exclusive": (
        "or",
        "not both",
        "either",
        "choose between",
        "mutually exclusive",
        "one of",
        "but not both",
    ),
    "demand": (
        "demand",
        "order",
        "sale",
        "sell",
        "buy",
        "consumption",
        "need",
        "want",
        "volume",
        "customer",
        "market",
        "require",
        "take",
        "offtake",
        "purchase",
    ),
    "arrivals": (
        "arrive",
        "arrival",
        "deliver",
        "delivery",
        "feed",
        "supply",
        "come in",
        "infeed",
        "release",
        "drop",
        "inflow",
        "incoming",
        "intake",
        "volume",
        "order",
        "per hour",
        "an hour",
        "a minute",
    ),
}

#: words that name each of the catalogue's quantities (parameters and states); the name itself
#: always counts
QUANTITY_WORDS: dict[str, tuple[str, ...]] = {
    "capacity": (
        "capacity",
        "cap",
        "size",
        "room",
        "place",
        "slot",
        "space",
        "throughput",
        "volume",
        "maximum",
        "max",
        "how big",
        "how large",
    ),
    "supply_capacity": ("capacity", "supply", "volume", "allotment", "availability"),
    "storage_capacity": ("storage", "storage capacity"),
    "demand": ("demand", "order", "sale", "requirement", "consumption", "need"),
    "cost_per_unit": (
        "cost",
        "price",
        "freight",
        "shipping cost",
        "shipping rate",
        "tariff",
        "rate",
        "haulage",
        "trucking",
        "surcharge",
        "charge",
        "transport cost",
    ),
    "processing_cost": (
        "processing cost",
        "production cost",
        "conversion cost",
        "cost to process",
        "cost of processing",
        "processing fee",
    ),
    "handling_cost": ("handling", "handling cost"),
    "fixed_cost": ("fixed cost", "fixed", "overhead", "standing cost"),
    "cost_per_item": (
        "material cost",
        "cost per item",
        "cost per case",
        "price of",
        "purchase price",
        "cost",
    ),
    "cost_per_hour": (
        "hourly cost",
        "cost per hour",
        "labour cost",
        "labor cost",
        "wage",
        "running cost",
        "operating cost",
    ),
    "price_per_item": ("price", "selling price", "sale price", "revenue", "sell"),
    "process_time": (
        "process time",
        "processing time",
        "cycle time",
        "takt",
        "time per",
        "service time",
        "handling time",
        "pick time",
        "pack time",
        "seconds per",
        "minutes per",
    ),
    "servers": (
        "server",
        "handler",
        "loader",
        "operative",
        "driver",
        "technician",
        "in parallel",
        "side by side",
        "worker",
        "staff",
        "operator",
        "people",
        "person",
        "crew",
        "headcount",
        "picker",
        "packer",
        "doctor",
        "nurse",
        "clinician",
        "bed",
        "cubicle",
        "bay",
        "desk",
        "bench",
        "lane",
        "channel",
        "counter",
        "teller",
        "agent",
        "team",
        "machine",
        "unit",
        "line",
        "hire",
        "at once",
        "at a time",
    ),
    "setup_time": ("setup", "set-up", "set up", "changeover", "change over"),
    "speed": ("speed", "rpm", "nominal speed", "% speed", "percent speed", "speed setpoint", "stroke"),
    "mtbf": ("between failures", "mtbf", "reliability", "time between", "breakdown frequency"),
    "mttr": ("repair", "fix", "mttr", "time to repair", "restore", "get going again", "repair time"),
    "mcbf": ("cycles between", "mcbf", "cycle between"),
    "scrap_rate": ("scrap", "reject", "waste", "defect", "damage", "yield", "spoil", "scrap rate"),
    "interarrival_time": ("interarrival", "between arrivals", "inter-arrival", "arrival interval"),
    "batch_size": ("batch", "per arrival", "lot size"),
    "opening": ("open", "opening", "closed", "throttle", "position", "pinch", "shut", "valve setting"),
    "flow_coefficient": ("kv", "cv", "flow coefficient", "coefficient"),
    "flow_rate": (
        "flow rate",
        "rated flow",
        "pump rate",
        "pumping rate",
        "flow",
        "l/min",
        "output",
        "feed rate",
        "dosing rate",
        "dose rate",
        "delivery rate",
    ),
    "outflow_rate": (
        "outflow",
        "blowdown",
        "blow down",
        "bleed",
        "purge",
        "draw",
        "drawn",
        "draw off",
        "draw-off",
        "withdraw",
        "out of the tank",
        "offtake",
        "take off",
        "usage",
        "consumption",
        "demand",
    ),
    "initial_level": (
        "start with",
        "starting level",
        "initial level",
        "initial",
        "at the start",
        "begin with",
        "start the run",
        "starting with",
    ),
    "high_level": ("high level", "high-level", "high alarm", "upper alarm", "high limit", "overflow alarm"),
    "low_level": ("low level", "low-level", "low alarm", "lower alarm", "low limit", "dry alarm"),
    "temperature": ("temperature", "hot", "warm", "cold", "heat", "cool", "degree"),
    "max_temperature": (
        "max temperature",
        "temperature limit",
        "maximum temperature",
        "overheat limit",
        "temperature rating",
    ),
    "ambient_temperature": ("ambient", "room temperature", "outside temperature"),
    "level": ("level", "how full", "how empty", "contents", "fill level"),
    "transport_time": (
        "transport time",
        "travel time",
        "ride",
        "conveyor time",
        "end to end",
        "traverse",
        "transit time",
        "transport",
    ),
    "length": ("length", "how long is"),
    "energy_price": (
        "energy price",
        "electricity",
        "power price",
        "tariff",
        "kwh",
        "energy cost",
        "power cost",
        "electricity price",
    ),
    "power_busy": ("power", "kw", "power draw", "consumption"),
    "power_idle": ("idle power", "standby power"),
    "power": ("power", "motor rating", "power rating", "rated power", "power draw", "kw"),
    "head": ("head", "pressure head", "lift height"),
    "efficiency": ("efficiency", "efficient"),
    "daily_target": ("target", "goal", "quota", "promise", "commitment", "daily target"),
    "lead_time": ("lead time", "lead-time", "delivery time", "days to deliver"),
    "reliability": ("reliability", "on time in full", "otif", "fill rate"),
    "unmet_penalty": (
        "penalty",
        "unmet",
        "shortage cost",
        "stockout",
        "stock-out",
        "penalty for unmet demand",
        "unmet demand penalty",
        "penalty for unmet",
    ),
    "min_flow": (
        "minimum",
        "contract minimum",
        "at least",
        "min flow",
        "floor",
        "commit",
        "commitment",
        "offtake",
        "take or pay",
        "take-or-pay",
        "guaranteed",
    ),
    "distance": ("distance", "how far"),
    "service_time": ("service time", "unload time", "drop-off time"),
    "service_level_target": ("service level", "fill rate target"),
    "vehicles": ("vehicle", "van", "truck", "lorry", "fleet"),
    "vehicle_capacity": ("vehicle capacity", "payload", "truck capacity"),
    "wear": ("wear", "worn", "condition", "health"),
    "queue": ("queue", "waiting", "backlog", "line up"),
    "vibration": ("vibration", "vibrate", "shake"),
    "acceleration": ("acceleration", "accelerometer"),
    "current": ("current", "amps", "ampere", "amp", "amperage"),
    "voltage": ("voltage", "volt"),
    "pressure": ("pressure", "bar", "psi"),
    "flow": ("flow", "flowing", "l/min"),
    "status": ("status", "state", "up or down", "working or not"),
    "busy": ("busy", "utilisation", "utilization", "occupied"),
    "inventory": ("inventory", "stock", "on hand"),
    "backlog": ("backlog", "unmet", "shortfall"),
    "occupancy": ("occupancy", "on the conveyor", "on the belt"),
    "count": ("count", "received", "finished", "shipped"),
    "released": ("released",),
    "elevation": ("elevation", "height"),
    "accuracy": ("accuracy", "accurate"),
    "heating_rate": ("heating rate", "heat up", "warms up"),
    "cooling_time_constant": ("cooling", "cool down"),
    "wear_per_cycle": ("wear per cycle", "wear rate"),
    "max_vibration": ("vibration limit", "max vibration"),
    "max_route_duration": ("route duration", "longest route", "shift length"),
    "cost_per_km": ("per km", "per kilometre", "driving cost", "mileage"),
    "start_time": ("start time", "first arrival"),
    "max_arrivals": ("max arrivals", "stop after", "this run", "in total", "run size", "order quantity"),
}

#: how the answers (and the generated examples) name each quantity
DISPLAY = {
    "mtbf": "time between failures",
    "mttr": "repair time",
    "mcbf": "cycles between failures",
    "interarrival_time": "time between arrivals",
    "initial_level": "starting level",
    "high_level": "high-level alarm",
    "low_level": "low-level alarm",
    "outflow_rate": "outflow",
    "cost_per_unit": "cost per unit",
    "cost_per_item": "material cost",
    "price_per_item": "price per item",
    "servers": "number of servers",
    "power_busy": "power when busy",
    "power_idle": "idle power",
    "cost_per_hour": "hourly cost",
    "min_flow": "contract minimum",
    "unmet_penalty": "penalty for unmet demand",
    "flow_rate": "rated flow",
}


def display(name: str) -> str:
    return DISPLAY.get(name, name.replace("_", " "))


#: vague words: a quantity only when nothing else is named ("how much water is in the tank")
QUANTITY_VAGUE: dict[str, tuple[str, ...]] = {"level": ("how much", "how many", "water", "in the", "is in")}

#: words that suggest a quantity without naming it (a verb, an adjective): weaker evidence
QUANTITY_HINTS: dict[str, tuple[str, ...]] = {
    "speed": ("fast", "running", "run at"),
    "max_arrivals": ("campaign", "cases", "units"),  # "600 cases of ibuprofen": how many in all
    "outflow_rate": ("rate", "usage", "consumption", "demand"),  # "the refuelling rate" of a tank
    "initial_level": ("start", "starts", "begin", "begins"),
    "capacity": (
        "hold",
        "holds",
        "held",
        "fit",
        "big",
        "large",
        "can take",
        "can do",
        "can handle",
        "can process",
        "handle",
        "process",
        "expand",
        "can make",
        "make",
        "produce",
        "number of",
        "do",
        "only take",
        "at most",
        "no more than",
        "up to",
        "limit",
        "limited to",
    ),
    "supply_capacity": ("deliver", "provide", "can give", "give", "available", "allot", "supply"),
    "demand": ("want", "buy", "take", "require", "ask", "volume", "order", "sell"),
    "cost_per_unit": (
        "pay",
        "expensive",
        "cheap",
        "want",
        "per unit",
        "per pallet",
        "per container",
        "shipping",
        "transport",
    ),
    "processing_cost": ("expensive", "cheap", "cost"),
    "handling_cost": ("cost", "expensive", "cheap"),
    "cost_per_item": ("pay", "expensive", "cheap", "per case", "per item"),
    "price_per_item": ("charge", "get for", "earn", "sale"),
    "process_time": (
        "take",
        "need",
        "long",
        "average",
        "per case",
        "per item",
        "per order",
        "per unit",
        "second",
        "cycle",
        "each",
    ),
    "servers": ("another", "second", "extra", "additional", "parallel", "station", "room", "head"),
    "mtbf": ("fail", "failure", "break down", "breakdown", "how often", "often", "reliable"),
    "mcbf": ("fail every",),
    "interarrival_time": ("arrive", "arrival", "every", "drop", "come in"),
    "opening": ("close", "set", "sit", "stick"),
    "flow_rate": ("deliver", "throughput", "rate"),
    "level": ("full", "empty", "contain", "sitting in", "how full"),
    "transport_time": ("take", "run", "long"),
    "length": ("long",),
    "daily_target": ("number", "want", "need", "plan", "hit", "per day", "a day"),
    "lead_time": ("transit", "take to deliver"),
    "occupancy": ("how many",),
    "queue": ("wait",),
}


def quantity_words(name: str, extra: dict[str, list[str]] | None = None) -> tuple[str, ...]:
    """Words for a quantity: its own name, the general list, and a twin's ``metadata.vocabulary``."""
    words = [name.replace("_", " "), *QUANTITY_WORDS.get(name, ())]
    if extra and name in extra:
        words += [str(w) for w in extra[name]]
    return tuple(words)


@cache
def phrase_stems(phrase: str) -> tuple[str, ...]:
    """A phrase as the stems of its words (how it is looked for in a question)."""
    return tuple(stem(t.text) for t in tokenize(normalise(phrase)) if t.kind in ("word", "number", "symbol"))


@cache
def light_stems(phrase: str) -> tuple[str, ...]:
    """A phrase as singular, American-spelled words: "repairs" is "repair", "packing" stays
    "packing" (not "packer"), for words that name quantities."""
    return tuple(light(t.text) for t in tokenize(normalise(phrase)) if t.kind in ("word", "number", "symbol"))


def light(word: str) -> str:
    """A word in singular and American spelling (its other inflections kept)."""
    from twinforge.guard.text import american, singular

    return singular(american(word.lower()))


def find_light(words: list[str], phrases: tuple[str, ...] | list[str]) -> list[tuple[int, int]]:
    """Token spans of ``words`` (light stems) where any of the phrases occurs."""
    out = []
    for phrase in phrases:
        p = light_stems(phrase)
        n = len(p)
        for i in range(len(words) - n + 1):
            if n and tuple(words[i : i + n]) == p:
                out.append((i, i + n))
    return out


def find_phrases(stems: list[str], phrases: tuple[str, ...] | list[str]) -> list[tuple[int, int]]:
    """Token spans of ``stems`` where any of the phrases occurs."""
    out = []
    for phrase in phrases:
        p = phrase_stems(phrase)
        n = len(p)
        if not n:
            continue
        for i in range(len(stems) - n + 1):
            if tuple(stems[i : i + n]) == p:
                out.append((i, i + n))
    return out


def says(text: str, words: tuple[str, ...] | list[str]) -> bool:
    """Whether the text contains any of the words or phrases (as stems)."""
    stems = [stem(t.text) for t in tokenize(normalise(text))]
    return bool(find_phrases(stems, tuple(words)))


# -- forms of questions ------------------------------------------------------------------------

_WHY = re.compile(
    r"^\s*(why|how come)\b|\bwhy\b|\bwhat'?s the reason\b|\bexplain\b|\bwhat (makes|causes)\b", re.I
)
_COMPARE = re.compile(
    r"\b(which is (worse|better|cheaper|bigger)|what is (worse|better)|what's (worse|better|cheaper)|which (hurts|helps|costs|cuts|gives|saves|is)\b.*\bor\b"
    r"|what hurts more|compare|comparison|versus|vs\.?|or (would|should|is it|does)|is it (better|cheaper|worse)\b.*\bor\b|should (it|we|the)\b.*\bor\b"
    r"|where (should|would|is)\b.*\bor\b|where's\b.*\bor\b|(better|worse|cheaper|more|less|fewer) .*\bor\b.*\?$"
    r"|^\s*which\b[^?]*\bor\b)",
    re.I,
)
_STATUS = re.compile(
    r"^\s*(what is|what's|whats|what are|how (much|many|big|long|hot|warm|cold|open|fast|large|far|full|worn|often)|what does|which|who|when|where|tell me|remind me|show me|give me|current)\b",
    re.I,
)
_WHAT_IF = re.compile(
    r"^\s*(what if|suppose|supposing|imagine|assume|assuming|say|let's say|what happens|what would|how (does|do|would|will|much) .*\bif\b|if\b)|\bwhat if\b|\bsuppose\b|\bif we\b|\bwhat happens\b|\bwould\b|\beffect\b|\bimpact\b",
    re.I,
)
_IMPERATIVE = re.compile(
    r"^\s*(set|run|make|double|halve|cut|raise|lower|increase|decrease|reduce|add|remove|close|open|shut|throttle|give|put|drop|bump|crank|turn|spin|feed|hire|take|move|stop|start|switch|change|slow|speed|scale|triple|expand|shrink|extend|shorten|compare|rerun|re-run|simulate|plan)\b",
    re.I,
)


def plan_forms(question: str, has_changes: bool) -> list[str]:
    """Kinds of plan the form of a question allows, most likely first (decline is always
    possible). ``has_changes``: the question writes a value or a change ("for 4 hours", "10%
    more", "doubles"); a "what is" question with one is a hypothetical, not a status question."""
    q = question.strip()
    if re.search(r"^\s*(why|how come)\b|\bexplain why\b|\bwhat'?s the reason\b", q, re.I):
        return ["why"]
    if _COMPARE.search(q):
        return ["compare", "what_if"]
    if _WHY.search(q):
        return ["why"]
    if _STATUS.search(q) and not has_changes and not _WHAT_IF.search(q):
        return ["status"]
    if _WHAT_IF.search(q) or _IMPERATIVE.search(q):
        return ["what_if", "compare"]  # a hypothetical never falls back to a lookup
    return ["what_if", "compare", "status"]
