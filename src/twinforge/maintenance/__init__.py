"""Maintenance-log intelligence: work orders read, linked to twin nodes, understood and searched.

- :mod:`.records` reads work orders (CSV or plain lines); bad dates, missing or unknown assets are
  flagged and kept, never dropped.
- :mod:`.link` links each to a twin node with a confidence.
- :mod:`.extract` finds (part, problem, action) with rules over :mod:`.vocabulary`; the local LLM
  may fill what rules leave empty (off by default; measured in ``benchmarks/maintenance.py``).
- :mod:`.classify` assigns ISO 14224 failure-mode classes.
- :mod:`.search` reads date phrases as filters and ranks by embedding similarity.
- :mod:`.modes` clusters failures into recurring modes; :mod:`.storage` keeps it all in DuckDB.
- :mod:`.logs` holds the operations the faces call: ``ingest``, ``search``, ``failure_modes``,
  ``trends``.
"""

from twinforge.maintenance.classify import FAILURE_MODES, classify
from twinforge.maintenance.extract import Extraction, extract, fill_with_llm
from twinforge.maintenance.link import Link, NodeLinker, link_orders
from twinforge.maintenance.logs import (
    IngestReport,
    SearchResult,
    analyse,
    failure_modes,
    ingest,
    ingest_orders,
    refresh_modes,
    search,
    trends,
)
from twinforge.maintenance.records import (
    MaintenanceError,
    WorkOrder,
    read_csv_text,
    read_lines_text,
    read_work_orders,
)
from twinforge.maintenance.search import When, split_when

__all__ = [
    "FAILURE_MODES",
    "Extraction",
    "IngestReport",
    "Link",
    "MaintenanceError",
    "NodeLinker",
    "SearchResult",
    "When",
    "WorkOrder",
    "analyse",
    "classify",
    "extract",
    "failure_modes",
    "fill_with_llm",
    "ingest",
    "ingest_orders",
    "link_orders",
    "read_csv_text",
    "read_lines_text",
    "read_work_orders",
    "refresh_modes",
    "search",
    "split_when",
    "trends",
]
