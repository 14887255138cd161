"""Production orders on a twin, turned into scheduling jobs.

An :class:`Order` asks for ``quantity`` items of a product. It is routed through the twin's
stations along the material path (or an explicit ``route``); each station's operation lasts
``ceil(quantity / servers) * process_time / speed``, with the twin's mean ``process_time`` for the
product (``by_product`` values apply) and the station's ``setup_time`` as changeover when the
product changes. Items flow between stations in transfer batches (default: one item at a time, as
in the twin's own simulation), so an order is on several stations at once.

A jobs file (YAML or JSON) holds orders and/or explicit jobs::

    time_unit: min          # unit of the schedule and of bare numbers below (default min)
    transfer_batch: 1       # items moved between stations at once; null moves whole orders
    orders:
      - {id: A-100, product: lager, quantity: 240, due: 4 h, weight: 2}
      - {id: A-101, quantity: 120, release: 30 min, route: [filler, capper, labeler]}
    jobs:                   # explicit operations: [station, duration] in time_unit
      - {id: rework-7, operations: [[labeler, 12], [packer, 8]], due: 90}

Every problem is reported at once with file, line and field path; station ids are checked
against the twin (unknown ids get a suggestion).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from twinforge.errors import IssueCollector, SpecError, UnitError, did_you_mean, format_path
from twinforge.inputs import load_json, read_text
from twinforge.optimize._twin import twin_has, twin_value
from twinforge.optimize.scheduling import Job, Operation
from twinforge.spec import TwinSpec, units
from twinforge.spec.io import compose_with_lines

TimeValue = float | str


class Order(BaseModel):
    """A production order: ``quantity`` items of ``product`` through the twin's stations."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    product: str | None = None
    quantity: int = Field(ge=1, description="Items to produce")
    release: TimeValue = Field(default=0.0, description="Earliest start: a number in time_unit or '30 min'")
    due: TimeValue | None = Field(default=None, description="Due date: a number in time_unit or '4 h'")
    weight: float = Field(default=1.0, ge=0, allow_inf_nan=False, description="Tardiness weight")
    route: list[str] | None = Field(
        default=None, description="Station ids in order; default: the stations on the material path"
    )
    transfer_batch: int | None = Field(
        default=None, ge=1, description="Items moved between stations at once (default from the file)"
    )


class JobsFile(BaseModel):
    """The top level of a jobs file (orders and jobs are validated one by one)."""

    model_config = ConfigDict(extra="forbid")

    time_unit: str = "min"
    transfer_batch: int | None = Field(default=1, ge=1)
    orders: list[Any] = Field(default_factory=list)
    jobs: list[Any] = Field(default_factory=list)


@dataclass
class JobSet:
    """Jobs ready for :func:`twinforge.optimize.scheduling.solve_schedule`, with their time unit."""

    jobs: list[Job]
    time_unit: str
    source: str = "<orders>"


# -- routes on the twin ------------------------------------------------------------------------


def stations_of(spec: TwinSpec) -> list[str]:
    return [n.id for n in spec.nodes if n.kind == "station"]


def station_routes(spec: TwinSpec, product: str | None = None, limit: int = 100) -> list[list[str]]:
    """Distinct station sequences along material paths from entry nodes to exit nodes.

    Entry nodes have no incoming material edge, exit nodes no outgoing one; edges whose
    ``products`` exclude ``product`` are skipped.
    """
    g = nx.DiGraph()
    material = {n.id for n in spec.nodes if n.kind != "sensor"}
    for n in material:
        g.add_node(n)
    for e in spec.edges:
        if e.kind != "material" or e.source not in material or e.target not in material:
            continue
        if product is not None and e.products is not None and product not in e.products:
            continue
        g.add_edge(e.source, e.target)
    stations = set(stations_of(spec))
    entries = [n for n in spec.node_ids() if n in g and g.in_degree(n) == 0 and g.out_degree(n) > 0]
    exits = [n for n in spec.node_ids() if n in g and g.out_degree(n) == 0 and g.in_degree(n) > 0]
    found: list[list[str]] = []
    for a in entries:
        for b in exits:
            for path in nx.all_simple_paths(g, a, b):
                route = [n for n in path if n in stations]
                if route and route not in found:
                    found.append(route)
                if len(found) >= limit:
                    return found
    return found


def _time(value: TimeValue, time_unit: str) -> float:
    """A time in ``time_unit``: bare numbers are already in it; strings carry their own unit."""
    if isinstance(value, int | float):
        return float(value)
    number, unit = units.parse_quantity(value)
    if not unit:
        return number
    if not units.compatible(unit, "s"):
        raise UnitError(f"{value!r} is not a time (its unit {unit!r} is {units.dimension_name(unit)})")
    return units.convert(number, unit, time_unit)


def _station_issues(
    spec: TwinSpec, station: str, product: str | None, path: tuple[str | int, ...], c: IssueCollector
) -> bool:
    """Check that ``station`` is a station of the twin with a process time; add issues, return ok."""
    if not spec.has_node(station):
        names = stations_of(spec)
        c.add(
            path,
            f"unknown station {station!r} in twin {spec.name!r}{did_you_mean(station, names)}",
            code="unknown-station",
            expected="one of " + ", ".join(names) if names else "a station id (the twin has none)",
            found=station,
        )
        return False
    node = spec.node(station)
    if node.kind != "station":
        c.add(
            path,
            f"node {station!r} is a {node.kind}, not a station; only stations process operations",
            code="not-a-station",
            expected="one of " + ", ".join(stations_of(spec)),
            found=station,
        )
        return False
    if not twin_has(spec, station, "process_time", product=product):
        known = sorted(
            (node.parameters["process_time"].by_product or {}) if "process_time" in node.parameters else []
        )
        c.add(
            path,
            f"station {station!r} has no process_time"
            + (f" for product {product!r}" if product else "")
            + (f" (it has values for {', '.join(known)})" if known else ""),
            code="missing-process-time",
        )
        return False
    return True


def jobs_from_twin(
    spec: TwinSpec,
    orders: list[Order],
    *,
    time_unit: str = "min",
    transfer_batch: int | None = 1,
    extra_jobs: list[Job] | None = None,
    file: str = "<orders>",
    lines: dict[tuple[str | int, ...], int] | None = None,
) -> JobSet:
    """Jobs for ``orders`` on ``spec``'s stations, durations from the twin's process times.

    ``transfer_batch`` is the default for orders that do not set their own (``None``: whole
    orders move between stations). ``extra_jobs`` are explicit jobs whose station ids are checked
    against the twin. Raises :class:`~twinforge.errors.SpecError` listing every problem.
    """
    c = IssueCollector(file=file)
    if lines:
        c.lines.update(lines)
    return _build_jobs(
        spec, list(enumerate(orders)), list(enumerate(extra_jobs or [])), time_unit, transfer_batch, c
    )


def _build_jobs(
    spec: TwinSpec,
    orders: list[tuple[int, Order]],
    extra_jobs: list[tuple[int, Job]],
    time_unit: str,
    transfer_batch: int | None,
    c: IssueCollector,
) -> JobSet:
    """Jobs for orders and explicit jobs (each with its index in the input, for error paths)."""
    file = c.file or "<orders>"
    try:
        units.convert(1.0, time_unit, "s")
    except UnitError:
        c.add(("time_unit",), f"time_unit {time_unit!r} is not a unit of time", expected="e.g. s, min, h")
        raise SpecError(c.issues, summary=f"{len(c.errors)} error(s) in {file}") from None

    jobs: list[Job] = []
    seen: dict[str, tuple[str | int, ...]] = {}

    def unique(job_id: str, path: tuple[str | int, ...]) -> None:
        if job_id in seen:
            c.add(
                (*path, "id"),
                f"id {job_id!r} is used twice (first at {format_path(seen[job_id])})",
                code="duplicate-id",
            )
        else:
            seen[job_id] = path

    for i, order in orders:
        path: tuple[str | int, ...] = ("orders", i)
        unique(order.id, path)
        ok = True
        if order.product is not None and spec.products and order.product not in spec.products:
            c.add(
                (*path, "product"),
                f"unknown product {order.product!r}{did_you_mean(order.product, spec.products)}",
                expected="one of " + ", ".join(spec.products),
                found=order.product,
            )
            ok = False
        times: dict[str, float | None] = {}
        for name in ("release", "due"):
            value = getattr(order, name)
            if value is None:
                times[name] = None
                continue
            try:
                times[name] = _time(value, time_unit)
            except UnitError as exc:
                c.add((*path, name), str(exc), expected=f"a number in {time_unit} or a time such as '2 h'")
                ok = False
                continue
            if times[name] is not None and not math.isfinite(times[name]):  # type: ignore[arg-type]
                c.add((*path, name), f"{name} must be a finite time", found=value)
                ok = False
            elif times[name] is not None and times[name] < 0:  # type: ignore[operator]
                c.add((*path, name), f"{name} must not be negative", found=value)
                ok = False
        if order.route is not None:
            route = order.route
            if not route:
                c.add((*path, "route"), "route is empty", expected="at least one station id")
                ok = False
            for k, station in enumerate(route):
                ok &= _station_issues(spec, station, order.product, (*path, "route", k), c)
        else:
            routes = station_routes(spec, order.product)
            if not routes:
                c.add(
                    path,
                    f"no station lies on a material path of twin {spec.name!r}"
                    + (f" for product {order.product!r}" if order.product else ""),
                    expected="a 'route' with station ids",
                )
                ok = False
                route = []
            elif len(routes) > 1:
                shown = "; ".join(" → ".join(r) for r in routes[:3])
                c.add(
                    path,
                    f"the twin has {len(routes)} station routes ({shown}{'; ...' if len(routes) > 3 else ''}); "
                    "say which with 'route'",
                    code="ambiguous-route",
                    expected="a 'route' with station ids",
                )
                ok = False
                route = []
            else:
                route = routes[0]
                for station in route:
                    ok &= _station_issues(spec, station, order.product, (*path, "route"), c)
        if not ok:
            continue
        batch = order.transfer_batch if order.transfer_batch is not None else transfer_batch
        operations = []
        for station in route:
            per_item = twin_value(spec, station, "process_time", unit=time_unit, product=order.product)
            speed = twin_value(spec, station, "speed")
            servers = max(1, round(twin_value(spec, station, "servers")))
            operations.append(
                Operation(
                    station=station,
                    duration=math.ceil(order.quantity / servers) * per_item / speed,
                    product=order.product,
                    setup=twin_value(spec, station, "setup_time", unit=time_unit),
                    items=order.quantity,
                )
            )
        jobs.append(
            Job(
                id=order.id,
                operations=operations,
                release=times["release"] or 0.0,
                due=times["due"],
                weight=order.weight,
                transfer_batch=batch,
            )
        )

    for i, job in extra_jobs:
        path = ("jobs", i)
        unique(job.id, path)
        ok = True
        for k, op in enumerate(job.operations):
            if not spec.has_node(op.station) or spec.node(op.station).kind != "station":
                ok &= _station_issues(spec, op.station, None, (*path, "operations", k), c)
        if ok:
            jobs.append(job)
    if not orders and not extra_jobs and not c.errors:
        c.add((), "no orders or jobs to schedule", expected="'orders:' and/or 'jobs:' lists")
    if c.errors:
        raise SpecError(c.issues, summary=f"{len(c.errors)} error(s) in {file}")
    return JobSet(jobs=jobs, time_unit=time_unit, source=file)


# -- jobs files ---------------------------------------------------------------------------------


def _read_with_lines(text: str, file: str, json_format: bool) -> tuple[Any, dict[tuple[str | int, ...], int]]:
    """Data and line map of a jobs file, read within the bounds of :mod:`twinforge.inputs`."""
    if json_format:
        return load_json(text, file, what=f"jobs file {file}"), {}
    c = IssueCollector(file=file)
    data, lines = compose_with_lines(text, file, c, what="jobs file")
    if c.errors:  # a key given twice
        raise SpecError(c.issues, summary=f"cannot parse {file}")
    return data, lines


def parse_jobs(
    data: Any, spec: TwinSpec, file: str = "<jobs>", lines: dict[tuple[str | int, ...], int] | None = None
) -> JobSet:
    """Validate parsed jobs-file data against ``spec``; raise SpecError with every issue."""
    c = IssueCollector(file=file)
    if lines:
        c.lines.update(lines)
    if not isinstance(data, dict):
        c.add((), "a jobs file must be a mapping with 'orders' and/or 'jobs'", found=type(data).__name__)
        raise SpecError(c.issues, summary=f"cannot read {file}")
    try:
        content = JobsFile.model_validate(data)
    except ValidationError as exc:
        _pydantic_issues(exc, (), c)
        raise SpecError(c.issues, summary=f"{len(c.errors)} error(s) in {file}") from None
    orders: list[tuple[int, Order]] = []
    for i, raw in enumerate(content.orders):
        try:
            orders.append((i, Order.model_validate(raw)))
        except ValidationError as exc:
            _pydantic_issues(exc, ("orders", i), c)
    jobs: list[tuple[int, Job]] = []
    for i, raw in enumerate(content.jobs):
        try:
            jobs.append((i, Job.model_validate(raw)))
        except ValidationError as exc:
            _pydantic_issues(exc, ("jobs", i), c)
    return _build_jobs(spec, orders, jobs, content.time_unit, content.transfer_batch, c)


def _pydantic_issues(exc: ValidationError, prefix: tuple[str | int, ...], c: IssueCollector) -> None:
    for err in exc.errors():
        loc = (*prefix, *err["loc"])
        if err["type"] == "missing":
            c.add(loc[:-1], f"missing required field {loc[-1]!r}", code="missing-field")
        elif err["type"] == "extra_forbidden":
            c.add(loc, f"unknown field {loc[-1]!r}", code="unknown-field")
        else:
            c.add(loc, err["msg"], found=err.get("input"))


def load_jobs(path: str | Path, spec: TwinSpec) -> JobSet:
    """Read a jobs file (YAML or JSON) and build its jobs on ``spec``."""
    p = Path(path)
    text = read_text(p, "jobs file")
    data, lines = _read_with_lines(text, str(path), p.suffix.lower() == ".json")
    return parse_jobs(data, spec, file=str(path), lines=lines)
