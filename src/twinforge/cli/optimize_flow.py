"""``twinforge optimize``: the min-cost flow plan of a twin, what-if against a scenario, and why a
scenario is infeasible. Thin over :mod:`twinforge.optimize.flow`.

Exit codes: 0 a plan was found; 1 the (scenario) model is infeasible — the explanation is printed;
2 bad input (twin, scenario, options) or the solver stopped without a plan.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from twinforge.cli.bounds import time_limit_option
from twinforge.cli.render import safe
from twinforge.errors import TwinforgeError
from twinforge.optimize.flow import (
    FlowComparison,
    FlowOptions,
    FlowPlan,
    InfeasibleFlowError,
    compare_plans,
    optimize_flow,
    signed,
)

if TYPE_CHECKING:
    from twinforge.cli.demo import Tour
    from twinforge.optimize.infeasibility import InfeasibilityExplanation

#: Exit code when the plan is infeasible (a finding, not an error: errors exit 2).
EXIT_INFEASIBLE = 1
OUT_SUFFIXES = (".json", ".csv")


# -- rendering -------------------------------------------------------------------------------------


def _num(x: float, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if abs(x - round(x)) < 1e-9:
        return f"{round(x):,d}"
    return f"{x:,.{digits}f}"


def cost_table(plan: FlowPlan, baseline: FlowPlan | None = None) -> Table:
    cur = plan.objective_unit
    t = Table(title=f"cost breakdown ({safe(cur)})")
    t.add_column("component")
    if baseline is not None:
        t.add_column("baseline", justify="right")
    t.add_column("scenario" if baseline is not None else "cost", justify="right")
    if baseline is not None:
        t.add_column("Δ", justify="right")
    b_costs = baseline.costs.as_dict() if baseline else {}
    for name, value in plan.costs.as_dict().items():
        row = [name]
        if baseline is not None:
            row += [_num(b_costs[name]), _num(value), f"{value - b_costs[name]:+,.2f}"]
        else:
            row.append(_num(value))
        t.add_row(*row)
    t.add_section()
    total = ["[bold]total[/bold]"]
    if baseline is not None:
        total += [
            _num(baseline.objective),
            f"[bold]{_num(plan.objective)}[/bold]",
            f"[bold]{plan.objective - baseline.objective:+,.2f}[/bold]",
        ]
    else:
        total.append(f"[bold]{_num(plan.objective)}[/bold]")
    t.add_row(*total)
    return t


def flows_table(plan: FlowPlan, top: int | None = None) -> Table:
    flows = plan.top_flows(top) if top else plan.flows
    shown = f"top {len(flows)} of {len(plan.flows)}" if top and len(plan.flows) > len(flows) else "all"
    t = Table(title=f"flows ({safe(plan.unit)}, {shown})")
    for col, justify in (
        ("lane", "left"),
        ("product", "left"),
        ("flow", "right"),
        (f"{safe(plan.currency)}/item", "right"),
        (f"transport {safe(plan.currency)}/day", "right"),
    ):
        t.add_column(col, justify=justify)  # type: ignore[arg-type]
    for r in flows.itertuples():
        t.add_row(safe(r.edge), safe(r.product), _num(r.flow), _num(r.cost_per_unit), _num(r.transport_cost))
    return t


def nodes_table(plan: FlowPlan) -> Table:
    t = Table(title=f"nodes ({safe(plan.unit)})")
    for col in ("node", "kind", "throughput", "capacity", "utilisation", "state"):
        t.add_column(col, justify="right" if col in ("throughput", "capacity", "utilisation") else "left")
    for r in plan.nodes.itertuples():
        util = "—" if math.isnan(r.utilisation) else f"{r.utilisation:.0%}"
        state = "used" if r.used else "[dim]unused[/dim]"
        if r.open is not None:
            state = "open" if r.open else "[dim]closed[/dim]"
        t.add_row(safe(r.node), safe(r.kind), _num(r.throughput), _num(r.capacity), util, state)
    return t


def binding_table(plan: FlowPlan) -> Table:
    t = Table(title=f"binding constraints (shadow prices: {safe(plan.duals_from)})")
    t.add_column("constraint")
    t.add_column("bound", justify="right")
    t.add_column("shadow price", justify="right")
    t.add_column("note")
    for c in plan.binding:
        unit = f" {safe(c.unit)}" if c.unit else ""
        dual = "—" if c.dual is None else f"{signed(c.dual)} {safe(c.dual_unit)}"
        remarks = []
        if c.baseline is not None:
            remarks.append(f"was {_num(c.baseline)}")
        if c.intervention:
            remarks.append("scenario")
        t.add_row(safe(c.label), f"{_num(c.bound)}{unit}", dual, "; ".join(remarks))
    if not plan.binding:
        t.add_row("[dim]none: no capacity limits the plan[/dim]", "", "", "")
    return t


def unmet_table(plan: FlowPlan) -> Table:
    t = Table(title=f"unmet demand ({safe(plan.unit)})")
    for col in ("customer", "product", "demand", "delivered", "unmet", f"penalty {safe(plan.currency)}/day"):
        t.add_column(col, justify="left" if col in ("customer", "product") else "right")
    for r in plan.unmet.itertuples():
        t.add_row(
            safe(r.customer),
            safe(r.product),
            _num(r.demand),
            _num(r.delivered),
            _num(r.unmet),
            _num(r.penalty),
        )
    return t


def changed_flows_table(cmp: FlowComparison, top: int | None = None) -> Table:
    rows = cmp.changed_flows.head(top) if top else cmp.changed_flows
    t = Table(title=f"changed flows ({safe(cmp.baseline.unit)}; {len(rows)} of {len(cmp.changed_flows)})")
    for col in ("lane", "product", "baseline", "scenario", "Δ"):
        t.add_column(col, justify="left" if col in ("lane", "product") else "right")
    for r in rows.itertuples():
        colour = "green" if r.delta > 0 else "red"
        t.add_row(
            safe(r.edge),
            safe(r.product),
            _num(r.before),
            _num(r.after),
            f"[{colour}]{r.delta:+,.2f}[/{colour}]",
        )
    return t


def print_plan(console: Console, plan: FlowPlan, top: int | None = 15) -> None:
    size = plan.size
    kind = "MIP" if plan.mip else "LP"
    console.print(
        f"[bold]{safe(plan.twin)}[/bold]"
        + (f" · scenario [bold]{safe(plan.scenario)}[/bold]" if plan.scenario else "")
        + f": {kind} with {size['variables']} variables ({size['binaries']} binary), "
        f"{size['constraints']} constraints · HiGHS {plan.status}"
        + (f" (gap {plan.mip_gap:.2%})" if plan.mip and plan.mip_gap else "")
        + f" · objective [bold]{_num(plan.objective)} {safe(plan.objective_unit)}[/bold]",
        highlight=False,
    )
    for text in plan.interventions:
        console.print(f"  [magenta]scenario:[/magenta] {safe(text)}", highlight=False)
    console.print(cost_table(plan))
    console.print(flows_table(plan, top))
    console.print(nodes_table(plan))
    console.print(binding_table(plan))
    if not plan.unmet.empty:
        console.print(unmet_table(plan))
    for note in plan.notes:
        console.print(f"  [dim]note: {safe(note)}[/dim]", highlight=False)


def print_comparison(console: Console, cmp: FlowComparison, top: int | None = 15) -> None:
    console.print(f"[bold]what-if:[/bold] {safe(cmp.summary())}", highlight=False)
    console.print(cost_table(cmp.scenario, cmp.baseline))
    if not cmp.changed_flows.empty:
        console.print(changed_flows_table(cmp, top))
    for label, nodes in (
        ("newly used", cmp.newly_used),
        ("no longer used", cmp.newly_unused),
        ("removed", cmp.removed_nodes),
        ("added", cmp.added_nodes),
    ):
        if nodes:
            console.print(f"  {label}: {safe(', '.join(nodes))}", highlight=False)


def print_infeasible(console: Console, explanation: InfeasibilityExplanation) -> None:
    lines = explanation.lines()
    console.print(f"[red bold]infeasible:[/red bold] {safe(lines[0])}", highlight=False)
    for line in lines[1:]:
        style = "yellow" if line.startswith("  ") else "bold"
        console.print(f"[{style}]{safe(line)}[/{style}]", highlight=False, soft_wrap=True)


# -- output files ----------------------------------------------------------------------------------


def write_output(
    path: Path,
    plan: FlowPlan | None,
    baseline: FlowPlan | None = None,
    comparison: FlowComparison | None = None,
    explanation: InfeasibilityExplanation | None = None,
) -> None:
    if path.suffix.lower() == ".csv":
        if comparison is not None:
            key = ["edge", "source", "target", "product"]
            b = comparison.baseline.flows[[*key, "flow"]].rename(columns={"flow": "baseline"})
            s = comparison.scenario.flows[[*key, "flow"]].rename(columns={"flow": "scenario"})
            table = b.merge(s, on=key, how="outer").fillna({"baseline": 0.0, "scenario": 0.0})
            table["delta"] = table["scenario"] - table["baseline"]
        elif plan is not None:
            table = plan.flows
        elif baseline is not None:
            table = baseline.flows
        else:
            raise TwinforgeError(f"nothing to write to {path}")
        table.to_csv(path, index=False)
        return
    data: dict[str, Any] = {}
    if baseline is not None:
        data["baseline"] = baseline.to_dict()
    if plan is not None:
        data["plan"] = plan.to_dict()
    if comparison is not None:
        data["comparison"] = comparison.to_dict()
    if explanation is not None:
        data["infeasible"] = explanation.to_dict()
    from twinforge.app.views import clean

    path.write_text(json.dumps(clean(data), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# -- command ---------------------------------------------------------------------------------------


def register(app: typer.Typer) -> None:
    from twinforge.cli.main import cli_errors, console, err_console

    @app.command("optimize")
    @cli_errors
    def optimize(
        twin: Annotated[Path, typer.Argument(help="Twin spec file (suppliers, plants, customers...)")],
        scenario: Annotated[
            Path | None, typer.Option("--scenario", "-s", help="Scenario file: compare against the baseline")
        ] = None,
        time_limit: Annotated[
            float | None, time_limit_option("Stop HiGHS after this many seconds", ("--time-limit",))
        ] = None,
        integer: Annotated[
            bool | None,
            typer.Option(
                "--integer/--continuous",
                help="Whole items on every lane (MIP); default: the twin's planning rules",
            ),
        ] = None,
        ignore_fixed_costs: Annotated[
            bool,
            typer.Option("--ignore-fixed-costs", help="Drop plant/lane fixed costs: a pure LP"),
        ] = False,
        planning_period: Annotated[
            str, typer.Option("--planning-period", help="Period a plan covers, for outages")
        ] = "1 day",
        top: Annotated[int, typer.Option("--top", min=0, help="Flows shown (0: all)")] = 15,
        out: Annotated[
            Path | None, typer.Option("--out", "-o", help="Write results: .json (everything) or .csv (flows)")
        ] = None,
        write_model: Annotated[
            Path | None, typer.Option("--write-model", help="Write the named model (.lp or .mps)")
        ] = None,
    ) -> None:
        """Min-cost flow plan of a twin (HiGHS): costs, flows, binding constraints and shadow prices.

        With --scenario: the baseline-vs-scenario comparison. Exit 1 when infeasible (with the
        conflicting constraints), 2 on bad input.
        """
        from twinforge.optimize.flow import build_flow_model, prepare_scenario
        from twinforge.scenario import load_scenario
        from twinforge.spec import load_spec

        if out is not None and out.suffix.lower() not in OUT_SUFFIXES:
            raise TwinforgeError(
                f"--out {out}: unsupported file type; expected one of {', '.join(OUT_SUFFIXES)}"
            )
        options = FlowOptions(
            integer=integer,
            fixed_costs=not ignore_fixed_costs,
            time_limit=time_limit,
            planning_period=planning_period,
        )
        options.period_s  # noqa: B018 - fail early on a bad period
        spec = load_spec(twin)
        sc = None
        if scenario is not None:  # checked before anything is solved
            sc = prepare_scenario(spec, load_scenario(scenario), file=str(scenario))
        shown = top or None
        if write_model is not None:
            build_flow_model(spec, sc, options).write(str(write_model))
            console.print(f"wrote model to {safe(write_model)}", highlight=False)
        try:
            baseline = optimize_flow(spec, None, options)
        except InfeasibleFlowError as exc:
            print_infeasible(err_console if sc is None else console, exc.explanation)
            if out is not None:
                write_output(out, None, explanation=exc.explanation)
            raise typer.Exit(EXIT_INFEASIBLE) from None
        if sc is None:
            print_plan(console, baseline, shown)
            if out is not None:
                write_output(out, baseline)
                console.print(f"wrote {safe(out)}", highlight=False)
            return
        console.print(
            f"[dim]baseline: objective {_num(baseline.objective)} {baseline.objective_unit}[/dim]",
            highlight=False,
        )
        try:
            changed = optimize_flow(spec, sc, options)
        except InfeasibleFlowError as exc:
            print_infeasible(console, exc.explanation)
            if out is not None:
                write_output(out, None, baseline=baseline, explanation=exc.explanation)
            raise typer.Exit(EXIT_INFEASIBLE) from None
        cmp = compare_plans(baseline, changed, options.tolerance)
        print_plan(console, changed, shown)
        print_comparison(console, cmp, shown)
        if out is not None:
            write_output(out, changed, baseline=baseline, comparison=cmp)
            console.print(f"wrote {safe(out)}", highlight=False)


# -- demo ------------------------------------------------------------------------------------------


def flow_step(tour: Tour) -> None:
    """Demo: optimise the supply chain, ask what if, and explain an impossible scenario."""
    from twinforge.scenario import ForbidFlow, Outage, ScaleDemand, Scenario
    from twinforge.spec import load_spec

    tour.step(
        "flow optimisation from the twin",
        "The supply-chain twin becomes a min-cost flow model (HiGHS): no solver code, every "
        "constraint named in the twin's terms. Then a what-if, and an impossible scenario explained.",
    )
    twin = tour.twins.get("supply_chain") or load_spec(tour.folder / "supply_chain.yaml")
    plan = optimize_flow(twin)
    tour.say(
        f"  optimal plan: {_num(plan.objective)} {plan.objective_unit} "
        f"({plan.size['variables']} variables, {plan.size['binaries']} open/close decisions)"
    )
    tour.console.print(cost_table(plan))
    tour.console.print(flows_table(plan, top=6))
    for c in [c for c in plan.binding if c.dual][:3]:
        tour.say(f"  binding: {safe(c.describe())}")

    what_if = Scenario(name="no-S3-cola-to-P1", interventions=[ForbidFlow(edge="S3->P1", product="cola")])
    changed = optimize_flow(twin, what_if)
    cmp = compare_plans(plan, changed)
    tour.say(f"  what if: {safe('; '.join(what_if.describe()))}")
    tour.say(f"  → {safe(cmp.summary())}")
    tour.console.print(changed_flows_table(cmp, top=6))

    impossible = Scenario(
        name="P1-down-demand-up",
        interventions=[Outage(target="P1", duration="6 h"), ScaleDemand(factor=1.1)],
    )
    try:
        optimize_flow(twin, impossible)
        tour.say("  (unexpectedly feasible)")
    except InfeasibleFlowError as exc:
        tour.say(f"  what if: {safe('; '.join(impossible.describe()))} →")
        for line in exc.explanation.lines()[:14]:
            tour.say(f"    {safe(line)}")
    tour.shared["flow_plan"] = plan
