"""A change in plain language on an existing twin, as a spec diff to accept.

What a change may say (rules, in this order):
- add a copy in parallel: "add a second filler in parallel", "add another capper";
- insert an element: "add a buffer of 40 between the filler and the capper";
- remove an element: "remove the labeller" (its predecessors then feed its successors);
- connect: "connect the rinser to the capper", "the rinser feeds the capper";
- set values: "the buffer after the capper holds 50", "the filler takes 30 s per bottle".
Elements are found by id, name or kind word; "the K after (before) the Y" is the K downstream
(upstream) of Y. The new twin is validated; nothing is written until the diff is accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from twinforge.build.connect import links_in_sentence
from twinforge.build.kinds import Mention, find_mentions, resolve_kind, slug
from twinforge.build.result import BuildError
from twinforge.build.values import TYPICAL, close, read_numbers
from twinforge.errors import SpecError
from twinforge.spec.catalog import CATALOG
from twinforge.spec.diff import SpecDiff, diff_specs
from twinforge.spec.models import Edge, Node, Parameter, TwinSpec
from twinforge.spec.validate import check_param_value, validate_spec_or_raise

_PARALLEL = re.compile(
    r"\b(add|put|install|buy)\b.*\b(second|another|extra|additional|parallel|duplicate)\b", re.I
)
_ADD = re.compile(r"\b(add|insert|put|install|place)\b", re.I)
_REMOVE = re.compile(r"\b(remove|delete|drop|take out|scrap|decommission)\b", re.I)
_HAS_RELATIVE = re.compile(
    r"\b(after|behind|downstream of|following|before|upstream of|in front of)\s+the\b", re.I
)
_RELATIVE = re.compile(
    r"^\s*(after|behind|downstream of|following|before|upstream of|in front of)\s+(the\s+)?$", re.I
)


@dataclass
class Refinement:
    before: TwinSpec
    after: TwinSpec
    diff: SpecDiff
    notes: list[str] = field(default_factory=list)


def _match(twin: TwinSpec, m: Mention) -> list[str]:
    """Node ids a mention may name."""
    want = {slug(m.name), slug(m.word), m.key}
    exact = [n.id for n in twin.nodes if n.id.lower() in want or (n.name and slug(n.name) in want)]
    if exact:
        return exact
    kind = m.kinds[0]
    word = slug(m.word)
    by_word = [
        n.id for n in twin.nodes if word in n.id.lower().split("_") or (n.name and word in slug(n.name))
    ]
    same_kind = [i for i in by_word if twin.node(i).kind == kind]
    if same_kind or by_word:
        return same_kind or by_word
    return [n.id for n in twin.nodes if n.kind == kind]


def _resolve(twin: TwinSpec, change: str, ms: list[Mention]) -> list[str | None]:
    g = twin.graph()
    out: list[str | None] = []
    for idx, m in enumerate(ms):
        found = _match(twin, m)
        if idx + 1 < len(ms):
            gap = change[m.end : ms[idx + 1].start]
            rel = _RELATIVE.match(gap)
            anchor = _match(twin, ms[idx + 1])
            if rel and len(anchor) == 1:
                down = rel.group(1).lower() in ("after", "behind", "downstream of", "following")
                near = g.downstream(anchor[0]) if down else g.upstream(anchor[0])
                near_list = list(near)
                cands = [n for n in near_list if twin.node(n).kind == m.kinds[0]]
                if cands:
                    found = [cands[0]]
        out.append(found[0] if len(found) == 1 else None)
    return out


def refine_twin(twin: TwinSpec, change: str) -> Refinement:
    """The twin with ``change`` applied, and the diff from ``twin``. Raises :class:`BuildError`
    naming what could not be understood or would make the twin invalid."""
    if not change.strip():
        raise BuildError("the change is empty: say what to add, remove, connect or set")
    new = twin.copy_deep()
    notes: list[str] = []
    ms = [m for m in find_mentions(change) if not m.pronoun]
    if not ms:
        raise BuildError(
            f"the change {change!r} names no element of twin {twin.name!r} and no kind of the catalogue "
            f"(its nodes: {', '.join(twin.node_ids()[:12])})"
        )
    ids = _resolve(new, change, ms)
    first = ms[0]
    if _PARALLEL.search(change) and ids[0] is not None and len(ms) <= 2:
        _parallel(new, ids[0], notes)
    elif (_ADD.search(change) and ids[0] is None) or (
        _ADD.search(change) and re.search(r"\bbetween\b", change)
    ):
        kind, _ = resolve_kind(
            first, {"line": 1} if any(n.kind == "station" for n in new.nodes) else {}, change, None
        )
        ends = [i for i in ids[1:] if i is not None]
        nid = _unique(new, slug(first.name))
        node = Node(id=nid, kind=kind, name=None)
        new.nodes.append(node)
        if re.search(r"\bbetween\b", change) and len(ends) >= 2:
            a, b = ends[0], ends[1]
            if not any(e.source == a and e.target == b for e in new.edges) and any(
                e.source == b and e.target == a for e in new.edges
            ):
                a, b = b, a
            new.edges = [e for e in new.edges if not (e.source == a and e.target == b)]
            new.edges.append(Edge(source=a, target=nid))
            new.edges.append(Edge(source=nid, target=b))
            notes.append(f"inserted {kind} {nid!r} between {a!r} and {b!r}")
        elif ends:
            new.edges.append(Edge(source=ends[0], target=nid))
            notes.append(f"added {kind} {nid!r} after {ends[0]!r}")
        else:
            notes.append(f"added {kind} {nid!r} (not connected: the change names no neighbour)")
        ids[0] = nid
        _values(new, change, ms, ids, notes, fresh=nid)
    elif _REMOVE.search(change) and ids[0] is not None:
        _remove(new, ids[0], notes)
    else:
        pairs = [(m, i) for m, i in zip(ms, ids, strict=True) if i is not None]
        links = (
            links_in_sentence(change, pairs, 0)
            if len(pairs) >= 2 and not _HAS_RELATIVE.search(change)
            else []
        )
        if re.search(r"\bconnect\b", change, re.I) and len(pairs) >= 2:
            links = links or []
            if not links:
                from twinforge.build.connect import Link

                links = [Link(pairs[0][1], pairs[1][1], "text")]
        for lk in links:
            if not any(e.source == lk.source and e.target == lk.target for e in new.edges):
                new.edges.append(Edge(source=lk.source, target=lk.target))
                notes.append(f"connected {lk.source!r} -> {lk.target!r}")
        _values(new, change, ms, ids, notes)
    for i, m in zip(ids, ms, strict=True):
        if i is None and not any(n.id == slug(m.name) for n in new.nodes) and not notes:
            raise BuildError(
                f"{m.name!r} in the change is not a node of twin {twin.name!r}; its nodes: {', '.join(twin.node_ids()[:12])}"
            )
    if not notes:
        raise BuildError(f"nothing in the change {change!r} could be applied to twin {twin.name!r}")
    _fill_required(new, notes)
    try:
        validate_spec_or_raise(new)
    except SpecError as exc:
        raise BuildError(
            f"the change {change!r} would make the twin invalid", [i.render() for i in exc.errors]
        ) from None
    return Refinement(twin, new, diff_specs(twin, new), notes)


def _unique(twin: TwinSpec, base: str) -> str:
    nid, n = base, 2
    while twin.has_node(nid):
        nid, n = f"{base}_{n}", n + 1
    return nid


def _parallel(twin: TwinSpec, nid: str, notes: list[str]) -> None:
    node = twin.node(nid)
    copy = node.model_copy(deep=True)
    copy.id = _unique(twin, nid)
    if copy.name:
        copy.name = f"{copy.name} 2"
    twin.nodes.append(copy)
    for e in list(twin.edges):
        if e.kind != "material":
            continue
        if e.target == nid:
            twin.edges.append(Edge(source=e.source, target=copy.id, parameters=e.parameters))
        if e.source == nid:
            twin.edges.append(Edge(source=copy.id, target=e.target, parameters=e.parameters))
    notes.append(f"added {copy.id!r}, a copy of {nid!r} in parallel (same inputs and outputs)")


def _remove(twin: TwinSpec, nid: str, notes: list[str]) -> None:
    preds = [e.source for e in twin.edges if e.target == nid and e.kind == "material"]
    succs = [e.target for e in twin.edges if e.source == nid and e.kind == "material"]
    gone = [n.id for n in twin.nodes if (n.observes or "").startswith(nid + ".")]
    twin.nodes = [n for n in twin.nodes if n.id != nid and n.id not in gone]
    if gone:
        notes.append(f"removed the sensor(s) on it: {', '.join(gone)}")
    keep = set(twin.node_ids())
    twin.edges = [e for e in twin.edges if e.source in keep and e.target in keep]
    for a in preds:
        for b in succs:
            if a in keep and b in keep and not twin.edges_between(a, b):
                twin.edges.append(Edge(source=a, target=b))
    notes.append(
        f"removed {nid!r}" + (f"; {', '.join(preds)} now feed {', '.join(succs)}" if preds and succs else "")
    )


def _values(
    twin: TwinSpec,
    change: str,
    ms: list[Mention],
    ids: list[str | None],
    notes: list[str],
    fresh: str | None = None,
) -> None:
    owners = [(m.start, m.end, i, twin.node(i).kind) for m, i in zip(ms, ids, strict=True) if i is not None]
    # a relative reference ("the buffer after the capper") owns the numbers, not its anchor
    if len(owners) >= 2 and _RELATIVE.match(change[ms[0].end : ms[1].start] if len(ms) > 1 else ""):
        owners = owners[:1]
    if fresh:
        owners = [o for o in owners if o[2] == fresh]
    for r in read_numbers(change, 0, owners, {}, twin.currency):
        el = twin.node(r.owner) if isinstance(r.owner, str) else None
        if el is None:
            continue
        pdef = el.param_def(r.parameter)
        unit = r.unit or (pdef.unit_for(twin.currency) if pdef else "")
        old = el.parameters.get(r.parameter)
        try:
            check_param_value(twin, el, r.parameter, r.value, unit or None)
        except SpecError as exc:
            raise BuildError(f"{el.id}.{r.parameter} = {r.value:g} {unit}: {exc.errors[0].message}") from None
        if (
            old is not None
            and old.nominal is not None
            and old.unit == (unit or None)
            and close(old.nominal, r.value, 1e-9)
        ):
            continue
        if old is None:
            el.parameters[r.parameter] = Parameter(value=r.value, unit=unit or None)
        else:
            twin.set(el.id, r.parameter, r.value, unit or None)  # keeps a distribution's shape
        notes.append(f"set {el.id}.{r.parameter} to {r.value:g} {unit}".rstrip())


def _fill_required(twin: TwinSpec, notes: list[str]) -> None:
    for n in twin.nodes:
        kd = CATALOG.get(n.kind)
        if kd is None:
            continue
        for pname, pdef in kd.params.items():
            if pdef.required and pname not in n.parameters:
                if pdef.default is not None:
                    value, unit = pdef.default, pdef.unit_for(twin.currency)
                elif (n.kind, pname) in TYPICAL:
                    value, unit = TYPICAL[(n.kind, pname)]
                else:
                    continue
                n.parameters[pname] = Parameter(value=value, unit=unit or None)
                notes.append(
                    f"assumed {n.id}.{pname} = {value:g} {unit} (typical value; the change gives none)"
                )
