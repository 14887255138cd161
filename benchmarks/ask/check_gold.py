"""Check a file of evaluation questions for ``ask``: every expected meaning must fit its twin.

The expected meaning of a question is written in the languages a user of twinforge already has:
the twin language (node ids, edge keys ``source->target``, parameter and state names of each
kind) and the scenario language (interventions, see ``docs/scenario.md``). It never uses the
question-plan language of the ask pipeline, so the labels do not depend on how ``ask`` works.

A question file::

    twin: hospital_ed.yaml          # path relative to this file
    questions:
      - id: ed-01
        question: What if triage takes 20% longer?
        expect:
          kind: what_if             # what_if | compare | why | status | decline
          interventions:            # what_if: one or more scenario interventions
            - {op: scale_parameter, target: triage, parameter: process_time, factor: 1.2}
      - id: ed-02
        question: Which hurts more, losing the CT scanner for 2 h or one doctor fewer?
        expect: {kind: compare, first: [...], second: [...]}
      - id: ed-03
        question: Why are patients waiting at triage?
        expect: {kind: why, target: triage}            # a lane: also source (networks)
      - id: ed-04
        question: How many beds do we have?
        expect: {kind: status, target: beds, quantity: capacity}   # product: optional
      - id: ed-05
        question: What if the helipad closes?
        expect: {kind: decline, reason: unknown_entity}

Decline reasons: ``unknown_entity`` (names something the twin does not have), ``not_modelled``
(asks about something the twin does not represent), ``outside_physical_limits`` (a value the
physics or the twin's bounds rule out), ``ambiguous`` (could mean two or more of the twin's
things), ``not_about_this_twin`` (off topic, instructions to the assistant, another language).

Usage: ``python benchmarks/ask/check_gold.py FILE.questions.yaml ...`` — prints every problem and
exits 1 when there is one.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

KINDS = ("what_if", "compare", "why", "status", "decline")
REASONS = ("unknown_entity", "not_modelled", "outside_physical_limits", "ambiguous", "not_about_this_twin")


def _check_interventions(twin: Any, items: Any, where: str) -> list[str]:
    from twinforge.errors import SpecError
    from twinforge.scenario import Scenario, apply_scenario

    if not isinstance(items, list) or not items:
        return [f"{where}: needs a non-empty list of interventions"]
    try:
        scenario = Scenario.model_validate({"name": "gold", "interventions": items})
        apply_scenario(twin, scenario)
    except SpecError as exc:
        return [f"{where}: {issue.message}" for issue in exc.errors]
    except Exception as exc:  # pydantic ValidationError and the like
        return [f"{where}: {exc}"]
    return []


def check_expect(twin: Any, expect: Any, where: str) -> list[str]:
    """Problems of one expected meaning (empty when it fits the twin)."""
    if not isinstance(expect, dict) or expect.get("kind") not in KINDS:
        return [f"{where}: expect.kind must be one of {', '.join(KINDS)}"]
    kind = expect["kind"]
    allowed = {
        "what_if": {"kind", "interventions"},
        "compare": {"kind", "first", "second"},
        "why": {"kind", "target", "source"},
        "status": {"kind", "target", "quantity", "product"},
        "decline": {"kind", "reason"},
    }[kind]
    extra = set(expect) - allowed
    if extra:
        return [f"{where}: unexpected keys {sorted(extra)} for kind {kind}"]
    if kind == "what_if":
        return _check_interventions(twin, expect.get("interventions"), where)
    if kind == "compare":
        return _check_interventions(twin, expect.get("first"), f"{where}.first") + _check_interventions(
            twin, expect.get("second"), f"{where}.second"
        )
    if kind == "decline":
        return [] if expect.get("reason") in REASONS else [f"{where}: reason must be one of {REASONS}"]
    target = expect.get("target")
    if not isinstance(target, str) or not twin.has_node(target):
        return [f"{where}: unknown node {target!r}"]
    if kind == "why":
        source = expect.get("source")
        if source is not None and not twin.edges_between(source, target):
            return [f"{where}: no edge from {source!r} to {target!r}"]
        return []
    node = twin.node(target)
    quantity = expect.get("quantity")
    names = set(node.parameters) | set(node.state_names())
    if node.param_def(quantity) is not None:
        names.add(quantity)
    if quantity not in names:
        return [f"{where}: {target!r} ({node.kind}) has no parameter or state {quantity!r}"]
    product = expect.get("product")
    if product is not None and product not in twin.products:
        return [f"{where}: unknown product {product!r}"]
    return []


def check_file(path: Path) -> list[str]:
    from twinforge.spec import load_spec

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "twin" not in data or not isinstance(data.get("questions"), list):
        return [f"{path}: needs 'twin' and a list 'questions'"]
    twin = load_spec(path.parent / data["twin"])
    problems: list[str] = []
    ids: set[str] = set()
    for i, q in enumerate(data["questions"]):
        where = f"{path.name}:{q.get('id', i) if isinstance(q, dict) else i}"
        if not isinstance(q, dict) or not isinstance(q.get("question"), str) or "expect" not in q:
            problems.append(f"{where}: needs 'id', 'question' (text) and 'expect'")
            continue
        if q.get("id") in ids:
            problems.append(f"{where}: duplicate id")
        ids.add(q.get("id"))
        problems += check_expect(twin, q["expect"], where)
    return problems


def main(argv: list[str]) -> int:
    problems: list[str] = []
    n = 0
    for arg in argv:
        path = Path(arg)
        problems += check_file(path)
        n += len(yaml.safe_load(path.read_text(encoding="utf-8")).get("questions", []))
    for p in problems:
        print(p)
    print(f"{n} question(s), {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
