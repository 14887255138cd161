"""Fuzzing the spec loader: whatever the bytes or the data, only twinforge's own errors come out."""

from __future__ import annotations

import contextlib
import copy
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twinforge.errors import TwinforgeError
from twinforge.inputs import decode, load_json, load_yaml
from twinforge.spec import load_spec, loads_spec
from twinforge.spec.io import spec_to_data

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

NASTY_STRINGS = [
    "",
    "x",
    "10 s",
    "-5 min",
    "1e400 h",
    "nan s",
    "inf",
    "[red]x[/red]",
    "\x1b[2J",
    "\u202eevil",
    "a" * 300,
    "2024-13-01",
    "filler",
    "item/h",
    "EUR",
    "!!python/object/apply:os.system",
]
atoms = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(NASTY_STRINGS),
    st.text(max_size=20),
)
values = st.recursive(
    atoms,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(["value", "unit", "type", "mean", "x"]), inner),
    ),
    max_leaves=8,
)


def _paths(data, prefix=()):
    yield prefix
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _paths(v, (*prefix, i))


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def bases():
    return [
        spec_to_data(load_spec(EXAMPLES / f"{n}.yaml"))
        for n in ("bottling_line", "supply_chain", "pump_station", "delivery")
    ]


def _clean(fn, *args) -> None:
    """``fn(*args)`` either works or raises a TwinforgeError; anything else fails the test."""
    with contextlib.suppress(TwinforgeError):
        fn(*args)


@FUZZ
@given(data=st.data())
def test_mutated_specs_give_only_clean_errors(bases, data):
    spec = copy.deepcopy(data.draw(st.sampled_from(bases)))
    for _ in range(data.draw(st.integers(1, 3))):
        paths = [p for p in _paths(spec) if p]
        path = data.draw(st.sampled_from(paths))
        parent = spec
        for key in path[:-1]:
            parent = parent[key]
        if isinstance(path[-1], str) and data.draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = data.draw(values)
    text = yaml.safe_dump(spec, allow_unicode=True)
    _clean(loads_spec, text, "fuzz.yaml")


@FUZZ
@given(st.binary(max_size=400))
def test_arbitrary_bytes_give_only_clean_errors(raw):
    def load(b: bytes) -> None:
        text = decode(b, "fuzz.bin")
        loads_spec(text, "fuzz.yaml")
        loads_spec(text, "fuzz.json", fmt="json")

    _clean(load, raw)


yaml_chars = st.sampled_from([*"[]{}:,-&*!|>'\"#%@` \n\tab01.", "!!python/", "<<", "*a", "&a", ".inf"])


@FUZZ
@given(st.lists(yaml_chars, max_size=120).map("".join))
def test_yaml_shaped_noise_gives_only_clean_errors(text):
    _clean(load_yaml, text, "noise.yaml")
    _clean(loads_spec, "twinforge: 1\nname: x\n" + text, "noise.yaml")
    _clean(load_json, text, "noise.json")
