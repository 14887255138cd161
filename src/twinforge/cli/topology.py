"""``twinforge topology``: propose a twin's edges from sensor data; accept them into a twin file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from twinforge.cli.bounds import number_in


def register(app: typer.Typer) -> None:
    from twinforge.cli.main import cli_errors, console
    from twinforge.cli.render import safe

    @app.command()
    @cli_errors
    def topology(
        data_file: Annotated[
            Path,
            typer.Argument(metavar="DATA.csv", help="Wide table: a time column and one column per signal"),
        ],
        twin_file: Annotated[
            Path | None, typer.Option("--twin", help="Twin spec whose nodes the signals belong to")
        ] = None,
        min_confidence: Annotated[
            float,
            typer.Option(
                help="Propose edges at or above this confidence (0..1)", callback=number_in(0.0, 1.0)
            ),
        ] = 0.5,
        max_lag: Annotated[int, typer.Option(min=1, max=1000, help="Longest lag tried, in samples")] = 12,
        names: Annotated[
            bool, typer.Option("--names/--no-names", help="Use signal-name similarity (local MiniLM)")
        ] = True,
        accept: Annotated[
            bool, typer.Option("--accept", help="Write the proposed edges into a twin")
        ] = False,
        out: Annotated[Path | None, typer.Option("--out", "-o", help="Twin file written by --accept")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
    ) -> None:
        """Learn which nodes connect, in which direction and how surely, from sensor series.

        Lagged cross-correlation (the lag gives the direction), a conditional test that prunes
        indirect links, and name/unit similarity, combined into a calibrated confidence
        (docs/topology.md). With --accept --out, the proposed edges are added to the twin (or to a
        new twin with one node per signal) and validated; the diff is printed.
        """
        from twinforge.spec import dump_spec, load_spec
        from twinforge.topology import (
            TopologyInputError,
            accept_edges,
            infer_topology,
            read_signals,
            twin_from_signals,
        )

        if accept and out is None:
            raise TopologyInputError("--accept needs --out FILE (the twin file to write)")
        twin = load_spec(twin_file) if twin_file else None
        data = read_signals(data_file, twin)
        proposal = infer_topology(data, twin=twin, max_lag=max_lag, use_names=names)
        edges = proposal.proposed(min_confidence)
        diff_text = None
        if accept:
            base = twin if twin is not None else twin_from_signals(data, name=data_file.stem)
            new, diff = accept_edges(base, edges)
            dump_spec(new, out)  # type: ignore[arg-type]
            diff_text = diff.render()
        if as_json:
            payload = {
                "signals": [{"column": i.column, "node": i.node, "unit": i.unit} for i in data.infos],
                "period_s": data.period_s,
                "edges": [e.as_dict() for e in edges],
                "written": str(out) if accept else None,
            }
            typer.echo(json.dumps(payload, indent=2))
            return
        console.print(
            f"{len(data.infos)} signals on {len(data.nodes)} nodes, {data.values.shape[0]} rows"
            + (f", period {data.period_s:g} s" if data.period_s else ""),
            highlight=False,
        )
        table = Table(title=f"proposed edges (confidence >= {min_confidence:g})", title_justify="left")
        for col in ("source", "target", "conf", "P(link)", "P(dir)", "lag", "peak r", "partial r"):
            if col in ("source", "target"):
                table.add_column(col, overflow="fold")
            else:
                table.add_column(col, justify="right", no_wrap=True)
        for e in edges:
            lag = f"{e.lag_s:g} s" if e.lag_s is not None else f"{e.lag_samples}"
            table.add_row(
                safe(e.source),
                safe(e.target),
                f"{e.confidence:.2f}",
                f"{e.link_probability:.2f}",
                f"{e.direction_probability:.2f}",
                lag,
                f"{e.evidence['peak_correlation']:+.2f}",
                f"{e.evidence['partial_correlation']:.2f}",
            )
        console.print(table)
        if not edges:
            console.print("no edge reaches the confidence threshold", highlight=False)
        if diff_text is not None:
            console.print(safe(diff_text, keep_newlines=True), highlight=False)
            console.print(f"wrote {safe(out)}", highlight=False)
