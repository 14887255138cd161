"""CLI of the simulator: ``twinforge simulate`` and ``twinforge warn``, and the demo step."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from twinforge.cli.bounds import horizon_option, reps_option, seed_option, workers_option
from twinforge.cli.render import safe

if TYPE_CHECKING:
    import pandas as pd

    from twinforge.cli.demo import Tour

#: KPIs shown by default (per-node shares and levels follow); --all shows every KPI.
HEADLINE = (
    "throughput",
    "output",
    "wip",
    "cycle_time",
    "service_level",
    "energy",
    "cost",
    "revenue",
    "profit",
    "failures",
    "downtime",
)
NODE_METRICS = ("busy", "blocked", "starved", "down", "mean_level", "mean_flow", "pumped")


def _fmt(x: Any, unit: str = "") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, float) and math.isinf(x):
        return "∞"
    if unit == "" and isinstance(x, float) and 0 <= abs(x) <= 1.0 and x != 0:
        return f"{x:.3f}"
    ax = abs(x)
    if ax >= 1e5:
        return f"{x:,.0f}"
    if ax >= 100:
        return f"{x:,.1f}"
    return f"{x:.3g}"


def _selected(df: pd.DataFrame, show_all: bool, extra: list[str]) -> pd.DataFrame:
    if show_all:
        return df
    keep = df["kpi"].isin(HEADLINE) | df["kpi"].isin(extra) | df["metric"].isin(NODE_METRICS)
    return df[keep]


def kpi_table(summary: pd.DataFrame, title: str, confidence: float = 0.95) -> Table:
    """KPI summary table; ``title`` is rich markup (escape user text in it with :func:`safe`)."""
    t = Table(title=title, title_justify="left")
    t.add_column("KPI")
    t.add_column("unit")
    t.add_column("mean", justify="right")
    t.add_column(f"{confidence:.0%} CI", justify="right")
    t.add_column("std", justify="right")
    for r in summary.itertuples():
        t.add_row(
            safe(r.kpi),
            safe(r.unit),
            _fmt(r.mean, r.unit),
            f"{_fmt(r.ci_low, r.unit)} … {_fmt(r.ci_high, r.unit)}",
            _fmt(r.std, r.unit),
        )
    return t


def comparison_table(paired: pd.DataFrame, title: str) -> Table:
    t = Table(title=title, title_justify="left")
    for col, just in (
        ("KPI", "left"),
        ("unit", "left"),
        ("baseline", "right"),
        ("scenario", "right"),
        ("Δ mean", "right"),
        ("95% CI of Δ", "right"),
        ("Δ %", "right"),
        ("var. reduction", "right"),
    ):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for r in paired.itertuples():
        rel = "–" if math.isnan(r.relative_change) else f"{r.relative_change * 100:+.1f}%"
        vr = r.variance_reduction
        t.add_row(
            safe(r.kpi),
            safe(r.unit),
            _fmt(r.baseline, r.unit),
            _fmt(r.scenario, r.unit),
            _fmt(r.difference, r.unit),
            f"{_fmt(r.ci_low, r.unit)} … {_fmt(r.ci_high, r.unit)}",
            rel,
            "–" if math.isnan(vr) else ("∞" if math.isinf(vr) else f"{vr:.1f}×"),
        )
    return t


def warning_table(table: pd.DataFrame, horizon_h: float) -> Table:
    t = Table(title=f"early warning: events within {horizon_h:g} h", title_justify="left")
    for col, just in (
        ("event", "left"),
        ("probability", "right"),
        ("95% CI", "right"),
        ("expected time (h)", "right"),
        ("95% CI (h)", "right"),
    ):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for r in table.itertuples():
        t.add_row(
            safe(r.event),
            f"{r.probability:.0%}",
            f"{r.probability_low:.0%} … {r.probability_high:.0%}",
            _fmt(r.expected_time_h),
            "–" if math.isnan(r.time_low_h) else f"{r.time_low_h:.2f} … {r.time_high_h:.2f}",
        )
    return t


def check_out(path: Path | None) -> None:
    """Refuse an output file name before a long run, not after it."""
    from twinforge.sim.errors import SimulationError

    if path is not None and path.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise SimulationError(f"--out {path}: use a .csv or .parquet file name")
    if path is not None and not path.parent.exists():
        raise SimulationError(f"--out {path}: folder {path.parent} does not exist")


def write_table(df: pd.DataFrame, path: Path) -> None:
    from twinforge.sim.errors import SimulationError

    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            df.to_csv(path, index=False)
        elif suffix in (".parquet", ".pq"):
            df.to_parquet(path, index=False)
        else:
            raise SimulationError(f"--out {path}: use a .csv or .parquet file name")
    except OSError as exc:
        raise SimulationError(f"cannot write {path}: {exc.strerror or exc}") from None


def _parse_kpis(items: list[str]) -> dict[str, str]:
    from twinforge.sim.errors import SimulationError

    out = {}
    for item in items:
        name, sep, expr = item.partition("=")
        if not sep or not name.strip() or not expr.strip():
            raise SimulationError(f"--kpi {item!r}: expected NAME=EXPRESSION, e.g. daily=throughput*24")
        out[name.strip()] = expr.strip()
    return out


def read_state(path: Path) -> dict[str, dict[str, Any]]:
    """A state file ``{node: {state: value}}`` (bounded read), its shape and numbers checked."""
    from twinforge.inputs import read_yaml
    from twinforge.sim.errors import SimulationError

    data = read_yaml(path, "state file")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SimulationError(f"state file {path}: expected a mapping {{node: {{state: value}}}}")
    for node, states in data.items():
        if not isinstance(states, dict):
            raise SimulationError(
                f"state file {path}: node {node!r}: expected a mapping {{state: value}}, found {states!r}"[
                    :300
                ]
            )
        for name, value in states.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise SimulationError(
                    f"state file {path}: {node}.{name} must be a finite number, found {value}"
                )
    return data


def print_kpi_notes(console: Console, meta: dict[str, Any], run: str = "") -> None:
    """Why user KPIs have no value (NaN) in some replications: division by zero, overflow, ..."""
    for name, why in meta.get("kpi_notes", {}).items():
        console.print(
            f"[yellow]note:[/yellow] {run}KPI {safe(repr(name))} has no value (NaN): {safe(why)}",
            highlight=False,
        )


def register(app: typer.Typer) -> None:
    from twinforge.cli.main import cli_errors, console

    @app.command()
    @cli_errors
    def simulate(
        twin: Annotated[Path, typer.Argument(help="Twin spec file")],
        scenario: Annotated[
            Path | None, typer.Option("--scenario", "-s", help="Scenario file: compare it with the baseline")
        ] = None,
        reps: Annotated[int, reps_option()] = 10,
        horizon: Annotated[str, horizon_option("Simulated time, e.g. '1 week', '8 h'")] = "1 week",
        warmup: Annotated[
            str, horizon_option("Warm-up discarded from statistics", "--warmup", positive=False)
        ] = "0 s",
        seed: Annotated[int, seed_option()] = 0,
        workers: Annotated[int, workers_option()] = 1,
        backend: Annotated[str, typer.Option("--backend", help="local (process pool) or ray")] = "local",
        kpi: Annotated[
            list[str] | None, typer.Option("--kpi", help="Extra KPI NAME=EXPRESSION (repeatable)")
        ] = None,
        out: Annotated[
            Path | None, typer.Option("--out", "-o", help="Write the tidy KPI table (.csv/.parquet)")
        ] = None,
        show_all: Annotated[bool, typer.Option("--all", help="Show every KPI")] = False,
        progress: Annotated[bool, typer.Option(help="Show a progress bar")] = True,
    ) -> None:
        """Simulate a twin: KPIs with confidence intervals; with --scenario, the paired comparison."""
        import pandas as pd

        from twinforge.scenario import apply_scenario, load_scenario
        from twinforge.sim import compare_scenario, run_replications
        from twinforge.sim.expressions import check_kpi_names
        from twinforge.sim.montecarlo import RESERVED_KPIS
        from twinforge.spec import load_spec

        check_out(out)
        user_kpis = _parse_kpis(kpi or [])
        check_kpi_names(user_kpis, reserved=RESERVED_KPIS)  # before anything is loaded or run
        spec = load_spec(twin)
        show = progress and console.is_terminal
        if scenario is None:
            mc = run_replications(
                spec,
                reps=reps,
                horizon=horizon,
                warmup=warmup,
                seed=seed,
                workers=workers,
                backend=backend,
                kpis=user_kpis,
                progress=show,
            )
            summary = _selected(mc.summary(), show_all, list(user_kpis))
            console.print(
                kpi_table(
                    summary, f"{safe(spec.name)}: {reps} replications of {safe(horizon)} (seed {seed})"
                ),
                highlight=False,
            )
            print_kpi_notes(console, mc.meta)
            console.print(
                f"[dim]{mc.meta['sim_events']:,} events in {mc.meta['wall_s']:.1f} s[/dim]", highlight=False
            )
            table = mc.kpis
        else:
            applied = apply_scenario(spec, load_scenario(scenario), file=str(scenario))
            cmp = compare_scenario(
                spec,
                applied,
                reps=reps,
                horizon=horizon,
                warmup=warmup,
                seed=seed,
                workers=workers,
                backend=backend,
                kpis=user_kpis,
                progress=show,
            )
            for line in applied.descriptions:
                console.print(f"  scenario: {safe(line)}", highlight=False)
            console.print(
                kpi_table(
                    _selected(cmp.baseline.summary(), show_all, list(user_kpis)),
                    f"baseline: {reps} replications of {safe(horizon)} (seed {seed})",
                ),
                highlight=False,
            )
            console.print(
                comparison_table(
                    _selected(cmp.paired, show_all, list(user_kpis)),
                    f"scenario {safe(repr(applied.scenario.name))} vs baseline (paired, common random numbers)",
                ),
                highlight=False,
            )
            print_kpi_notes(console, cmp.baseline.meta, "baseline: ")
            print_kpi_notes(console, cmp.scenario.meta, "scenario: ")
            table = pd.concat(
                [
                    cmp.baseline.kpis.assign(run="baseline"),
                    cmp.scenario.kpis.assign(run=applied.scenario.name),
                ],
                ignore_index=True,
            )
        if out is not None:
            write_table(table, out)
            console.print(f"wrote {len(table):,} rows to {safe(out)}", highlight=False)

    @app.command()
    @cli_errors
    def warn(
        twin: Annotated[Path, typer.Argument(help="Twin spec file")],
        state: Annotated[
            Path | None, typer.Option("--state", help="YAML {node: {state: value}} of the current state")
        ] = None,
        horizon: Annotated[str, horizon_option("Look-ahead, e.g. '8 h'")] = "8 h",
        events: Annotated[
            Path | None, typer.Option("--events", help="YAML list of event definitions (default: the twin's)")
        ] = None,
        reps: Annotated[int, reps_option()] = 200,
        seed: Annotated[int, seed_option()] = 0,
        day_elapsed: Annotated[
            str, horizon_option("Time since the production day began", "--day-elapsed", positive=False)
        ] = "0 s",
        workers: Annotated[int, workers_option()] = 1,
        backend: Annotated[str, typer.Option("--backend")] = "local",
        out: Annotated[
            Path | None, typer.Option("--out", "-o", help="Write the table (.csv/.parquet)")
        ] = None,
    ) -> None:
        """Early warning: probability and expected time of events within a horizon, from a state."""
        from twinforge.inputs import read_yaml
        from twinforge.sim import early_warning
        from twinforge.sim.errors import SimulationError
        from twinforge.spec import load_spec

        check_out(out)
        spec = load_spec(twin)
        start = read_state(state) if state is not None else {}
        evs = None
        if events is not None:
            evs = read_yaml(events, "events file")
            if not isinstance(evs, list):
                raise SimulationError(f"events file {events}: expected a list of event definitions")
        result = early_warning(
            spec,
            start or {},
            horizon=horizon,
            events=evs,
            reps=reps,
            seed=seed,
            day_elapsed=day_elapsed,
            workers=workers,
            backend=backend,
            progress=console.is_terminal,
        )
        console.print(warning_table(result.table, result.horizon / 3600), highlight=False)
        if out is not None:
            write_table(result.table, out)
            console.print(f"wrote {safe(out)}", highlight=False)


# -- demo ----------------------------------------------------------------------------------------


def sim_step(tour: Tour) -> None:
    from twinforge.scenario import Outage, Scenario
    from twinforge.sim import compare_scenario, early_warning

    line = tour.twins.get("bottling_line")
    if line is None:
        from twinforge.spec import load_spec

        line = load_spec(tour.folder / "bottling_line.yaml")
    tour.step(
        "simulation: what if, and what next",
        "Monte Carlo on the bottling line: baseline vs 'filler down for 4 h' over the same random "
        "numbers (paired replications), then an early warning from a given state.",
    )
    scenario = Scenario(
        name="filler-down-4h", interventions=[Outage(target="filler", start="2 h", duration="4 h")]
    )
    cmp = compare_scenario(line, scenario, reps=8, horizon="1 day", seed=7)
    rows = cmp.paired[cmp.paired["kpi"].isin(["throughput", "output", "filler.down", "revenue"])]
    tour.console.print(comparison_table(rows, "filler down 4 h vs baseline, 8 paired days"), highlight=False)
    out = cmp.row("output")
    tour.say(
        f"  lost output: {-out['difference']:.0f} cases/day (95% CI {-out['ci_high']:.0f}–{-out['ci_low']:.0f}); "
        f"pairing cut the variance of the estimate {out['variance_reduction']:.1f}×"
    )
    state = {
        "buf_rinse": {"level": 18},
        "filler": {"status": 0, "repair_remaining": "20 min", "temperature": 24},
    }
    tour.say(f"  state now: {state}")
    ew = early_warning(line, state, horizon="4 h", reps=40, seed=7)
    tour.console.print(warning_table(ew.table, 4.0), highlight=False)
