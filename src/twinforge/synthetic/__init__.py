"""Synthetic faults from the twin: labelled telemetry of defects never seen in real data.

A library of physically modelled faults (:mod:`twinforge.synthetic.faults`: valve partly closed,
leak, cavitation, rotor imbalance, sensor drift / stuck / bias), applied to telemetry the twin's
own simulation generates (:func:`generate`), optionally with normal behaviour fitted to a real
recording (:mod:`twinforge.synthetic.normal`). ``twinforge.analytics.diagnosis`` trains on these
runs to name the likely fault of an alert. See ``docs/synthetic.md``.
"""

from twinforge.synthetic.faults import (
    FAULT_KINDS,
    FAULT_NAMES,
    Fault,
    SyntheticError,
    TwinSignals,
    applicable_faults,
    make_fault,
    ramp,
)
from twinforge.synthetic.generate import SyntheticRun, fault_runs, generate, normal_model, random_fault
from twinforge.synthetic.normal import NormalModel, fit_normal_model

__all__ = [
    "FAULT_KINDS",
    "FAULT_NAMES",
    "Fault",
    "NormalModel",
    "SyntheticError",
    "SyntheticRun",
    "TwinSignals",
    "applicable_faults",
    "fault_runs",
    "fit_normal_model",
    "generate",
    "make_fault",
    "normal_model",
    "ramp",
    "random_fault",
]
