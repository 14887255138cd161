"""Structured output with the real local model (SmolLM2-135M, llama.cpp + llguidance).

Every case must come back as an object that validates against its schema, and the call must
not raise. The schemas cover what twin-generated schemas will use: enums of entity ids, numeric
bounds, integers, nested objects, arrays with min/max items, optional fields, anyOf/oneOf
unions, $ref/$defs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import jsonschema
import pytest
from pydantic import BaseModel, Field

from twinforge.ai import LLM, StructuredOutputError
from twinforge.config import load_settings

LOG_LINE = (
    "Technician John Miller replaced the bearing on P-101 in 2.5 hours after vibration reached 7.1 mm/s."
)

ASSETS = {"type": "string", "enum": ["P-101", "P-102", "V-7", "filler", "capper"]}

CASES: list[tuple[str, dict, str]] = [
    (
        "enum",
        {
            "type": "object",
            "properties": {"asset": ASSETS},
            "required": ["asset"],
            "additionalProperties": False,
        },
        LOG_LINE,
    ),
    (
        "bounded number",
        {
            "type": "object",
            "properties": {"vibration_mm_s": {"type": "number", "minimum": 0, "maximum": 5}},
            "required": ["vibration_mm_s"],
        },
        LOG_LINE,
    ),
    (
        "exclusive bounds",
        {
            "type": "object",
            "properties": {"hours": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}},
            "required": ["hours"],
        },
        LOG_LINE,
    ),
    (
        "negative range",
        {
            "type": "object",
            "properties": {"temperature_c": {"type": "number", "minimum": -40.5, "maximum": -10.25}},
            "required": ["temperature_c"],
        },
        "The freezer read 12 degrees.",
    ),
    (
        "bounded integer",
        {
            "type": "object",
            "properties": {"count": {"type": "integer", "minimum": 3, "maximum": 17}},
            "required": ["count"],
        },
        "We replaced 25 bolts.",
    ),
    (
        "integer and number",
        {
            "type": "object",
            "properties": {
                "shift": {"type": "integer", "minimum": 1, "maximum": 3},
                "duration_h": {"type": "number", "minimum": 0, "maximum": 12},
            },
            "required": ["shift", "duration_h"],
        },
        LOG_LINE,
    ),
    (
        "boolean and string length",
        {
            "type": "object",
            "properties": {
                "resolved": {"type": "boolean"},
                "summary": {"type": "string", "minLength": 5, "maxLength": 40},
            },
            "required": ["resolved", "summary"],
        },
        LOG_LINE,
    ),
    (
        "nested objects",
        {
            "type": "object",
            "properties": {
                "asset": {
                    "type": "object",
                    "properties": {"id": ASSETS, "area": {"type": "string", "maxLength": 20}},
                    "required": ["id", "area"],
                    "additionalProperties": False,
                },
                "measurement": {
                    "type": "object",
                    "properties": {
                        "quantity": {"enum": ["vibration", "temperature", "pressure"]},
                        "value": {"type": "number", "minimum": 0, "maximum": 50},
                    },
                    "required": ["quantity", "value"],
                },
            },
            "required": ["asset", "measurement"],
        },
        LOG_LINE,
    ),
    (
        "array min/max items",
        {
            "type": "object",
            "properties": {
                "parts": {
                    "type": "array",
                    "items": {"type": "string", "maxLength": 15},
                    "minItems": 2,
                    "maxItems": 3,
                }
            },
            "required": ["parts"],
        },
        LOG_LINE,
    ),
    (
        "array of enums exactly one",
        {
            "type": "object",
            "properties": {"assets": {"type": "array", "items": ASSETS, "minItems": 1, "maxItems": 1}},
            "required": ["assets"],
        },
        LOG_LINE,
    ),
    (
        "array of objects",
        {
            "type": "object",
            "properties": {
                "steps": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 2,
                    "items": {
                        "type": "object",
                        "properties": {
                            "order": {"type": "integer", "minimum": 1, "maximum": 9},
                            "action": {"type": "string", "maxLength": 25},
                        },
                        "required": ["order", "action"],
                    },
                }
            },
            "required": ["steps"],
        },
        LOG_LINE,
    ),
    (
        "optional fields",
        {
            "type": "object",
            "properties": {
                "asset": ASSETS,
                "technician": {"type": "string", "maxLength": 30},
                "cost_eur": {"type": "number", "minimum": 0, "maximum": 10000},
            },
            "required": ["asset"],
            "additionalProperties": False,
        },
        LOG_LINE,
    ),
    (
        "nullable",
        {
            "type": "object",
            "properties": {
                "downtime_h": {"anyOf": [{"type": "number", "minimum": 0, "maximum": 48}, {"type": "null"}]}
            },
            "required": ["downtime_h"],
        },
        LOG_LINE,
    ),
    (
        "anyOf union of objects",
        {
            "type": "object",
            "properties": {
                "intervention": {
                    "anyOf": [
                        {
                            "type": "object",
                            "properties": {
                                "type": {"const": "set_parameter"},
                                "node": ASSETS,
                                "value": {"type": "number", "minimum": 0, "maximum": 100},
                            },
                            "required": ["type", "node", "value"],
                            "additionalProperties": False,
                        },
                        {
                            "type": "object",
                            "properties": {
                                "type": {"const": "outage"},
                                "node": ASSETS,
                                "hours": {"type": "number", "minimum": 0.5, "maximum": 24},
                            },
                            "required": ["type", "node", "hours"],
                            "additionalProperties": False,
                        },
                    ]
                }
            },
            "required": ["intervention"],
        },
        "What if P-102 is down for 3 hours?",
    ),
    (
        "oneOf with const discriminator",
        {
            "oneOf": [
                {
                    "type": "object",
                    "properties": {
                        "kind": {"const": "scale"},
                        "factor": {"type": "number", "minimum": 0.1, "maximum": 2},
                    },
                    "required": ["kind", "factor"],
                    "additionalProperties": False,
                },
                {
                    "type": "object",
                    "properties": {"kind": {"const": "remove"}, "edge": {"type": "string", "maxLength": 12}},
                    "required": ["kind", "edge"],
                    "additionalProperties": False,
                },
            ]
        },
        "Scale the filler speed by 1.2",
    ),
    (
        "$ref and $defs",
        {
            "$defs": {
                "Reading": {
                    "type": "object",
                    "properties": {
                        "sensor": {"enum": ["VT-1", "TT-2"]},
                        "value": {"type": "number", "minimum": 0, "maximum": 20},
                    },
                    "required": ["sensor", "value"],
                    "additionalProperties": False,
                }
            },
            "type": "object",
            "properties": {"first": {"$ref": "#/$defs/Reading"}, "second": {"$ref": "#/$defs/Reading"}},
            "required": ["first", "second"],
        },
        "VT-1 read 7.1 and TT-2 read 64.",
    ),
    (
        "recursive-free array of $ref",
        {
            "$defs": {
                "Edge": {
                    "type": "object",
                    "properties": {"source": ASSETS, "target": ASSETS},
                    "required": ["source", "target"],
                    "additionalProperties": False,
                }
            },
            "type": "object",
            "properties": {
                "edges": {"type": "array", "items": {"$ref": "#/$defs/Edge"}, "minItems": 1, "maxItems": 2}
            },
            "required": ["edges"],
        },
        "P-101 feeds V-7.",
    ),
    (
        "const and string pattern",
        {
            "type": "object",
            "properties": {
                "version": {"const": 1},
                "work_order": {"type": "string", "pattern": "^WO-[0-9]{4}-[0-9]{5}$"},
            },
            "required": ["version", "work_order"],
        },
        "Work order WO-2024-00123 is closed.",
    ),
    (
        "array of oneOf $refs (interventions)",
        {
            "$defs": {
                "SetParameter": {
                    "type": "object",
                    "properties": {
                        "type": {"const": "set_parameter"},
                        "node": {"enum": ["filler", "capper"]},
                        "value": {"type": "number", "minimum": 0.5, "maximum": 60},
                    },
                    "required": ["type", "node", "value"],
                    "additionalProperties": False,
                },
                "Outage": {
                    "type": "object",
                    "properties": {
                        "type": {"const": "outage"},
                        "node": {"enum": ["filler", "capper"]},
                        "hours": {"type": "number", "exclusiveMinimum": 0, "maximum": 72},
                    },
                    "required": ["type", "node", "hours"],
                    "additionalProperties": False,
                },
            },
            "type": "object",
            "properties": {
                "interventions": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 3,
                    "items": {"oneOf": [{"$ref": "#/$defs/SetParameter"}, {"$ref": "#/$defs/Outage"}]},
                }
            },
            "required": ["interventions"],
        },
        "What if the capper is down for 4 hours?",
    ),
    (
        "string format",
        {
            "type": "object",
            "properties": {
                "tags": {
                    "type": "array",
                    "items": {"enum": ["pump", "valve", "seal"]},
                    "minItems": 2,
                    "maxItems": 2,
                    "uniqueItems": False,
                },
                "contact": {"type": "string", "format": "email", "maxLength": 40},
            },
            "required": ["tags"],
        },
        "Pump seal replaced.",
    ),
    (
        "top-level array",
        {
            "type": "array",
            "items": {"type": "integer", "minimum": 0, "maximum": 9},
            "minItems": 3,
            "maxItems": 3,
        },
        "Give three digits.",
    ),
    ("top-level enum", {"enum": ["low", "medium", "high"]}, "Bearing vibration 7.1 mm/s; how urgent?"),
    (
        "multiple types",
        {
            "type": "object",
            "properties": {
                "reading": {"type": ["number", "string"]},
                "unit": {"enum": ["mm/s", "degC", "bar"]},
            },
            "required": ["reading", "unit"],
        },
        LOG_LINE,
    ),
    (
        "integer enum and bounds together",
        {
            "type": "object",
            "properties": {
                "priority": {"type": "integer", "enum": [1, 2, 3]},
                "eta_days": {"type": "integer", "minimum": 0, "maximum": 30},
            },
            "required": ["priority", "eta_days"],
        },
        LOG_LINE,
    ),
]


@pytest.fixture(scope="module")
def llm(tmp_path_factory: pytest.TempPathFactory) -> LLM:
    store = tmp_path_factory.mktemp("ai-structured") / "store.duckdb"
    settings = load_settings(
        Path("/nonexistent-ok") if False else None,
        store={"path": store},
        llm={"provider": "local", "model": None, "max_tokens": 160},
    )
    return LLM.from_settings(settings)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "schema", "prompt"), CASES, ids=[c[0] for c in CASES])
def test_local_model_always_returns_valid_objects(llm: LLM, name: str, schema: dict, prompt: str) -> None:
    value, meta = llm.generate_structured(prompt, schema, max_repairs=2, cache=False)  # must not raise
    jsonschema.Draft202012Validator(schema).validate(value)
    assert meta.provider == "local" and meta.model == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert 1 <= len(meta.attempts) <= 3 and meta.attempts[-1].ok
    assert meta.usage.completion_tokens > 0 and meta.usage.prompt_tokens > 0
    assert meta.latency_s > 0


def test_there_are_at_least_twenty_schema_cases() -> None:
    assert len(CASES) >= 20
    features = {k for _, s, _ in CASES for k in _keywords(s)}
    for keyword in (
        "enum",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "minItems",
        "maxItems",
        "anyOf",
        "oneOf",
        "$ref",
        "$defs",
        "const",
        "pattern",
        "maxLength",
        "required",
    ):
        assert keyword in features, keyword


def _keywords(schema: object) -> set[str]:
    if isinstance(schema, dict):
        return set(schema) | {k for v in schema.values() for k in _keywords(v)}
    if isinstance(schema, list):
        return {k for v in schema for k in _keywords(v)}
    return set()


class Reading(BaseModel):
    sensor: Literal["VT-1", "TT-2", "PT-3"]
    value: Annotated[float, Field(ge=0, le=500)]


class WorkOrder(BaseModel):
    """A pydantic model as schema: $defs/$ref, Optional, list bounds, Literal enums."""

    asset: Literal["P-101", "P-102", "V-7"]
    action: Literal["replace", "inspect", "lubricate", "calibrate"]
    part: Annotated[str, Field(max_length=30)]
    hours: Annotated[float, Field(ge=0, le=24)]
    technician: Annotated[str, Field(max_length=40)] | None = None
    readings: Annotated[list[Reading], Field(max_length=2)] = []


@pytest.mark.slow
def test_pydantic_model_with_examples_extracts_the_facts(llm: LLM) -> None:
    examples = [
        (
            "Operator lubricated V-7, took 0.5 h. VT-1 at 2.0.",
            WorkOrder(
                asset="V-7",
                action="lubricate",
                part="gearbox",
                hours=0.5,
                technician=None,
                readings=[Reading(sensor="VT-1", value=2.0)],
            ),
        ),
    ]
    order, meta = llm.generate_structured(LOG_LINE, WorkOrder, examples=examples, max_tokens=160)
    assert isinstance(order, WorkOrder)
    # the facts the line states, read by a 135M-parameter model under the grammar
    assert order.asset == "P-101"
    assert order.action == "replace"
    assert order.hours == 2.5
    assert "bearing" in order.part.lower()
    assert meta.attempts[-1].ok


@pytest.mark.slow
def test_deterministic_by_default_and_cached(llm: LLM) -> None:
    schema = CASES[5][1]
    first, _ = llm.generate_structured(LOG_LINE, schema, cache=False)
    second, _ = llm.generate_structured(LOG_LINE, schema, cache=False)
    assert first == second  # temperature 0 and a fixed seed
    third, _ = llm.generate_structured(LOG_LINE, schema)  # cache on: first call fills it
    fourth, meta4 = llm.generate_structured(LOG_LINE, schema)
    assert third == fourth == first
    assert meta4.cached and meta4.usage.total_tokens == 0  # a hit spends no tokens
    assert llm.audit is not None and llm.audit.count(outcome="cache_hit") >= 1


@pytest.mark.slow
def test_gbnf_backend_never_hands_out_an_invalid_object(tmp_path: Path) -> None:
    """llama.cpp's GBNF converter ignores numeric bounds: the validator and repairs must catch it."""
    settings = load_settings(store={"path": tmp_path / "s.duckdb"}, llm={"grammar_backend": "gbnf"})
    llm = LLM.from_settings(settings)
    schema = CASES[4][1]  # count in [3, 17]; the text says 25
    try:
        value, _ = llm.generate_structured(CASES[4][2], schema, max_repairs=1, max_tokens=40)
    except StructuredOutputError as exc:
        assert len(exc.attempts) == 2
        assert all("count" in a.error for a in exc.attempts if a.error)
    else:
        jsonschema.Draft202012Validator(schema).validate(value)
    rows = llm.audit.entries(limit=10)
    assert rows and all(r.kind == "structured" for r in rows)


@pytest.mark.slow
def test_keyword_the_grammar_cannot_enforce_gives_valid_object_or_typed_error(llm: LLM) -> None:
    """uniqueItems is not expressible in the grammar: validation and repairs catch it; the caller
    gets a valid object or StructuredOutputError with every attempt, never an invalid object."""
    schema = {
        "type": "object",
        "properties": {
            "tags": {
                "type": "array",
                "items": {"enum": ["pump", "valve", "seal"]},
                "minItems": 2,
                "maxItems": 2,
                "uniqueItems": True,
            }
        },
        "required": ["tags"],
    }
    try:
        value, _ = llm.generate_structured("Pump seal replaced.", schema, max_repairs=2, cache=False)
    except StructuredOutputError as exc:
        assert len(exc.attempts) == 3 and all("non-unique" in a.error for a in exc.attempts)
    else:
        jsonschema.Draft202012Validator(schema).validate(value)
