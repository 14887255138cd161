"""Few-shot examples for asking a twin: (question -> plan) pairs, chosen by embedding similarity.

The built-in library holds examples for the example twins (``library/<twin name>.yaml``). Users
add examples for their own twins with a YAML file of the same shape::

    twin: bottling-line
    examples:
      - question: What if the filler is down for 4 hours?
        plan: {kind: what_if, changes: [{op: outage, target: filler, duration: 4, unit: h}]}

Every example is checked against the twin on load (entities, parameters, bounds), so a stale
example fails loudly instead of teaching the model something wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import TypeAdapter, ValidationError

from twinforge.copilot.plan import ComparePlan, Plan, WhatIfPlan
from twinforge.errors import Issue, SpecError, TwinforgeError
from twinforge.spec.models import TwinSpec

_PLAN = TypeAdapter(Plan)
LIBRARY_DIR = Path(__file__).resolve().parent / "library"


class ExampleError(SpecError):
    """An example file is malformed or does not fit its twin."""


@dataclass(frozen=True)
class Example:
    question: str
    plan: dict[str, Any]  # plain data, key order as the plan language defines it
    intent: str | None = None
    source: str = "library"

    @property
    def kind(self) -> str:
        return self.plan["kind"]


def plan_data(plan: Any) -> dict[str, Any]:
    """A plan model as plain data, in the key order the decoder writes, with whole numbers
    written as the decoder writes them (``4``, not ``4.0``)."""

    def whole(x: Any) -> Any:
        if isinstance(x, float) and x.is_integer():
            return int(x)
        if isinstance(x, dict):
            return {k: whole(v) for k, v in x.items()}
        if isinstance(x, list):
            return [whole(v) for v in x]
        return x

    return whole(plan.model_dump(mode="json", exclude_none=True))


def _load_file(path: Path, twin: TwinSpec) -> list[Example]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ExampleError(
            [Issue(message=f"cannot read examples: {exc}", file=str(path), code="io")]
        ) from None
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
        problem = _check_against_twin(plan, twin)
        if problem:
            issues.append(Issue(message=problem, file=str(path), path=(*where, "plan")))
            continue
        out.append(
            Example(
                question=str(raw["question"]),
                plan=plan_data(plan),
                intent=raw.get("intent"),
                source=str(path),
            )
        )
    if issues:
        raise ExampleError(issues, summary=f"{len(issues)} bad example(s) in {path}")
    return out


def _check_against_twin(plan: Any, twin: TwinSpec) -> str | None:
    from twinforge.guard.check import check_against_twin

    groups = []
    if isinstance(plan, WhatIfPlan):
        groups = [list(plan.changes)]
    elif isinstance(plan, ComparePlan):
        groups = [list(plan.first), list(plan.second)]
    for changes in groups:
        _, problems = check_against_twin(changes, twin)
        if problems:
            return problems[0].message
    target = getattr(plan, "target", None)
    if isinstance(target, str) and plan.kind in ("why", "status") and not twin.has_node(target):
        return f"unknown node {target!r}"
    return None


def load_examples(
    twin: TwinSpec, extra: list[str | Path] | None = None, builtin: bool = True
) -> list[Example]:
    """Examples for ``twin``: the built-in library file named after the twin, plus ``extra`` files."""
    files: list[Path] = []
    if builtin:
        own = LIBRARY_DIR / f"{twin.name}.yaml"
        if own.is_file():
            files.append(own)
    files += [Path(p) for p in extra or []]
    out: list[Example] = []
    for f in files:
        if not f.is_file():
            raise ExampleError([Issue(message="example file not found", file=str(f), code="io")])
        out += _load_file(f, twin)
    return out


class ExampleRetriever:
    """Top-k most similar examples to a question (cosine similarity of sentence embeddings)."""

    def __init__(self, examples: list[Example], embed: Any = None, twin: TwinSpec | None = None) -> None:
        if embed is None:
            from twinforge.ai import embed as default_embed

            embed = default_embed
        self.examples = list(examples)
        self._embed = embed
        self.twin = twin
        texts = [self._key(e.question) for e in self.examples]
        self._vectors = embed(texts) if self.examples else np.zeros((0, 1))

    def _key(self, question: str) -> str:
        """What is embedded: with a twin, the question with entities and numbers masked, so that
        similarity follows how a question is asked, not which machine it names."""
        if self.twin is None:
            return question
        from twinforge.guard.grounding import mask

        return mask(question, self.twin)

    def __len__(self) -> int:
        return len(self.examples)

    def nearest(
        self, question: str, k: int = 4, exclude_intents: set[str] | None = None
    ) -> list[tuple[Example, float]]:
        """The ``k`` nearest examples, least similar first (so the closest sits next to the question)."""
        if not self.examples:
            return []
        q = np.asarray(self._embed([self._key(question)]))[0]
        sims = self._vectors @ q
        order = np.argsort(-sims)
        picked: list[tuple[Example, float]] = []
        for i in order:
            ex = self.examples[int(i)]
            if exclude_intents and ex.intent in exclude_intents:
                continue
            picked.append((ex, float(sims[i])))
            if len(picked) == k:
                break
        return list(reversed(picked))


def require_examples(examples: list[Example], twin: TwinSpec) -> None:
    if not examples:
        raise TwinforgeError(
            f"no question examples for twin {twin.name!r}: add a file with --examples "
            f"(see docs/ask.md) or name the twin like one in {LIBRARY_DIR}"
        )
