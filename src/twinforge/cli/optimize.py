"""``twinforge schedule`` and ``twinforge route``: optimal plans from a twin, without solver code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from twinforge.cli.bounds import MAX_WORKERS, number_in, reps_option, seed_option, time_limit_option
from twinforge.cli.render import escape_controls, safe
from twinforge.errors import TwinforgeError

if TYPE_CHECKING:
    from twinforge.cli.demo import Tour
    from twinforge.optimize.routing import RoutePlan, RoutingProblem
    from twinforge.optimize.scheduling import Schedule

_PALETTE = [
    "cyan",
    "magenta",
    "green",
    "yellow",
    "blue",
    "red",
    "bright_cyan",
    "bright_magenta",
    "bright_green",
]
_SYMBOLS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _fmt(x: float | None, unit: str | None = None) -> str:
    if x is None:
        return "—"
    text = f"{x:,.2f}".rstrip("0").rstrip(".") if abs(x) < 1e6 else f"{x:,.0f}"
    return f"{text} {unit}" if unit else text


# -- rendering: schedules ------------------------------------------------------------------------


def schedule_summary(schedule: Schedule, baseline: Schedule | None = None) -> Table:
    unit = schedule.time_unit or ""
    table = Table(title="schedule", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    status = "[green]OPTIMAL (proven)[/green]" if schedule.optimal else "[yellow]FEASIBLE[/yellow]"
    table.add_row("status", status)
    table.add_row("objective", f"{schedule.objective} = {_fmt(schedule.objective_value, unit)}")
    table.add_row("lower bound", _fmt(schedule.bound, unit))
    table.add_row("gap", "—" if schedule.gap is None else f"{100 * schedule.gap:.2f} %")
    table.add_row("makespan", _fmt(schedule.makespan, unit))
    table.add_row("total tardiness", _fmt(schedule.total_tardiness, unit))
    if schedule.weighted_tardiness != schedule.total_tardiness:
        table.add_row("weighted tardiness", _fmt(schedule.weighted_tardiness, unit))
    table.add_row("solver", f"{schedule.solver}, {schedule.solve_time:.2f} s")
    if schedule.warm_start:
        table.add_row("warm start", schedule.warm_start)
    if baseline is not None:
        ratio = (
            f" ({schedule.objective_value / baseline.objective_value:.3f}×)"
            if baseline.objective_value
            else ""
        )
        table.add_row(
            "dispatch baseline",
            f"{baseline.solver}: {schedule.objective} = {_fmt(baseline.objective_value, unit)}{ratio}",
        )
    return table


def jobs_table(schedule: Schedule) -> Table:
    unit = schedule.time_unit or ""
    table = Table(title=f"jobs (times in {unit})" if unit else "jobs", title_justify="left")
    for col in ("job", "release", "due", "completion", "tardiness"):
        table.add_column(col, justify="left" if col == "job" else "right")
    for o in schedule.jobs:
        late = o.tardiness > 1e-9
        table.add_row(
            safe(o.job),
            _fmt(o.release),
            _fmt(o.due),
            _fmt(o.completion),
            Text(_fmt(o.tardiness), style="red" if late else "green") if o.due is not None else "—",
        )
    return table


def gantt(schedule: Schedule, width: int = 64) -> Table:
    """A text Gantt chart: one row per station, one symbol and colour per job."""
    jobs = [o.job for o in schedule.jobs]
    symbol = {j: _SYMBOLS[i % len(_SYMBOLS)] for i, j in enumerate(jobs)}
    colour = {j: _PALETTE[i % len(_PALETTE)] for i, j in enumerate(jobs)}
    span = schedule.makespan or 1.0
    unit = schedule.time_unit or ""
    table = Table(
        title=f"Gantt (0 … {_fmt(schedule.makespan, unit)})", title_justify="left", show_lines=False
    )
    table.add_column(
        "station", style="bold", no_wrap=True, min_width=max(len(safe(s)) for s in schedule.stations())
    )
    table.add_column("", no_wrap=True)
    for station, ops in schedule.by_station().items():
        line = Text()
        for cell in range(width):
            t = (cell + 0.5) * span / width
            here = next((op for op in ops if op.start <= t < op.end), None)
            if here is None:
                setup = next((op for op in ops if op.start - op.setup <= t < op.start), None)
                line.append("~" if setup else "·", style="dim")
            else:
                line.append(symbol[here.job], style=colour[here.job])
        table.add_row(safe(station), line)
    legend = Text("  ".join(f"{symbol[j]}={escape_controls(j)}" for j in jobs))
    table.caption = legend
    table.caption_justify = "left"
    return table


# -- rendering: routes ---------------------------------------------------------------------------


def routes_table(plan: RoutePlan, problem: RoutingProblem, max_stops: int = 14) -> Table:
    """Routes as a table: one row per stop with its service time when time matters, else one row
    per route with the stops joined."""
    from twinforge.optimize.routing import clock

    unit = plan.distance_unit
    title = f"routes ({plan.solver}; distance in {safe(unit or 'file units')}"
    title += f", cost in {safe(plan.currency)})" if plan.currency else ")"
    table = Table(title=title, title_justify="left")
    table.add_column("#", justify="right")
    timed = problem.timed
    if timed:
        table.add_column("out", justify="right")
        table.add_column("stop", no_wrap=True, min_width=max((len(safe(s)) for s in problem.ids), default=4))
        table.add_column("served", justify="right")
        table.add_column("back", justify="right")
    else:
        table.add_column("stops", ratio=1, overflow="fold")
    table.add_column("load", justify="right")
    table.add_column("dist", justify="right")
    if plan.currency:
        table.add_column("cost", justify="right")
    for r in plan.routes:
        totals = [f"{r.load}/{problem.capacity}", _fmt(r.distance)]
        if plan.currency:
            totals.append(f"{r.cost:,.2f}")
        if not timed:
            shown = " → ".join(safe(s) for s in r.stops[:max_stops])
            if len(r.stops) > max_stops:
                shown += f" … (+{len(r.stops) - max_stops})"
            table.add_row(str(r.vehicle), shown, *totals)
            continue
        arrivals = r.arrivals or []
        last = len(r.stops) - 1
        for k, (stop, t) in enumerate(zip(r.stops, arrivals, strict=True)):
            first = k == 0
            table.add_row(
                str(r.vehicle) if first else "",
                clock(r.start or 0) if first else "",
                safe(stop),
                clock(t),
                clock(r.end or 0) if k == last else "",
                *(totals if first else [""] * len(totals)),
                end_section=k == last,
            )
    return table


def plan_summary(plan: RoutePlan, best_known: float | None = None) -> Table:
    table = Table(title="routing plan", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    unit = f" {safe(plan.distance_unit)}" if plan.distance_unit else ""
    table.add_row("distance", f"{plan.distance:,.3f}".rstrip("0").rstrip(".") + unit)
    if plan.currency:
        table.add_row("cost", f"{plan.cost:,.2f} {safe(plan.currency)}")
    table.add_row("vehicles used", str(plan.vehicles_used))
    check = (
        "[green]feasible[/green]" if plan.feasible else "[red]" + safe("; ".join(plan.violations)) + "[/red]"
    )
    table.add_row(
        "independent check", check + " (capacity, time windows, route duration, every customer once)"
    )
    table.add_row("solver", f"{plan.solver}, {plan.solve_time:.1f} s")
    if best_known is not None:
        table.add_row("best known", f"{best_known:,.0f} (gap {100 * plan.gap_to(best_known):+.2f} %)")
    return table


# -- commands ------------------------------------------------------------------------------------


def register(app: typer.Typer) -> None:
    from twinforge.cli.main import cli_errors, console

    @app.command()
    @cli_errors
    def schedule(
        twin: Annotated[Path, typer.Argument(help="Twin spec whose stations do the work")],
        jobs: Annotated[Path, typer.Option("--jobs", "-j", help="Orders/jobs file (YAML or JSON)")],
        objective: Annotated[str, typer.Option(help="makespan or tardiness (total weighted)")] = "makespan",
        shop: Annotated[
            str, typer.Option(help="job, flow (same route) or permutation (no overtaking on a line)")
        ] = "job",
        time_limit: Annotated[float, time_limit_option()] = 10.0,
        workers: Annotated[
            int | None,
            typer.Option(min=1, max=MAX_WORKERS, help="CP-SAT search workers (default: cores)"),
        ] = None,
        warm_start: Annotated[
            str, typer.Option(help="dispatch (best rule), a rule (SPT, MWKR, EDD, ...) or none")
        ] = "dispatch",
        gantt_width: Annotated[
            int, typer.Option(min=10, max=1000, help="Width of the text Gantt chart")
        ] = 64,
        out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the schedule as JSON")] = None,
        replay: Annotated[
            int,
            reps_option(
                "Replay the schedule N times in the simulator (breakdowns, noise)", ("--replay",), low=0
            ),
        ] = 0,
        noise: Annotated[
            float,
            typer.Option(
                callback=number_in(0, 10), help="Replay: coefficient of variation of process times (0..10)"
            ),
        ] = 0.1,
    ) -> None:
        """Schedule orders on the twin's stations with CP-SAT: makespan or tardiness, proven bound and gap."""
        from twinforge.optimize.orders import load_jobs
        from twinforge.optimize.scheduling import OBJECTIVES, SHOP_KINDS, best_dispatch, solve_schedule
        from twinforge.spec import load_spec

        if objective not in OBJECTIVES:
            raise TwinforgeError(f"--objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
        if shop not in SHOP_KINDS:
            raise TwinforgeError(f"--shop must be one of {', '.join(SHOP_KINDS)}, got {shop!r}")
        spec = load_spec(twin)
        job_set = load_jobs(jobs, spec)
        baseline = best_dispatch(job_set.jobs, objective=objective, time_unit=job_set.time_unit)  # type: ignore[arg-type]
        result = solve_schedule(
            job_set.jobs,
            objective=objective,  # type: ignore[arg-type]
            shop=shop,  # type: ignore[arg-type]
            time_limit=time_limit,
            workers=workers,
            warm_start=None if warm_start.lower() == "none" else warm_start,
            time_unit=job_set.time_unit,
        )
        console.print(schedule_summary(result, baseline))
        console.print(jobs_table(result))
        console.print(gantt(result, gantt_width))
        if out:
            out.write_text(json.dumps(result.model_dump(mode="json"), indent=2) + "\n", encoding="utf-8")
            console.print(f"wrote {safe(out)}", highlight=False)
        if replay:
            from twinforge.optimize.scheduling import replay_in_simulator

            rep = replay_in_simulator(spec, result, reps=replay, duration_cv=noise)
            summary = rep.summary()
            table = Table(
                "planned makespan (h)",
                "mean (h)",
                "p90 (h)",
                "on time",
                title=f"replayed {replay} times in the simulator",
            )
            table.add_row(
                f"{summary['planned_makespan_h']:.2f}",
                f"{summary['makespan_mean_h']:.2f}",
                f"{summary['makespan_p90_h']:.2f}",
                f"{100 * summary['on_time_share']:.0f}%",
            )
            console.print(table)

    @app.command()
    @cli_errors
    def route(
        twin: Annotated[Path | None, typer.Argument(help="Twin with a depot and customers")] = None,
        vrp: Annotated[
            Path | None, typer.Option("--vrp", help="Solve a TSPLIB/CVRPLIB .vrp file instead")
        ] = None,
        sol: Annotated[
            Path | None,
            typer.Option("--sol", help="Best known .sol to compare with (default: next to --vrp)"),
        ] = None,
        depot: Annotated[str | None, typer.Option(help="Depot node id (when the twin has several)")] = None,
        solver: Annotated[str, typer.Option(help="pyvrp (default) or ortools")] = "pyvrp",
        time_limit: Annotated[float, time_limit_option()] = 10.0,
        seed: Annotated[int, seed_option("Random seed (pyvrp)")] = 0,
        road_factor: Annotated[
            float,
            typer.Option(
                callback=number_in(1, 100), help="Road distance / straight-line distance (twins only; 1..100)"
            ),
        ] = 1.0,
        out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the plan as JSON")] = None,
    ) -> None:
        """Route deliveries from the twin's depot to its customers (CVRP / time windows), or solve a .vrp file."""
        from twinforge.optimize.routing import (
            SOLVERS,
            problem_from_twin,
            read_vrplib,
            read_vrplib_solution,
            solve_routing,
        )
        from twinforge.spec import load_spec

        if solver not in SOLVERS:
            raise TwinforgeError(f"--solver must be one of {', '.join(SOLVERS)}, got {solver!r}")
        if (twin is None) == (vrp is None):
            raise TwinforgeError("give either a TWIN file or --vrp FILE.vrp")
        best_known = None
        if vrp is not None:
            problem = read_vrplib(vrp)
            sol_path = sol or vrp.with_suffix(".sol")
            if sol is not None or sol_path.exists():
                best_known = read_vrplib_solution(sol_path).cost
        else:
            assert twin is not None
            problem = problem_from_twin(load_spec(twin), depot, road_factor=road_factor)
        for note in problem.notes:
            console.print(f"[dim]note: {safe(note)}[/dim]", highlight=False)
        plan = solve_routing(problem, solver=solver, time_limit=time_limit, seed=seed)  # type: ignore[arg-type]
        console.print(plan_summary(plan, best_known))
        console.print(routes_table(plan, problem))
        if out:
            out.write_text(json.dumps(plan.model_dump(mode="json"), indent=2) + "\n", encoding="utf-8")
            console.print(f"wrote {safe(out)}", highlight=False)


# -- demo step -----------------------------------------------------------------------------------

DEMO_ORDERS = """\
time_unit: min
orders:
  - {id: pub-chain, quantity: 200, due: 150 min, weight: 2}
  - {id: export, quantity: 300, due: 6 h}
  - {id: festival, quantity: 120, due: 2 h, weight: 3}
  - {id: retail, quantity: 90, release: 30 min, due: 3 h}
  - {id: relabel, quantity: 150, route: [labeler, packer], due: 4 h, weight: 2}
"""


def optimize_step(tour: Tour) -> None:
    """Demo: schedule orders on the bottling line (CP-SAT, proven optimal) and route deliveries."""
    from twinforge.inputs import load_yaml
    from twinforge.optimize.orders import parse_jobs
    from twinforge.optimize.routing import problem_from_twin, solve_routing
    from twinforge.optimize.scheduling import best_dispatch, solve_schedule
    from twinforge.spec import load_spec

    tour.step(
        "optimal plans from the twin",
        "Five orders on the bottling line's stations (durations from the twin's process times, items "
        "flowing station to station) scheduled with CP-SAT for the least weighted tardiness, then the "
        "depot's vans routed to ten customers with time windows.",
    )
    line = tour.twins.get("bottling_line") or load_spec(tour.folder / "bottling_line.yaml")
    job_set = parse_jobs(load_yaml(DEMO_ORDERS, "demo orders"), line, file="demo orders")
    baseline = best_dispatch(job_set.jobs, objective="tardiness", time_unit="min")
    plan = solve_schedule(job_set.jobs, objective="tardiness", time_limit=5, time_unit="min")
    fastest = solve_schedule(job_set.jobs, objective="makespan", time_limit=5, time_unit="min")
    tour.say(
        f"  weighted tardiness {plan.weighted_tardiness:.1f} min: {plan.status} (proven bound "
        f"{plan.bound:.1f}, {plan.solve_time:.2f} s); the best dispatching rule ({baseline.solver}) "
        f"gives {baseline.weighted_tardiness:.1f} min"
    )
    tour.say(
        f"  shortest makespan {fastest.makespan:.1f} min ({fastest.status}, gap {100 * (fastest.gap or 0):.1f} %)"
    )
    tour.console.print(gantt(plan, 60))
    delivery = tour.folder / "delivery.yaml"
    if not delivery.exists():
        tour.say(f"  (no {delivery.name} in {tour.folder}; routing skipped)")
        return
    problem = problem_from_twin(load_spec(delivery))
    routes = solve_routing(problem, time_limit=1.0, seed=1)
    tour.say(
        f"  {problem.customers} deliveries, {routes.vehicles_used} vans, {routes.distance:.1f} km, "
        f"{routes.cost:.2f} {routes.currency}; independent check: "
        + ("feasible" if routes.feasible else "; ".join(routes.violations))
    )
    tour.console.print(routes_table(routes, problem))
