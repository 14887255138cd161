"""Rich renderings shared by CLI commands and the demo."""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from twinforge.errors import Issue
from twinforge.spec.models import Parameter, TwinSpec


def param_text(p: Parameter) -> str:
    unit = f" {p.unit}" if p.unit else ""
    if p.distribution is not None:
        return p.distribution.describe() + unit
    if p.by_product:
        body = ", ".join(f"{k} {v:g}" for k, v in p.by_product.items())
        return f"{{{body}}}{unit}"
    return f"{p.value:g}{unit}"


def twin_tree(spec: TwinSpec) -> Tree:
    root = Tree(
        f"[bold]{spec.name}[/bold]"
        + (f"  [dim]products: {', '.join(spec.products)}[/dim]" if spec.products else "")
    )
    by_kind: dict[str, list] = {}
    for n in spec.nodes:
        by_kind.setdefault(n.kind, []).append(n)
    nodes = root.add(f"nodes ({len(spec.nodes)})")
    for kind, members in by_kind.items():
        branch = nodes.add(f"[cyan]{kind}[/cyan] ({len(members)})")
        for n in members:
            label = f"[bold]{n.id}[/bold]" + (f" [dim]{n.name}[/dim]" if n.name else "")
            if n.tags:
                label += f" [magenta]#{' #'.join(n.tags)}[/magenta]"
            if n.observes:
                label += f" observes [green]{n.observes}[/green]"
            leaf = branch.add(label)
            for pname, p in n.parameters.items():
                leaf.add(f"{pname} = {param_text(p)}")
            for s in n.signals:
                leaf.add(
                    f"[yellow]signal[/yellow] {s.name} ({s.unit or 'state unit'}, every {s.period_s:g} s)"
                )
    edges = root.add(f"edges ({len(spec.edges)})")
    for e in spec.edges:
        extra = ", ".join(f"{k}={param_text(p)}" for k, p in e.parameters.items())
        edges.add(f"{e.source} → {e.target} [dim]{e.kind}[/dim]" + (f"  {extra}" if extra else ""))
    return root


def twin_summary(spec: TwinSpec) -> Table:
    t = Table(title=f"{spec.name}: summary", show_lines=False)
    t.add_column("kind")
    t.add_column("nodes", justify="right")
    t.add_column("parameters set", justify="right")
    t.add_column("signals", justify="right")
    kinds = Counter(n.kind for n in spec.nodes)
    for kind, count in kinds.items():
        members = [n for n in spec.nodes if n.kind == kind]
        t.add_row(
            kind,
            str(count),
            str(sum(len(n.parameters) for n in members)),
            str(sum(len(n.signals) for n in members)),
        )
    ek = Counter(e.kind for e in spec.edges)
    t.add_section()
    for kind, count in ek.items():
        t.add_row(f"edge: {kind}", str(count), "", "")
    return t


def print_issues(console: Console, issues: list[Issue]) -> None:
    for i in issues:
        style = "red" if i.severity == "error" else "yellow"
        console.print(f"[{style}]{i.render()}[/{style}]", highlight=False, soft_wrap=True)
