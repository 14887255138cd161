"""User KPIs without a finite value: NaN in that replication, with the reason kept; mistakes in the
expression itself are errors before the run."""

from __future__ import annotations

import math

import pytest

from twinforge.scenario import ScaleParameter, Scenario
from twinforge.sim import KpiExpressionError, compare_scenario, run_replications
from twinforge.sim.expressions import evaluate, evaluate_checked, parse_expression

KPIS = {"throughput": 100.0, "revenue": 0.0, "cycle_time": math.nan, "energy": math.inf}


@pytest.mark.parametrize(
    "expression, reason",
    [
        ("10 ** 400", "10 ** 400 overflows"),
        ("9 ** 9 ** 9", "9 ** 9 ** 9 overflows"),
        ("1e308 * 10", "1e+308 * 10 overflows"),
        ("exp(1000)", "exp(1000) overflows"),
        ("round(1e308 * 10)", "1e+308 * 10 overflows"),
        ("(-8) ** (1 / 3)", "(-8) ** (1 / 3) is a complex number"),
        ("throughput / revenue", "division by zero in throughput / revenue"),
        ("throughput // 0", "division by zero in throughput // 0"),
        ("throughput % 0", "division by zero in throughput % 0"),
        ("log(0)", "log(0) is outside the function's domain"),
        ("sqrt(-1)", "sqrt(-1) is outside the function's domain"),
        ("log(10, 1)", "division by zero in log(10, 1)"),
        ("cycle_time * 2", "it uses a value that is NaN"),
        ("energy * 2", "it uses an infinite value"),
        ("round(cycle_time)", "round(cycle_time) is outside the function's domain"),
        ("mean(1e308, 1e308)", "mean(1e+308, 1e+308) overflows"),
    ],
)
def test_arithmetic_without_a_finite_result_is_nan_with_a_reason(expression, reason):
    value, why = evaluate_checked(expression, KPIS)
    assert math.isnan(value)
    assert why is not None and why.startswith(reason), why
    assert math.isnan(evaluate(expression, KPIS))


def test_finite_results_have_no_reason():
    assert evaluate_checked("throughput * 24", KPIS) == (2400.0, None)
    assert evaluate_checked("max(throughput, 1e308) - 1e308", KPIS) == (0.0, None)
    assert evaluate_checked("throughput > 1", KPIS) == (1.0, None)


@pytest.mark.parametrize(
    "expression, message",
    [
        ("abs(1, 2)", "abs() takes 1 argument(s), found 2"),
        ("sqrt()", "sqrt() takes 1 argument(s), found 0"),
        ("round(1, 2, 3)", "round() takes 1 or 2 argument(s), found 3"),
        ("quantile(x.level)", "quantile() takes 2 argument(s), found 1"),
        ("quantile(x.level, 1.5)", "quantile() takes a share between 0 and 1, found 1.5"),
        ("mean()", "mean() takes 1 or more argument(s), found 0"),
        ("kpi()", "kpi() takes 1 argument(s), found 0"),
    ],
)
def test_mistakes_in_the_expression_are_found_when_it_is_parsed(expression, message):
    with pytest.raises(KpiExpressionError, match="takes"):
        parse_expression(expression)
    with pytest.raises(KpiExpressionError) as info:
        parse_expression(expression)
    assert message in str(info.value)


def test_unknown_names_remain_errors():
    with pytest.raises(KpiExpressionError, match="did you mean 'throughput'"):
        evaluate_checked("througput / 0", KPIS)


def test_a_run_keeps_its_other_kpis_and_says_why(bottling_line):
    mc = run_replications(
        bottling_line,
        reps=3,
        horizon="1 h",
        kpis={"big": "10 ** 400", "per_item": "cost / throughput", "ok": "throughput * 2"},
    )
    assert mc.meta["kpi_notes"] == {
        "big": "10 ** 400 overflows (the result is too large for a float) (3 of 3 replications)"
    }
    summary = mc.summary().set_index("kpi")
    assert summary.loc["big", "n"] == 0 and math.isnan(summary.loc["big", "mean"])
    assert summary.loc["ok", "n"] == 3
    assert summary.loc["ok", "mean"] == pytest.approx(2 * summary.loc["throughput", "mean"])


def test_comparison_notes_each_run(bottling_line):
    cmp = compare_scenario(
        bottling_line,
        Scenario(
            name="slow", interventions=[ScaleParameter(target="filler", parameter="process_time", factor=2)]
        ),
        reps=2,
        horizon="1 h",
        kpis={"inv": "1 / (throughput - throughput)"},
    )
    for run in (cmp.baseline, cmp.scenario):
        assert run.meta["kpi_notes"]["inv"].startswith("division by zero")
        assert run.meta["kpi_notes"]["inv"].endswith("(2 of 2 replications)")
