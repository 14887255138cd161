"""The words a question uses for each kind of change and for each quantity of a twin.

A plan must make sense for the question it answers: an outage for a question that says nothing of
a stop, or the capacity of a plant for a question about its employees, is a model's guess, not a
reading of the question. These lists let the guard reject such plans (and the repair loop rule
them out). They are deliberately broad — general English for each idea, not the phrasing of any
test question — and a twin can add words for its own parameters in a node's
``metadata.vocabulary`` (``{parameter: [words]}``).
"""

from __future__ import annotations

import re

#: words that signal each kind of change
OP_WORDS: dict[str, tuple[str, ...]] = {
    "outage": (
        "down",
        "stop",
        "stops",
        "stopped",
        "fail",
        "fails",
        "failed",
        "failure",
        "outage",
        "break",
        "breaks",
        "broke",
        "breakdown",
        "unavailable",
        "offline",
        "off line",
        "trip",
        "trips",
        "halt",
        "halts",
        "standstill",
        "maintenance",
        "repair",
        "idle",
        "lost for",
        "out for",
        "goes out",
        "shut",
        "shuts",
    ),
    "remove": (
        "lose",
        "loses",
        "losing",
        "lost",
        "no longer",
        "not available",
        "unavailable",
        "out of business",
        "bankrupt",
        "close",
        "closes",
        "closed",
        "closing",
        "shut",
        "shuts",
        "shutdown",
        "gone",
        "can't",
        "cannot",
        "without",
        "fire",
        "destroyed",
        "remove",
        "removed",
        "drop",
        "dropped",
        "exit",
        "quits",
        "stop buying",
        "anymore",
        "any more",
    ),
    "forbid": (
        "stop shipping",
        "stops shipping",
        "no longer ship",
        "no longer send",
        "can no longer",
        "closed",
        "ban",
        "banned",
        "forbid",
        "forbidden",
        "block",
        "blocked",
        "nothing can",
        "no shipments",
        "stops",
        "stop",
        "not allowed",
        "cut off",
        "closes",
        "lane",
    ),
    "only": (
        "only",
        "exclusively",
        "must source",
        "restricted",
        "restrict",
        "limited to",
        "sole",
        "solely",
        "just",
    ),
    "exclusive": ("or", "not both", "either", "choose between", "mutually exclusive", "one of"),
    "demand": (
        "demand",
        "order",
        "orders",
        "ordered",
        "sales",
        "sell",
        "buys",
        "buy",
        "consumption",
        "needs",
    ),
    "arrivals": (
        "arrive",
        "arrives",
        "arrival",
        "arrivals",
        "deliver",
        "delivers",
        "delivery",
        "feed",
        "supply",
        "come in",
        "infeed",
    ),
}

#: words for quantities (catalogue parameters and states); the name itself always counts
PARAM_WORDS: dict[str, tuple[str, ...]] = {
    "capacity": (
        "capacity",
        "handle",
        "hold",
        "holds",
        "fit",
        "room",
        "size",
        "big",
        "large",
        "resize",
        "process",
        "can take",
    ),
    "supply_capacity": ("capacity", "supply", "deliver", "provide"),
    "demand": ("demand", "order", "orders", "need", "needs", "sales", "buy", "buys"),
    "cost_per_unit": (
        "cost",
        "costs",
        "price",
        "charge",
        "charges",
        "pay",
        "freight",
        "shipping",
        "transport",
        "expensive",
        "cheaper",
        "tariff",
    ),
    "processing_cost": ("processing", "process", "bottling", "production cost", "cost", "expensive"),
    "handling_cost": ("handling", "cost"),
    "fixed_cost": ("fixed cost", "fixed"),
    "process_time": (
        "process time",
        "processing time",
        "cycle time",
        "take",
        "takes",
        "took",
        "time per",
        "needs",
        "slower",
        "faster",
        "long",
    ),
    "servers": (
        "server",
        "servers",
        "parallel",
        "side by side",
        "heads",
        "machines",
        "lanes",
        "second",
        "another",
    ),
    "setup_time": ("setup", "set-up", "changeover"),
    "speed": ("speed", "rate", "fast", "slow", "rpm", "nominal"),
    "mtbf": ("between failures", "mtbf", "reliability", "fails", "failure"),
    "mttr": ("repair", "repairs", "fix", "fixing", "mttr", "restore"),
    "scrap_rate": ("scrap", "reject", "rejects", "waste", "defect"),
    "interarrival_time": ("arrive", "arrival", "interarrival"),
    "opening": ("open", "opening", "close", "closed", "throttle", "throttled", "position"),
    "flow_rate": ("flow", "deliver", "delivers", "pump rate", "throughput", "rated"),
    "outflow_rate": (
        "outflow",
        "drawn",
        "draw",
        "take",
        "taken",
        "consumption",
        "withdraw",
        "out of the tank",
    ),
    "temperature": ("temperature", "hot", "warm", "cold", "heat"),
    "level": ("level", "full", "empty", "contains", "water in"),
    "transport_time": ("transport", "travel", "conveyor time"),
    "energy_price": ("energy price", "electricity price", "power price", "tariff"),
    "daily_target": ("target", "goal"),
}

_NORM = re.compile(r"[^a-z0-9%]+")


def normalise(text: str) -> str:
    return " " + _NORM.sub(" ", text.lower().replace("'", "")).strip() + " "


def says(text: str, words: tuple[str, ...] | list[str]) -> bool:
    """Whether the (normalised) text contains any of the words or phrases."""
    t = normalise(text)
    return any(normalise(w) in t for w in words)


def quantity_words(name: str, extra: dict[str, list[str]] | None = None) -> tuple[str, ...]:
    words = [name.replace("_", " "), *PARAM_WORDS.get(name, ())]
    if extra and name in extra:
        words += list(extra[name])
    return tuple(words)


#: question forms that leave only some kinds of plan (decline is always possible)
_WHY = re.compile(r"^\s*(why|how come)\b|\bwhy\b", re.I)
_COMPARE = re.compile(
    r"\b(which is (worse|better)|what is (worse|better)|what's (worse|better)|which hurts more|what hurts more|compare|comparison|versus|vs\.?)\b",
    re.I,
)
_WHAT_IF = re.compile(
    r"^\s*(what if|suppose|supposing|imagine|assume|what happens|what would|how (does|do|would|will|much) .*\bif\b|if\b)|\bwhat if\b|\bsuppose\b",
    re.I,
)
_STATUS = re.compile(
    r"^\s*(what is|what's|whats|what are|how (much|many|big|long|hot|open|fast|large)|what does|which|who|when|where|tell me)\b",
    re.I,
)


def plausible_kinds(question: str, has_numbers: bool = False) -> set[str] | None:
    """Kinds of plan the form of the question allows, or None when the form says nothing.
    ``has_numbers``: the question writes a value (not counting digits inside entity ids)."""
    if _COMPARE.search(question):
        return {"compare", "decline"}
    if _WHY.search(question):
        return {"why", "decline"}
    if _WHAT_IF.search(question):
        return {"what_if", "compare", "decline"}
    if _STATUS.search(question) and not has_numbers:
        # "what is / how much ..." without a number asks about the twin as it is; with a number
        # ("what does a 12 hour outage cost?") it is a hypothetical
        return {"status", "decline"}
    return None
