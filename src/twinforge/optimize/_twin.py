"""Reading parameter values from a twin for the optimisers."""

from __future__ import annotations

from twinforge.errors import UnknownEntityError
from twinforge.spec import TwinSpec, units


def twin_value(
    spec: TwinSpec, ref: str, name: str, unit: str | None = None, product: str | None = None
) -> float:
    """``spec.get`` that also reads bare numbers (no unit written) as the catalogue unit, as the
    twin language defines them (``capacity: 30`` is 30 item)."""
    element = spec.element(ref)
    p = element.parameters.get(name)
    if p is not None and p.unit is None:
        value = p.for_product(product)
        if value is not None:
            catalogue = spec.param_unit(ref, name) or None
            return units.convert(value, catalogue, unit if unit is not None else catalogue)
    return spec.get(ref, name, unit=unit, product=product)


def twin_has(spec: TwinSpec, ref: str, name: str, product: str | None = None) -> bool:
    """Whether the twin gives ``name`` a value on ``ref`` (its own or the catalogue default)."""
    try:
        twin_value(spec, ref, name, product=product)
    except UnknownEntityError:
        return False
    return True
