"""``twinforge synth``: labelled synthetic telemetry of a twin, with a fault from the library."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    from twinforge.cli.main import cli_errors, console
    from twinforge.cli.render import safe

    @app.command()
    @cli_errors
    def synth(
        twin_file: Annotated[Path, typer.Argument(metavar="TWIN", help="Twin spec file")],
        fault: Annotated[
            str,
            typer.Option(
                help="Fault: valve_closure, leak, cavitation, imbalance, sensor_drift, sensor_stuck, "
                "sensor_bias, or none for normal operation"
            ),
        ] = "none",
        node: Annotated[str | None, typer.Option(help="Node the fault happens at")] = None,
        signal: Annotated[
            str | None, typer.Option(help="Sensor faults: the sensor's signal (default: its first)")
        ] = None,
        severity: Annotated[float, typer.Option(min=0.0, max=1.0, help="0 < severity <= 1")] = 0.6,
        onset: Annotated[float, typer.Option(min=0.0, help="Fault start, seconds from the start")] = 600.0,
        ramp: Annotated[float, typer.Option(min=0.0, help="Seconds to reach full severity")] = 60.0,
        duration: Annotated[
            float, typer.Option(min=1.0, max=7 * 86400.0, help="Run length, seconds")
        ] = 1200.0,
        seed: Annotated[int, typer.Option(min=0, max=2**32 - 1, help="Random seed")] = 0,
        out: Annotated[
            Path | None,
            typer.Option(help="CSV file to write (t, one column per signal, anomaly, fault, fault_node)"),
        ] = None,
        list_faults: Annotated[
            bool, typer.Option("--list", help="List the faults this twin can have, and exit")
        ] = False,
    ) -> None:
        """Write labelled synthetic telemetry from the twin's simulation with a physically modelled fault.

        Example: twinforge synth examples/pump_station.yaml --fault leak --node pump --out leak.csv
        """
        from twinforge.errors import TwinforgeError
        from twinforge.spec import load_spec
        from twinforge.synthetic import applicable_faults, generate, make_fault

        spec = load_spec(twin_file)
        if list_faults:
            for kind, where in applicable_faults(spec):
                console.print(f"{kind:14s} {safe(where)}", highlight=False)
            return
        if out is None:
            raise TwinforgeError("synth: give --out FILE.csv (or --list to see the faults of this twin)")
        spec_fault = None
        if fault != "none":
            if node is None:
                raise TwinforgeError(
                    f"synth: --fault {fault} needs --node (run `twinforge synth {twin_file} --list` "
                    "to see where it can happen)"
                )
            params: dict[str, object] = {"severity": severity, "onset_s": onset, "ramp_s": ramp}
            if signal is not None:
                if not fault.startswith("sensor_"):
                    raise TwinforgeError(f"synth: --signal applies to sensor faults only, not {fault!r}")
                params["signal"] = signal
            spec_fault = make_fault(fault, node, **params)
        run = generate(spec, spec_fault, duration_s=duration, seed=seed)
        path = run.to_csv(out)
        what = f"{spec_fault.name} at {spec_fault.node}" if spec_fault else "normal operation"
        console.print(
            f"wrote {safe(path)}: {len(run.frame)} rows × {run.frame.shape[1]} signals of "
            f"{safe(spec.name)}, {what}; {int(run.anomaly.sum())} rows labelled anomalous",
            highlight=False,
        )
