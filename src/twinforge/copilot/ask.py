"""Ask the twin: a question in plain language, answered by the twin's own simulation or optimisation.

The pipeline (each step can decline, none can guess):

1. **Read** the question against the twin (:func:`twinforge.guard.reading.read`): bad input,
   instructions to the assistant and other languages are declined; names, numbers with their
   roles, quantities, kinds of change and the question's structure become complete candidate
   plans, ranked by how well each explains the question. Code decides set-to vs change-by,
   faster vs slower, start times and durations; when nothing fits, the decline says why (the
   name the twin does not have, the quantity it does not model, the bound a value breaks, the
   candidates of an ambiguous name).
2. **Choose** among the best readings only when they mean different things: the language model
   (local SmolLM2-135M by default, or any OpenAI-compatible endpoint) picks one, with few-shot
   examples the twin generated for itself (:mod:`twinforge.copilot.examples`). A choice the model
   is not sure of is declined as ambiguous, naming the readings.
3. **Check** the chosen plan against the twin and the question (:func:`twinforge.guard.check.check_plan`):
   it must validate, and mean what one of the readings means. It is never repaired into another
   plan.
4. **Run** it on the twin (flow optimisation or Monte Carlo simulation with common random numbers)
   and **answer** with numbers from the results only, showing the interventions applied.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from twinforge.copilot.answer import check_narrative, fmt, numbers_in, outcome_text
from twinforge.copilot.engines import Engine, Outcome, engine_for
from twinforge.copilot.examples import Example, ExampleRetriever, generated_examples, load_example_file
from twinforge.copilot.why import counterfactual
from twinforge.errors import TwinforgeError
from twinforge.guard.check import CheckedPlan, check_plan
from twinforge.guard.lexicon import Lexicon
from twinforge.guard.reading import Reading, Refusal, read
from twinforge.plan.models import (
    DECLINE_TEXT,
    ComparePlan,
    KeepPlan,
    StatusPlan,
    WhatIfPlan,
    WhyPlan,
    changes_of,
)
from twinforge.plan.schema import engine_of
from twinforge.spec.models import TwinSpec

Status = Literal["answered", "declined"]

#: a model's choice between readings is accepted only with at least this log-probability margin
#: over the runner-up (ranked choices); closer calls are declined as ambiguous. Chosen on the dev set.
MIN_MARGIN = 0.5


@dataclass
class AskResult:
    question: str
    twin: str
    engine: str
    status: Status
    answer: str
    kind: str | None = None
    plan: dict[str, Any] | None = None
    interventions: list[str] = field(default_factory=list)
    value: float | None = None  # the headline number: a KPI change, or a status value
    values: dict[str, Any] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)
    reason: str | None = None  # decline reason (twinforge.plan.models.DECLINE_REASONS)
    detail: str | None = None  # the specific part of a decline
    readings: list[dict[str, Any]] = field(default_factory=list)  # the plans the question can mean
    chosen_by: str = "reading"  # "reading" (one meaning), or how the model chose
    margin: float | None = None
    examples: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    mapping_s: float = 0.0
    run_s: float = 0.0
    narrative: str | None = None
    rejected_numbers: list[float] = field(default_factory=list)

    def render(self) -> str:
        lines = [self.answer]
        if self.interventions:
            lines.append("Interventions applied to the twin:")
            lines += [f"  • {d}" for d in self.interventions]
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for the CLI's --json and the HTTP API."""
        return {
            "question": self.question,
            "twin": self.twin,
            "status": self.status,
            "kind": self.kind,
            "answer": self.answer,
            "plan": self.plan,
            "interventions": self.interventions,
            "value": self.value,
            "values": self.values,
            "reason": self.reason,
            "detail": self.detail,
            "readings": self.readings,
            "chosen_by": self.chosen_by,
            "margin": None if self.margin is None or self.margin == float("inf") else round(self.margin, 3),
            "notes": self.notes,
            # where each number came from: the run's headline KPI, baseline vs scenario, CI
            "outcomes": [
                {
                    "kpi": o.kpi,
                    "unit": o.unit,
                    "baseline": o.baseline,
                    "scenario": o.scenario,
                    "delta": o.delta,
                    "delta_pct": o.delta_pct,
                    "ci": list(o.ci) if o.ci is not None else None,
                    "feasible": o.feasible,
                    "details": list(o.details),
                    "numbers": dict(o.numbers),
                }
                for o in self.outcomes
            ],
            "narrative": self.narrative,
            "mapping_s": round(self.mapping_s, 3),
            "run_s": round(self.run_s, 3),
        }


@dataclass
class Mapping_:
    """A question mapped onto the twin: the plan, or why there is none."""

    reading: Reading
    plan: dict[str, Any] | None = None
    checked: CheckedPlan | None = None
    decline: Refusal | None = None
    chosen_by: str = "reading"
    margin: float | None = None
    examples: list[str] = field(default_factory=list)


def describe_twin(twin: TwinSpec, engine: str) -> str:
    """The system prompt when a model chooses between readings: what the twin contains."""
    by_kind: dict[str, list[str]] = {}
    for n in twin.nodes:
        if n.kind != "sensor":
            by_kind.setdefault(n.kind, []).append(n.id + (f" ({n.name})" if n.name else ""))
    how = "flow optimisation" if engine == "optimize" else "simulation"
    parts = [f"Twin {twin.name!r}, answered by {how}."]
    parts += [f"{kind}: {', '.join(ids)}." for kind, ids in by_kind.items()]
    if twin.products:
        parts.append(f"Products: {', '.join(twin.products)}.")
    parts.append("Choose the plan that means what the question asks.")
    return " ".join(parts)


class TwinAsker:
    """Answers questions about one twin. Reuses the lexicon, the model, the examples and the
    baseline run across questions."""

    def __init__(
        self,
        twin: TwinSpec,
        *,
        examples: list[Example] | None = None,
        example_files: list[Any] | None = None,
        llm: Any = None,
        engine: Engine | None = None,
        k: int = 4,
        state: Mapping[str, Mapping[str, float]] | None = None,
        embed: Any = None,
        engine_options: Mapping[str, Any] | None = None,
        min_margin: float = MIN_MARGIN,
    ) -> None:
        self.twin = twin
        self.engine_name = engine_of(twin)
        self.lexicon = Lexicon.of(twin)
        own = [e for f in example_files or [] for e in load_example_file(f, twin)]
        self._examples = examples
        self._own_examples = own
        self._llm = llm
        self._engine = engine
        self.engine_options = dict(engine_options or {})
        self.k = k
        self.state = state
        self.embed = embed
        self.min_margin = min_margin
        self._retriever: ExampleRetriever | None = None

    # -- lazily built parts (most questions need no model and no examples) ----------------------
    @property
    def examples(self) -> list[Example]:
        if self._examples is None:
            self._examples = generated_examples(self.twin)
        return self._examples + self._own_examples

    @property
    def llm(self) -> Any:
        if self._llm is None:
            import copy

            from twinforge.ai import Redactor, get_llm
            from twinforge.config import load_settings

            shared = get_llm()
            self._llm = shared
            if shared.redactor is not None:  # the twin's own names are never redacted as persons
                names = [self.twin.name, *self.twin.products]
                names += [x for n in self.twin.nodes for x in (n.id, n.name) if x]
                self._llm = copy.copy(shared)
                self._llm.redactor = Redactor.from_settings(load_settings().redaction, keep=names)
        return self._llm

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = engine_for(self.twin, **self.engine_options)
        return self._engine

    @property
    def retriever(self) -> ExampleRetriever:
        if self._retriever is None:
            self._retriever = ExampleRetriever(self.examples, self.twin, embed=self.embed)
        return self._retriever

    # -- mapping ---------------------------------------------------------------------------------
    def map_question(self, question: str) -> Mapping_:
        """Question -> checked plan, or the reason there is none."""
        reading = read(question, self.twin, self.lexicon, self.engine_name)
        out = Mapping_(reading)
        if reading.refusal is not None:
            out.decline = reading.refusal
            return out
        best = reading.best
        if not best:  # pragma: no cover - read() sets a refusal when nothing fits
            out.decline = Refusal("unclear", "the question fits no plan the twin can run")
            return out
        plan = best[0].plan
        which = _entities_apart(self.twin, [c.plan for c in best])
        if which:  # the same change to one of several things: only the asker knows which
            out.decline = Refusal("ambiguous", f"it could be any of {which}; say which")
            return out
        if len(best) > 1:
            plan = self._choose(question, [c.plan for c in best], out)
            if plan is None:
                return out
        checked = check_plan(plan, reading, self.twin)
        if not checked.ok:
            out.decline = Refusal(checked.reason or "unclear", "; ".join(checked.problems))
            return out
        out.plan, out.checked = plan, checked
        return out

    def _choose(self, question: str, plans: list[dict[str, Any]], out: Mapping_) -> dict[str, Any] | None:
        """Let the model choose between readings that mean different things."""
        from twinforge.ai import Message

        shots = self.retriever.nearest(question, self.k)
        out.examples = [e.question for e in shots]
        messages: list[Any] = []
        for e in shots:
            messages += [
                Message("user", e.question),
                Message("assistant", json.dumps(e.plan, ensure_ascii=False)),
            ]
        try:
            choice = self.llm.choose(
                question, plans, system=describe_twin(self.twin, self.engine_name), examples=messages
            )
        except TwinforgeError as exc:
            out.decline = Refusal("ambiguous", f"{_readings_text(plans)}; the model could not choose ({exc})")
            return None
        out.chosen_by, out.margin = choice.how, choice.margin
        if choice.margin is not None and choice.margin < self.min_margin:
            out.decline = Refusal("ambiguous", _readings_text(plans))
            return None
        return plans[choice.index]

    # -- asking ----------------------------------------------------------------------------------
    def ask(self, question: str, *, narrative: bool = False) -> AskResult:
        t0 = time.perf_counter()
        mapped = self.map_question(question)
        base: dict[str, Any] = {
            "question": question,
            "twin": self.twin.name,
            "engine": self.engine_name,
            "readings": [c.plan for c in mapped.reading.best][:6],
            "chosen_by": mapped.chosen_by,
            "margin": mapped.margin,
            "examples": mapped.examples,
            "mapping_s": time.perf_counter() - t0,
        }
        if mapped.decline is not None or mapped.checked is None:
            refusal = mapped.decline or Refusal("unclear", "no plan")
            return _declined(refusal, base)
        t1 = time.perf_counter()
        try:
            result = self._run(mapped.checked, base)
        except TwinforgeError as exc:
            result = _declined(Refusal("not_modelled", f"the twin cannot run this: {exc}"), base)
        result.notes[:0] = [
            f"{what} in the question was not read: its digits are never a value"
            for what in dict.fromkeys(mapped.reading.ignored)
        ]
        result.run_s = time.perf_counter() - t1
        if narrative and result.status == "answered":
            self._add_narrative(result)
        return result

    def _run(self, checked: CheckedPlan, base: dict[str, Any]) -> AskResult:
        plan = checked.plan
        plan_dict = plan.model_dump(mode="json", exclude_none=True)
        notes = self._notes(plan)
        if isinstance(plan, WhatIfPlan):
            interventions = checked.interventions
            o = self.engine.run(interventions)
            described = [i.describe() for i in interventions]
            return AskResult(
                status="answered",
                kind="what_if",
                plan=plan_dict,
                interventions=described,
                answer=outcome_text(o, "With " + "; ".join(described)),
                value=o.delta,
                values={"delta": o.delta, "baseline": o.baseline, "scenario": o.scenario},
                outcomes=[o],
                notes=notes,
                **base,
            )
        if isinstance(plan, ComparePlan):
            a, b = checked.alternatives
            oa, ob = self.engine.run(a, "first"), self.engine.run(b, "second")
            da, db = [i.describe() for i in a], [i.describe() for i in b]
            text = (
                outcome_text(oa, "Option 1 (" + "; ".join(da) + ")")
                + "\n"
                + outcome_text(ob, "Option 2 (" + "; ".join(db) + ")")
            )
            if oa.scenario is not None and ob.scenario is not None:
                better = 1 if oa.scenario <= ob.scenario else 2
                lower = "lower" if self.engine_name == "optimize" else "smaller"
                text += f"\nOption {better} gives the {lower} {oa.kpi}: difference {fmt(abs(oa.scenario - ob.scenario))} {oa.unit}."
            return AskResult(
                status="answered",
                kind="compare",
                plan=plan_dict,
                interventions=[*da, "versus", *db],
                answer=text,
                value=None if oa.delta is None or ob.delta is None else ob.delta - oa.delta,
                values={"first": oa.delta, "second": ob.delta},
                outcomes=[oa, ob],
                notes=notes,
                **base,
            )
        if isinstance(plan, WhyPlan):
            cf = counterfactual(self.twin, plan, self.engine)
            if cf.interventions is None:
                return AskResult(
                    status="answered",
                    kind="why",
                    plan=plan_dict,
                    answer=cf.explanation,
                    value=0.0,
                    values={"delta": 0.0},
                    **base,
                )
            o = self.engine.run(cf.interventions, "counterfactual")
            described = [i.describe() for i in cf.interventions]
            text = cf.explanation + "\n" + outcome_text(o, "Counterfactual (" + "; ".join(described) + ")")
            return AskResult(
                status="answered",
                kind="why",
                plan=plan_dict,
                interventions=described,
                answer=text,
                value=o.delta,
                values={"delta": o.delta},
                outcomes=[o],
                **base,
            )
        if isinstance(plan, StatusPlan):
            return self._status(plan, plan_dict, base)
        if isinstance(plan, KeepPlan):
            return self._keep(plan, plan_dict, base)
        raise TypeError(f"unexpected plan {plan!r}")  # pragma: no cover

    def _keep(self, plan: KeepPlan, plan_dict: dict[str, Any], base: dict[str, Any]) -> AskResult:
        """A band to hold: a controller proposal written from a template, judged by the control
        guard in closed loop (nominal and stress scenarios); the answer is its verdict."""
        from twinforge.control.guard import judge
        from twinforge.control.request import band_controller

        proposal = band_controller(self.twin, plan.target, plan.quantity, plan.min, plan.max)
        verdict = judge(self.twin, proposal, reps=KEEP_REPS)
        if plan.min is not None and plan.max is not None:
            band = f"between {fmt(plan.min)} and {fmt(plan.max)} m³"
        else:
            band = f"above {fmt(plan.min)} m³" if plan.min is not None else f"below {fmt(plan.max)} m³"
        head = f"To keep {plan.target}'s {plan.quantity} {band}: {proposal.description}"
        if verdict.accepted:
            answer = f"{head}\nAccepted by the guard: {verdict.reasons[0]}."
        else:
            answer = f"{head}\nRejected by the guard: {'; '.join(verdict.reasons[:3])}."
        values: dict[str, Any] = {"verdict": verdict.verdict, "stage": verdict.stage, "runs": verdict.runs}
        if verdict.violation:
            values["violation"] = verdict.violation
        return AskResult(
            status="answered",
            kind="keep",
            plan=plan_dict,
            answer=answer,
            value=None,
            values={**values, "proposal": proposal.model_dump(mode="json"), "scenarios": verdict.scenarios},
            **base,
        )

    def _notes(self, plan: Any) -> list[str]:
        """What the answer must say about the changes: a parameter the engine does not use."""
        if self.engine_name != "optimize":
            return []
        from twinforge.optimize.flow import FLOW_PARAMETERS

        out = []
        for c in changes_of(plan):
            name = getattr(c, "parameter", None)
            target = getattr(c, "target", "")
            if name is None:
                continue
            kind = "edge" if "->" in target else self.twin.node(target).kind
            if name not in FLOW_PARAMETERS.get(kind, set()):
                out.append(
                    f"the daily flow plan does not use {name.replace('_', ' ')} of a {kind}, so this change cannot move its cost"
                )
        return out

    def _status(self, plan: StatusPlan, plan_dict: dict[str, Any], base: dict[str, Any]) -> AskResult:
        """The twin's own value: live telemetry, the declared initial state, or a parameter (per
        product when it varies by product). A value the twin does not have is not shown."""
        el = self.twin.element(plan.target)
        name = plan.quantity
        is_node = self.twin.has_node(plan.target)
        if is_node and name in el.state_names() and name not in el.parameters:  # type: ignore[union-attr]
            unit = el.state_unit(name) or ""  # type: ignore[union-attr]
            live = (self.state or {}).get(plan.target, {}).get(name)
            declared = el.state.get(name) if is_node else None  # type: ignore[union-attr]
            if live is not None:
                value, source = float(live), "latest telemetry"
            elif declared is not None and declared.initial is not None:
                value, source = float(declared.initial), "the twin's initial state; no live data connected"
            elif self.engine_name == "simulate":
                from twinforge.sim import start_state

                value = start_state(self.twin, plan.target, name)
                source = "the simulated start of a run; no live data connected"
            else:
                return _declined(
                    Refusal(
                        "not_modelled",
                        f"the twin has no value for {plan.target}.{name}: it is not declared and no live data is connected",
                    ),
                    base,
                )
            return AskResult(
                status="answered",
                kind="status",
                plan=plan_dict,
                answer=f"{plan.target}.{name} is {fmt(value)} {unit} (from {source}).".replace("  ", " "),
                value=value,
                values={"value": value},
                **base,
            )
        unit = self.twin.param_unit(plan.target, name)
        p = el.parameters.get(name)
        if plan.product is None and p is not None and p.by_product:
            values = {prod: self.twin.get(plan.target, name, product=prod) for prod in p.by_product}
            listing = ", ".join(f"{prod} {fmt(v)}" for prod, v in values.items())
            return AskResult(
                status="answered",
                kind="status",
                plan=plan_dict,
                answer=f"{name.replace('_', ' ')} of {plan.target} per product: {listing} {unit} (from the twin's parameters).",
                value=None,
                values=values,
                **base,
            )
        if not self.twin.has_value(plan.target, name, product=plan.product):
            return _declined(
                Refusal("not_modelled", f"the twin has no value for {name} of {plan.target}"), base
            )
        value = self.twin.get(plan.target, name, product=plan.product)
        prod = f" for {plan.product}" if plan.product else ""
        source = "the twin's parameters" if p is not None else "the catalogue default"
        return AskResult(
            status="answered",
            kind="status",
            plan=plan_dict,
            answer=f"{name.replace('_', ' ')} of {plan.target}{prod} is {fmt(value)} {unit} (from {source}).",
            value=value,
            values={"value": value},
            **base,
        )

    def _add_narrative(self, result: AskResult) -> None:
        """Ask the model for a short explanation; keep it only if every number is traceable."""
        allowed = [v for v in result.values.values() if isinstance(v, int | float)]
        allowed += [x for x, _ in numbers_in(result.answer)]  # the facts the model is given
        for o in result.outcomes:
            allowed += list(o.numbers.values())
            allowed += [x for x in (o.baseline, o.scenario, o.delta, o.delta_pct) if x is not None]
        try:
            completion = self.llm.chat(
                f"Explain in two sentences for a plant manager, using only these facts:\n{result.answer}",
                max_tokens=80,
            )
        except TwinforgeError as exc:  # the templated answer stands on its own
            result.notes.append(f"no narrative: {exc}")
            return
        bad = check_narrative(completion.text, allowed)
        if bad:
            result.rejected_numbers = bad
            result.notes.append(
                "a generated narrative was rejected: it contained numbers the twin did not compute: "
                + ", ".join(fmt(x) for x in bad)
            )
        else:
            result.narrative = completion.text.strip()


_ENTITY_KEYS = ("target", "source", "customer", "partners")


def _entities_apart(twin: TwinSpec, plans: list[dict[str, Any]]) -> str:
    """When readings tie and differ only in which node or lane they are about, those elements
    (with their names); otherwise ''. A model cannot know better than the words which one is meant."""
    if len(plans) < 2:
        return ""

    def blank(x: Any, found: list[str]) -> Any:
        if isinstance(x, dict):
            out = {}
            for k, v in x.items():
                if k in _ENTITY_KEYS:
                    found += [e for e in (v if isinstance(v, list) else [v]) if isinstance(e, str)]
                    out[k] = "*"
                else:
                    out[k] = blank(v, found)
            return out
        if isinstance(x, list):
            return [blank(v, found) for v in x]
        return x

    shapes, entities = set(), []
    for p in plans:
        found: list[str] = []
        shapes.add(json.dumps(blank(p, found), sort_keys=True))
        entities.append(found)
    if len(shapes) != 1:
        return ""
    common = set.intersection(*(set(f) for f in entities))
    apart = list(dict.fromkeys(e for f in entities for e in f if e not in common))

    def named(e: str) -> str:
        name = twin.node(e).name if twin.has_node(e) else None
        return f"{e} ({name})" if name else e

    return ", ".join(named(e) for e in apart)


#: replications of each guard scenario when a question asks to hold a band
KEEP_REPS = 3


def _readings_text(plans: list[dict[str, Any]]) -> str:
    return "the question could mean: " + " | or | ".join(json.dumps(p, ensure_ascii=False) for p in plans[:4])


def _declined(refusal: Refusal, base: dict[str, Any]) -> AskResult:
    return AskResult(
        status="declined",
        kind="decline",
        answer=f"Declined: {DECLINE_TEXT.get(refusal.reason, refusal.reason)}: {refusal.detail}.",
        reason=refusal.reason,
        detail=refusal.detail,
        plan={"kind": "decline", "reason": refusal.reason},
        **base,
    )


def ask(twin: TwinSpec, question: str, **options: Any) -> AskResult:
    """Answer one question about ``twin`` (see :class:`TwinAsker` for the options)."""
    narrative = options.pop("narrative", False)
    return TwinAsker(twin, **options).ask(question, narrative=narrative)


__all__ = ["MIN_MARGIN", "AskResult", "TwinAsker", "ask", "describe_twin"]
