"""Rich renderings shared by CLI commands and the demo, and :func:`safe` for user text in them."""

from __future__ import annotations

import re
from collections import Counter

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from twinforge.errors import Issue
from twinforge.spec.models import Parameter, TwinSpec

#: Characters never written raw to a terminal from user data: C0 and C1 controls (ESC starts the
#: escape sequences that move the cursor, recolour or retitle a terminal), DEL, the bidirectional
#: embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069) and marks (U+200E, U+200F,
#: U+061C) that reorder what is shown, and the Unicode line and paragraph separators.
CONTROL_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _visible(ch: str) -> str:
    code = ord(ch)
    return _NAMED.get(ch) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def escape_controls(text: str, keep_newlines: bool = False) -> str:
    """``text`` with every control or bidi character written as a visible escape (``\\x1b``, ``\\u202e``)."""
    if keep_newlines:
        return "\n".join(escape_controls(line) for line in text.split("\n"))
    return CONTROL_CHARS.sub(lambda m: _visible(m.group()), text)


def safe(value: object, keep_newlines: bool = False) -> str:
    """User text (twin and node names, ids, descriptions, messages quoting them) made safe for a
    rich console: control and bidi characters escaped visibly, and rich markup (``[red]``) escaped
    so it is shown as typed. Use it wherever user data is put into a string rich will render."""
    return escape(escape_controls(str(value), keep_newlines))


def param_text(p: Parameter) -> str:
    """A parameter as text, escaped for a rich console (units and product names are user text)."""
    unit = f" {p.unit}" if p.unit else ""
    if p.distribution is not None:
        return safe(p.distribution.describe() + unit)
    if p.by_product:
        body = ", ".join(f"{k} {v:g}" for k, v in p.by_product.items())
        return safe(f"{{{body}}}{unit}")
    return safe(f"{p.value:g}{unit}")


def twin_tree(spec: TwinSpec) -> Tree:
    root = Tree(
        f"[bold]{safe(spec.name)}[/bold]"
        + (f"  [dim]products: {safe(', '.join(spec.products))}[/dim]" if spec.products else "")
    )
    by_kind: dict[str, list] = {}
    for n in spec.nodes:
        by_kind.setdefault(n.kind, []).append(n)
    nodes = root.add(f"nodes ({len(spec.nodes)})")
    for kind, members in by_kind.items():
        branch = nodes.add(f"[cyan]{safe(kind)}[/cyan] ({len(members)})")
        for n in members:
            label = f"[bold]{safe(n.id)}[/bold]" + (f" [dim]{safe(n.name)}[/dim]" if n.name else "")
            if n.tags:
                label += f" [magenta]#{safe(' #'.join(n.tags))}[/magenta]"
            if n.observes:
                label += f" observes [green]{safe(n.observes)}[/green]"
            leaf = branch.add(label)
            for pname, p in n.parameters.items():
                leaf.add(f"{safe(pname)} = {param_text(p)}")
            for s in n.signals:
                leaf.add(
                    f"[yellow]signal[/yellow] {safe(s.name)} ({safe(s.unit or 'state unit')}, every {s.period_s:g} s)"
                )
    edges = root.add(f"edges ({len(spec.edges)})")
    for e in spec.edges:
        extra = ", ".join(f"{safe(k)}={param_text(p)}" for k, p in e.parameters.items())
        edges.add(
            f"{safe(e.source)} → {safe(e.target)} [dim]{safe(e.kind)}[/dim]" + (f"  {extra}" if extra else "")
        )
    return root


def twin_summary(spec: TwinSpec) -> Table:
    t = Table(title=f"{safe(spec.name)}: summary", show_lines=False)
    t.add_column("kind")
    t.add_column("nodes", justify="right")
    t.add_column("parameters set", justify="right")
    t.add_column("signals", justify="right")
    kinds = Counter(n.kind for n in spec.nodes)
    for kind, count in kinds.items():
        members = [n for n in spec.nodes if n.kind == kind]
        t.add_row(
            safe(kind),
            str(count),
            str(sum(len(n.parameters) for n in members)),
            str(sum(len(n.signals) for n in members)),
        )
    ek = Counter(e.kind for e in spec.edges)
    t.add_section()
    for kind, count in ek.items():
        t.add_row(f"edge: {safe(kind)}", str(count), "", "")
    return t


def print_issues(console: Console, issues: list[Issue]) -> None:
    for i in issues:
        style = "red" if i.severity == "error" else "yellow"
        console.print(f"[{style}]{safe(i.render())}[/{style}]", highlight=False, soft_wrap=True)
