"""``twinforge guard``: judge a control proposal against the twin before it is deployed."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table


def register(app: typer.Typer) -> None:
    from twinforge.cli.main import cli_errors, console
    from twinforge.cli.render import safe

    @app.command()
    @cli_errors
    def guard(
        proposal_file: Annotated[
            Path, typer.Argument(metavar="PROPOSAL", help="Proposal file (docs/guard.md)")
        ],
        twin_file: Annotated[Path, typer.Option("--twin", help="Twin spec file")],
        reps: Annotated[int, typer.Option(min=1, max=100, help="Replications of each scenario")] = 3,
        seed: Annotated[int, typer.Option(min=0, max=2**32 - 1, help="Random seed")] = 0,
        trace: Annotated[
            Path | None, typer.Option(help="Write the trace of the deciding run to this CSV file")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
    ) -> None:
        """Accept or reject setpoint changes or a controller, with the evidence.

        Static checks of the code, the proposal against the twin, then closed-loop simulation in
        nominal and stress scenarios in a sandboxed process, checked against the twin's bounds and
        your limits. Exit code 0 when accepted, 1 when rejected, 2 on bad input.
        """
        from twinforge.control import judge, load_proposal
        from twinforge.spec import load_spec

        twin = load_spec(twin_file)
        proposal = load_proposal(proposal_file)
        v = judge(twin, proposal, reps=reps, seed=seed)
        if trace is not None and v.trace:
            _write_trace(trace, v.trace)
        if as_json:
            typer.echo(json.dumps(v.as_dict(), indent=2))
        else:
            colour = "green" if v.accepted else "red"
            console.print(
                f"[bold {colour}]{v.verdict.upper()}[/bold {colour}] {safe(proposal.name)} on {safe(twin.name)} "
                f"({v.runs} runs, {v.seconds:.1f} s)"
            )
            for r in v.reasons:
                console.print(f"  {safe(r)}", highlight=False)
            if v.scenarios:
                table = Table(title="runs with a violation", title_justify="left")
                for col in ("scenario", "proposal", "current control"):
                    table.add_column(col, justify="left" if col == "scenario" else "right")
                for s in v.scenarios:
                    n = s["replications"]
                    table.add_row(
                        s["scenario"], f"{s['proposal_violations']}/{n}", f"{s['current_violations']}/{n}"
                    )
                console.print(table)
            if v.kpis:
                table = Table(title="nominal KPIs (mean)", title_justify="left")
                for col in ("KPI", "proposal", "current control"):
                    table.add_column(col, justify="left" if col == "KPI" else "right")
                for k in v.kpis:
                    table.add_row(safe(k["kpi"]), f"{k['proposal']:,.4g}", f"{k['current']:,.4g}")
                console.print(table)
            if trace is not None and v.trace:
                console.print(f"trace written to {trace}")
        raise typer.Exit(0 if v.accepted else 1)


def _write_trace(path: Path, trace: dict) -> None:
    names = list(trace["signals"])
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["t_h", *names])
        for i, t in enumerate(trace["t_h"]):
            w.writerow([t, *(trace["signals"][n][i] for n in names)])
