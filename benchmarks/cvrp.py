"""CVRP benchmark: PyVRP and OR-Tools routing (twinforge.optimize.routing) on CVRPLIB X instances.

Instances X-n101-k25 … X-n134-k13 from ``reference_data("cvrp")`` with their best known
solutions (``.sol``, last line ``Cost N``), CVRPLIB convention: Euclidean distances rounded to the
nearest integer. Every plan is re-evaluated by ``evaluate_routes`` (independent of the solver);
the best known solutions are evaluated the same way as a check of the convention.

Both solvers get the same time limit (default 30 s) in the same run; the headline figure is the
mean gap of the default solver (PyVRP, chosen on this benchmark). Goal: mean gap <= 1 %.
Last line: ``cvrp mean_gap=<%>``.

Run: ``flock /tmp/twinforge-bench.lock .venv/bin/python benchmarks/cvrp.py`` (about 8 min);
``--instances X-n101-k25 --time-limit 5`` for a quick look (never recorded); ``--record`` writes
the ``cvrp`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from twinforge.datasets import reference_data
from twinforge.optimize.routing import (
    SOLVERS,
    evaluate_routes,
    read_vrplib,
    read_vrplib_solution,
    solve_routing,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import add_record_flag, markdown_table, record

DEFAULT_SOLVER = "pyvrp"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=30.0, help="seconds per instance and solver")
    parser.add_argument("--instances", nargs="*", help="subset to run, e.g. X-n101-k25 (not recorded)")
    parser.add_argument("--solvers", nargs="*", default=list(SOLVERS), choices=SOLVERS)
    parser.add_argument("--seed", type=int, default=1)
    add_record_flag(parser)
    args = parser.parse_args(argv)

    folder = reference_data("cvrp")
    files = sorted(folder.glob("*.vrp"))
    if args.instances:
        files = [f for f in files if f.stem in set(args.instances)]
        missing = set(args.instances) - {f.stem for f in files}
        if missing:
            raise SystemExit(f"unknown instance(s) in {folder}: {', '.join(sorted(missing))}")
    if DEFAULT_SOLVER not in args.solvers:
        args.solvers.insert(0, DEFAULT_SOLVER)
    console = Console(width=150)
    headers = ["instance", "customers", "BKS", "BKS check"]
    for s in args.solvers:
        headers += [f"{s} cost", f"{s} gap %", f"{s} vehicles"]
    rows: list[list[Any]] = []
    gaps: dict[str, list[float]] = {s: [] for s in args.solvers}
    for f in files:
        problem = read_vrplib(f)
        known = read_vrplib_solution(f.with_suffix(".sol"))
        check = evaluate_routes(problem, known.routes)
        bks_ok = check.feasible and check.objective == round(known.cost)
        row: list[Any] = [
            f.stem,
            problem.customers,
            int(known.cost),
            "ok" if bks_ok else f"{check.objective}!",
        ]
        for s in args.solvers:
            plan = solve_routing(problem, solver=s, time_limit=args.time_limit, seed=args.seed)
            gap = 100 * plan.gap_to(known.cost)
            gaps[s].append(gap)
            row += [plan.objective, round(gap, 2), plan.vehicles_used]
            console.print(
                f"{f.stem} {s}: {plan.objective} (BKS {int(known.cost)}, gap {gap:.2f} %, "
                f"{plan.solve_time:.1f} s, feasible: {plan.feasible})",
                highlight=False,
            )
        rows.append(row)

    table = Table(title=f"CVRP, {args.time_limit:g} s per instance and solver")
    for h in headers:
        table.add_column(h, justify="left" if h == "instance" else "right")
    for r in rows:
        table.add_row(*(str(v) for v in r))
    console.print(table)
    means = {s: statistics.fmean(g) for s, g in gaps.items() if g}
    mean_gap = means.get(DEFAULT_SOLVER, float("nan"))
    parts = [f"{s}: {m:.2f} %" for s, m in means.items()]
    summary = (
        f"Mean gap to the best known solutions: {'; '.join(parts)}. Default solver {DEFAULT_SOLVER}: "
        f"{mean_gap:.2f} % (goal <= 1 %: {'met' if mean_gap <= 1 else 'missed'})."
    )
    if len(means) > 1:
        others = [m for s, m in means.items() if s != DEFAULT_SOLVER]
        summary += f" Baseline OR-Tools (guided local search), same run and limit: {others[0]:.2f} %."
    console.print(summary)
    if args.record and not args.instances:
        setup = (
            "PyVRP 0.14 (iterated local search with its default parameters, seed 1) and OR-Tools 9.15 "
            "routing (savings start, guided local search), each limited to the same wall time per "
            "instance; fleet unlimited as in CVRPLIB; every plan and every best known solution is "
            "re-evaluated from the instance data by `evaluate_routes`."
        )
        record(
            "cvrp",
            "Capacitated vehicle routing (CVRPLIB X)",
            f"{setup}\n\n{markdown_table(headers, rows)}\n\n{summary}\n\n`cvrp mean_gap={mean_gap:.2f}`",
        )
    print(f"cvrp mean_gap={mean_gap:.2f}")


if __name__ == "__main__":
    main()
