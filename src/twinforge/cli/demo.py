"""``twinforge demo``: the guided tour of the main job, one step per capability, real output.

Each capability adds a step: a function ``step(tour)`` appended to :data:`STEPS`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from twinforge.cli.render import twin_summary
from twinforge.examples import EXAMPLES, examples_dir
from twinforge.spec import TwinSpec, diff_specs, load_spec, twin_json_schema


@dataclass
class Tour:
    """State shared by the demo steps: the console, the example twins, and step numbering."""

    console: Console
    folder: Path
    twins: dict[str, TwinSpec] = field(default_factory=dict)
    shared: dict[str, Any] = field(default_factory=dict)  # results one step hands to a later one
    number: int = 0

    def step(self, title: str, text: str) -> None:
        self.number += 1
        self.console.print()
        self.console.print(Panel(text, title=f"[bold]step {self.number}: {title}[/bold]", expand=False))

    def say(self, text: str) -> None:
        self.console.print(text, highlight=False)


def spec_step(tour: Tour) -> None:
    tour.step(
        "the universal twin model",
        "Three twins from three industries, one typed language: validated on load.",
    )
    for name, file in EXAMPLES.items():
        spec = load_spec(tour.folder / file)
        tour.twins[name] = spec
        tour.say(
            f"  ✓ {file}: {spec.name!r}, {len(spec.nodes)} nodes, {len(spec.edges)} edges, "
            f"{sum(len(n.signals) for n in spec.nodes)} signals"
        )
    tour.console.print(twin_summary(tour.twins["bottling_line"]))


def graph_step(tour: Tour) -> None:
    line = tour.twins["bottling_line"]
    tour.step("graph queries", "Upstream of the filler, the material path, and the filler's sensors.")
    g = line.graph()
    tour.say(f"  upstream of filler:   {', '.join(g.upstream('filler'))}")
    tour.say(f"  downstream of filler: {', '.join(g.downstream('filler'))}")
    path = g.paths("pallets_in", "warehouse_dock", edge_kinds="material")[0]
    tour.say(f"  material path:        {' → '.join(path)}")
    sensors = [n.id for n in g.filter(kind="sensor") if n.observes and n.observes.startswith("filler.")]
    tour.say(f"  sensors on filler:    {', '.join(sensors)}")
    slow = g.filter(kind="station", param="process_time", predicate=lambda s: s >= 30)
    tour.say(f"  stations ≥ 30 s:      {', '.join(n.id for n in slow)}")


def units_step(tour: Tour) -> None:
    line = tour.twins["bottling_line"]
    tour.step(
        "typed parameters with units",
        "Set the filler's process time in minutes: twinforge converts, keeps the distribution's shape, "
        "checks the physical bounds, and diffs the change.",
    )
    changed = line.copy_deep()
    before = line.get("filler", "process_time")
    changed.set("filler", "process_time", "0.6 min")
    tour.say(
        f"  filler.process_time: {before:g} s → {changed.get('filler', 'process_time'):g} s "
        f"({changed.get('filler', 'process_time', unit='min'):g} min)"
    )
    tour.say("  " + diff_specs(line, changed).render())
    from twinforge.errors import SpecError

    try:
        changed.set("filler", "process_time", "-5 s")
    except SpecError as exc:  # the twin refuses an unphysical value
        tour.say(f"  refused -5 s: {exc.issues[0].message} (expected {exc.issues[0].expected})")


def schema_step(tour: Tour) -> None:
    tour.step("JSON Schema", "The same types, exported for editors, other tools and LLM decoders.")
    schema = twin_json_schema()
    table = Table("kind", "parameters it may carry")
    for kind in ("station", "buffer", "supplier", "pump"):
        props = schema["$defs"][f"{kind}Node"]["properties"]["parameters"]["properties"]
        table.add_row(kind, ", ".join(props))
    tour.console.print(table)


#: The tour, in order. Steps of other capabilities live in their CLI modules and are named
#: "module:function" so that importing this module stays cheap and free of import cycles.
STEPS: list[Callable[[Tour], None] | str] = [
    spec_step,
    graph_step,
    units_step,
    schema_step,
    "twinforge.cli.sim:sim_step",
    "twinforge.cli.optimize_flow:flow_step",
    "twinforge.cli.optimize:optimize_step",
    "twinforge.cli.data:data_step",
    "twinforge.cli.analytics:detect_step",
    "twinforge.cli.llm:llm_step",
    "twinforge.cli.copilot:ask_step",
]


def _resolve(step: Callable[[Tour], None] | str) -> Callable[[Tour], None]:
    if callable(step):
        return step
    module, _, name = step.partition(":")
    return getattr(importlib.import_module(module), name)


def run_demo(console: Console, folder: Path | None = None) -> None:
    tour = Tour(console=console, folder=folder or examples_dir())
    console.print("[bold]twinforge[/bold] — a guided tour on the bundled example twins")
    for step in STEPS:
        _resolve(step)(tour)
    console.print()
    console.print(
        '[bold]Next:[/bold] twinforge ask examples/supply_chain.yaml "Why do we use supplier S1?" · '
        "twinforge simulate examples/bottling_line.yaml --reps 20 · twinforge --help",
        highlight=False,
    )
