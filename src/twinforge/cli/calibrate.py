"""CLI of calibration: ``twinforge calibrate TWIN --events FILE | --telemetry FILE | --store S``.

Prints every estimate (old -> new with units, standard error, 95 % interval, goodness of fit),
writes the diff for review (``--out diff.yaml``) or the calibrated twin (``--apply twin.yaml``);
``--diff diff.yaml`` applies a reviewed diff instead of calibrating.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from twinforge.cli.render import safe

if TYPE_CHECKING:
    from twinforge.calibration import CalibrationResult


def _num(x: float | None, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{x:.{digits}g}"


def estimate_lines(result: CalibrationResult) -> list[str]:
    """Two lines per estimate (rich markup): the change old -> new, then its uncertainty and fit."""
    out = []
    for e in result.estimates:
        lo, hi = e.ci95
        g = e.gof
        if "ks_stat" in g:
            fit = f"{g['family']} by AIC {_num(g['aic'], 7)}: KS {_num(g['ks_stat'], 3)} (p {_num(g['ks_p'], 2)})"
            if g.get("censored"):
                fit += f", {g['censored']} censored"
        elif "r2" in g:
            fit = f"R² {_num(g.get('r2'), 4)}, residual RMSE {_num(g.get('rmse'), 3)}"
        else:
            fit = e.method
        out.append(f"[bold]{safe(f'{e.node}.{e.parameter}')}[/bold]  {safe(e.old or '–')} -> {safe(e.new)}")
        out.append(
            f"    mean {_num(e.mean, 6)} ± {_num(e.mean_se, 2)} {safe(e.unit)} "
            f"(95% CI {_num(lo, 6)} … {_num(hi, 6)}), n={e.n}; {safe(fit)}"
        )
    return out


def register(app: typer.Typer) -> None:
    from twinforge.cli.main import cli_errors

    @app.command("calibrate")
    @cli_errors
    def calibrate_cmd(
        twin: Annotated[Path, typer.Argument(help="Twin spec file")],
        events: Annotated[
            Path | None, typer.Option("--events", help="Station event log CSV (node, event, t[, reason])")
        ] = None,
        telemetry: Annotated[
            Path | None, typer.Option("--telemetry", help="Telemetry CSV (node, signal, t, value)")
        ] = None,
        store: Annotated[
            str | None,
            typer.Option("--store", help="DuckDB store: its station events and the twin's telemetry"),
        ] = None,
        node: Annotated[list[str] | None, typer.Option("--node", help="Only this node (repeatable)")] = None,
        out: Annotated[Path | None, typer.Option("--out", help="Write the diff (YAML) for review")] = None,
        apply: Annotated[
            Path | None, typer.Option("--apply", help="Write the calibrated twin to this file")
        ] = None,
        diff: Annotated[
            Path | None, typer.Option("--diff", help="Apply this reviewed diff instead of calibrating")
        ] = None,
    ) -> None:
        """Fit the twin's parameters to stored data: station process, failure and repair times
        from an event log (maximum likelihood, family by AIC, KS test), pump curves and tank
        demand from telemetry (least squares, R², RMSE), each with its standard error."""
        import pandas as pd

        from twinforge.calibration import (
            CalibrationError,
            apply_diff,
            calibrate,
            calibrate_store,
            read_diff,
            read_event_log,
        )
        from twinforge.cli.main import console
        from twinforge.spec import diff_specs, dump_spec, load_spec

        spec = load_spec(twin)
        if diff is not None:
            if apply is None:
                raise CalibrationError("--diff needs --apply FILE: where to write the calibrated twin")
            new = apply_diff(spec, read_diff(diff), str(diff))
            dump_spec(new, apply)
            console.print(
                safe(diff_specs(spec, new).render(), keep_newlines=True), highlight=False, soft_wrap=True
            )
            console.print(f"calibrated twin written to {safe(str(apply))}")
            return
        sources = [s for s in (events, telemetry) if s is not None]
        if store is not None and sources:
            raise CalibrationError("give --store, or --events/--telemetry files, not both")
        if store is None and not sources:
            raise CalibrationError(
                "nothing to calibrate from: give --events FILE, --telemetry FILE or --store S"
            )
        if store is not None:
            from twinforge.data import open_store

            with open_store(store) as st:
                result = calibrate_store(st, spec, node or None)
        else:
            log = read_event_log(events, spec) if events is not None else None
            frame = None
            if telemetry is not None:
                if not telemetry.exists():
                    raise CalibrationError(f"{telemetry}: no such telemetry file")
                try:
                    frame = pd.read_csv(telemetry)
                except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
                    raise CalibrationError(f"{telemetry}: not a readable CSV ({exc})") from None
            result = calibrate(spec, events=log, telemetry=frame, nodes=node or None)
        console.print(f"[bold]calibration of {safe(spec.name)}[/bold]: {len(result.estimates)} parameter(s)")
        for line in estimate_lines(result):
            console.print(line, highlight=False, soft_wrap=True)
        for note in result.notes:
            console.print(f"[yellow]note:[/yellow] {safe(note)}")
        if out is not None:
            result.write(out)
            console.print(f"diff written to {safe(str(out))}")
        if apply is not None:
            dump_spec(result.calibrated(), apply)
            console.print(f"calibrated twin written to {safe(str(apply))}")
