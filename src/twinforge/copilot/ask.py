"""Ask the twin: a question in plain language, answered by the twin's own simulation or optimisation.

The pipeline (each step can refuse, none can guess):

1. **Ground** the question: which of the twin's entities and which numbers it mentions
   (:mod:`twinforge.guard.grounding`). A name that looks like an id but is not in the twin ("M7")
   is declined at once.
2. **Map** the question to a plan with the language model. The decoding schema is generated from
   the twin (:func:`twinforge.guard.schema.plan_json_schema`) and narrowed to the entities and time
   units the question mentions; numbers can only be numbers from the question. Few-shot examples
   are the nearest ones from the twin's example library.
3. **Check** the plan against the question and the twin (:mod:`twinforge.guard.check`). A problem
   goes back to the model with the schema narrowed so it cannot repeat it, at most
   ``max_repairs`` times; then the answer is an honest "could not map" with what was tried.
4. **Run** the plan on the twin (flow optimisation or Monte Carlo simulation with common random
   numbers) and **answer** with numbers from the results only, showing the interventions applied.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from twinforge.ai.ranked import RankedDecodeError, dumps
from twinforge.copilot.answer import check_narrative, fmt, fmt_signed, outcome_text
from twinforge.copilot.engines import Engine, Outcome, engine_for
from twinforge.copilot.library import Example, ExampleRetriever, load_examples, require_examples
from twinforge.copilot.plan import ComparePlan, DeclinePlan, StatusPlan, WhatIfPlan, WhyPlan
from twinforge.copilot.why import counterfactual
from twinforge.guard.check import CheckedPlan, check_plan, mentioned_edges, question_narrowing
from twinforge.guard.grounding import Grounding, ground
from twinforge.guard.schema import engine_of, entity_ids, plan_json_schema
from twinforge.spec.models import TwinSpec

Status = Literal["answered", "declined", "unmapped"]

DECLINE_TEXT = {
    "not_about_this_twin": "this question is not about the twin",
    "unknown_entity": "the question names something the twin does not have",
    "not_modelled": "the twin does not model what the question asks about",
    "outside_physical_limits": "the question asks for a value outside the twin's physical limits",
    "unclear": "the question is not clear enough to map onto the twin",
}


@dataclass
class MappingAttempt:
    number: int
    plan: dict[str, Any] | None
    problems: list[str]
    latency_s: float
    confidence: float | None = None  # smallest log-probability margin among the model's choices


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
    value: float | None = None  # the headline number (for evaluation): a KPI change or a status value
    values: dict[str, float | None] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)
    attempts: list[MappingAttempt] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)
    reason: str | None = None
    mapping_s: float = 0.0
    run_s: float = 0.0
    narrative: str | None = None
    rejected_numbers: list[float] = field(default_factory=list)

    @property
    def repairs(self) -> int:
        return max(0, len(self.attempts) - 1)

    def render(self) -> str:
        lines = [self.answer]
        if self.interventions:
            lines.append("Interventions applied to the twin:")
            lines += [f"  • {d}" for d in self.interventions]
        return "\n".join(lines)


def describe_twin(twin: TwinSpec, engine: str) -> str:
    """The system prompt: what the twin is and what it contains."""
    by_kind: dict[str, list[str]] = {}
    for n in twin.nodes:
        if n.kind != "sensor":
            by_kind.setdefault(n.kind, []).append(n.id + (f" ({n.name})" if n.name else ""))
    how = "flow optimisation" if engine == "optimize" else "simulation"
    parts = [f"Twin {twin.name!r}, answered by {how}."]
    parts += [f"{kind}: {', '.join(ids)}." for kind, ids in by_kind.items()]
    if twin.products:
        parts.append(f"Products: {', '.join(twin.products)}.")
    parts.append(
        "Map the question to a plan: what_if changes, compare two options, why something is so, "
        "status of a quantity, or decline when the twin cannot answer."
    )
    return " ".join(parts)


class TwinAsker:
    """Answers questions about one twin. Reuses the model, the examples and the baseline run."""

    def __init__(
        self,
        twin: TwinSpec,
        *,
        examples: list[Example] | None = None,
        example_files: list[Any] | None = None,
        llm: Any = None,
        engine: Engine | None = None,
        k: int = 4,
        max_repairs: int = 2,
        state: Mapping[str, Mapping[str, float]] | None = None,
        embed: Any = None,
        engine_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.twin = twin
        self.engine_name = engine_of(twin)
        self.examples = examples if examples is not None else load_examples(twin, example_files)
        require_examples(self.examples, twin)
        self.retriever = ExampleRetriever(self.examples, embed=embed, twin=twin)
        if llm is None:
            from twinforge.ai import get_llm

            llm = get_llm()
        self.llm = llm
        self._engine = engine
        self.engine_options = dict(engine_options or {})
        self.k = k
        self.max_repairs = max_repairs
        self.state = state
        self.schema = plan_json_schema(twin, self.engine_name)
        self.system = describe_twin(twin, self.engine_name)
        self.entities = entity_ids(twin) | set(twin.products)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = engine_for(self.twin, **self.engine_options)
        return self._engine

    # -- mapping -------------------------------------------------------------------------------
    def map_question(
        self, question: str, exclude_intents: set[str] | None = None
    ) -> tuple[CheckedPlan | None, Grounding, list[MappingAttempt], list[Example], str | None]:
        """Question -> checked plan. Returns (plan or None, grounding, attempts, examples, decline)."""
        g = ground(question, self.twin)
        if g.unknown_ids:
            return None, g, [], [], f"the twin has no {', '.join(repr(u) for u in g.unknown_ids)}"
        shots = [e for e, _ in self.retriever.nearest(question, self.k, exclude_intents)]
        narrowing = question_narrowing(g, self.twin)
        # only what the question names (nothing, when it names nothing), lanes between what it
        # names, and the products it names; what it names must be used where a slot allows it
        keep = set(g.entity_ids) | set(mentioned_edges(g, self.twin)) | set(g.products)
        narrowing.require_values |= set(g.entity_ids) | set(g.products)
        numbers = list(g.numbers)
        attempts: list[MappingAttempt] = []
        feedback: list[Any] = []
        checked: CheckedPlan | None = None
        for number in range(1, self.max_repairs + 2):
            started = time.perf_counter()
            try:
                schema = narrowing.apply(self.schema, self.entities, keep, g.written)
            except ValueError:
                attempts.append(
                    MappingAttempt(number, None, ["no plan fits what the question mentions"], 0.0)
                )
                break
            allowed = [x for x in numbers if x not in narrowing.drop_numbers]
            try:
                value, result = self.llm.decode_ranked(
                    self._prompt(question, feedback),
                    schema,
                    numbers=allowed,
                    system=self.system,
                    examples=self._shots(shots),
                )
            except RankedDecodeError as exc:
                attempts.append(MappingAttempt(number, None, [str(exc)], time.perf_counter() - started))
                break
            checked = check_plan(value, g, self.twin)
            attempts.append(
                MappingAttempt(
                    number,
                    value,
                    [p.message for p in checked.problems],
                    time.perf_counter() - started,
                    confidence=result.min_margin,
                )
            )
            if checked.ok:
                return checked, g, attempts, shots, None
            for p in checked.problems:
                narrowing.merge(p.narrowing)
            if any(a.plan == attempts[-1].plan for a in attempts[:-1]) and attempts[-1].plan:
                # no progress: the model repeats itself, so rule out that kind of plan
                narrowing.drop_kinds.add(attempts[-1].plan.get("kind", ""))
            feedback = [value, checked.problems]
        return None, g, attempts, shots, None

    @staticmethod
    def _shots(shots: list[Example]) -> list[Any]:
        """Few-shot turns. Given as messages: they were checked against the twin on load, and they
        need not fit the schema narrowed to this question's entities."""
        from twinforge.ai import Message

        out: list[Any] = []
        for e in shots:
            out += [Message("user", e.question), Message("assistant", dumps(e.plan))]
        return out

    @staticmethod
    def _prompt(question: str, feedback: list[Any]) -> Any:
        from twinforge.ai import Message

        if not feedback:
            return question
        value, problems = feedback
        return [
            Message("user", question),
            Message("assistant", dumps(value)),
            Message(
                "user",
                "That plan is wrong: "
                + "; ".join(p.message for p in problems)
                + ". Answer the question again.",
            ),
        ]

    # -- asking --------------------------------------------------------------------------------
    def ask(
        self, question: str, *, narrative: bool = False, exclude_intents: set[str] | None = None
    ) -> AskResult:
        t0 = time.perf_counter()
        checked, _, attempts, shots, early_decline = self.map_question(question, exclude_intents)
        mapping_s = time.perf_counter() - t0
        base = {
            "question": question,
            "twin": self.twin.name,
            "engine": self.engine_name,
            "attempts": attempts,
            "examples": [e.question for e in shots],
            "mapping_s": mapping_s,
        }
        if early_decline:
            return AskResult(
                status="declined", answer=f"Declined: {early_decline}.", reason="unknown_entity", **base
            )
        if checked is None:
            tried = "; ".join(f"attempt {a.number}: {', '.join(a.problems) or 'no plan'}" for a in attempts)
            return AskResult(
                status="unmapped",
                answer=f"I could not map this question onto twin {self.twin.name!r}, so I give no number. Tried: {tried}.",
                **base,
            )
        plan = checked.plan
        if isinstance(plan, DeclinePlan):
            return AskResult(
                status="declined",
                kind="decline",
                plan={"kind": "decline", "reason": plan.reason},
                answer=f"Declined: {DECLINE_TEXT[plan.reason]}.",
                reason=plan.reason,
                **base,
            )
        t1 = time.perf_counter()
        result = self._run(plan, checked, base)
        result.run_s = time.perf_counter() - t1
        if narrative and result.status == "answered":
            self._add_narrative(result)
        return result

    def _run(self, plan: Any, checked: CheckedPlan, base: dict[str, Any]) -> AskResult:
        plan_dict = plan.model_dump(mode="json", exclude_none=True)
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
            if oa.delta is not None and ob.delta is not None:
                better = 1 if oa.scenario <= ob.scenario else 2  # type: ignore[operator]
                lower = "lower" if self.engine_name == "optimize" else "smaller"
                text += f"\nOption {better} gives the {lower} {oa.kpi}: difference {fmt(abs(oa.scenario - ob.scenario))} {oa.unit}."  # type: ignore[operator]
            return AskResult(
                status="answered",
                kind="compare",
                plan=plan_dict,
                interventions=[*da, "versus", *db],
                answer=text,
                value=None if oa.delta is None or ob.delta is None else ob.delta - oa.delta,
                values={"first": oa.delta, "second": ob.delta},
                outcomes=[oa, ob],
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
        raise TypeError(f"unexpected plan {plan!r}")  # pragma: no cover

    def _status(self, plan: StatusPlan, plan_dict: dict[str, Any], base: dict[str, Any]) -> AskResult:
        node = self.twin.node(plan.target)
        if plan.quantity in node.state_names() and not self.twin.has_value(plan.target, plan.quantity):
            unit = node.state_unit(plan.quantity) or ""
            live = (self.state or {}).get(plan.target, {}).get(plan.quantity)
            if live is not None:
                value, source = float(live), "latest telemetry"
            else:
                sv = node.state.get(plan.quantity)
                sd = node.state_def(plan.quantity)
                value = (
                    sv.initial if sv is not None and sv.initial is not None else (sd.initial if sd else 0.0)
                )
                source = "the twin's initial state (no live data connected)"
            text = f"{plan.target}.{plan.quantity} is {fmt(value)} {unit} (from {source})."
        else:
            value = self.twin.get(plan.target, plan.quantity, product=plan.product)
            unit = self.twin.param_unit(plan.target, plan.quantity)
            prod = f" for {plan.product}" if plan.product else ""
            text = (
                f"{plan.quantity} of {plan.target}{prod} is {fmt(value)} {unit} (from the twin's parameters)."
            )
        return AskResult(
            status="answered",
            kind="status",
            plan=plan_dict,
            answer=text,
            value=value,
            values={"value": value},
            **base,
        )

    def _add_narrative(self, result: AskResult) -> None:
        """Ask the model for a short explanation; keep it only if every number is traceable."""
        allowed = [v for v in result.values.values() if v is not None]
        for o in result.outcomes:
            allowed += list(o.numbers.values())
            allowed += [x for x in (o.baseline, o.scenario, o.delta, o.delta_pct) if x is not None]
        facts = result.answer
        try:
            completion = self.llm.chat(
                f"Explain in two sentences for a plant manager, using only these facts:\n{facts}",
                max_tokens=80,
            )
        except Exception as exc:  # the templated answer stands on its own
            result.narrative = None
            result.rejected_numbers = []
            result.answer += f"\n(no narrative: {exc})"
            return
        bad = check_narrative(completion.text, allowed)
        if bad:
            result.rejected_numbers = bad
            result.narrative = None
            result.answer += (
                "\n(A generated narrative was rejected: it contained numbers the twin did not compute: "
                + ", ".join(fmt(x) for x in bad)
                + ".)"
            )
        else:
            result.narrative = completion.text.strip()


def ask(twin: TwinSpec, question: str, **options: Any) -> AskResult:
    """Answer one question about ``twin`` (see :class:`TwinAsker` for the options)."""
    narrative = options.pop("narrative", False)
    return TwinAsker(twin, **options).ask(question, narrative=narrative)


__all__ = ["AskResult", "MappingAttempt", "TwinAsker", "ask", "fmt_signed"]
