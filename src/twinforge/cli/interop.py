"""CLI of interop: ``twinforge import`` (EPANET ``.inp``, DTDL ``.json``) and ``twinforge export``
(DTDL, AAS, EPANET)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from twinforge.errors import Issue, SpecError

IMPORT_FORMATS = {".inp": "EPANET network", ".json": "DTDL export (Azure Digital Twins Explorer format)"}
EXPORT_FORMATS = ("dtdl", "aas", "inp")


def _unknown(what: str, found: str, expected: str, file: Path) -> SpecError:
    return SpecError(
        [Issue(f"unknown {what} {found!r}", file=str(file), code="unknown-format", expected=expected)],
        summary=f"cannot use {file}",
    )


def register(app: typer.Typer) -> None:
    from twinforge.cli.main import cli_errors, console
    from twinforge.cli.render import safe

    @app.command("import")
    @cli_errors
    def import_(
        file: Annotated[Path, typer.Argument(metavar="FILE", help="EPANET .inp or DTDL .json file")],
        out: Annotated[Path, typer.Option("--out", "-o", help="Twin spec to write (.yaml or .json)")],
        check: Annotated[
            bool,
            typer.Option(
                help="EPANET: simulate the original and the network written back from the twin and "
                "compare tank levels and pump flows"
            ),
        ] = False,
    ) -> None:
        """Bring a model in: an EPANET network or a DTDL export becomes a validated twin."""
        from twinforge.spec import dump_spec

        suffix = file.suffix.lower()
        if suffix not in IMPORT_FORMATS:
            raise _unknown(
                "input format",
                suffix or file.name,
                ", ".join(f"{k} ({v})" for k, v in IMPORT_FORMATS.items()),
                file,
            )
        if out.suffix.lower() not in (".yaml", ".yml", ".json"):
            raise _unknown("output format", out.suffix or out.name, ".yaml, .yml or .json", out)
        if suffix == ".inp":
            from twinforge.interop.epanet import compare_hydraulics, import_inp

            result = import_inp(file)
            twin = result.twin
            console.print(safe(result.report.render(), keep_newlines=True), highlight=False)
        else:
            from twinforge.interop.dtdl import load_dtdl

            twin = load_dtdl(file)
        dump_spec(twin, out)
        console.print(
            f"wrote {safe(out)}: twin {safe(repr(twin.name))}, {len(twin.nodes)} nodes, {len(twin.edges)} edges",
            highlight=False,
        )
        if check and suffix == ".inp":
            c = compare_hydraulics(file, twin)
            verdict = "[green]match[/green]" if c.within() else "[red]differ[/red]"
            console.print(
                f"EPANET check over {c.steps} steps: tank levels max error {c.tank_level_max_error:.2g} m "
                f"(largest swing {c.tank_level_range:.3g} m), pump flows max error "
                f"{c.pump_flow_max_error:.2g} m^3/h (largest {c.pump_flow_max:.4g} m^3/h); wntr's own "
                f"CMH write/read round trip: {c.baseline_level_error:.2g} m, {c.baseline_flow_error:.2g} "
                f"m^3/h: {verdict}",
                highlight=False,
            )
            if not c.within():
                raise typer.Exit(1)

    @app.command("export")
    @cli_errors
    def export(
        twin_file: Annotated[Path, typer.Argument(metavar="TWIN", help="Twin spec file")],
        to: Annotated[str, typer.Option("--to", help="dtdl, aas or inp (twins imported from EPANET)")],
        out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write into")],
    ) -> None:
        """Take a twin out: DTDL v3 interfaces and instances, AAS v3 JSON, or back to EPANET."""
        from twinforge.spec import load_spec

        fmt = to.strip().lower()
        if fmt not in EXPORT_FORMATS:
            raise _unknown("export format", to, ", ".join(EXPORT_FORMATS), twin_file)
        twin = load_spec(twin_file)
        if fmt == "dtdl":
            from twinforge.interop.dtdl import write_dtdl

            files = write_dtdl(twin, out)
            console.print(
                f"wrote {safe(files[0])} and {len(files) - 1} interface(s) in {safe(out / 'models')}",
                highlight=False,
            )
        elif fmt == "aas":
            from twinforge.interop.aas import validate_environment, write_aas

            path = write_aas(twin, out)
            import json

            env = json.loads(path.read_text(encoding="utf-8"))
            _, how = validate_environment(env)
            console.print(
                f"wrote {safe(path)}: {len(env['assetAdministrationShells'])} shell(s), "
                f"{len(env['submodels'])} submodel(s); checked by {how}",
                highlight=False,
            )
        else:
            import re

            from twinforge.interop.epanet import twin_to_inp

            text = twin_to_inp(twin)
            out.mkdir(parents=True, exist_ok=True)
            path = out / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', twin.name) or 'twin'}.inp"
            path.write_text(text, encoding="utf-8")
            console.print(f"wrote {safe(path)} (EPANET, CMH units)", highlight=False)
