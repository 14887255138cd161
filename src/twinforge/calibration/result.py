"""A calibration's result: one estimate per parameter, and the twin diff a person accepts.

An :class:`Estimate` holds the parameter's old and new value (a distribution or a number, in the
unit the twin file uses), the estimate's uncertainty (standard error and 95 % interval of its mean
or value) and its goodness of fit. :class:`CalibrationResult` applies the estimates to a copy of
the twin (checked by the twin's own validation), renders the diff ``old -> new`` with units, and
writes/reads it as YAML so that a person can review it before it is applied
(:func:`apply_diff`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from twinforge.calibration.events import CalibrationError
from twinforge.spec.distributions import Distribution
from twinforge.spec.models import Parameter, TwinSpec

Z95 = 1.959963984540054
_DIST = TypeAdapter(Distribution)


def _r(x: Any) -> Any:
    if isinstance(x, float):
        return None if not math.isfinite(x) else float(f"{x:.6g}")
    return x


@dataclass
class Estimate:
    """A new value for one parameter of one node (see the module docstring)."""

    node: str
    parameter: str
    unit: str
    method: str  # "mle" | "least squares" | "moments"
    new_value: float | None = None
    new_distribution: Distribution | None = None
    old: str | None = None
    old_mean: float | None = None
    mean: float = math.nan  # of the new value / distribution, in ``unit``
    mean_se: float = math.nan
    std: float | None = None
    std_se: float | None = None
    params: dict[str, float] = field(default_factory=dict)  # the distribution's parameters, in ``unit``
    params_se: dict[str, float] = field(default_factory=dict)  # of the distribution's parameters
    cov: Any = None  # covariance of the distribution's parameters (for sampling twins)
    n: int = 0
    gof: dict[str, Any] = field(default_factory=dict)
    candidates: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""

    @property
    def ci95(self) -> tuple[float, float]:
        return (self.mean - Z95 * self.mean_se, self.mean + Z95 * self.mean_se)

    @property
    def new(self) -> str:
        if self.new_distribution is not None:
            return f"{self.new_distribution.describe()} {self.unit}".strip()
        return f"{self.new_value:.6g} {self.unit}".strip()

    @property
    def change_pct(self) -> float:
        if self.old_mean is None or not self.old_mean:
            return math.nan
        return 100.0 * (self.mean - self.old_mean) / abs(self.old_mean)

    def sample(self, rng: Any) -> Parameter:
        """A draw of this parameter from its estimate's sampling distribution (normal, with the
        covariance of the distribution's parameters, or the value's standard error): for Monte
        Carlo runs that carry the calibration's uncertainty."""
        import numpy as np

        from twinforge.calibration.distributions import _make

        if self.new_distribution is not None and self.params and self.cov is not None:
            names = list(self.params)
            mean = np.array([self.params[k] for k in names])
            cov = np.asarray(self.cov, dtype=float)
            if cov.shape == (len(names), len(names)) and np.all(np.isfinite(cov)):
                for _ in range(100):
                    draw = rng.multivariate_normal(mean, cov)
                    p = dict(zip(names, (float(x) for x in draw), strict=True))
                    try:
                        dist = _make(self.gof["family"], p)
                    except ValueError:
                        continue
                    return Parameter(distribution=dist, unit=self.unit or None)
            return self.parameter_value()
        if self.new_value is not None and math.isfinite(self.mean_se):
            return Parameter(value=float(rng.normal(self.new_value, self.mean_se)), unit=self.unit or None)
        return self.parameter_value()

    def parameter_value(self) -> Parameter:
        if self.new_distribution is not None:
            return Parameter(distribution=self.new_distribution, unit=self.unit or None)
        return Parameter(value=self.new_value, unit=self.unit or None)

    def as_dict(self) -> dict[str, Any]:
        new: dict[str, Any]
        if self.new_distribution is not None:
            new = {"distribution": _DIST.dump_python(self.new_distribution, by_alias=True), "unit": self.unit}
            new["distribution"] = {k: _r(v) for k, v in new["distribution"].items()}
        else:
            new = {"value": _r(self.new_value), "unit": self.unit}
        lo, hi = self.ci95
        out: dict[str, Any] = {
            "node": self.node,
            "parameter": self.parameter,
            "unit": self.unit,
            "old": self.old,
            "new": new,
            "method": self.method,
            "estimate": {
                "mean": _r(self.mean),
                "se": _r(self.mean_se),
                "ci95": [_r(lo), _r(hi)],
                **({"std": _r(self.std), "std_se": _r(self.std_se)} if self.std is not None else {}),
                **({"params_se": {k: _r(v) for k, v in self.params_se.items()}} if self.params_se else {}),
            },
            "n": self.n,
            "fit": {k: _r(v) for k, v in self.gof.items()},
        }
        if self.note:
            out["note"] = self.note
        return out


@dataclass
class CalibrationResult:
    """Estimates for one twin (see the module docstring)."""

    twin: TwinSpec
    estimates: list[Estimate]
    notes: list[str] = field(default_factory=list)

    def calibrated(self) -> TwinSpec:
        """A copy of the twin with every estimate applied, validated."""
        return apply_estimates(self.twin, self.estimates)

    def sample_twin(self, rng: Any) -> TwinSpec:
        """A calibrated twin with every estimate drawn from its uncertainty (see
        :meth:`Estimate.sample`); invalid draws (outside bounds) fall back to the estimate."""
        out = self.twin.copy_deep()
        for e in self.estimates:
            out.node(e.node).parameters[e.parameter] = e.sample(rng)
        try:
            return out.check()
        except Exception:
            return self.calibrated()

    def estimate(self, node: str, parameter: str) -> Estimate:
        for e in self.estimates:
            if e.node == node and e.parameter == parameter:
                return e
        have = ", ".join(f"{e.node}.{e.parameter}" for e in self.estimates) or "none"
        raise CalibrationError(f"no estimate for {node}.{parameter}; estimated: {have}")

    def to_data(self) -> dict[str, Any]:
        return {
            "twin": self.twin.name,
            "kind": "calibration",
            "changes": [e.as_dict() for e in self.estimates],
            **({"notes": list(self.notes)} if self.notes else {}),
        }

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_data(), sort_keys=False, allow_unicode=True, width=110)

    def write(self, path: str | Path) -> None:
        Path(path).write_text(self.to_yaml(), encoding="utf-8")

    def render(self) -> str:
        lines = []
        for e in self.estimates:
            lo, hi = e.ci95
            fit = ", ".join(f"{k}={_r(v)}" for k, v in e.gof.items() if k != "family")
            lines.append(
                f"~ {e.node}.{e.parameter}: {e.old} -> {e.new}  "
                f"(mean {e.mean:.6g} ± {e.mean_se:.2g}, 95% CI {lo:.6g}…{hi:.6g}; n={e.n}; {fit})"
            )
        return "\n".join(lines) if lines else "no parameters estimated"


def apply_estimates(twin: TwinSpec, estimates: list[Estimate]) -> TwinSpec:
    out = twin.copy_deep()
    for e in estimates:
        out.node(e.node).parameters[e.parameter] = e.parameter_value()
    return out.check()


def read_diff(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.exists():
        raise CalibrationError(f"{p}: no such calibration diff file")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (yaml.YAMLError, OSError, UnicodeDecodeError) as exc:
        raise CalibrationError(f"{p}: not a readable YAML calibration diff ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("changes"), list):
        raise CalibrationError(f"{p}: a calibration diff is a mapping with a 'changes' list")
    return data


def apply_diff(twin: TwinSpec, diff: dict[str, Any], source: str = "calibration diff") -> TwinSpec:
    """The twin with the (reviewed) changes of a calibration diff applied; every change is checked
    (its node and parameter exist, its value validates)."""
    if diff.get("twin") not in (None, twin.name):
        raise CalibrationError(f"{source}: made for twin {diff.get('twin')!r}, not {twin.name!r}")
    out = twin.copy_deep()
    for i, ch in enumerate(diff["changes"]):
        where = f"{source}: changes[{i}]"
        if not isinstance(ch, dict) or not {"node", "parameter", "new"} <= set(ch):
            raise CalibrationError(f"{where}: needs node, parameter and new")
        try:
            node = out.node(str(ch["node"]))
        except Exception as exc:
            raise CalibrationError(f"{where}: {exc}") from None
        if node.param_def(str(ch["parameter"])) is None:
            raise CalibrationError(
                f"{where}: node {node.id!r} ({node.kind}) has no parameter {ch['parameter']!r}"
            )
        try:
            node.parameters[str(ch["parameter"])] = Parameter.model_validate(ch["new"])
        except ValidationError as exc:
            raise CalibrationError(f"{where}: new value not valid: {exc.errors()[0]['msg']}") from None
    return out.check()


__all__ = ["CalibrationResult", "Estimate", "apply_diff", "apply_estimates", "read_diff"]
