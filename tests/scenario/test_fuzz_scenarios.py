"""Fuzzing scenarios: read and applied to real twins, hostile scenarios give only ScenarioErrors."""

from __future__ import annotations

import contextlib
import math
import typing
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twinforge.errors import TwinforgeError
from twinforge.scenario import INTERVENTION_OPS, Intervention, apply_scenario, loads_scenario
from twinforge.spec import load_spec

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
#: Each op's own fields (from the models), so most drawn scenarios get past reading to applying.
OWN_FIELDS = {
    cls.model_fields["op"].default: [f for f in cls.model_fields if f not in ("op", "note")]
    for cls in typing.get_args(typing.get_args(Intervention)[0])
}
REQUIRED = {
    cls.model_fields["op"].default: [f for f, info in cls.model_fields.items() if info.is_required()]
    for cls in typing.get_args(typing.get_args(Intervention)[0])
}
ALL_FIELDS = sorted({f for fields in OWN_FIELDS.values() for f in fields} | {"note", "bogus"})
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1e-320, 1e6, 1e7, 1e300, 10**40, 0.5, 2]),
)
STRINGS = st.sampled_from(
    [
        "4 h",
        "-1 h",
        "inf h",
        "1e400 s",
        "nan min",
        "kg",
        "item/h",
        "1/h",
        "EUR",
        "",
        "[red]",
        "\x1b[2J",
        "serve_only",
    ]
)


@pytest.fixture(scope="module")
def twins():
    return [load_spec(EXAMPLES / f"{n}.yaml") for n in ("bottling_line", "supply_chain", "pump_station")]


@FUZZ
@given(data=st.data())
def test_hostile_scenarios_give_only_clean_errors(twins, data):
    twin = data.draw(st.sampled_from(twins))
    ids = st.sampled_from(twin.node_ids())
    params = st.sampled_from(
        ["process_time", "mtbf", "mttr", "capacity", "demand", "cost_per_item", "power_busy"]
    )
    times = st.one_of(NUMBERS, STRINGS)
    products = st.sampled_from([*twin.products, "nope", "\x1b[2J"])
    edge = st.fixed_dictionaries(
        {"source": ids, "target": ids}, optional={"kind": STRINGS, "parameters": st.just({})}
    )
    # a plausible value for each field most of the time, anything at all now and then
    typical = {
        "target": ids,
        "parameter": params,
        "value": NUMBERS,
        "factor": NUMBERS,
        "rate": NUMBERS,
        "start": times,
        "duration": times,
        "at": times,
        "unit": STRINGS,
        "product": products,
        "targets": st.lists(ids, max_size=3),
        "partners": st.lists(ids, max_size=3),
        "nodes": st.lists(ids, min_size=2, max_size=2),
        "edge": st.one_of(edge, st.builds(lambda a, b: f"{a}->{b}", ids, ids)),
        "direction": st.sampled_from(["serve_only", "buy_only", "both"]),
    }
    anything = st.one_of(NUMBERS, STRINGS, ids, st.lists(ids, max_size=3), edge, st.none())
    interventions = []
    for _ in range(data.draw(st.integers(1, 3))):
        op = data.draw(st.sampled_from(INTERVENTION_OPS))
        iv: dict = {"op": op}
        pool = OWN_FIELDS[op] if data.draw(st.integers(0, 9)) else ALL_FIELDS
        chosen = data.draw(st.lists(st.sampled_from(pool), max_size=4, unique=True))
        if data.draw(st.integers(0, 9)):  # usually every required field is there
            chosen = list(dict.fromkeys([*REQUIRED[op], *chosen]))
        for name in chosen:
            odd = name not in typical or not data.draw(st.integers(0, 7))
            iv[name] = data.draw(anything if odd else typical[name])
        interventions.append(iv)
    text = yaml.safe_dump({"name": "fuzz", "interventions": interventions}, allow_unicode=True)
    with contextlib.suppress(TwinforgeError):
        applied = apply_scenario(twin, loads_scenario(text, "fuzz.yaml"), file="fuzz.yaml")
        # what was accepted is finite: no inf or NaN reaches a run
        for el in [*applied.twin.nodes, *applied.twin.edges]:
            for p in el.parameters.values():
                assert p.value is None or math.isfinite(p.value)
                assert all(math.isfinite(v) for v in (p.by_product or {}).values())
        for iv in applied.timed:
            assert all(math.isfinite(v) for v in iv.model_dump().values() if isinstance(v, float))
