"""``twinforge logs``: maintenance-log intelligence (ingest, search, failure modes, trends).

A thin face over :mod:`twinforge.maintenance.logs`: commands parse, call and render.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from twinforge.cli.render import safe

StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="DuckDB store file (default $TWINFORGE_STORE or .twinforge/twinforge.duckdb)",
    ),
]
TwinNameOpt = Annotated[str | None, typer.Option("--twin-name", help="Only this twin's work orders")]


def _today(value: str | None) -> datetime | None:
    from twinforge.maintenance import MaintenanceError
    from twinforge.maintenance.records import parse_date

    if value is None:
        return None
    day = parse_date(value)
    if day is None:
        raise MaintenanceError(f"--today {value!r} is not a date; expected e.g. 2012-12-31")
    return day


def register(app: typer.Typer) -> None:
    from twinforge.cli.main import cli_errors, console

    logs_app = typer.Typer(
        help="Maintenance logs: ingest, search, failure modes, trends.", no_args_is_help=True
    )
    app.add_typer(logs_app, name="logs")

    @logs_app.command("ingest")
    @cli_errors
    def ingest_cmd(
        file: Annotated[Path, typer.Argument(help="Work orders: CSV with a header, or one per line")],
        twin: Annotated[
            Path | None, typer.Option("--twin", help="Twin spec: link work orders to its nodes")
        ] = None,
        store: StoreOpt = None,
        embed: Annotated[bool, typer.Option(help="Embed for search and cluster failure modes")] = True,
        llm_fill: Annotated[
            bool, typer.Option(help="Ask the local LLM for fields the rules leave empty (slow)")
        ] = False,
    ) -> None:
        """Read work orders, link them to the twin, extract part/problem/action, classify, store."""
        from twinforge.data import open_store
        from twinforge.maintenance import ingest
        from twinforge.spec import load_spec

        spec = load_spec(twin) if twin is not None else None
        with open_store(store) as st:
            report = ingest(file, st, spec=spec, embed=embed, llm_fill=llm_fill)
        console.print(
            f"{safe(file)}: {report.read} work orders read, {report.stored} stored in {safe(st.path)} "
            f"(twin {safe(report.twin)})",
            highlight=False,
        )
        if report.linked is not None:
            console.print(f"linked to twin nodes: {report.linked} of {report.read}", highlight=False)
        if report.flagged:
            flags = ", ".join(f"{k} {v}" for k, v in sorted(report.flagged.items()))
            console.print(f"[yellow]flagged (kept): {flags}[/yellow]", highlight=False)
        classes = ", ".join(f"{k} {v}" for k, v in sorted(report.classes.items(), key=lambda kv: -kv[1]))
        console.print(f"failure-mode classes: {classes}", highlight=False)
        if embed:
            console.print(
                f"embedded {report.embedded}; recurring failure modes: {report.modes}", highlight=False
            )
        if llm_fill:
            console.print(f"LLM calls: {report.llm_calls}", highlight=False)

    @logs_app.command("search")
    @cli_errors
    def search_cmd(
        query: Annotated[str, typer.Argument(help='What to find, e.g. "pump seal leaks last winter"')],
        store: StoreOpt = None,
        twin_name: TwinNameOpt = None,
        asset: Annotated[str | None, typer.Option(help="Only this asset (or linked node)")] = None,
        k: Annotated[int, typer.Option("-k", min=1, max=1000, help="Results to show")] = 10,
        today: Annotated[
            str | None,
            typer.Option(help="Date relative phrases count from (default: the latest work order)"),
        ] = None,
        south: Annotated[bool, typer.Option(help="Seasons of the southern hemisphere")] = False,
    ) -> None:
        """Semantic search; a date phrase in the query ("last winter", "in 2008") filters by time."""
        from twinforge.data import open_store
        from twinforge.maintenance import search

        with open_store(store, read_only=True) as st:
            result = search(
                st, query, twin=twin_name, asset=asset, k=k, today=_today(today),
                hemisphere="south" if south else "north",
            )  # fmt: skip
        if result.when is not None:
            span = (
                f"{result.when.start:%Y-%m-%d}" if result.when.start else "…",
                f"{result.when.end:%Y-%m-%d}" if result.when.end else "…",
            )
            rel = f", counted from {result.today:%Y-%m-%d}" if result.today else ""
            console.print(
                f"time filter {safe(repr(result.when.phrase))}: {span[0]} to {span[1]} (end excluded{rel}); "
                f"query {safe(repr(result.text_query))}",
                highlight=False,
            )
        table = Table(title=f"{len(result.hits)} of {result.searched} work orders")
        for col in ("score", "date", "asset", "text"):
            table.add_column(col)
        for h in result.hits:
            table.add_row(
                f"{h.score:.3f}", f"{h.date:%Y-%m-%d}" if h.date else "?", safe(h.asset or "?"), safe(h.text)
            )
        console.print(table)

    @logs_app.command("modes")
    @cli_errors
    def modes_cmd(
        store: StoreOpt = None,
        twin_name: TwinNameOpt = None,
        top: Annotated[int, typer.Option(min=1, help="Modes to show")] = 20,
    ) -> None:
        """Recurring failure modes (clusters of similar failures), largest first."""
        from twinforge.data import open_store
        from twinforge.maintenance import FAILURE_MODES, failure_modes

        with open_store(store, read_only=True) as st:
            modes = failure_modes(st, twin_name)
        if modes.empty:
            console.print("no recurring failure modes (ingest with embedding on, or too few failures)")
            return
        table = Table(title=f"{len(modes)} recurring failure modes")
        for col in ("twin", "mode", "label", "size", "ISO 14224", "terms"):
            table.add_column(col)
        for row in modes.head(top).itertuples():
            table.add_row(
                safe(row.twin), str(row.mode), safe(row.label), str(row.size),
                f"{row.fmc} {FAILURE_MODES.get(row.fmc, '')}", safe(row.terms),
            )  # fmt: skip
        console.print(table)

    @logs_app.command("trends")
    @cli_errors
    def trends_cmd(
        asset: Annotated[str, typer.Argument(help="Asset name (as in the logs) or linked node id")],
        store: StoreOpt = None,
        twin_name: TwinNameOpt = None,
        last: Annotated[int, typer.Option(min=1, help="Months to show (the latest)")] = 24,
    ) -> None:
        """Work orders per month per ISO 14224 failure-mode class for one asset."""
        from twinforge.data import open_store
        from twinforge.maintenance import trends

        with open_store(store, read_only=True) as st:
            table_frame, undated = trends(st, asset, twin_name)
        if not table_frame.empty:
            shown = table_frame.tail(last)
            shown = shown.loc[:, shown.sum() > 0]
            table = Table(
                title=f"asset {safe(asset)}: work orders per month ({len(shown)} of {len(table_frame)})"
            )
            table.add_column("month")
            for col in shown.columns:
                table.add_column(str(col), justify="right")
            table.add_column("total", justify="right")
            for month, row in shown.iterrows():
                table.add_row(str(month), *(str(int(v)) if v else "." for v in row), str(int(row.sum())))
            console.print(table)
        if undated:
            console.print(f"[yellow]{undated} work orders of {safe(asset)} have no readable date[/yellow]")
