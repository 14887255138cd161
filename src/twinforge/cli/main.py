"""The ``twinforge`` command line: a thin shell over the library."""

from __future__ import annotations

import json
import sys
from functools import wraps
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from twinforge.cli.render import print_issues, safe, twin_summary, twin_tree
from twinforge.errors import SpecError, TwinforgeError
from twinforge.spec import diff_specs, kind_json_schema, load_spec, twin_json_schema

app = typer.Typer(
    name="twinforge",
    help="Digital twins paired with generative AI.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)


def cli_errors(fn):
    """Print twinforge errors without a traceback and exit with code 2."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SpecError as exc:
            err_console.print(f"[red bold]{safe(exc.args[0].splitlines()[0])}[/red bold]", highlight=False)
            print_issues(err_console, exc.issues)
            raise typer.Exit(2) from None
        except TwinforgeError as exc:
            err_console.print(f"[red bold]error:[/red bold] {safe(exc, keep_newlines=True)}", highlight=False)
            raise typer.Exit(2) from None

    return wrapper


@app.command()
@cli_errors
def validate(
    files: Annotated[list[Path], typer.Argument(help="Twin spec files (YAML or JSON)")],
    strict: Annotated[bool, typer.Option(help="Treat warnings as errors")] = False,
) -> None:
    """Check twin specs; report every problem with file, line and field path."""
    failed = 0
    for f in files:
        try:
            spec = load_spec(f)
        except SpecError as exc:
            failed += 1
            err_console.print(f"[red]✗ {safe(f)}[/red]: {len(exc.errors)} error(s)", highlight=False)
            print_issues(err_console, exc.issues)
            continue
        from twinforge.spec.validate import validate_spec

        warnings = [i for i in validate_spec(spec) if i.severity == "warning"]
        for w in warnings:
            object.__setattr__(w, "file", str(f))
        if warnings:
            print_issues(err_console, warnings)
        if strict and warnings:
            failed += 1
            err_console.print(f"[red]✗ {safe(f)}[/red]: {len(warnings)} warning(s) (strict)", highlight=False)
            continue
        console.print(
            f"[green]✓ {safe(f)}[/green]: twin {safe(repr(spec.name))}, {len(spec.nodes)} nodes, "
            f"{len(spec.edges)} edges" + (f", {len(warnings)} warning(s)" if warnings else ""),
            highlight=False,
        )
    if failed:
        raise typer.Exit(2)


@app.command()
@cli_errors
def show(file: Annotated[Path, typer.Argument(help="Twin spec file")]) -> None:
    """Show a twin as a tree and a summary table."""
    spec = load_spec(file)
    console.print(twin_tree(spec))
    console.print(twin_summary(spec))


@app.command()
@cli_errors
def schema(
    kind: Annotated[
        str | None, typer.Option("--kind", "-k", help="One node or edge kind, with units and limits")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write to a file instead of stdout")] = None,
) -> None:
    """Print the JSON Schema of twin specs (or of one kind)."""
    data = kind_json_schema(kind) if kind else twin_json_schema()
    text = json.dumps(data, indent=2)
    if out:
        out.write_text(text + "\n", encoding="utf-8")
        console.print(f"wrote {safe(out)}", highlight=False)
    else:
        sys.stdout.write(text + "\n")


@app.command()
@cli_errors
def diff(
    before: Annotated[Path, typer.Argument(help="Original twin")],
    after: Annotated[Path, typer.Argument(help="Changed twin")],
) -> None:
    """Show what changed between two twins (parameters compared after unit conversion)."""
    d = diff_specs(load_spec(before), load_spec(after))
    console.print(safe(d.render(), keep_newlines=True), highlight=False)


@app.command()
@cli_errors
def demo(
    example_dir: Annotated[Path | None, typer.Option(help="Folder with the example twins")] = None,
) -> None:
    """Guided tour of twinforge on the bundled example twins, with real output."""
    from twinforge.cli.demo import run_demo

    run_demo(console, example_dir)


# -- command groups of each capability ------------------------------------------------------
# Each capability keeps its commands in its own module with a `register(app)` function.
# (add `from twinforge.cli import <area>` and `<area>.register(app)` below)
from twinforge.cli import analytics as _analytics  # noqa: E402
from twinforge.cli import build as _build_cli  # noqa: E402
from twinforge.cli import calibrate as _calibrate  # noqa: E402
from twinforge.cli import copilot as _copilot  # noqa: E402
from twinforge.cli import data as _data  # noqa: E402
from twinforge.cli import guard as _guard  # noqa: E402
from twinforge.cli import interop as _interop  # noqa: E402
from twinforge.cli import llm as _llm_cli  # noqa: E402
from twinforge.cli import maintenance as _maintenance  # noqa: E402
from twinforge.cli import optimize, optimize_flow  # noqa: E402
from twinforge.cli import serve as _serve  # noqa: E402
from twinforge.cli import sim as _sim  # noqa: E402
from twinforge.cli import synthetic as _synthetic  # noqa: E402
from twinforge.cli import topology as _topology  # noqa: E402

for _group in (
    _sim,
    optimize_flow,
    optimize,
    _data,
    _analytics,
    _llm_cli,
    _copilot,
    _serve,
    _guard,
    _topology,
    _maintenance,
    _interop,
    _calibrate,
    _synthetic,
    _build_cli,
):
    _group.register(app)


def main() -> None:  # pragma: no cover - entry point
    app()
