"""ISO 14224 failure-mode classes (Table B.15 codes) from a work order's text and extraction.

The rules, in order (the first that applies gives the class):

1. leak: ``INL`` internal leakage when oil bypasses; ``ELU`` external leakage of a utility medium
   when the medium (water, coolant, grease, fuel, air, ...) or the part (radiator, grease line,
   air intake, ...) is a utility; else ``ELP`` (hydraulic oil, an unqualified oil leak).
   A blown/split hose, seal or fitting, and a reseal, are leaks too.
2. ``FTS`` fail to start (won't start, jump start), ``UST`` spurious stop (shutting down, dying),
   ``OHE`` overheating, ``NOI`` noise, ``VIB`` vibration, ``ERO`` erratic output.
3. ``AIR`` abnormal instrument reading: a fault, alarm, warning light or code reported (also a
   contamination or low-pressure alarm); ``LOO`` low output (slow, low pressure, poor); ``PDE``
   parameter deviation (pressure too high).
4. ``BRD`` breakdown (broken, failed, lost or missing), ``STD`` structural deficiency (crack,
   damage, bent, worn), ``SER`` minor in-service problem (loose), ``FTF`` fail to function
   (unserviceable, not working, stuck), ``PLU`` plugged (blocked, or cleaned out).
5. ``OTH`` other: a stated problem with no class above (smoke, short circuit), or an installation
   or modification with no problem; ``UNK`` when the text states no failure at all.
"""

from __future__ import annotations

import re

from twinforge.maintenance.extract import Extraction, find_parts
from twinforge.maintenance.vocabulary import UTILITY_MEDIA, UTILITY_PARTS, normalize

#: the ISO 14224 failure-mode codes this module assigns, with their names
FAILURE_MODES: dict[str, str] = {
    "ELP": "external leakage - process medium",
    "ELU": "external leakage - utility medium",
    "INL": "internal leakage",
    "BRD": "breakdown",
    "STD": "structural deficiency",
    "FTS": "fail to start on demand",
    "UST": "spurious stop",
    "OHE": "overheating",
    "NOI": "noise",
    "VIB": "vibration",
    "ERO": "erratic output",
    "LOO": "low output",
    "PDE": "parameter deviation",
    "PLU": "plugged / choked",
    "AIR": "abnormal instrument reading",
    "FTF": "fail to function on demand",
    "SER": "minor in-service problems",
    "OTH": "other",
    "UNK": "unknown",
}

_DIRECT = {
    "no_start": "FTS",
    "shutdown": "UST",
    "overheating": "OHE",
    "noise": "NOI",
    "erratic": "ERO",
    "fault": "AIR",
    "contamination": "AIR",
    "low_output": "LOO",
    "high_pressure": "PDE",
    "broken": "BRD",
    "missing": "BRD",
    "crack": "STD",
    "damage": "STD",
    "worn": "STD",
    "loose": "SER",
    "not_working": "FTF",
    "stuck": "FTF",
    "smoke": "OTH",
    "short_circuit": "OTH",
}
_HOSE_LIKE = {"hydraulic hose", "coolant hose", "grease line", "seal", "o-ring", "fitting", "air intake"}


def _leak_class(norm: str, part: str) -> str:
    if re.search(r"\bbypass", norm):
        return "INL"
    if part in UTILITY_PARTS:
        return "ELU"
    named = {name for _, _, name in find_parts(norm)}
    if (named & UTILITY_PARTS or UTILITY_MEDIA.search(norm)) and not re.search(
        r"\b(hydraulic|slew|boom|bucket|cylinder|valve)\b", norm
    ):
        return "ELU"
    return "ELP"


def classify(text: str, found: Extraction) -> tuple[str, str]:
    """(ISO 14224 code, the rule that gave it) for one work order."""
    norm = normalize(text)
    problem, part, action = found.problem, found.part, found.action
    if problem == "leak" or (problem in ("blown", "crack") and part in _HOSE_LIKE):
        return _leak_class(norm, part), f"leak of {part or 'unnamed part'}"
    if problem == "blown":
        return _leak_class(norm, part), "blown"
    if re.search(r"\breseal", norm):
        return _leak_class(norm, part), "reseal"
    if re.search(r"\bjumpstart\b", norm) and problem in ("", "not_working"):
        return "FTS", "jump start"
    if re.search(r"\bvibrat", norm):
        return "VIB", "vibration"
    if problem == "low_pressure":
        if re.search(r"\b(alarm|fault|light|code|warning)", norm):
            return "AIR", "low-pressure alarm"
        return "LOO", "low pressure"
    if problem in _DIRECT:
        return _DIRECT[problem], problem
    if re.search(r"\b(block(ed|age)|clogg\w*|chok\w*|plugged)\b", norm) or action == "clean":
        return "PLU", "blocked / cleaned"
    if action == "install":
        return "OTH", "installation"
    return "UNK", "no failure stated"


def keyword_baseline(text: str) -> str:
    """The benchmark's keyword-only baseline: a handful of raw keywords, no vocabulary."""
    t = text.lower()
    for pattern, code in (
        (r"leak", "ELP"),
        (r"crack", "STD"),
        (r"broken|broke", "BRD"),
        (r"start", "FTS"),
        (r"overheat|temp", "OHE"),
        (r"nois", "NOI"),
        (r"alarm|fault|light", "AIR"),
        (r"u/s|not working", "FTF"),
    ):
        if re.search(pattern, t):
            return code
    return "UNK"
