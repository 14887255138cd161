"""Interop benchmark: EPANET networks shipped with wntr, imported as twins and written back.

For each network: import the ``.inp`` (``twinforge.interop.epanet.import_inp``), write the twin back
as EPANET text, simulate the original file and the written-back network with EPANET
(``wntr.sim.EpanetSimulator``) and compare tank levels and pump flows at every reported time.

Baseline (same run): wntr's own round trip of the original network, written as ``.inp`` in CMH units
and read back with no twin involved: the error that rewriting the numbers in SI units costs by
itself. The headline ratio is the twin's error over the baseline's (1.00 = the twin adds nothing).

Also per network: exact DTDL round trip (``import_dtdl(export_dtdl(twin)) == twin``) and the AAS
environment's problems (own checks, plus basyx-python-sdk's strict read when installed).

No labels and no fitting: nothing is chosen from these numbers.

Run: ``.venv/bin/python benchmarks/interop.py`` (``--quick``: Net1, Net2, Net3 only;
``--record``: write its section of docs/benchmarks.md; never with ``--quick``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._record import add_record_flag, machine, markdown_table, record

NETWORKS = ["Net1.inp", "Net2.inp", "Net3.inp", "ky4.inp", "ky10.inp", "Net6.inp"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="Net1, Net2 and Net3 only")
    add_record_flag(ap)
    args = ap.parse_args()

    import wntr

    from twinforge.interop.aas import export_aas, validate_environment
    from twinforge.interop.dtdl import export_dtdl, import_dtdl
    from twinforge.interop.epanet import compare_hydraulics, import_inp

    folder = Path(wntr.__file__).parent / "library" / "networks"
    names = NETWORKS[:3] if args.quick else NETWORKS
    headers = [
        "network",
        "nodes",
        "edges",
        "steps",
        "import s",
        "tank level err m",
        "baseline m",
        "level swing m",
        "pump flow err m³/h",
        "baseline m³/h",
        "max pump flow m³/h",
        "ratio",
        "DTDL equal",
        "AAS problems",
    ]
    rows, ratios, how = [], [], ""
    for name in names:
        t0 = time.perf_counter()
        imp = import_inp(folder / name)
        t_import = time.perf_counter() - t0
        c = compare_hydraulics(folder / name, imp.twin)
        data = json.loads(json.dumps(export_dtdl(imp.twin)))
        same = import_dtdl(data) == imp.twin
        problems, how = validate_environment(export_aas(imp.twin))
        errs = [
            (c.tank_level_max_error, c.baseline_level_error),
            (c.pump_flow_max_error, c.baseline_flow_error),
        ]
        ratio = max((e / b if b else (1.0 if e == 0 else float("inf"))) for e, b in errs)
        ratios.append(ratio)
        rows.append(
            [
                name.removesuffix(".inp"),
                len(imp.twin.nodes),
                len(imp.twin.edges),
                c.steps,
                f"{t_import:.2f}",
                f"{c.tank_level_max_error:.2g}",
                f"{c.baseline_level_error:.2g}",
                f"{c.tank_level_range:.3g}",
                f"{c.pump_flow_max_error:.2g}" if c.pumps else "–",
                f"{c.baseline_flow_error:.2g}" if c.pumps else "–",
                f"{c.pump_flow_max:.1f}" if c.pumps else "–",
                f"{ratio:.2f}",
                "yes" if same else "NO",
                len(problems),
            ]
        )
    table = markdown_table(headers, rows)
    print(table)
    body = (
        "EPANET networks shipped in wntr, imported as twins and written back as EPANET text; both simulated "
        "with EPANET, tank levels and pump flows compared at every reported time (largest absolute error "
        "over all tanks, pumps and times). Baseline in the same run: wntr's own write (CMH units) and read "
        "of the original network, no twin. Ratio: twin error / baseline error, the worse of levels and "
        f"flows. DTDL equal: exact round trip of the twin; AAS checked by {how}. No fitting, nothing chosen "
        f"from these numbers. Machine: {machine()}.\n\n" + table
    )
    if args.record and not args.quick:
        record("interop", "EPANET import: round trip through the twin against EPANET", body)
    print(
        f"interop networks={len(names)} max_ratio={max(ratios):.2f} dtdl_equal={sum(r[-2] == 'yes' for r in rows)}"
        f"/{len(rows)} aas_problems={sum(r[-1] for r in rows)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
