"""``twinforge ask`` and ``twinforge suggest``: plain-language questions answered by the twin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from twinforge.cli.bounds import horizon_option, reps_option
from twinforge.cli.main import cli_errors, console
from twinforge.cli.render import safe


def _asker(twin_file: Path, examples: list[Path] | None, reps: int, horizon: str, state: Path | None):
    from twinforge.cli.sim import read_state
    from twinforge.copilot import TwinAsker
    from twinforge.plan.schema import engine_of
    from twinforge.spec import load_spec

    twin = load_spec(twin_file)
    live = read_state(state) if state is not None else None
    options = {"reps": reps, "horizon": horizon} if engine_of(twin) == "simulate" else {}
    return TwinAsker(twin, example_files=examples, state=live, engine_options=options)


def register(app: typer.Typer) -> None:
    @app.command()
    @cli_errors
    def ask(
        twin_file: Annotated[Path, typer.Argument(metavar="TWIN", help="Twin spec file")],
        question: Annotated[str, typer.Argument(help="The question, in plain language")],
        examples: Annotated[
            list[Path] | None, typer.Option("--examples", help="Extra few-shot example file(s)")
        ] = None,
        narrative: Annotated[
            bool, typer.Option(help="Add an LLM narrative (kept only if its numbers check out)")
        ] = False,
        reps: Annotated[int, reps_option("Replications (simulated twins)", ("--reps",))] = 10,
        horizon: Annotated[str, horizon_option("Simulated time per replication")] = "1 day",
        state: Annotated[
            Path | None, typer.Option(help="YAML {node: {state: value}} for status questions")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
    ) -> None:
        """Ask the twin a what-if, why, compare or status question.

        Exit code 0 when answered, 1 when declined (no number is given, the reason is), 2 on errors.
        """
        asker = _asker(twin_file, examples, reps, horizon, state)
        result = asker.ask(question, narrative=narrative)
        if as_json:
            typer.echo(json.dumps(result.as_dict(), indent=2, default=str))
        else:
            style = {"answered": "green", "declined": "yellow"}[result.status]
            console.print(f"[bold {style}]{result.status}[/bold {style}]", highlight=False)
            console.print(safe(result.render(), keep_newlines=True), highlight=False)
            if result.narrative:
                console.print(
                    f"\n[italic]{safe(result.narrative, keep_newlines=True)}[/italic]", highlight=False
                )
            how = (
                "read by the twin"
                if result.chosen_by == "reading"
                else f"chosen by the model ({result.chosen_by})"
            )
            console.print(
                f"[dim]mapped in {result.mapping_s:.2f} s ({how}), twin ran in {result.run_s:.2f} s; "
                f"plan: {safe(json.dumps(result.plan))}[/dim]",
                highlight=False,
            )
        if result.status != "answered":
            raise typer.Exit(1)

    @app.command()
    @cli_errors
    def suggest(
        twin_file: Annotated[Path, typer.Argument(metavar="TWIN", help="Twin spec file")],
        n: Annotated[int, typer.Option("--n", min=1, max=100, help="How many proposals")] = 5,
        reps: Annotated[int, reps_option("Replications (simulated twins)", ("--reps",))] = 10,
        horizon: Annotated[str, horizon_option("Simulated time per replication")] = "1 day",
    ) -> None:
        """Let the model propose scenarios worth testing; each is validated and run, ranked by impact."""
        from twinforge.copilot.answer import fmt, fmt_signed
        from twinforge.copilot.suggest import suggest as propose

        asker = _asker(twin_file, None, reps, horizon, None)
        proposals = propose(asker, n=n)
        table = Table(
            "#",
            "proposal",
            safe(asker.engine.kpi),
            "change",
            title=f"scenarios worth testing on {safe(asker.twin.name)}",
        )
        for i, s in enumerate(proposals, 1):
            o = s.outcome
            if o.feasible:
                change = f"{fmt_signed(o.delta)} ({fmt_signed(o.delta_pct or 0)}%)"
                value = f"{fmt(o.baseline)} → {fmt(o.scenario)} {safe(o.unit)}"
            else:
                change, value = "infeasible", "no plan"
            table.add_row(str(i), safe("; ".join(s.interventions)), value, change)
        console.print(table)


def ask_step(tour) -> None:  # type: ignore[no-untyped-def]
    """Demo: three questions to two twins, answered by the twin, one of them declined."""
    from twinforge.copilot import TwinAsker

    tour.step(
        "ask the twin",
        "Plain-language questions read by the twin itself: names, numbers and their roles become plans "
        "it checks; the local model (SmolLM2-135M) only chooses between readings that tie; every "
        "number comes from the twin's run, and what it cannot answer is declined with the reason.",
    )
    chain = TwinAsker(tour.twins["supply_chain"])
    line = TwinAsker(tour.twins["bottling_line"], engine_options={"reps": 5, "horizon": "1 day"})
    pumps = TwinAsker(tour.twins["pump_station"], engine_options={"reps": 3, "horizon": "2 h"})
    for asker, question in (
        (chain, "What if the North plant is down for 6 hours?"),
        (line, "What if the filler ran 20% faster?"),
        (chain, "Alpen Ingredients only sells to Plant South and Plant South only buys from them. Effect?"),
        (chain, "What is Dresden's daily demand?"),
        (pumps, "What if the tank was at 0.05 m3?"),
        (chain, "What if supplier S9 goes bankrupt?"),
        (chain, "What if demand at Berlin falls by 150%?"),
    ):
        result = asker.ask(question)
        tour.say(f"  [bold]Q:[/bold] {question}")
        for line_text in result.render().splitlines()[:6]:
            tour.say(f"     {line_text}")
        how = (
            "read by the twin"
            if result.chosen_by == "reading"
            else "chosen by the local model among the twin's readings"
        )
        tour.say(f"     [dim]({result.status}; {how}; mapped in {result.mapping_s:.2f} s)[/dim]")
