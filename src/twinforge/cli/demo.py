"""``twinforge demo``: the guided tour of the main job, one step per capability, real output."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from twinforge.cli.render import twin_summary
from twinforge.examples import EXAMPLES, examples_dir
from twinforge.spec import diff_specs, load_spec, twin_json_schema


def _step(console: Console, number: int, title: str, text: str) -> None:
    console.print()
    console.print(Panel(text, title=f"[bold]step {number}: {title}[/bold]", expand=False))


def run_demo(console: Console, folder: Path | None = None) -> None:
    folder = folder or examples_dir()
    console.print("[bold]twinforge[/bold] — a guided tour on the bundled example twins")

    _step(
        console,
        1,
        "the universal twin model",
        "Three twins from three industries, one typed language: validated on load.",
    )
    twins = {}
    for name, file in EXAMPLES.items():
        spec = load_spec(folder / file)
        twins[name] = spec
        console.print(
            f"  ✓ {file}: {spec.name!r}, {len(spec.nodes)} nodes, {len(spec.edges)} edges, "
            f"{sum(len(n.signals) for n in spec.nodes)} signals",
            highlight=False,
        )
    line = twins["bottling_line"]
    console.print(twin_summary(line))

    _step(console, 2, "graph queries", "Upstream of the filler, the material path, and the filler's sensors.")
    g = line.graph()
    console.print(f"  upstream of filler:   {', '.join(g.upstream('filler'))}", highlight=False)
    console.print(f"  downstream of filler: {', '.join(g.downstream('filler'))}", highlight=False)
    path = g.paths("pallets_in", "warehouse_dock", edge_kinds="material")[0]
    console.print(f"  material path:        {' → '.join(path)}", highlight=False)
    sensors = [n.id for n in g.filter(kind="sensor") if n.observes and n.observes.startswith("filler.")]
    console.print(f"  sensors on filler:    {', '.join(sensors)}", highlight=False)
    slow = g.filter(kind="station", param="process_time", predicate=lambda s: s >= 30)
    console.print(f"  stations ≥ 30 s:      {', '.join(n.id for n in slow)}", highlight=False)

    _step(
        console,
        3,
        "typed parameters with units",
        "Set the filler's process time in minutes; twinforge converts, keeps the distribution's shape, "
        "checks the physical bounds, and diffs the change.",
    )
    changed = line.copy_deep()
    before = line.get("filler", "process_time")
    changed.set("filler", "process_time", "0.6 min")
    console.print(
        f"  filler.process_time: {before:g} s → {changed.get('filler', 'process_time'):g} s "
        f"({changed.get('filler', 'process_time', unit='min'):g} min)",
        highlight=False,
    )
    console.print("  " + diff_specs(line, changed).render(), highlight=False)
    try:
        changed.set("filler", "process_time", "-5 s")
    except Exception as exc:  # the twin refuses an unphysical value
        console.print(f"  refused: {str(exc).splitlines()[1].strip()}", highlight=False)

    _step(console, 4, "JSON Schema", "The same types, exported for editors, other tools and LLM decoders.")
    schema = twin_json_schema()
    table = Table("kind", "parameters it may carry")
    for kind in ("station", "buffer", "supplier", "pump"):
        props = schema["$defs"][f"{kind}Node"]["properties"]["parameters"]["properties"]
        table.add_row(kind, ", ".join(props))
    console.print(table)
    console.print()
    console.print(
        "[bold]Next:[/bold] twinforge validate examples/*.yaml · twinforge show examples/bottling_line.yaml"
    )
