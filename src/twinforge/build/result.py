"""What a build returns: the twin, the values it assumed, what it could not build, the smoke run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from twinforge.errors import TwinforgeError
from twinforge.spec.models import TwinSpec


class BuildError(TwinforgeError):
    """Nothing valid could be built from a description; the message says what was missing."""

    def __init__(self, message: str, gaps: list[str] | None = None) -> None:
        self.gaps = list(gaps or [])
        text = message + ("".join(f"\n  - {g}" for g in self.gaps) if self.gaps else "")
        super().__init__(text)


@dataclass(frozen=True)
class Assumption:
    """A value the description did not give: where it went and why this value."""

    element: str  # node id or edge key
    parameter: str
    value: float
    unit: str
    reason: str  # "catalogue default" | "typical value (no catalogue default)" | derived ...

    def render(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.element}.{self.parameter} = {self.value:g}{unit} ({self.reason})"


@dataclass
class SmokeRun:
    """The short run of a built twin: one Monte Carlo replication, or a flow plan."""

    engine: str  # "simulation" | "flow optimisation" | "none"
    ok: bool
    summary: str
    kpis: dict[str, float] = field(default_factory=dict)


@dataclass
class Decision:
    """A choice between readings that code proposed (kind of an ambiguous word), and who made it."""

    what: str
    options: list[str]
    chosen: str
    how: str  # "context" | "model (ranked, margin m)" | "first option (no model)"


@dataclass
class BuildResult:
    twin: TwinSpec
    assumptions: list[Assumption] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    smoke: SmokeRun | None = None
    steps: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """True when nothing the description asked for had to be left out."""
        return not self.gaps

    def as_dict(self) -> dict[str, Any]:
        from twinforge.spec.io import spec_to_data

        return {
            "twin": spec_to_data(self.twin),
            "complete": self.complete,
            "assumptions": [a.render() for a in self.assumptions],
            "warnings": list(self.warnings),
            "gaps": list(self.gaps),
            "decisions": [d.__dict__ for d in self.decisions],
            "steps": list(self.steps),
            "smoke": None if self.smoke is None else self.smoke.__dict__,
        }
