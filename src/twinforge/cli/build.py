"""CLI of building twins from plain language.

``twinforge build DESCRIPTION.txt|.csv|- [--out twin.yaml] [--json]`` prints (or writes) the twin,
its assumptions, gaps, decisions and the smoke run; ``twinforge refine TWIN "change" [--accept
--out FILE]`` prints the diff a change makes and writes the new twin only when accepted.
Exit codes: 0 built, 1 built with gaps (a valid partial twin), 2 nothing valid built.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from twinforge.cli.render import safe


def register(app: typer.Typer) -> None:
    from twinforge.cli.main import cli_errors

    @app.command("build")
    @cli_errors
    def build_cmd(
        description: Annotated[
            str, typer.Argument(help="Description file (.txt, .md or .csv), or - for stdin")
        ],
        out: Annotated[
            Path | None, typer.Option("--out", help="Write the twin (YAML or JSON by extension)")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False,
        name: Annotated[str | None, typer.Option("--name", help="Twin name (default: the file name)")] = None,
        no_model: Annotated[
            bool,
            typer.Option("--no-model", help="Never ask the local model (first reading of ambiguous words)"),
        ] = False,
    ) -> None:
        """Build a valid twin from a plain-language description; values the text does not give
        come from the catalogue and are listed as assumptions; the twin is smoke-run."""
        from twinforge.build import BuildError, build_twin
        from twinforge.cli.main import console
        from twinforge.inputs import read_text
        from twinforge.spec import dump_spec, dumps_spec

        if description == "-":
            text, fmt, twin_name = sys.stdin.read(), None, name or "built-twin"
        else:
            path = Path(description)
            if not path.is_file():
                raise BuildError(f"{description}: no such description file")
            text = read_text(path, "description")
            fmt = "csv" if path.suffix.lower() in (".csv", ".tsv") else None
            twin_name = name or path.stem.replace("_", "-")

        def llm():
            from twinforge.ai import get_llm

            return get_llm()

        result = build_twin(text, fmt=fmt, name=twin_name, source=description, llm=None if no_model else llm)
        if out is not None:
            dump_spec(result.twin, out)
        if as_json:
            print(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
        else:
            if out is None:
                console.print(
                    safe(dumps_spec(result.twin), keep_newlines=True), highlight=False, soft_wrap=True
                )
            console.print(
                f"[bold]twin {safe(result.twin.name)}[/bold]: {len(result.twin.nodes)} nodes, "
                f"{len(result.twin.edges)} edges" + (f", written to {safe(str(out))}" if out else ""),
                highlight=False,
            )
            for a in result.assumptions:
                console.print(f"[cyan]assumed[/cyan] {safe(a.render())}", highlight=False)
            for d in result.decisions:
                console.print(
                    f"[cyan]decided[/cyan] {safe(d.what)}: {safe(d.chosen)} of {safe(', '.join(d.options))} by {safe(d.how)}",
                    highlight=False,
                )
            for w in result.warnings:
                console.print(f"[yellow]note[/yellow] {safe(w)}", highlight=False)
            for g in result.gaps:
                console.print(f"[red]gap[/red] {safe(g)}", highlight=False)
            if result.smoke is not None:
                mark = "[green]ok[/green]" if result.smoke.ok else "[red]failed[/red]"
                console.print(
                    f"smoke {safe(result.smoke.engine)} {mark}: {safe(result.smoke.summary)}", highlight=False
                )
        if not result.complete:
            raise typer.Exit(1)

    @app.command("refine")
    @cli_errors
    def refine_cmd(
        twin: Annotated[Path, typer.Argument(help="Twin spec file")],
        change: Annotated[
            str, typer.Argument(help='The change in plain language, e.g. "add a second filler in parallel"')
        ],
        accept: Annotated[bool, typer.Option("--accept", help="Write the changed twin")] = False,
        out: Annotated[
            Path | None, typer.Option("--out", help="Where to write it (default: the twin file)")
        ] = None,
    ) -> None:
        """Show the spec diff a plain-language change makes; write it with --accept."""
        from twinforge.build.refine import refine_twin
        from twinforge.cli.main import console
        from twinforge.spec import dump_spec, load_spec

        spec = load_spec(twin)
        result = refine_twin(spec, change)
        for note in result.notes:
            console.print(f"[cyan]{safe(note)}[/cyan]", highlight=False)
        console.print(safe(result.diff.render(), keep_newlines=True), highlight=False, soft_wrap=True)
        if accept:
            target = out or twin
            dump_spec(result.after, target)
            console.print(f"accepted: twin written to {safe(str(target))}")
        else:
            console.print("not written (add --accept to write it)")
