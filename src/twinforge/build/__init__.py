"""Building twins from plain language: a description (paragraph, bulleted list, or CSV tables of
equipment and connections) becomes a valid twin, every value the text does not give listed as an
assumption; a change in plain language on an existing twin becomes a spec diff to accept.

>>> from twinforge.build import build_twin, refine_twin
>>> result = build_twin("Bottles arrive every 30 s. The filler (28 s per bottle) feeds the capper.")
>>> result.twin, result.assumptions, result.smoke.summary
"""

from twinforge.build.assemble import build_twin, smoke_run
from twinforge.build.describe import Description, Item, read_description
from twinforge.build.result import Assumption, BuildError, BuildResult, Decision, SmokeRun

__all__ = [
    "Assumption",
    "BuildError",
    "BuildResult",
    "Decision",
    "Description",
    "Item",
    "SmokeRun",
    "build_twin",
    "read_description",
    "smoke_run",
]
