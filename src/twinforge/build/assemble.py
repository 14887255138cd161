"""Description → twin, step by step against the twin language, validating after each step.

1. items (:mod:`~twinforge.build.describe`) → mentions with kinds and names (:mod:`.kinds`);
2. nodes: one per element, validated (kinds, ids);
3. edges (:mod:`.connect`), validated; repairs only what validation names (a flow into a source or
   out of a sink is turned round, a sensor's link becomes an information edge);
4. parameters (:mod:`.values`): each value checked against its unit and physical bounds on its own,
   a rejected or contradicted value is left out and reported as a gap;
5. values not given: catalogue defaults and typical values, listed as assumptions;
6. the whole twin validated, then smoke-run: one short Monte Carlo replication for a line or a
   liquid system, a min-cost flow plan for a supply network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from twinforge.build.connect import (
    Link,
    drop_bridged,
    fill_by_layer,
    fill_by_order,
    fill_ends,
    links_in_sentence,
    split_names,
)
from twinforge.build.describe import (
    FROM_COLUMNS,
    KIND_COLUMNS,
    NAME_COLUMNS,
    TEXT_COLUMNS,
    TO_COLUMNS,
    Description,
    Item,
    _column,
    read_description,
)
from twinforge.build.kinds import (
    FAMILY,
    KIND_WORDS,
    SENSOR_STATES,
    Chooser,
    Mention,
    family_of,
    find_mentions,
    light,
    model_chooser,
    resolve_kind,
    slug,
    tokens,
)
from twinforge.build.result import Assumption, BuildError, BuildResult, Decision, SmokeRun
from twinforge.build.values import KEY_DEFAULTS, Reading, close, read_numbers, typical
from twinforge.errors import IssueCollector, SpecError, TwinforgeError
from twinforge.spec import units
from twinforge.spec.catalog import CATALOG, EDGE_CATALOG
from twinforge.spec.models import Edge, Node, Parameter, TwinSpec
from twinforge.spec.validate import check_param_value, validate_spec

_ARRIVE = re.compile(r"\b(arriv\w*|released?|come in|comes in|delivered to the line)\b", re.I)
_LEAVE = re.compile(r"\b(leave\w*|shipped|dispatched|exit\w*|finished (goods|cases|items|products))\b", re.I)


@dataclass
class Draft:
    key: str
    kind: str
    name: str
    order: int
    word: str
    modifier: str | None = None
    implicit: bool = False


@dataclass
class _State:
    desc: Description
    drafts: dict[str, Draft] = field(default_factory=dict)
    links: list[Link] = field(default_factory=list)
    readings: list[Reading] = field(default_factory=list)
    result: BuildResult | None = None
    by_item: dict[int, list[tuple[Mention, str]]] = field(default_factory=dict)


def _chooser_of(llm: Any) -> Chooser | None:
    if llm is None:
        return None
    if callable(llm) and not hasattr(llm, "choose"):
        holder: dict[str, Chooser] = {}

        def lazy(word: str, context: str, options: list[str]) -> tuple[str, str]:
            if "c" not in holder:
                holder["c"] = model_chooser(llm())
            return holder["c"](word, context, options)

        return lazy
    return model_chooser(llm)


def build_twin(
    text: str,
    *,
    fmt: str | None = None,
    name: str = "built-twin",
    source: str = "<text>",
    llm: Any = None,
    smoke: bool = True,
    currency: str = "EUR",
) -> BuildResult:
    """Build a valid twin from a description (paragraph, bulleted list, or CSV tables).

    ``llm``: an :class:`twinforge.ai.LLM` (or a function returning one, called only when needed)
    that chooses the kind of a word with several readings when the description does not decide;
    without it the first reading is taken and the decision says so. Raises :class:`BuildError`
    when nothing valid can be built.
    """
    desc = read_description(text, fmt, source)
    st = _State(desc)
    result = BuildResult(TwinSpec(name=name, currency=currency))
    st.result = result
    chooser = _chooser_of(llm)

    mentions = _mentions(st)
    if not any(m for ms in mentions.values() for m in ms):
        if desc.style == "csv" and any(it.cell(FROM_COLUMNS) for it in desc.items):
            raise BuildError(
                f"{source}: no twin could be built: the table connects elements but no row says what "
                "they are; add a table with name and kind columns (e.g. name,kind: S1,supplier)"
            )
        raise BuildError(
            f"{source}: no twin could be built: the description names no equipment, store, site or "
            "instrument of the catalogue (e.g. station, filler, buffer, conveyor, tank, pump, valve, "
            "supplier, plant, warehouse, customer, sensor)"
        )
    families = family_of([m for ms in mentions.values() for m in ms])
    if families.get("line", 0) > families.get("liquid", 0) + families.get("network", 0):
        mentions = _mentions(st, agent_nouns=True)  # "the divider", "a proofer": stations of a line
    _nodes(st, mentions, families, chooser)
    result.steps.append(f"nodes: {len(st.drafts)} element(s)")
    _implicit_ends(st, families)
    _edges(st)
    _values(st, currency)
    twin = _assemble(st, name, currency)
    result.twin = twin
    if smoke:
        result.smoke = smoke_run(twin)
    return result


# -- 1. mentions ------------------------------------------------------------------------------


def _mentions(st: _State, agent_nouns: bool = False) -> dict[int, list[Mention]]:
    out: dict[int, list[Mention]] = {}
    previous: Mention | None = None
    res = st.result
    assert res is not None
    for i, item in enumerate(st.desc.items):
        if item.style == "row":
            if agent_nouns:
                out[i] = [m for m in [_row_mention(item, BuildResult(res.twin))] if m]
                continue
            m = _row_mention(item, res)
            out[i] = [m] if m else []
            continue
        ms = find_mentions(item.text, previous, agent_nouns=agent_nouns)
        out[i] = ms
        if ms:
            previous = ms[-1]
    return out


def _row_mention(item: Item, res: BuildResult) -> Mention | None:
    name = item.cell(NAME_COLUMNS)
    if name is None:
        return None
    kind_cell = item.cell(KIND_COLUMNS) or ""
    kinds: tuple[str, ...] = ()
    word = ""
    for text in (kind_cell, name):
        toks = [light(t.low) for t in tokens(text)]
        for n in (2, 1):
            for j in range(len(toks) - n + 1):
                w = " ".join(toks[j : j + n])
                if w in KIND_WORDS:
                    word = w
                    break
            if word:
                break
        if word:
            break
    if not word:
        res.gaps.append(
            f"line {item.line}: {name!r} has kind {kind_cell!r}, which is not a kind of the catalogue "
            "(station, buffer, conveyor, source, sink, tank, pump, valve, junction, supplier, plant, "
            "warehouse, customer, depot, sensor): left out"
        )
        return None
    from twinforge.build.kinds import _readings

    kinds = _readings(word)
    proper = name.strip()
    return Mention(word, kinds, proper, proper, 0, len(item.text))


# -- 2. nodes ---------------------------------------------------------------------------------


def _nodes(
    st: _State, mentions: dict[int, list[Mention]], families: dict[str, int], chooser: Chooser | None
) -> None:
    res = st.result
    assert res is not None
    decided: dict[str, str] = {}
    order = 0
    for i, ms in mentions.items():
        pairs: list[tuple[Mention, str]] = []
        for m in ms:
            if m.word in decided:
                kind = decided[m.word]
            else:
                kind, decision = resolve_kind(m, families, st.desc.items[i].text, chooser)
                decided[m.word] = kind
                if decision is not None:
                    res.decisions.append(decision)
            if m.plural and not m.modifier:
                same = [d.key for d in st.drafts.values() if d.kind == kind]
                if len(same) >= 2:  # "both plants ship to the DC"
                    pairs += [(m, k) for k in same]
                    continue
            key = _coreference(st, m, kind)
            if key not in st.drafts:
                st.drafts[key] = Draft(key, kind, m.name, order, m.word, m.modifier)
                order += 1
                if m.count and m.count > 1 and kind == "station":
                    st.readings.append(Reading(key, "servers", float(m.count), "", m.name, i, 1.0))
            pairs.append((m, key))
        st.by_item[i] = pairs
    _name_mentions(st)


def _name_mentions(st: _State) -> None:
    """Proper names said again without their kind word ("Berlin needs 120 items per day")."""
    names: dict[str, str] = {}
    for pairs in st.by_item.values():
        for m, k in pairs:
            if m.proper and len(m.proper) >= 2 and not m.pronoun:
                names.setdefault(m.proper, k)
    for i, item in enumerate(st.desc.items):
        if item.style == "row":
            continue
        pairs = list(st.by_item.get(i, []))
        for proper, key in names.items():
            for hit in re.finditer(rf"(?<![\w-]){re.escape(proper)}(?![\w-])", item.text):
                if any(
                    m.start <= hit.start() < m.end or hit.start() <= m.start < hit.end() for m, _ in pairs
                ):
                    continue
                d = st.drafts[key]
                pairs.append((Mention(d.word, (d.kind,), d.name, proper, hit.start(), hit.end()), key))
        st.by_item[i] = sorted(pairs, key=lambda p: p[0].start)


def _coreference(st: _State, m: Mention, kind: str) -> str:
    key = m.key
    if key in st.drafts or m.proper or m.ordinal:
        return key
    named = [d.key for d in st.drafts.values() if d.name.lower() == m.name.lower() and d.kind == kind]
    if named:
        return named[-1]
    same = [d for d in st.drafts.values() if d.word == m.word and d.kind == kind]
    if same and not m.modifier:
        return max(same, key=lambda d: d.order).key
    return key


def _implicit_ends(st: _State, families: dict[str, int]) -> None:
    """A line with stations but no source (sink) gets one where the text says items arrive (leave)."""
    res = st.result
    assert res is not None
    kinds = [d.kind for d in st.drafts.values()]
    if families.get("liquid", 0) > families.get("line", 0):
        # in a liquid system a machine that draws from a tank is a consumer outside the twin
        for key, d in list(st.drafts.items()):
            if FAMILY.get(d.kind) == "line":
                del st.drafts[key]
                res.warnings.append(f"{d.name!r} is not part of the liquid system described; left out")
        for i, pairs in st.by_item.items():
            st.by_item[i] = [(m, k) for m, k in pairs if k in st.drafts]
        return
    if "station" not in kinds or families.get("network"):
        return
    sources = [d.key for d in st.drafts.values() if d.kind == "source"]
    if len(sources) == 1:
        # "boxes arrive every 12 s": the arrivals of the one source
        for i, it in enumerate(st.desc.items):
            hit = _ARRIVE.search(it.text)
            pairs = st.by_item.get(i, [])
            if hit and it.style != "row" and not any(k == sources[0] for _, k in pairs):
                pseudo = Mention(
                    "arrivals", ("source",), st.drafts[sources[0]].name, None, hit.start(), hit.end()
                )
                st.by_item[i] = sorted([*pairs, (pseudo, sources[0])], key=lambda p: p[0].start)
    if "source" not in kinds:
        item = next((i for i, it in enumerate(st.desc.items) if _ARRIVE.search(it.text)), None)
        st.drafts["arrivals"] = Draft("arrivals", "source", "arrivals", -1, "arrivals", implicit=True)
        if item is not None:
            hit = _ARRIVE.search(st.desc.items[item].text)
            assert hit is not None
            pseudo = Mention("arrivals", ("source",), "arrivals", None, hit.start(), hit.end())
            st.by_item[item] = sorted(
                [*st.by_item.get(item, []), (pseudo, "arrivals")], key=lambda p: p[0].start
            )
            res.warnings.append(
                f"added source 'arrivals' where the text says items arrive (line {st.desc.items[item].line})"
            )
        else:
            res.warnings.append(
                "added source 'arrivals': a line needs items to arrive and the text names no source"
            )
    if "sink" not in kinds:
        item = next((i for i, it in enumerate(st.desc.items) if _LEAVE.search(it.text)), None)
        st.drafts["exit"] = Draft("exit", "sink", "exit", 10**6, "exit", implicit=True)
        if item is not None:
            hit = _LEAVE.search(st.desc.items[item].text)
            assert hit is not None
            pseudo = Mention("exit", ("sink",), "exit", None, hit.start(), hit.end())
            st.by_item[item] = sorted([*st.by_item.get(item, []), (pseudo, "exit")], key=lambda p: p[0].start)
        res.warnings.append("added sink 'exit' where finished items leave the line")


# -- 3. edges ---------------------------------------------------------------------------------


def _find_key(st: _State, name: str) -> str | None:
    s = slug(name)
    if s in st.drafts:
        return s
    for d in st.drafts.values():
        if slug(d.name) == s or d.name.lower() == name.strip().lower():
            return d.key
    for d in st.drafts.values():
        if s and (s in slug(d.name).split("_") or slug(d.name).endswith("_" + s)):
            return d.key
    return None


def _edges(st: _State) -> None:
    res = st.result
    assert res is not None
    for i, item in enumerate(st.desc.items):
        if item.style == "row":
            here = st.by_item.get(i, [])
            own = here[0][1] if here else None
            src_cell, dst_cell = item.cell(FROM_COLUMNS), item.cell(TO_COLUMNS)
            if own is not None and dst_cell:
                for nm in split_names(dst_cell):
                    k = _find_key(st, nm)
                    if k is None:
                        res.gaps.append(f"line {item.line}: {own} feeds {nm!r}, which is not in the table")
                    else:
                        st.links.append(Link(own, k, "csv", i))
            elif own is None and src_cell and dst_cell:
                a = [_find_key(st, n) for n in split_names(src_cell)]
                b = [_find_key(st, n) for n in split_names(dst_cell)]
                missing = [
                    n
                    for n, k in zip(split_names(src_cell) + split_names(dst_cell), a + b, strict=False)
                    if k is None
                ]
                for n in missing:
                    res.gaps.append(f"line {item.line}: connection names {n!r}, which is not in the table")
                for x in a:
                    for y in b:
                        if x and y and x != y:
                            st.links.append(Link(x, y, "csv", i))
                            _edge_cells(st, item, (x, y), i)
            continue
        st.links.extend(links_in_sentence(item.text, st.by_item.get(i, []), i))
    kinds = {k: d.kind for k, d in st.drafts.items()}
    order = [d.key for d in sorted(st.drafts.values(), key=lambda d: d.order)]
    # a sensor's link becomes the node it observes, not a flow
    st.links = drop_bridged(st.links)
    extra = fill_by_order(order, kinds, [lk for lk in st.links if lk.how != "sensor"])
    extra += fill_ends(order, kinds, [lk for lk in st.links if lk.how != "sensor"] + extra)
    extra += fill_by_layer(order, kinds, [lk for lk in st.links if lk.how != "sensor"] + extra)
    for lk in extra:
        res.warnings.append(
            f"connected {lk.source} -> {lk.target} "
            + ("in the order written" if lk.how == "order" else "by layer (the text names no link)")
        )
    st.links.extend(extra)


# -- 4. values --------------------------------------------------------------------------------


def _values(st: _State, currency: str) -> None:
    for i, item in enumerate(st.desc.items):
        pairs = st.by_item.get(i, [])
        if item.style == "row":
            if not pairs:
                continue
            key = pairs[0][1]
            kind = st.drafts[key].kind
            text_parts = []
            for col, cell in item.cells.items():
                c = _column(col)
                if not cell or c in NAME_COLUMNS + KIND_COLUMNS + FROM_COLUMNS + TO_COLUMNS:
                    continue
                if c in TEXT_COLUMNS:
                    text_parts.append(cell)
                elif (direct := _direct_value(kind, col, cell, currency)) is not None:
                    st.readings.append(
                        Reading(key, direct[0], direct[1], direct[2], f"{col}: {cell}", i, 5.0)
                    )
                else:
                    name, unit = _header_param(col)
                    text_parts.append(
                        f"{name.replace('_', ' ')} {cell}{(' ' + unit) if unit and not re.search('[A-Za-z]', cell) else ''}"
                    )
            text = "; ".join(text_parts)
            owners = [(0, 0, key, kind)]
            st.readings.extend(read_numbers(text, i, owners, {}, currency))
            continue
        owners = [(m.start, m.end, k, st.drafts[k].kind) for m, k in pairs if k in st.drafts]
        if not owners and i > 0:
            # "repairs take 2 hours" after "the CNC machine breaks down every 40 hours;": the
            # element the sentence before ended with, for numbers whose unit fits it
            prev = [k for _, k in st.by_item.get(i - 1, []) if k in st.drafts]
            if prev:
                owners = [(-1, -1, prev[-1], st.drafts[prev[-1]].kind)]
        edges_after = {
            lk.target: (lk.source, lk.target) for lk in st.links if lk.item == i and lk.how == "text"
        }
        st.readings.extend(read_numbers(item.text, i, owners, edges_after, currency))


def _edge_cells(st: _State, item: Item, edge: tuple[str, str], i: int) -> None:
    """Columns of a connection row that name a lane's parameter ("distance (km)", "cost")."""
    from twinforge.guard.vocabulary import QUANTITY_WORDS

    for col, cell in item.cells.items():
        c = _column(col)
        if not cell or c in NAME_COLUMNS + KIND_COLUMNS + FROM_COLUMNS + TO_COLUMNS + TEXT_COLUMNS:
            continue
        name, unit = _header_param(col)
        try:
            value = float(cell.replace(",", ""))
        except ValueError:
            continue
        spoken = name.replace("_", " ")
        for pname, pdef in EDGE_CATALOG["material"].params.items():
            if pname == name or spoken in QUANTITY_WORDS.get(pname, ()) or spoken == pname.split("_")[0]:
                cat = pdef.unit_for(st.result.twin.currency if st.result else "EUR")
                if unit and not units.compatible(unit, cat):
                    continue
                st.readings.append(Reading(edge, pname, value, unit or cat, f"{col}: {cell}", i, 5.0))
                break


def _direct_value(kind: str, header: str, cell: str, currency: str) -> tuple[str, float, str] | None:
    """A CSV cell under a column that names a parameter of the row's kind: (parameter, value,
    unit); a plain number is in the column's unit, else in the catalogue unit."""
    from twinforge.guard.vocabulary import QUANTITY_WORDS

    name, unit = _header_param(header)
    kd = CATALOG.get(kind)
    if kd is None:
        return None
    try:
        value = float(cell.replace(",", ""))
    except ValueError:
        return None
    spoken = name.replace("_", " ")
    for pname, pdef in kd.params.items():
        if pname == name or spoken in QUANTITY_WORDS.get(pname, ()) or spoken == pname.split("_")[0]:
            cat = pdef.unit_for(currency)
            if unit and not units.compatible(unit, cat):
                continue
            return pname, value, unit or cat
    return None


def _header_param(header: str) -> tuple[str, str]:
    """ "process_time_s" → (process_time, s); "capacity (m3)" → (capacity, m3)."""
    h = header.strip()
    m = re.match(r"^(.*?)\s*[\[(]\s*([^\])]+)\s*[\])]\s*$", h)
    if m:
        return _column(m.group(1)), m.group(2)
    col = _column(h)
    for suffix, unit in (
        ("_s", "s"),
        ("_min", "min"),
        ("_h", "h"),
        ("_m3", "m3"),
        ("_km", "km"),
        ("_kw", "kW"),
    ):
        if col.endswith(suffix):
            return col[: -len(suffix)], unit
    return col, ""


# -- 5. assemble ------------------------------------------------------------------------------


def _ids(st: _State) -> dict[str, str]:
    out: dict[str, str] = {}
    used: set[str] = set()
    for d in sorted(st.drafts.values(), key=lambda d: d.order):
        base = slug(d.name) if d.name else d.key
        nid, n = base, 2
        while nid in used:
            nid, n = f"{base}_{n}", n + 1
        used.add(nid)
        out[d.key] = nid
    return out


def _edge_kind(a: str, b: str) -> str:
    if "sensor" in (a, b):
        return "information"
    if FAMILY.get(a) == "liquid" and FAMILY.get(b) == "liquid":
        return "physical"
    return "material"


def _assemble(st: _State, name: str, currency: str) -> TwinSpec:
    res = st.result
    assert res is not None
    ids = _ids(st)
    nodes: list[Node] = []
    for d in sorted(st.drafts.values(), key=lambda d: d.order):
        nodes.append(Node(id=ids[d.key], kind=d.kind, name=d.name if d.name != ids[d.key] else None))
    twin = TwinSpec(name=name, currency=currency, nodes=nodes)
    _check_step(twin, res, "nodes", ignore={"missing-field", "isolated"})

    kinds = {k: d.kind for k, d in st.drafts.items()}
    seen: set[tuple[str, str]] = set()
    for lk in st.links:
        a, b = lk.source, lk.target
        if a == b or a not in ids or b not in ids:
            continue
        ka, kb = kinds[a], kinds[b]
        if lk.how == "sensor" or "sensor" in (ka, kb):
            sensor, target = (a, b) if ka == "sensor" else (b, a)
            node = twin.node(ids[sensor])
            if node.observes is None and kinds[target] != "sensor":
                node.observes = f"{ids[target]}.{_observed_state(st.drafts[sensor], kinds[target])}"
                twin.edges.append(Edge(source=ids[sensor], target=ids[target], kind="information"))
            continue
        # repairs the rules of kinds ask for: nothing flows into a source or out of a sink
        if ka in ("sink", "customer") or kb in ("source", "supplier"):
            if (b, a) in seen or kb in ("sink", "customer") or ka in ("source", "supplier"):
                res.warnings.append(f"dropped {ids[a]} -> {ids[b]}: a {ka} cannot feed a {kb}")
                continue
            res.warnings.append(f"turned {ids[a]} -> {ids[b]} round: flow goes from the {kb} to the {ka}")
            a, b = b, a
        if (a, b) in seen:
            continue
        if (b, a) in seen:
            res.gaps.append(f"the text connects {ids[a]} and {ids[b]} both ways; kept {ids[b]} -> {ids[a]}")
            continue
        seen.add((a, b))
        twin.edges.append(Edge(source=ids[a], target=ids[b], kind=_edge_kind(kinds[a], kinds[b])))
    for n in twin.nodes:
        if n.kind == "sensor" and n.observes is None:
            res.gaps.append(f"sensor {n.id!r}: the text does not say what it is on; left out")
    twin.nodes = [n for n in twin.nodes if not (n.kind == "sensor" and n.observes is None)]
    _check_step(twin, res, "edges", ignore={"missing-field", "isolated"})
    res.steps.append(f"edges: {len(twin.edges)} link(s)")

    _set_values(st, twin, ids)
    _check_step(twin, res, "parameters", ignore={"missing-field", "isolated"})
    _fill_defaults(twin, res)
    issues = validate_spec(twin, IssueCollector(file=st.desc.source))
    errors = [i for i in issues if i.severity == "error"]
    if errors and _repair_values(twin, res, errors):
        issues = validate_spec(twin, IssueCollector(file=st.desc.source))
        errors = [i for i in issues if i.severity == "error"]
    if errors:
        raise BuildError(
            f"{st.desc.source}: the twin built from the description is not valid",
            [i.render() for i in errors] + res.gaps,
        )
    for w in issues:
        if w.severity == "warning":
            res.warnings.append(w.message)
    res.steps.append("validated")
    return twin


def _repair_values(twin: TwinSpec, res: BuildResult, errors: list) -> bool:
    """Narrow repairs: a value that breaks a rule between parameters (an initial level above the
    capacity, a failure model without repair time) is left out, named as a gap; the catalogue
    default or a typical value stands in."""
    changed = False
    for issue in errors:
        path = issue.path
        if len(path) >= 3 and path[0] == "nodes" and path[2] == "parameters" and isinstance(path[1], int):
            node = twin.nodes[path[1]]
            if len(path) >= 4 and path[3] in node.parameters:
                name = str(path[3])
                node.parameters.pop(name)
                res.gaps.append(f"{node.id}.{name}: {issue.message}; the value was left out")
                changed = True
            elif issue.expected == "mttr":
                for name in ("mtbf", "mcbf", "failure_rate_base"):
                    node.parameters.pop(name, None)
                res.gaps.append(
                    f"{node.id}: {issue.message} (the text gives no repair time); failures left out"
                )
                changed = True
    if changed:
        _fill_defaults(twin, res)
    return changed


def _observed_state(d: Draft, target_kind: str) -> str:
    states = list(CATALOG[target_kind].states)
    wanted = SENSOR_STATES.get(d.modifier or "") or SENSOR_STATES.get(d.word)
    if wanted in states:
        return wanted
    for s in ("level", "flow", "temperature", "inventory", "queue"):
        if s in states:
            return s
    return states[0] if states else "status"


def _check_step(twin: TwinSpec, res: BuildResult, step: str, ignore: set[str]) -> None:
    issues = [i for i in validate_spec(twin) if i.severity == "error" and i.code not in ignore]
    if issues:
        raise BuildError(f"step {step}: the twin does not validate", [i.render() for i in issues])


def _element(twin: TwinSpec, ids: dict[str, str], owner: str | tuple[str, str]) -> Node | Edge | None:
    if isinstance(owner, tuple):
        a, b = ids.get(owner[0]), ids.get(owner[1])
        found = [e for e in twin.edges if e.source == a and e.target == b]
        return found[0] if found else None
    nid = ids.get(owner)
    return twin.node(nid) if nid and twin.has_node(nid) else None


def _set_values(st: _State, twin: TwinSpec, ids: dict[str, str]) -> None:
    res = st.result
    assert res is not None
    grouped: dict[tuple[Any, str], list[Reading]] = {}
    for r in st.readings:
        grouped.setdefault((r.owner, r.parameter), []).append(r)
    for (owner, pname), rs in grouped.items():
        el = _element(twin, ids, owner)
        if el is None:
            continue
        ref = el.id if isinstance(el, Node) else el.key
        pdef = el.param_def(pname)
        if pdef is None:
            continue
        cat = pdef.unit_for(twin.currency)
        vals = [units.convert(r.value, r.unit or cat, cat) for r in rs]
        if any(not close(v, vals[0]) for v in vals[1:]):
            shown = " and ".join(f"{r.value:g} {r.unit}".strip() for r in rs)
            res.gaps.append(f"{ref}.{pname}: the description gives both {shown}; none was used")
            continue
        r = rs[0]
        try:
            check_param_value(twin, el, pname, r.value, r.unit or cat or None)
        except SpecError as exc:
            res.gaps.append(
                f"{ref}.{pname} = {r.value:g} {r.unit} (from {r.text!r}) rejected: {exc.errors[0].message}"
            )
            continue
        value = float(round(r.value)) if pdef.integer and abs(r.value - round(r.value)) < 1e-6 else r.value
        el.parameters[pname] = Parameter(value=value, unit=r.unit or None)
    res.steps.append(
        f"parameters: {sum(len(n.parameters) for n in twin.nodes) + sum(len(e.parameters) for e in twin.edges)} value(s) from the text"
    )


def _fill_defaults(twin: TwinSpec, res: BuildResult) -> None:
    known: dict[str, list[float]] = {"station_time": [], "station_time_per_server": []}
    for n in twin.nodes:
        if n.kind == "station" and "process_time" in n.parameters:
            t = twin.get(n.id, "process_time", "s")
            known["station_time"].append(t)
            known["station_time_per_server"].append(t / twin.get(n.id, "servers"))
    for n in sorted(twin.nodes, key=lambda n: n.kind == "source"):
        kd = CATALOG.get(n.kind)
        if kd is None:
            continue
        for pname, pdef in kd.params.items():
            if pname in n.parameters:
                continue
            if pdef.required:
                if pdef.default is not None:
                    value, unit, why = pdef.default, pdef.unit_for(twin.currency), "catalogue default"
                else:
                    found = typical(n.kind, pname, known)
                    if found is None:
                        continue
                    value, unit, why = found
                if n.kind == "station" and pname == "process_time":
                    known["station_time_per_server"].append(value / twin.get(n.id, "servers"))
            elif pname in KEY_DEFAULTS.get(n.kind, ()) and pdef.default is not None:
                value, unit, why = pdef.default, pdef.unit_for(twin.currency), "catalogue default"
            else:
                continue
            n.parameters[pname] = Parameter(value=value, unit=unit or None)
            res.assumptions.append(Assumption(n.id, pname, value, unit, why))


# -- 6. smoke run -----------------------------------------------------------------------------


def smoke_run(twin: TwinSpec, horizon: str = "8 h") -> SmokeRun:
    """One short replication (lines, liquid systems) or a flow plan (supply networks)."""
    kinds = {n.kind for n in twin.nodes}
    if kinds & {"supplier", "plant", "warehouse", "customer"}:
        from twinforge.optimize.flow import optimize_flow

        try:
            plan = optimize_flow(twin)
        except TwinforgeError as exc:
            return SmokeRun("flow optimisation", False, f"no flow plan: {str(exc).splitlines()[0]}")
        except Exception as exc:  # reported, never raised at the person building
            return SmokeRun(
                "flow optimisation", False, f"flow optimisation failed: {type(exc).__name__}: {exc}"
            )
        flow = float(plan.flows["flow"].sum()) if len(plan.flows) else 0.0
        return SmokeRun(
            "flow optimisation",
            plan.status.lower().startswith("optimal"),
            f"flow plan {plan.status}: cost {plan.objective:,.2f} {plan.objective_unit}, {flow:g} item/day shipped",
            {"objective": float(plan.objective), "shipped": flow},
        )
    from twinforge.sim import run_replications

    try:
        mc = run_replications(twin, reps=1, horizon=horizon, seed=0)
    except TwinforgeError as exc:
        return SmokeRun("simulation", False, f"does not simulate: {str(exc).splitlines()[0]}")
    except Exception as exc:  # a simulator failure is reported, never raised at the person building
        return SmokeRun("simulation", False, f"simulation failed: {type(exc).__name__}: {exc}")
    kpis = {r.kpi: float(r.value) for r in mc.kpis.itertuples() if "." not in r.kpi}
    if "throughput" in kpis:
        text = f"1 replication of {horizon}: throughput {kpis['throughput']:.4g} item/h, output {kpis.get('output', 0):g} item"
    else:
        text = f"1 replication of {horizon}: " + ", ".join(f"{k} {v:.4g}" for k, v in list(kpis.items())[:4])
    return SmokeRun("simulation", True, text, kpis)


__all__ = ["BuildError", "BuildResult", "Decision", "build_twin", "smoke_run"]
