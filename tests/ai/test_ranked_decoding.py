"""Schema-guided ranked decoding with the real local model (SmolLM2-135M)."""

from __future__ import annotations

import pytest

from twinforge.ai.errors import ProviderError
from twinforge.ai.llm import LLM
from twinforge.ai.providers.local import LocalLlamaProvider
from twinforge.ai.ranked import RankedDecodeError, dumps


@pytest.fixture(scope="module")
def llm(tmp_path_factory):
    from twinforge.ai.audit import AuditLog

    store = tmp_path_factory.mktemp("store") / "audit.duckdb"
    return LLM(LocalLlamaProvider(), audit=AuditLog(store))


COLOURS = {
    "type": "object",
    "properties": {"colour": {"enum": ["red", "green", "blue"]}},
    "required": ["colour"],
}


def test_enum_follows_the_context(llm):
    shots = [("The sky is blue.", {"colour": "blue"}), ("Grass is green.", {"colour": "green"})]
    value, result = llm.decode_ranked("Blood is red.", COLOURS, examples=shots)
    assert value == {"colour": "red"}
    assert result.text == dumps(value)
    assert result.choices and result.choices[0].options == [' "red', ' "green', ' "blue']


def test_numbers_only_from_candidates(llm):
    schema = {
        "type": "object",
        "properties": {"hours": {"type": "number", "exclusiveMinimum": 0, "maximum": 24}},
        "required": ["hours"],
    }
    value, _ = llm.decode_ranked("The pump was down for 3 hours.", schema, numbers=[3.0, 99.0])
    assert value == {"hours": 3}
    # no candidate fits the bounds: a typed error, never an invented number
    with pytest.raises(RankedDecodeError, match="no alternative can be completed"):
        llm.decode_ranked("The pump was down for 99 hours.", schema, numbers=[99.0])


def test_union_walk_optional_keys_arrays(llm):
    schema = {
        "$defs": {
            "stop": {
                "type": "object",
                "properties": {"op": {"const": "stop"}, "machine": {"enum": ["M1", "M2"]}},
                "required": ["op", "machine"],
            },
            "speed": {
                "type": "object",
                "properties": {
                    "op": {"const": "speed"},
                    "machine": {"enum": ["M1", "M2"]},
                    "percent": {"type": "number", "x-candidates": [80]},
                },
                "required": ["op", "machine", "percent"],
            },
        },
        "type": "object",
        "properties": {
            "actions": {
                "type": "array",
                "items": {"oneOf": [{"$ref": "#/$defs/stop"}, {"$ref": "#/$defs/speed"}]},
                "minItems": 1,
                "maxItems": 2,
            },
            "note": {"enum": ["urgent"]},
        },
        "required": ["actions"],
    }
    shots = [
        ("Stop M1.", {"actions": [{"op": "stop", "machine": "M1"}]}),
        ("Run M1 at 80 percent.", {"actions": [{"op": "speed", "machine": "M1", "percent": 80}]}),
    ]
    value, _ = llm.decode_ranked("Run M2 at 80 percent.", schema, numbers=[5.0], examples=shots)
    # the slot's own candidates (x-candidates) win over the global numbers
    assert value["actions"][0] == {"op": "speed", "machine": "M2", "percent": 80}
    assert 1 <= len(value["actions"]) <= 2
    import jsonschema

    jsonschema.validate(value, schema)


def test_unique_items_and_must_include(llm):
    schema = {
        "type": "object",
        "properties": {
            "ids": {
                "type": "array",
                "items": {"enum": ["a", "b", "c"]},
                "minItems": 1,
                "maxItems": 3,
                "uniqueItems": True,
                "x-must-include": ["c"],
            }
        },
        "required": ["ids"],
    }
    value, _ = llm.decode_ranked("Pick a.", schema)
    assert "c" in value["ids"] and len(set(value["ids"])) == len(value["ids"])


def test_ranked_calls_are_audited(llm):
    before = llm.audit.count(kind="ranked")
    llm.decode_ranked("Grass is green.", COLOURS)
    assert llm.audit.count(kind="ranked") == before + 1


def test_only_the_local_provider_ranks():
    class Remote:
        name = "openai"
        model = "x"
        is_local = False

    with pytest.raises(ProviderError, match="scores continuations"):
        LLM(Remote()).decode_ranked("x", COLOURS)


def test_choose_ranks_whole_options(llm):
    options = [{"colour": "red"}, {"colour": "green"}, {"colour": "blue"}]
    shots = [("The sky is blue.", {"colour": "blue"}), ("Grass is green.", {"colour": "green"})]
    choice = llm.choose("Blood is red.", options, examples=shots)
    assert (choice.index, choice.how) == (0, "ranked") and choice.margin > 0
    assert llm.choose("x", [options[1]]).index == 0  # one option: no model call
