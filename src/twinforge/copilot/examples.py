"""Question examples made from the twin itself: no example file is needed to ask any twin.

Kind-level templates — several phrasings for each kind of change (set to, change by, faster /
slower, double / halve, add an amount, outages with and without a start, setpoints at a time,
arrivals, demand by customer and product, closed lanes, partner restrictions, exclusive choices,
removals, two changes at once, comparisons, why about a node or a lane, status) — are filled with
the twin's own names (its ``name:`` fields, else its ids), parameters, units and products. Each
example is kept only when its plan validates against the twin and the twin's reader reads the
question back to the same meaning, so an example never teaches something the twin would refuse.

The examples serve as few-shot turns when a language model must choose between readings, and as a
self-test: :func:`generated_examples` is checked in the tests for every example twin.

Users may still add examples for their own twins from a YAML file::

    twin: bottling-line
    examples:
      - question: What if the filler is down for 4 hours?
        plan: {kind: what_if, changes: [{op: outage, target: filler, duration: 4, unit: h}]}

Every example from a file is checked against the twin on load, so a stale one fails loudly.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from twinforge.errors import Issue, SpecError
from twinforge.inputs import read_yaml
from twinforge.plan.models import Plan
from twinforge.plan.schema import engine_of, parameter_groups
from twinforge.spec.catalog import CATALOG
from twinforge.spec.models import TwinSpec

_PLAN = TypeAdapter(Plan)


class ExampleError(SpecError):
    """An example file is malformed or does not fit its twin."""


@dataclass(frozen=True)
class Example:
    question: str
    plan: dict[str, Any]
    source: str = "generated"
    family: str = ""  # the template family (for evaluation splits)

    @property
    def kind(self) -> str:
        return self.plan["kind"]


def plan_data(plan: Any) -> dict[str, Any]:
    """A plan model as plain data, whole numbers written as the decoder writes them."""

    def whole(x: Any) -> Any:
        if isinstance(x, float) and x.is_integer():
            return int(x)
        if isinstance(x, dict):
            return {k: whole(v) for k, v in x.items()}
        if isinstance(x, list):
            return [whole(v) for v in x]
        return x

    return whole(plan.model_dump(mode="json", exclude_none=True))


# -- naming ------------------------------------------------------------------------------------


def call(twin: TwinSpec, node_id: str) -> str:
    """How a person names a node: its ``name:`` without the parenthesis, else its id."""
    node = twin.node(node_id)
    if node.name:
        return re.sub(r"\s*\(.*?\)\s*", " ", node.name).strip()
    return node_id.replace("_", " ") if "_" in node_id and not node_id[:2].isupper() else node_id


def quantity_name(name: str) -> str:
    from twinforge.guard.vocabulary import display

    return display(name)


_SAY = {
    "item": "items",
    "cycle": "cycles",
    "degC": "°C",
    "m^3": "m³",
    "m^3/h": "m³/h",
    "h": "hours",
    "min": "minutes",
    "s": "seconds",
    "day": "days",
}


def say_unit(unit: str) -> str:
    """A unit as a person writes it ("items a day", "EUR per item", "m³")."""
    if unit in _SAY:
        return _SAY[unit]
    if "/" in unit:
        num, den = unit.split("/", 1)
        per = {"day": "a day", "h": "an hour", "min": "a minute", "item": "per item", "week": "a week"}.get(
            den
        )
        if per:
            return f"{_SAY.get(num, num)} {per}"
    return unit


# -- templates ---------------------------------------------------------------------------------
# Each returns (family, question, plan) tuples. Values are chosen to be typical and valid.

_OUTAGE = [
    ("outage/for", "What if {node} is down for {d} {unit}?"),
    ("outage/breaks", "Suppose {node} breaks down and is out for {d} {unit}."),
    ("outage/start", "{node} stops for {d} {unit} starting {s} {sunit} into the run. What happens?"),
]
_SET = [
    ("set/to", "What if the {q} of {node} went to {v}{u}?"),
    ("set/imperative", "Set {node}'s {q} to {v}{u}."),
]
_CHANGE = [
    ("change/up", "What if {node}'s {q} goes up by {p}%?"),
    ("change/down", "{q} at {node} {p}% lower - what changes?"),
]
_PACE = [
    ("pace/faster", "What if {node} ran {p}% faster?"),
    ("pace/slower", "Make {node} {p}% slower."),
]
_SCALE = [("scale/double", "What if {node}'s {q} doubled?"), ("scale/halve", "Halve the {q} of {node}.")]
_ADD = [("add/more", "Give {node} {a} more {q}.")]


def _value(twin: TwinSpec, target: str, pdef: Any) -> tuple[float, str] | None:
    """A sensible new value for a parameter: 20% above today's, rounded, in the catalogue unit."""
    try:
        today = twin.get(target, pdef.name)
    except Exception:
        return None
    lo, hi = pdef.bounds
    unit = pdef.unit_for(twin.currency)
    if unit == "":
        value = round(min(hi, max(lo, today * 0.8 if today > 0.5 else 0.5)), 2)
        return (value * 100, "%") if hi <= 1.0 else (value, "")
    value = today * 1.2 if today else 10.0
    value = float(f"{value:.2g}") if value >= 1 else round(value, 2)
    if pdef.integer:
        value = float(round(value))
    if not (lo <= value <= hi):
        return None
    return value, unit


def _fmt(x: float) -> str:
    return f"{x:g}"


def _param_examples(twin: TwinSpec, rng: random.Random) -> list[tuple[str, str, dict[str, Any]]]:
    engine = engine_of(twin)
    out = []
    groups = list(parameter_groups(twin, engine))
    rng.shuffle(groups)
    for kind, pdef, targets in groups[:12]:
        target = rng.choice(targets)
        if kind.startswith("edge:"):
            src, dst = target.split("->")
            who = f"the lane from {call(twin, src)} to {call(twin, dst)}"
        else:
            who = call(twin, target)
        q = quantity_name(pdef.name)
        vu = _value(twin, target, pdef)
        if vu is not None:
            value, unit = vu
            fam, text = rng.choice(_SET)
            u = "%" if unit == "%" else (f" {say_unit(unit)}" if unit else "")
            plan_value: dict[str, Any] = {"value": value}
            if unit:
                plan_value["unit"] = unit
            out.append(
                (
                    fam,
                    text.format(node=who, q=q, v=_fmt(value), u=u),
                    {
                        "kind": "what_if",
                        "changes": [{"op": "set", "target": target, "parameter": pdef.name, **plan_value}],
                    },
                )
            )
        fam, text = rng.choice(_CHANGE)
        p = rng.choice([10, 15, 20, 25, 30])
        direction = "increase" if fam.endswith("up") else "decrease"
        out.append(
            (
                fam,
                text.format(node=who, q=q, p=p).capitalize()
                if text.startswith("{q}")
                else text.format(node=who, q=q, p=p),
                {
                    "kind": "what_if",
                    "changes": [
                        {
                            "op": "change",
                            "target": target,
                            "parameter": pdef.name,
                            "direction": direction,
                            "percent": p,
                        }
                    ],
                },
            )
        )
        if not pdef.integer:
            fam, text = rng.choice(_SCALE)
            factor = 2 if fam.endswith("double") else 0.5
            out.append(
                (
                    fam,
                    text.format(node=who, q=q),
                    {
                        "kind": "what_if",
                        "changes": [
                            {"op": "scale", "target": target, "parameter": pdef.name, "factor": factor}
                        ],
                    },
                )
            )
        if pdef.integer and pdef.name == "servers":
            out.append(
                (
                    "add/more",
                    f"What if {who} had one more server?",
                    {
                        "kind": "what_if",
                        "changes": [
                            {
                                "op": "add",
                                "target": target,
                                "parameter": pdef.name,
                                "direction": "increase",
                                "amount": 1,
                            }
                        ],
                    },
                )
            )
    return out


def _node_examples(twin: TwinSpec, rng: random.Random) -> list[tuple[str, str, dict[str, Any]]]:
    from twinforge.guard.reading import PACE
    from twinforge.plan.models import OUTAGE_TARGET_KINDS

    engine = engine_of(twin)
    out = []
    down = [n.id for n in twin.nodes if n.kind in OUTAGE_TARGET_KINDS]
    for nid in rng.sample(down, min(4, len(down))):
        fam, text = rng.choice(_OUTAGE)
        d = rng.choice([1, 2, 4, 6])
        change: dict[str, Any] = {"op": "outage", "target": nid, "duration": d, "unit": "h"}
        s = rng.choice([1, 2, 3])
        if fam == "outage/start":
            change |= {"start": s, "start_unit": "h"}
        out.append(
            (
                fam,
                text.format(
                    node=call(twin, nid),
                    d=d,
                    unit="hours" if d > 1 else "hour",
                    s=s,
                    sunit="hours" if s > 1 else "hour",
                ),
                {"kind": "what_if", "changes": [change]},
            )
        )
    paced = [n for n in twin.nodes if n.kind in PACE and PACE[n.kind] in n.parameters]
    for node in rng.sample(paced, min(3, len(paced))):
        fam, text = rng.choice(_PACE)
        p = rng.choice([10, 20, 25])
        out.append(
            (
                fam,
                text.format(node=call(twin, node.id), p=p),
                {
                    "kind": "what_if",
                    "changes": [
                        {
                            "op": "change",
                            "target": node.id,
                            "parameter": PACE[node.kind],
                            "direction": fam.split("/")[1],
                            "percent": p,
                        }
                    ],
                },
            )
        )
    if len(down) >= 2:
        a, b = rng.sample(down, 2)
        out.append(
            (
                "compare/outages",
                f"Which is worse: {call(twin, a)} down for 2 hours or {call(twin, b)} down for 2 hours?",
                {
                    "kind": "compare",
                    "first": [{"op": "outage", "target": a, "duration": 2, "unit": "h"}],
                    "second": [{"op": "outage", "target": b, "duration": 2, "unit": "h"}],
                },
            )
        )
    for node in rng.sample([n for n in twin.nodes if n.kind != "sensor"], min(3, len(twin.nodes))):
        out.append(
            (
                "why/node",
                f"Why does {call(twin, node.id)} matter so much?",
                {"kind": "why", "target": node.id},
            )
        )
    for node in rng.sample(
        [n for n in twin.nodes if n.kind in CATALOG and n.parameters], min(4, len(twin.nodes))
    ):
        pname = rng.choice(sorted(node.parameters))
        pdef = node.param_def(pname)
        if pdef is None:
            continue
        plan: dict[str, Any] = {"kind": "status", "target": node.id, "quantity": pname}
        out.append(("status/what", f"What is the {quantity_name(pname)} of {call(twin, node.id)}?", plan))
    sources = [n.id for n in twin.nodes if n.kind == "source"]
    if engine == "simulate" and sources:
        src = sources[0]
        out.append(
            (
                "arrivals/rate",
                f"What if {rng.choice([60, 90, 120])} items an hour arrived at {call(twin, src)}?",
                None,  # filled below with the number written
            )
        )
        rate = int(re.search(r"\d+", out[-1][1]).group())  # type: ignore[union-attr]
        out[-1] = (
            out[-1][0],
            out[-1][1],
            {"kind": "what_if", "changes": [{"op": "arrivals", "target": src, "rate": rate, "unit": "1/h"}]},
        )
    if engine == "optimize":
        out += _network_examples(twin, rng)
    return out


def _network_examples(twin: TwinSpec, rng: random.Random) -> list[tuple[str, str, dict[str, Any]]]:
    out: list[tuple[str, str, dict[str, Any]]] = []
    customers = [n.id for n in twin.nodes if n.kind == "customer"]
    p = rng.choice([5, 10, 20])
    out.append(
        (
            "demand/all",
            f"What if demand rises by {p}%?",
            {"kind": "what_if", "changes": [{"op": "demand", "direction": "increase", "percent": p}]},
        )
    )
    if customers:
        c = rng.choice(customers)
        change: dict[str, Any] = {"op": "demand", "direction": "decrease", "percent": p}
        text = f"What if {call(twin, c)} orders {p}% less"
        if twin.products:
            prod = rng.choice(twin.products)
            change["product"] = prod
            text += f" {prod}"
        change["customer"] = c
        out.append(("demand/customer", text + "?", {"kind": "what_if", "changes": [change]}))
    lanes = [e for e in twin.edges if e.kind == "material"]
    for e in rng.sample(lanes, min(2, len(lanes))):
        out.append(
            (
                "forbid/lane",
                f"What if nothing can be shipped from {call(twin, e.source)} to {call(twin, e.target)}?",
                {"kind": "what_if", "changes": [{"op": "forbid", "source": e.source, "target": e.target}]},
            )
        )
        out.append(
            (
                "why/lane",
                f"Why do we ship from {call(twin, e.source)} to {call(twin, e.target)}?",
                {"kind": "why", "source": e.source, "target": e.target},
            )
        )
    places = [n.id for n in twin.nodes if n.kind in ("supplier", "plant", "warehouse")]
    for nid in rng.sample(places, min(2, len(places))):
        out.append(
            (
                "remove/closes",
                f"What if {call(twin, nid)} closes for good?",
                {"kind": "what_if", "changes": [{"op": "remove", "target": nid}]},
            )
        )
    if lanes:
        e = rng.choice(lanes)
        out.append(
            (
                "only/buy",
                f"What if {call(twin, e.target)} only buys from {call(twin, e.source)}?",
                {
                    "kind": "what_if",
                    "changes": [
                        {"op": "only", "direction": "buy_only", "target": e.target, "partners": [e.source]}
                    ],
                },
            )
        )
    kinds: dict[str, list[str]] = {}
    for nid in places:
        kinds.setdefault(twin.node(nid).kind, []).append(nid)
    for ids in kinds.values():
        if len(ids) >= 2:
            a, b = ids[:2]
            out.append(
                (
                    "exclusive/either",
                    f"Could we use either {call(twin, a)} or {call(twin, b)}, but not both?",
                    {"kind": "what_if", "changes": [{"op": "exclusive", "first": a, "second": b}]},
                )
            )
            break
    return out


def generated_examples(twin: TwinSpec, seed: int = 0, check: bool = True) -> list[Example]:
    """Examples for ``twin`` from the kind-level templates (see the module docstring)."""
    from twinforge.guard.check import plan_effects, same_meaning, twin_problems
    from twinforge.guard.lexicon import Lexicon
    from twinforge.guard.reading import read

    rng = random.Random(seed)
    raw = _param_examples(twin, rng) + _node_examples(twin, rng)
    lex = Lexicon.of(twin)
    out: list[Example] = []
    for family, question, plan in raw:
        try:
            parsed = _PLAN.validate_python(plan)
        except ValidationError:
            continue
        data = plan_data(parsed)
        if twin_problems(data, twin):
            continue
        meaning = plan_effects(data, twin)
        if isinstance(meaning, list) and not any(e.describe() for e in meaning):
            continue  # a change that changes nothing (doubling a zero)
        if check:
            reading = read(question, twin, lex)
            best = reading.best
            if (
                len(best) != 1
                or best[0].plan["kind"] != data["kind"]
                or not same_meaning(meaning, plan_effects(best[0].plan, twin))
            ):
                continue
        out.append(Example(question=question, plan=data, family=family))
    return out


# -- example files -------------------------------------------------------------------------------


def load_example_file(path: str | Path, twin: TwinSpec) -> list[Example]:
    """Examples from a YAML file (see the module docstring), each checked against the twin."""
    from twinforge.guard.check import twin_problems

    path = Path(path)
    try:
        data = read_yaml(path, "examples file")
    except SpecError as exc:  # missing, too large, binary, not UTF-8, malformed or unsafe YAML
        raise ExampleError(exc.issues, summary=f"cannot read examples file {path}") from None
    if not isinstance(data, dict) or not isinstance(data.get("examples"), list):
        raise ExampleError(
            [Issue(message="an example file needs 'twin' and a list 'examples'", file=str(path))]
        )
    if data.get("twin") not in (None, twin.name):
        return []
    out: list[Example] = []
    issues: list[Issue] = []
    for i, raw in enumerate(data["examples"]):
        where = ("examples", i)
        if not isinstance(raw, dict) or "question" not in raw or "plan" not in raw:
            issues.append(Issue(message="an example needs 'question' and 'plan'", file=str(path), path=where))
            continue
        try:
            plan = _PLAN.validate_python(raw["plan"])
        except ValidationError as exc:
            issues.append(
                Issue(
                    message=f"plan does not parse: {exc.errors()[0]['msg']}",
                    file=str(path),
                    path=(*where, "plan"),
                )
            )
            continue
        problems = twin_problems(plan, twin)
        if problems:
            issues.append(Issue(message=problems[0].detail, file=str(path), path=(*where, "plan")))
            continue
        out.append(Example(question=str(raw["question"]), plan=plan_data(plan), source=str(path)))
    if issues:
        raise ExampleError(issues, summary=f"{len(issues)} bad example(s) in {path}")
    return out


class ExampleRetriever:
    """The ``k`` examples nearest a question, by sentence embedding of the *masked* question (its
    names, products and numbers replaced by their kind), so that similarity follows how a question
    is asked, not which machine it names. Embeddings are computed on first use."""

    def __init__(self, examples: list[Example], twin: TwinSpec, embed: Any = None) -> None:
        self.examples = list(examples)
        self.twin = twin
        self._embed = embed
        self._vectors: Any = None

    def _embedder(self) -> Any:
        if self._embed is None:
            from twinforge.ai import embed

            self._embed = embed
        return self._embed

    def _key(self, question: str) -> str:
        from twinforge.guard.grounding import mask

        return mask(question, self.twin)

    def nearest(self, question: str, k: int = 4) -> list[Example]:
        """The ``k`` nearest examples, least similar first (the closest sits next to the question)."""
        import numpy as np

        if not self.examples or k <= 0:
            return []
        embed = self._embedder()
        if self._vectors is None:
            self._vectors = np.asarray(embed([self._key(e.question) for e in self.examples]))
        q = np.asarray(embed([self._key(question)]))[0]
        order = np.argsort(-(self._vectors @ q))[:k]
        return [self.examples[int(i)] for i in reversed(order)]


__all__ = [
    "Example",
    "ExampleError",
    "ExampleRetriever",
    "call",
    "generated_examples",
    "load_example_file",
    "plan_data",
]
