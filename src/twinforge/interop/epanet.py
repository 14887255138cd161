"""EPANET networks (``.inp``) in and out of twins, read and simulated with wntr.

Rules, stated up front:

- **Read**: the file goes through :mod:`twinforge.inputs` (size, binary data, UTF-8) and a scan of
  its sections (an unknown section is an error naming its line), then wntr reads it. wntr holds
  every quantity in SI; the twin stores lengths and heads in ``m``, volumes in ``m^3`` and flows in
  ``m^3/h``, whatever the file's own flow units were (the report states them).
- **Typed where the spec can say it**: reservoirs, tanks, pumps, valves and junctions become
  nodes; pumps and valves (links in EPANET) become nodes joined by two ``physical`` edges; pipes
  become ``physical`` edges with ``length``, ``diameter`` and ``open``.
- **Kept where it cannot**: what the spec has no field for (demands and their patterns, pipe
  roughness and minor losses, tank geometry, pump curves, valve types and settings, controls,
  rules, options and times) is kept in ``metadata.epanet`` of the node, edge or twin, in SI units
  (flows in ``m^3/h``), so that :func:`twin_to_inp` can write the network back. Every such gap is
  listed in the :class:`ImportReport`.
- **Dropped and listed**: water quality, energy prices, reporting options and drawing data
  (``ENERGY``, ``QUALITY``, ``REACTIONS``, ``SOURCES``, ``MIXING``, ``REPORT``, ``VERTICES``,
  ``LABELS``, ``BACKDROP``, ``TAGS``) are not imported; the report names each with its line.

The round trip ``.inp → twin → .inp`` is checked by simulating both networks with EPANET
(:func:`compare_hydraulics`): tank levels and pump flows must agree.
"""

from __future__ import annotations

import math
import re
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twinforge.errors import Issue, SpecError
from twinforge.inputs import read_text
from twinforge.spec.models import Edge, Location, Node, Parameter, StateVar, TwinSpec

if TYPE_CHECKING:
    import pandas as pd
    import wntr

#: Every section EPANET 2.2 knows (wntr's list, plus END).
SECTIONS = (
    "TITLE",
    "JUNCTIONS",
    "RESERVOIRS",
    "TANKS",
    "PIPES",
    "PUMPS",
    "VALVES",
    "EMITTERS",
    "CURVES",
    "PATTERNS",
    "ENERGY",
    "STATUS",
    "CONTROLS",
    "RULES",
    "DEMANDS",
    "QUALITY",
    "REACTIONS",
    "SOURCES",
    "MIXING",
    "OPTIONS",
    "TIMES",
    "REPORT",
    "COORDINATES",
    "VERTICES",
    "LABELS",
    "BACKDROP",
    "TAGS",
    "END",
)

#: Sections turned into typed nodes, edges, parameters, states and locations.
MAPPED = {
    "TITLE": "twin description",
    "JUNCTIONS": "junction nodes (elevation); demands kept in metadata.epanet.demands",
    "RESERVOIRS": "custom nodes tagged 'reservoir' (head)",
    "TANKS": "tank nodes (capacity, initial level); geometry kept in metadata.epanet",
    "PIPES": "physical edges (length, diameter, open); roughness and minor loss kept in metadata.epanet",
    "PUMPS": "pump nodes (flow_rate, head, speed, power) between two physical edges",
    "VALVES": "valve nodes (opening, flow_coefficient) between two physical edges",
    "STATUS": "initial status: pump state 'status', valve 'opening', pipe 'open'",
    "DEMANDS": "metadata.epanet.demands of the junctions",
    "COORDINATES": "node locations (x, y)",
}
#: Sections the spec has no place for, kept in the twin's metadata.epanet for the way back.
KEPT = {
    "PATTERNS": "metadata.epanet.patterns (multipliers)",
    "CURVES": "metadata.epanet.curves (points in m^3/h, m, %, m^3)",
    "CONTROLS": "metadata.epanet.sections.CONTROLS (EPANET text, CMH units)",
    "RULES": "metadata.epanet.sections.RULES (EPANET text, CMH units)",
    "OPTIONS": "metadata.epanet.sections.OPTIONS (EPANET text, CMH units)",
    "TIMES": "metadata.epanet.sections.TIMES (EPANET text)",
    "EMITTERS": "metadata.epanet.sections.EMITTERS (EPANET text, CMH units)",
}
#: Sections not imported: listed in the report with their line, never silently dropped.
NOT_IMPORTED = {
    "ENERGY": "energy prices and efficiencies",
    "QUALITY": "initial water quality",
    "REACTIONS": "water-quality reactions",
    "SOURCES": "water-quality sources",
    "MIXING": "tank mixing models (water quality)",
    "REPORT": "report options",
    "VERTICES": "pipe drawing vertices",
    "LABELS": "map labels",
    "BACKDROP": "map backdrop",
    "TAGS": "element tags",
}

#: Minimum fields of a data line, per section (EPANET's own rules).
_MIN_FIELDS = {"JUNCTIONS": 2, "RESERVOIRS": 2, "TANKS": 6, "PIPES": 6, "PUMPS": 4, "VALVES": 6}
#: Fields that must be numbers, per section (0-based).
_NUMERIC = {
    "JUNCTIONS": (1, 2),
    "RESERVOIRS": (1,),
    "TANKS": (1, 2, 3, 4, 5, 6),
    "PIPES": (3, 4, 5, 6),
    "VALVES": (3, 6),
}
_VALVE_SETTING_UNIT = {"PRV": "m", "PSV": "m", "PBV": "m", "FCV": "m^3/h", "TCV": "", "GPV": "curve"}
_PREFIX = {"junction": "J", "reservoir": "R", "tank": "T", "pump": "P", "valve": "V", "pipe": "pipe"}
_CURVE_UNITS = {
    "HEAD": ("m^3/h", "m"),
    "EFFICIENCY": ("m^3/h", "%"),
    "HEADLOSS": ("m^3/h", "m"),
    "VOLUME": ("m", "m^3"),
}
M3S_TO_M3H = 3600.0


@dataclass(frozen=True)
class SectionNote:
    """What happened to one section of the file."""

    section: str
    line: int
    entries: int
    action: str  # "mapped", "kept" or "not imported"
    detail: str


@dataclass
class ImportReport:
    """What an import did: units, sections mapped, kept and dropped, and what the spec lacks."""

    source: str
    flow_units: str
    headloss: str
    counts: dict[str, int] = field(default_factory=dict)
    sections: list[SectionNote] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)  # what the spec cannot express, and where it went

    @property
    def not_imported(self) -> list[SectionNote]:
        return [s for s in self.sections if s.action == "not imported"]

    @property
    def kept(self) -> list[SectionNote]:
        return [s for s in self.sections if s.action == "kept"]

    def render(self) -> str:
        out = [
            f"EPANET import of {self.source}",
            f"  units: file flow units {self.flow_units} (headloss {self.headloss}); the twin stores "
            "lengths and heads in m, volumes in m^3, flows and demands in m^3/h",
            "  imported: " + ", ".join(f"{v} {k}" for k, v in self.counts.items()),
        ]
        for action in ("mapped", "kept", "not imported"):
            notes = [s for s in self.sections if s.action == action]
            if notes:
                out.append(f"  {action}:")
                out += [f"    [{s.section}] line {s.line} ({s.entries} entries): {s.detail}" for s in notes]
        if self.gaps:
            out.append("  not expressible in the twin spec (kept in metadata.epanet):")
            out += [f"    - {g}" for g in self.gaps]
        return "\n".join(out)


@dataclass
class EpanetImport:
    twin: TwinSpec
    report: ImportReport
    ids: dict[tuple[str, str], str]  # (EPANET type, EPANET id) -> twin id (node or edge)


# -- reading --------------------------------------------------------------------------------------
def _section_name(header: str) -> str | None:
    """The canonical section of a ``[HEADER]`` line (wntr's leniency about a missing/extra S)."""
    name = header.split(None, 1)[0].strip("[]").upper()
    for cand in (name, name + "S", name[:-1] if name.endswith("S") else name):
        if cand in SECTIONS:
            return cand
    return None


@dataclass
class _Scan:
    first_line: dict[str, int]
    entries: dict[str, int]
    has_end: bool
    last_section: str | None
    last_line: int


def scan_sections(text: str, file: str) -> _Scan:
    """Find the sections of an ``.inp`` text and check the shape of its element lines.

    Raises :class:`SpecError` for an unknown section, text outside any section, a line with too few
    fields or a non-number where EPANET expects one, each with its line.
    """
    issues: list[Issue] = []
    first: dict[str, int] = {}
    entries: dict[str, int] = {}
    section: str | None = None
    has_end = False
    last = 0
    for lnum, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        last = lnum
        if line.startswith("["):
            name = _section_name(line)
            if name is None:
                issues.append(
                    Issue(
                        f"unknown EPANET section {line.split()[0]!r}",
                        file=file,
                        line=lnum,
                        code="unknown-section",
                        expected="one of " + ", ".join(f"[{s}]" for s in SECTIONS),
                    )
                )
                section = "?"
                continue
            if name == "END":
                has_end = True
                break
            section = name
            first.setdefault(name, lnum)
            entries.setdefault(name, 0)
            continue
        if section is None:
            issues.append(
                Issue(
                    "text before the first [SECTION] header",
                    file=file,
                    line=lnum,
                    code="syntax",
                    found=line[:60],
                )
            )
            continue
        if section == "?":
            continue
        entries[section] += 1
        fields = line.split()
        need = _MIN_FIELDS.get(section)
        if need and len(fields) < need:
            issues.append(
                Issue(
                    f"[{section}] entry has {len(fields)} field(s), EPANET needs at least {need}",
                    file=file,
                    line=lnum,
                    code="syntax",
                    found=line[:60],
                )
            )
            continue
        for i in _NUMERIC.get(section, ()):
            if i < len(fields) and not _is_number(fields[i]):
                issues.append(
                    Issue(
                        f"[{section}] field {i + 1} of {fields[0]!r} is not a number",
                        file=file,
                        line=lnum,
                        code="wrong-type",
                        found=fields[i],
                    )
                )
    if issues:
        raise SpecError(issues, summary=f"{len(issues)} error(s) in EPANET file {file}")
    return _Scan(first, entries, has_end, section if section not in (None, "?") else None, last)


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _fail(file: str, message: str, line: int | None = None, code: str = "invalid") -> SpecError:
    return SpecError([Issue(message, file=file, line=line, code=code)], summary=f"cannot import {file}")


def read_network(path: str | Path) -> tuple[wntr.network.WaterNetworkModel, _Scan]:
    """Read an ``.inp`` file with wntr, after the bounded read and the section scan."""
    import wntr
    from wntr.epanet.exceptions import EpanetException

    file = str(path)
    text = read_text(path, "EPANET network")
    scan = scan_sections(text, file)
    if "OPTIONS" not in scan.first_line or not scan.entries.get("JUNCTIONS", 0) + scan.entries.get(
        "RESERVOIRS", 0
    ) + scan.entries.get("TANKS", 0):
        where = f"; it ends in [{scan.last_section}] at line {scan.last_line}" if scan.last_section else ""
        what = "no [OPTIONS] section (flow units)" if "OPTIONS" not in scan.first_line else "no nodes"
        trunc = " without [END]: the file looks truncated" if not scan.has_end else ""
        raise _fail(file, f"the network has {what}{where}{trunc}", scan.last_line, code="truncated")
    try:
        with warnings.catch_warnings():
            # wntr warns while it reads a D-W file's options, before it reads the roughness
            warnings.filterwarnings("ignore", message="Changing the headloss formula")
            wn = wntr.network.WaterNetworkModel(file)
    except EpanetException as exc:
        cause = exc.__cause__ if isinstance(exc.__cause__, EpanetException) else exc
        text = str(cause).strip("\"'")
        found = re.search(r"at line (\d+)", text)
        line = int(found.group(1)) if found else None
        message = re.sub(r",? at line \d+.*$", "", text, flags=re.S).strip("\"'")
        raise _fail(file, f"EPANET input error: {message}", line) from None
    except Exception as exc:  # wntr raises assorted errors for malformed files
        trunc = "" if scan.has_end else f" (the file has no [END]; its last section is [{scan.last_section}])"
        raise _fail(file, f"wntr cannot read the network: {type(exc).__name__}: {exc}{trunc}") from None
    return wn, scan


class _Ids:
    """EPANET ids (which may be numbers, and repeat between nodes and links) to twin ids."""

    def __init__(self) -> None:
        self.map: dict[tuple[str, str], str] = {}
        self.used: set[str] = set()

    def make(self, kind: str, name: str) -> str:
        base = f"{_PREFIX[kind]}_{re.sub(r'[^A-Za-z0-9_-]', '_', name)}"
        out, n = base, 2
        while out in self.used:
            out, n = f"{base}_{n}", n + 1
        self.used.add(out)
        self.map[(kind, name)] = out
        return out


def _status_name(status: Any) -> str:
    return str(getattr(status, "name", status))


def _num(x: float, digits: int = 10) -> float:
    """A float rounded to ``digits`` significant digits (SI conversions leave noise in the last bits)."""
    if x == 0 or not math.isfinite(x):
        return float(x)
    return float(f"{x:.{digits}g}")


def _epanet_sections(wn: wntr.network.WaterNetworkModel) -> dict[str, list[str]]:
    """The hydraulic sections of the network as wntr writes them in CMH units."""
    import wntr

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "net.inp"
        wntr.network.write_inpfile(wn, str(out), units="CMH")
        text = out.read_text(encoding="utf-8")
    sections: dict[str, list[str]] = {}
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("["):
            current = _section_name(line)
            continue
        if (
            current in ("CONTROLS", "RULES", "OPTIONS", "TIMES", "EMITTERS")
            and line
            and not line.startswith(";")
        ):
            sections.setdefault(current, []).append(line)
    return sections


def import_inp(path: str | Path, name: str | None = None) -> EpanetImport:
    """Read an EPANET ``.inp`` file into a validated twin and a report of what was (not) imported."""
    import wntr

    wn, scan = read_network(path)
    file = str(path)
    ids = _Ids()
    nodes: list[Node] = []
    edges: list[Edge] = []
    gaps: list[str] = []
    Closed = wntr.network.LinkStatus.Closed

    def loc(el: Any) -> Location | None:
        c = getattr(el, "coordinates", None)
        if c is None or (c[0] == 0 and c[1] == 0 and not scan.entries.get("COORDINATES")):
            return None
        return Location(x=float(c[0]), y=float(c[1]))

    n_demand = 0
    for jname, j in wn.junctions():
        demands = [
            {
                "base_demand": _num(d.base_value * M3S_TO_M3H),
                "unit": "m^3/h",
                **({"pattern": d.pattern_name} if d.pattern_name else {}),
                **({"category": d.category} if d.category not in (None, "None", "") else {}),
            }
            for d in j.demand_timeseries_list
        ]
        meta: dict[str, Any] = {"id": jname, "type": "junction", "demands": demands}
        has_demand = any(d["base_demand"] != 0 for d in demands)
        n_demand += has_demand
        nodes.append(
            Node(
                id=ids.make("junction", jname),
                kind="junction",
                name=f"Junction {jname}",
                tags=["demand"] if has_demand else [],
                location=loc(j),
                parameters={"elevation": Parameter(value=_num(j.elevation), unit="m")},
                metadata={"epanet": meta},
            )
        )
    if n_demand:
        gaps.append(
            f"demand at {n_demand} junction(s): a junction has no demand parameter and a customer's "
            "demand is an item rate, so base demands (m^3/h) and patterns are in metadata.epanet.demands"
        )

    for rname, r in wn.reservoirs():
        nodes.append(
            Node(
                id=ids.make("reservoir", rname),
                kind="custom",
                name=f"Reservoir {rname}",
                tags=["reservoir"],
                location=loc(r),
                parameters={"head": Parameter(value=_num(r.base_head), unit="m", description="Total head")},
                metadata={
                    "epanet": {
                        "id": rname,
                        "type": "reservoir",
                        **({"head_pattern": r.head_pattern_name} if r.head_pattern_name else {}),
                    }
                },
            )
        )
    if wn.num_reservoirs:
        gaps.append(
            f"{wn.num_reservoirs} reservoir(s) (fixed-head, unlimited sources) are custom nodes: the "
            "catalogue's source kind releases items and needs an interarrival_time"
        )

    for tname, t in wn.tanks():
        area = math.pi * t.diameter**2 / 4.0
        if t.vol_curve is not None:
            capacity = t.get_volume(t.max_level) - t.get_volume(t.min_level)
            initial = t.get_volume(t.init_level) - t.get_volume(t.min_level)
        else:
            capacity = area * (t.max_level - t.min_level)
            initial = area * (t.init_level - t.min_level)
        meta = {
            "id": tname,
            "type": "tank",
            "elevation": _num(t.elevation),
            "diameter": _num(t.diameter),
            "min_level": _num(t.min_level),
            "max_level": _num(t.max_level),
            "init_level": _num(t.init_level),
            "min_vol": _num(t.min_vol),
            "units": "m, m^3",
            "volume_measured_from": "min_level",
        }
        if t.vol_curve_name:
            meta["vol_curve"] = t.vol_curve_name
        if t.overflow:
            meta["overflow"] = True
        nodes.append(
            Node(
                id=ids.make("tank", tname),
                kind="tank",
                name=f"Tank {tname}",
                location=loc(t),
                parameters={
                    "capacity": Parameter(value=_num(capacity), unit="m^3"),
                    "initial_level": Parameter(value=_num(max(initial, 0.0)), unit="m^3"),
                },
                metadata={"epanet": meta},
            )
        )
    if wn.num_tanks:
        gaps.append(
            f"tank geometry of {wn.num_tanks} tank(s) (elevation, diameter, min/max/initial level in m): "
            "a tank's level is a volume (usable volume above min_level)"
        )

    def link_node(name: str) -> str:
        for kind in ("junction", "reservoir", "tank"):
            if (kind, name) in ids.map:
                return ids.map[(kind, name)]
        raise _fail(file, f"link refers to unknown node {name!r}")

    n_power = 0
    for pname, p in wn.pumps():
        pid_meta: dict[str, Any] = {
            "id": pname,
            "type": "pump",
            "pump_type": p.pump_type,
            "initial_status": _status_name(p.initial_status),
        }
        params: dict[str, Parameter] = {}
        if p.base_speed != 1.0:
            pid_meta["speed"] = p.base_speed
        if p.speed_pattern_name:
            pid_meta["speed_pattern"] = p.speed_pattern_name
        if p.efficiency_curve_name:
            pid_meta["efficiency_curve"] = p.efficiency_curve_name
        if p.pump_type == "HEAD":
            pid_meta["curve"] = p.pump_curve_name
            # the design point: the only point of a one-point curve, else the middle one
            q, head = _design_point([list(pt) for pt in p.get_pump_curve().points])
            params["flow_rate"] = Parameter(value=_num(q * M3S_TO_M3H), unit="m^3/h")
            params["head"] = Parameter(value=_num(head), unit="m")
            kind = "pump"
        else:
            params["power"] = Parameter(value=_num(p.power / 1000.0), unit="kW")
            kind = "custom"
            n_power += 1
        if 0 <= p.base_speed <= 1.2 and p.base_speed != 1.0:
            params["speed"] = Parameter(value=_num(p.base_speed))
        state = {"status": StateVar(initial=0.0)} if p.initial_status == Closed else {}
        pid = ids.make("pump", pname)
        nodes.append(
            Node(
                id=pid,
                kind=kind,
                name=f"Pump {pname}",
                tags=["pump"] if kind == "custom" else [],
                parameters=params,
                state=state,
                metadata={"epanet": pid_meta},
            )
        )
        edges += _link_edges(pid, link_node(p.start_node_name), link_node(p.end_node_name))
    if wn.num_pumps:
        gaps.append(
            f"pump curves of {wn.num_pumps} pump(s): flow_rate and head are the curve's design point; "
            "the full curve is in metadata.epanet.curves"
        )
    if n_power:
        gaps.append(
            f"{n_power} constant-power pump(s) are custom nodes tagged 'pump': the catalogue's pump "
            "needs a rated flow, which a constant-power pump does not have"
        )

    for vname, v in wn.valves():
        vtype = v.valve_type
        meta = {
            "id": vname,
            "type": "valve",
            "valve_type": vtype,
            "setting": v.initial_setting if vtype != "FCV" else _num(v.initial_setting * M3S_TO_M3H),
            "setting_unit": _VALVE_SETTING_UNIT.get(vtype, ""),
            "diameter": _num(v.diameter),
            "minor_loss": v.minor_loss,
            "initial_status": _status_name(v.initial_status),
        }
        if vtype == "GPV":
            meta["setting"] = getattr(v, "headloss_curve_name", None) or str(v.initial_setting)
        params = {"opening": Parameter(value=0.0 if v.initial_status == Closed else 1.0)}
        loss = v.initial_setting if vtype == "TCV" else v.minor_loss
        if loss and loss > 0:
            # Kv: flow at a 1 bar drop through a loss coefficient K: Q = A sqrt(2 dp / (K rho))
            area = math.pi * v.diameter**2 / 4.0
            kv = area * math.sqrt(2 * 1e5 / (loss * 1000.0)) * M3S_TO_M3H
            params["flow_coefficient"] = Parameter(value=_num(kv), unit="m^3/h")
        vid = ids.make("valve", vname)
        nodes.append(
            Node(
                id=vid,
                kind="valve",
                name=f"{vtype} valve {vname}",
                parameters=params,
                metadata={"epanet": meta},
            )
        )
        edges += _link_edges(vid, link_node(v.start_node_name), link_node(v.end_node_name))
    if wn.num_valves:
        gaps.append(
            f"valve type and setting of {wn.num_valves} valve(s) (PRV/PSV/PBV in m, FCV in m^3/h, TCV a "
            "loss coefficient): a valve has only an opening and a Kv"
        )

    darcy = wn.options.hydraulic.headloss == "D-W"
    for lname, pipe in wn.pipes():
        meta = {
            "id": lname,
            "type": "pipe",
            # as EPANET writes it in SI: Hazen-Williams C and Chezy-Manning n as numbers,
            # Darcy-Weisbach roughness in mm (wntr holds it in m)
            "roughness": _num(pipe.roughness * 1000.0) if darcy else pipe.roughness,
            "minor_loss": pipe.minor_loss,
        }
        if pipe.check_valve:
            meta["check_valve"] = True
        if pipe.initial_status == Closed:
            meta["initial_status"] = "Closed"
        params = {
            "length": Parameter(value=_num(pipe.length), unit="m"),
            "diameter": Parameter(value=_num(pipe.diameter), unit="m"),
        }
        if pipe.initial_status == Closed:
            params["open"] = Parameter(value=0.0)
        edges.append(
            Edge(
                id=ids.make("pipe", lname),
                source=link_node(pipe.start_node_name),
                target=link_node(pipe.end_node_name),
                kind="physical",
                parameters=params,
                metadata={"epanet": meta},
            )
        )
    if wn.num_pipes:
        gaps.append(
            f"roughness ({wn.options.hydraulic.headloss}) and minor loss of {wn.num_pipes} pipe(s), and "
            "check valves: a physical edge has length, diameter, flow_capacity and open only"
        )

    patterns = {pn: [float(m) for m in pat.multipliers] for pn, pat in wn.patterns()}
    curves = {}
    for cn, c in wn.curves():
        xu, yu = _CURVE_UNITS.get(c.curve_type, ("", ""))
        fx = M3S_TO_M3H if xu == "m^3/h" else 1.0
        curves[cn] = {
            "type": c.curve_type,
            "x_unit": xu,
            "y_unit": yu,
            "points": [[_num(x * fx), _num(y)] for x, y in c.points],
        }
    sections = _epanet_sections(wn)
    title = [t for t in wn.title if t.strip()] if isinstance(wn.title, list) else []
    units_in = str(wn.options.hydraulic.inpfile_units)
    twin = TwinSpec(
        name=name or Path(file).stem,
        description=" ".join(t.strip() for t in title) or f"Imported from EPANET file {Path(file).name}",
        nodes=nodes,
        edges=edges,
        metadata={
            "epanet": {
                "source": Path(file).name,
                "flow_units": units_in,
                "headloss": wn.options.hydraulic.headloss,
                "units": {"length": "m", "head": "m", "volume": "m^3", "flow": "m^3/h"},
                "patterns": patterns,
                "curves": curves,
                "sections": sections,
            }
        },
    )
    twin.check()

    report = ImportReport(
        source=file,
        flow_units=units_in,
        headloss=wn.options.hydraulic.headloss,
        counts={
            "junctions": wn.num_junctions,
            "reservoirs": wn.num_reservoirs,
            "tanks": wn.num_tanks,
            "pipes": wn.num_pipes,
            "pumps": wn.num_pumps,
            "valves": wn.num_valves,
            "patterns": wn.num_patterns,
            "curves": wn.num_curves,
            "controls": len(wn.control_name_list),
        },
        gaps=gaps,
    )
    for sec, line in sorted(scan.first_line.items(), key=lambda kv: kv[1]):
        n = scan.entries.get(sec, 0)
        if n == 0:
            continue
        if sec in MAPPED:
            report.sections.append(SectionNote(sec, line, n, "mapped", MAPPED[sec]))
        elif sec in KEPT:
            report.sections.append(SectionNote(sec, line, n, "kept", KEPT[sec]))
        else:
            report.sections.append(
                SectionNote(sec, line, n, "not imported", NOT_IMPORTED.get(sec, sec.lower()))
            )
    return EpanetImport(twin=twin, report=report, ids=dict(ids.map))


def _link_edges(node_id: str, start: str, end: str) -> list[Edge]:
    return [
        Edge(id=f"{node_id}_in", source=start, target=node_id, kind="physical"),
        Edge(id=f"{node_id}_out", source=node_id, target=end, kind="physical"),
    ]


# -- writing --------------------------------------------------------------------------------------
def _epanet(el: Node | Edge, twin: TwinSpec) -> dict[str, Any]:
    meta = el.metadata.get("epanet")
    if not isinstance(meta, dict) or "type" not in meta:
        ref = el.id if isinstance(el, Node) else el.key
        raise SpecError(
            [
                Issue(
                    f"{ref!r} has no metadata.epanet: only twins imported from EPANET can be written "
                    "back as .inp",
                    path=("nodes" if isinstance(el, Node) else "edges", ref),
                    file=twin.name,
                    code="not-epanet",
                )
            ]
        )
    return meta


def _f(x: float) -> str:
    return f"{x:.12g}"


def twin_to_inp(twin: TwinSpec) -> str:
    """Write a twin imported by :func:`import_inp` as EPANET text in CMH units.

    Typed values come from the twin (edit a pipe's diameter or a tank's capacity and the file
    follows); the rest from ``metadata.epanet``. A pump whose ``flow_rate`` or ``head`` differs
    from its curve's design point gets its curve scaled to pass through the new point.
    """
    net = twin.metadata.get("epanet")
    if not isinstance(net, dict):
        raise SpecError(
            [Issue("the twin has no metadata.epanet: it was not imported from EPANET", file=twin.name)]
        )
    by_id = {n.id: n for n in twin.nodes}
    eid = {n.id: str(_epanet(n, twin)["id"]) for n in twin.nodes}
    curves = {k: dict(v) for k, v in net.get("curves", {}).items()}
    secs: dict[str, list[str]] = {s: [] for s in SECTIONS}
    secs["TITLE"] = [twin.description or twin.name]
    status: list[str] = []

    def val(n: Node | Edge, p: str, unit: str, default: float | None = None) -> float:
        ref = n.id if isinstance(n, Node) else n.key
        if p in n.parameters or default is None:
            return twin.get(ref, p, unit=unit)
        return default

    links: dict[str, tuple[str, str]] = {}
    for e in twin.edges:
        if e.kind != "physical":
            continue
        src, dst = by_id[e.source], by_id[e.target]
        for end, other, side in ((dst, src, 0), (src, dst, 1)):
            if _epanet(end, twin)["type"] in ("pump", "valve"):
                pair = list(links.get(end.id, ("", "")))
                pair[side] = eid[other.id]
                links[end.id] = (pair[0], pair[1])

    for n in twin.nodes:
        m = _epanet(n, twin)
        i = eid[n.id]
        match m["type"]:
            case "junction":
                secs["JUNCTIONS"].append(f"{i} {_f(val(n, 'elevation', 'm', 0.0))} 0")
                for d in m.get("demands", []):
                    q = d["base_demand"]
                    secs["DEMANDS"].append(f"{i} {_f(q)} {d.get('pattern', '')}".rstrip())
            case "reservoir":
                head = twin.get(n.id, "head", unit="m") if "head" in n.parameters else 0.0
                secs["RESERVOIRS"].append(f"{i} {_f(head)} {m.get('head_pattern', '')}".rstrip())
            case "tank":
                area = math.pi * m["diameter"] ** 2 / 4.0
                hmin = m["min_level"]
                if m.get("vol_curve"):
                    hmax, hinit = m["max_level"], m["init_level"]
                else:
                    hmax = hmin + twin.get(n.id, "capacity", unit="m^3") / area
                    hinit = hmin + val(n, "initial_level", "m^3", 0.0) / area
                levels = (m["elevation"], hinit, hmin, hmax, m["diameter"], m["min_vol"])
                fields = [i, *(_f(x) for x in levels), m.get("vol_curve", "*")]
                fields.append("YES" if m.get("overflow") else "")
                secs["TANKS"].append(" ".join(fields).rstrip())
            case "pump":
                a, b = links[n.id]
                parts = [i, a, b]
                if m["pump_type"] == "HEAD":
                    curve = curves[m["curve"]]
                    q = val(n, "flow_rate", "m^3/h", 0.0)
                    h = val(n, "head", "m", 0.0)
                    q0, h0 = _design_point(curve["points"])
                    if q0 > 0 and h0 > 0 and (abs(q - q0) > 1e-9 * q0 or abs(h - h0) > 1e-9 * h0):
                        curve["points"] = [[x * q / q0, y * h / h0] for x, y in curve["points"]]
                    parts += ["HEAD", m["curve"]]
                else:
                    parts += ["POWER", _f(twin.get(n.id, "power", unit="kW"))]
                speed = val(n, "speed", "", m.get("speed", 1.0))
                if speed != 1.0:
                    parts += ["SPEED", _f(speed)]
                if m.get("speed_pattern"):
                    parts += ["PATTERN", m["speed_pattern"]]
                secs["PUMPS"].append(" ".join(parts))
                closed = n.state.get("status") is not None and n.state["status"].initial == 0.0
                if closed:
                    status.append(f"{i} Closed")
            case "valve":
                a, b = links[n.id]
                setting = m["setting"]
                secs["VALVES"].append(
                    f"{i} {a} {b} {_f(m['diameter'] * 1000.0)} {m['valve_type']} "
                    f"{setting if isinstance(setting, str) else _f(setting)} {_f(m['minor_loss'])}"
                )
                if val(n, "opening", "", 1.0) == 0.0:
                    status.append(f"{i} Closed")
                elif m.get("initial_status") == "Open":
                    status.append(f"{i} Open")
        if n.location is not None and n.location.x is not None and n.location.y is not None:
            secs["COORDINATES"].append(f"{i} {_f(n.location.x)} {_f(n.location.y)}")

    for e in twin.edges:
        m = e.metadata.get("epanet")
        if e.kind != "physical" or not isinstance(m, dict) or m.get("type") != "pipe":
            continue
        closed = val(e, "open", "", 1.0) == 0.0
        state = "CV" if m.get("check_valve") else ("Closed" if closed else "Open")
        secs["PIPES"].append(
            f"{m['id']} {eid[e.source]} {eid[e.target]} {_f(twin.get(e.key, 'length', unit='m'))} "
            f"{_f(twin.get(e.key, 'diameter', unit='mm'))} {_f(m['roughness'])} {_f(m['minor_loss'])} {state}"
        )
        if closed and m.get("check_valve"):
            status.append(f"{m['id']} Closed")
    secs["STATUS"] = status
    for pn, mult in net.get("patterns", {}).items():
        for k in range(0, len(mult), 6):
            secs["PATTERNS"].append(f"{pn} " + " ".join(_f(x) for x in mult[k : k + 6]))
    for cn, c in curves.items():
        secs["CURVES"].append(f";{c['type']}:")
        secs["CURVES"] += [f"{cn} {_f(x)} {_f(y)}" for x, y in c["points"]]
    for name, lines in net.get("sections", {}).items():
        secs[name] = list(lines)
    if not any(ln.split()[0].upper() == "UNITS" for ln in secs["OPTIONS"]):
        secs["OPTIONS"].insert(0, "UNITS CMH")
    out = []
    for s in SECTIONS:
        if s == "END":
            continue
        if secs[s]:
            out.append(f"[{s}]")
            out += secs[s]
            out.append("")
    out.append("[END]")
    return "\n".join(out) + "\n"


def _design_point(points: list[list[float]]) -> tuple[float, float]:
    """A pump curve's design point: its only point, else its middle point (by flow)."""
    pts = sorted(points)
    x, y = pts[len(pts) // 2]
    return float(x), float(y)


def twin_to_network(twin: TwinSpec) -> wntr.network.WaterNetworkModel:
    """A wntr network built from the twin (through the ``.inp`` text of :func:`twin_to_inp`)."""
    import wntr

    text = twin_to_inp(twin)
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        # curves no element uses (kept from the source file) make wntr warn; they are harmless
        warnings.filterwarnings("ignore", message="Not all curves were used")
        warnings.filterwarnings("ignore", message="Changing the headloss formula")
        path = Path(tmp) / "twin.inp"
        path.write_text(text, encoding="utf-8")
        return wntr.network.WaterNetworkModel(str(path))


# -- checking -------------------------------------------------------------------------------------
@dataclass
class HydraulicComparison:
    """EPANET results of the original network against those of the network written from the twin.

    The baseline is wntr's own round trip of the original network (written as ``.inp`` in CMH
    units and read back, no twin involved): the error that rewriting the file in SI units costs by
    itself (rounded numbers in the text, EPANET's convergence tolerance). The twin's round trip is
    judged against it.
    """

    network: str
    steps: int
    tank_level_max_error: float  # m
    tank_level_range: float  # m, largest level swing of any tank in the original
    pump_flow_max_error: float  # m^3/h
    pump_flow_max: float  # m^3/h
    tanks: int
    pumps: int
    per_element: dict[str, float] = field(default_factory=dict)
    baseline_level_error: float | None = None  # m, wntr's own CMH write/read round trip
    baseline_flow_error: float | None = None  # m^3/h

    def within(self, level_tol: float = 1e-3, flow_rel_tol: float = 1e-3) -> bool:
        """Errors within the tolerances, on top of the baseline's own error when it was measured."""
        lvl = level_tol + (self.baseline_level_error or 0.0)
        flow = flow_rel_tol * max(self.pump_flow_max, 1.0) + (self.baseline_flow_error or 0.0)
        return self.tank_level_max_error <= lvl and self.pump_flow_max_error <= flow


def simulate(
    wn: wntr.network.WaterNetworkModel, what: str = "the network"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tank levels (m) and pump flows (m^3/h) over the network's duration, from EPANET."""
    import wntr

    try:
        with tempfile.TemporaryDirectory() as tmp:
            res = wntr.sim.EpanetSimulator(wn).run_sim(file_prefix=str(Path(tmp) / "run"))
    except Exception as exc:  # EPANET reports problems of the network as exceptions of several types
        raise SpecError(
            [Issue(f"EPANET cannot simulate {what}: {exc}", code="simulation")],
            summary=f"EPANET cannot simulate {what}",
        ) from None
    levels = res.node["pressure"][list(wn.tank_name_list)]  # a tank's pressure head is its level
    flows = res.link["flowrate"][list(wn.pump_name_list)] * M3S_TO_M3H
    return levels, flows


def _max_errors(
    lv0: pd.DataFrame, q0: pd.DataFrame, lv1: pd.DataFrame, q1: pd.DataFrame, file: str
) -> dict[str, float]:
    if list(lv0.index) != list(lv1.index):
        raise SpecError([Issue("the two simulations report different times", file=file, code="mismatch")])
    per: dict[str, float] = {}
    for col in lv0.columns:
        per[f"tank {col}"] = float((lv0[col] - lv1[col]).abs().max())
    for col in q0.columns:
        per[f"pump {col}"] = float((q0[col] - q1[col]).abs().max())
    return per


def compare_hydraulics(original: str | Path, twin: TwinSpec, baseline: bool = True) -> HydraulicComparison:
    """Simulate the original ``.inp`` and the network written back from ``twin`` with EPANET and
    compare tank levels and pump flows at every reported time (and, with ``baseline``, measure
    wntr's own write/read round trip of the original for reference)."""
    import wntr

    wn0, _ = read_network(original)
    wn1 = twin_to_network(twin)
    lv0, q0 = simulate(wn0, f"the original network {original}")
    lv1, q1 = simulate(wn1, "the network written from the twin")
    per = _max_errors(lv0, q0, lv1, q1, str(original))
    base_level = base_flow = None
    if baseline:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "baseline.inp"
            wntr.network.write_inpfile(wn0, str(path), units="CMH")
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Changing the headloss formula")
                copy = wntr.network.WaterNetworkModel(str(path))
            lvb, qb = simulate(copy, "wntr's CMH copy")
        base = _max_errors(lv0, q0, lvb, qb, str(original))
        base_level = max([v for k, v in base.items() if k.startswith("tank")], default=0.0)
        base_flow = max([v for k, v in base.items() if k.startswith("pump")], default=0.0)
    return HydraulicComparison(
        network=Path(original).name,
        steps=len(lv0.index),
        tank_level_max_error=max([v for k, v in per.items() if k.startswith("tank")], default=0.0),
        tank_level_range=float((lv0.max() - lv0.min()).max()) if len(lv0.columns) else 0.0,
        pump_flow_max_error=max([v for k, v in per.items() if k.startswith("pump")], default=0.0),
        pump_flow_max=float(q0.abs().max().max()) if len(q0.columns) else 0.0,
        tanks=len(lv0.columns),
        pumps=len(q0.columns),
        per_element=per,
        baseline_level_error=base_level,
        baseline_flow_error=base_flow,
    )
